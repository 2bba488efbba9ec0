//! Free text on real Aalto sessions through the tenant-learned engine and the service's fusion, with the
//! evasions (`keyprint_server::replay_freetext`). Needs `KEYPRINT_DATASETS` (skipped, saying so,
//! when unset). Bounds are loose (measured values in docs/BENCHMARKS.md) but each can fail.

use keyprint_server::replay_freetext::run;

#[test]
fn aalto_free_text_detects_impostors_and_measures_evasions() {
    let Some(root) = keyprint_datasets::datasets_root() else {
        eprintln!("KEYPRINT_DATASETS unset: skipped the Aalto free-text replay");
        return;
    };
    let r = run(&root.join("aalto-keystrokes-dev"), Some(120), false).expect("aalto");
    assert_eq!(r.owners, 60);
    // Measured on 100 owners: 95 % impostors alerted, 1 % genuine sessions with a false alert.
    assert!(r.impostor.share() >= 0.85, "impostor {:?}", r.impostor);
    assert!(r.genuine.share() <= 0.05, "genuine {:?}", r.genuine);
    let ev = |name: &str| {
        r.evasions
            .iter()
            .find(|(n, _)| n.contains(name))
            .map(|(_, s)| s.clone())
            .expect("evasion")
    };
    // Typing slowly does not help the impostor (scaled times are still not the owner's).
    let slow = ev("slow");
    assert!(slow.share() >= 0.85, "slow impostor {slow:?}");
    // Mixing in the owner's recorded windows: exact replays are the service's replay rule (alert at the
    // third), replays re-timed with 5 ms jitter its near-duplicate rule for summaries.
    let exact = ev("(exact)");
    assert!(exact.share() >= 0.95, "exact mixing {exact:?}");
    let jittered = ev("jitter");
    assert!(jittered.share() >= 0.6, "jittered mixing {jittered:?}");
    // A humanized injection with the owner's own timing: one window (~42 keys) mostly passes, three windows
    // are mostly caught by the humanized-timing check (measured on all owners: see docs/BENCHMARKS.md).
    let one = ev("one window");
    let three = ev("three windows");
    assert!(three.share() >= 0.4, "humanized, three windows {three:?}");
    assert!(three.share() > one.share() + 0.2, "{three:?} {one:?}");
    // Cold start: with 2 and 5 users no genuine session alerts (conservative, population-free).
    for (n, g, _) in &r.cold {
        if *n <= 5 {
            assert_eq!(g.alerted, 0, "cold start {n}: {g:?}");
        }
    }
}
