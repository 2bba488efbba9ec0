//! The demo's free-text section on real Aalto sessions (`keyprint demo` with `KEYPRINT_DATASETS`): the
//! owner's later typing raises no alert, another participant on the owner's account does, for
//! `keystroke_mismatch`. Skipped, saying so, when the Aalto folder is not there.

use keyprint_server::demo;
use keyprint_wire::ReasonCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_free_text_section_owner_stays_impostor_alerts() {
    let data = match demo::aalto_dir() {
        Ok(d) => d,
        Err(skipped) => {
            eprintln!("{skipped}: skipped the demo's free-text section test");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let engines: Vec<String> = ["fixed-text", "injection", "mouse"]
        .iter()
        .map(|e| e.to_string())
        .collect();
    let r = demo::run(dir.path(), None, None, &engines, Some(&data))
        .await
        .unwrap();
    let kind = |k: &str| {
        r.free_text
            .iter()
            .find(|s| s.kind == k)
            .unwrap_or_else(|| panic!("no {k} session in {:?}", r.free_text))
    };
    let owner = kind("owner");
    assert!(owner.typings >= 3, "owner windows {owner:?}");
    assert!(owner.alerts.is_empty(), "owner alerted: {owner:?}");
    assert!(
        owner.trust.iter().all(|t| *t >= 50.0),
        "owner trust {:?}",
        owner.trust
    );
    let imp = kind("impostor");
    assert!(
        imp.actions_to_alert.is_some(),
        "impostor not alerted: {imp:?}"
    );
    assert!(
        imp.alerts.iter().any(|a| a
            .reasons
            .iter()
            .any(|x| x.code == ReasonCode::KeystrokeMismatch)),
        "impostor alert reasons {:?}",
        imp.alerts
    );
    assert!(imp.trust.last().copied().unwrap_or(100.0) < 30.0);
    // The humanized injection is reported as it happens (it evades today: a known gap).
    assert!(kind("injection").payload_keys > 0);
}
