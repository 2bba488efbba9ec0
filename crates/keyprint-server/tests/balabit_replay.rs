//! The mouse engine through the service on real Balabit sessions (`keyprint_server::replay_balabit`), on a
//! subset: all 10 accounts enrol from their training sessions, then at most 2 genuine and 2 impostor
//! labelled test sessions each are replayed (the first three accounts alone cannot alert: their templates
//! never judge an action owner-like, see docs/BENCHMARKS.md). Needs
//! `KEYPRINT_DATASETS` (skipped, saying so, when unset). Measured values of the full run are in
//! docs/BENCHMARKS.md; the bounds here are structural and each can fail.

use keyprint_server::replay_balabit::{BalabitOptions, run};

const PER_USER: usize = 2;

#[test]
fn balabit_mouse_through_the_service_replays_and_classifies_every_labelled_session() {
    let Some(root) = keyprint_datasets::datasets_root() else {
        eprintln!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let root = keyprint_datasets::balabit::locate(&root.join("balabit-mouse"));
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = BalabitOptions {
        users: None,
        per_user: Some(PER_USER),
    };
    let r = run(&root, dir.path(), &opts).expect("balabit replay");
    // What the subset must contain, counted independently from the folders and the labels file.
    let labels = std::fs::read_to_string(root.join("public_labels.csv")).expect("labels");
    let label = |f: &str| {
        labels
            .lines()
            .skip(1)
            .find_map(|l| l.strip_prefix(&format!("{f},")).map(|v| v.trim() == "1"))
    };
    let mut users: Vec<_> = std::fs::read_dir(root.join("training_files"))
        .expect("training_files")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    users.sort();
    let (mut want_g, mut want_m, mut want_train) = (0, 0, 0);
    for u in &users {
        want_train += std::fs::read_dir(root.join("training_files").join(u))
            .expect("user")
            .count();
        let mut files: Vec<_> = std::fs::read_dir(root.join("test_files").join(u))
            .expect("user")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        files.sort();
        let lab: Vec<bool> = files.iter().filter_map(|f| label(f)).collect();
        want_g += lab.iter().filter(|l| !**l).count().min(PER_USER);
        want_m += lab.iter().filter(|l| **l).count().min(PER_USER);
    }
    eprintln!("{r:#?}");
    assert_eq!(r.users, users.len());
    assert_eq!(r.accounts.len(), users.len());
    assert_eq!(r.training_sessions, want_train);
    assert_eq!(
        r.genuine.sessions, want_g,
        "every labelled genuine session replayed"
    );
    assert_eq!(
        r.impostor.sessions, want_m,
        "every labelled impostor session replayed"
    );
    assert!(want_g > 0 && want_m > 0);
    // Every account enrolled (holds approved), and enrolment took exactly the configured actions.
    assert!(
        r.not_enrolled.is_empty(),
        "not enrolled: {:?}",
        r.not_enrolled
    );
    assert_eq!(
        r.training_actions - r.training_scored,
        (users.len() * keyprint_server::MOUSE_ENROLMENT_ACTIONS) as u64
    );
    for s in [&r.genuine, &r.impostor] {
        assert!(s.alerted <= s.sessions && s.alerts >= s.alerted, "{s:?}");
        assert!(s.actions > 0, "{s:?}");
        if s.alerted > 0 {
            assert!(s.mean_actions_to_alert >= 1.0, "{s:?}");
        }
    }
    assert!(
        r.impostor.alerted >= 1,
        "no impostor session alerted: {:?}",
        r.impostor
    );
}
