//! The main job (`keyprint demo`, bundled data only): the owner's sessions raise no alert; the impostor, the
//! injected payload and the replay each alert at their third action; the mouse enrolment comes only from a
//! session the owner vouched for by typing, is held by the consistency check, approved by the admin, and then
//! another person's mouse on the account is scored. A past replay or injection does not hold the owner's
//! per-user trust down for ever (it used to, and blocked the mouse enrolment).

use keyprint_server::demo;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_sessions_tell_owner_from_attacks() {
    let dir = tempfile::tempdir().unwrap();
    let engines: Vec<String> = ["fixed-text", "injection", "mouse"]
        .iter()
        .map(|e| e.to_string())
        .collect();
    let r = demo::run(dir.path(), None, None, &engines, None)
        .await
        .unwrap();
    let s = |name: &str| {
        r.sessions
            .iter()
            .find(|s| s.session == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };
    for owner in ["alice-day2", "alice-day3", "alice-desk"] {
        assert!(s(owner).alerts.is_empty(), "{owner}: {:?}", s(owner).alerts);
    }
    for attack in ["alice-takeover", "alice-injected", "alice-replayed"] {
        assert_eq!(s(attack).actions_to_alert, Some(3), "{attack}");
    }
    // The desk session was scored on the keystroke channel (its five typings vouch for it).
    assert!(!s("alice-desk").trust.is_empty());
    // After the admin approved the held mouse enrolment, the other person's mouse is scored.
    let takeover = s("alice-desk-takeover");
    assert!(
        takeover.trust.iter().any(|t| *t < 90.0),
        "mouse takeover not scored: {:?}",
        takeover.trust
    );
}
