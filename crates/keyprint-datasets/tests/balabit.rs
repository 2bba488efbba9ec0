//! The Balabit reader on the committed real excerpt (always) and on the whole set (when
//! `KEYPRINT_DATASETS` is set).

use keyprint_core::event::MouseEventKind;
use keyprint_datasets::balabit::read_balabit;
use keyprint_datasets::datasets_root;
use std::path::Path;

#[test]
fn fixture_excerpt() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/balabit");
    let mut calls = 0;
    let out = read_balabit(&root, |_, _| calls += 1).unwrap();
    assert_eq!(calls, 3);
    assert!(out.report.rejected.is_empty(), "{:?}", out.report.rejected);
    // 400 + 254 + 172 data rows, and 2 label rows.
    assert_eq!(out.report.accepted, 826 + 2);
    let d = out.data;
    assert_eq!((d.training.len(), d.test.len(), d.unlabelled), (1, 2, 0));
    assert_eq!(d.training[0].user(), "user12");
    assert_eq!(d.training[0].stream.events.len(), 400);
    let labels: Vec<_> = d
        .test
        .iter()
        .map(|s| (s.stream.origin.session.clone().unwrap(), s.is_illegal))
        .collect();
    assert_eq!(
        labels,
        vec![
            ("session_4905082660".to_string(), Some(false)),
            ("session_7614908860".to_string(), Some(true)),
        ]
    );
    let e = &d.training[0].stream.events;
    assert!(e.windows(2).all(|w| w[0].t_us <= w[1].t_us));
    let presses = d
        .test
        .iter()
        .chain(&d.training)
        .flat_map(|s| &s.stream.events)
        .filter(|e| e.kind == MouseEventKind::Press)
        .count();
    assert_eq!(presses, 42);
}

#[test]
fn whole_set_accounting() {
    let Some(root) = datasets_root() else {
        println!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let out = read_balabit(&root.join("balabit-mouse"), |_, _| {}).unwrap();
    let d = &out.data;
    assert_eq!(d.training.len(), 65);
    assert_eq!(
        d.training
            .iter()
            .map(|s| s.user())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        10
    );
    let labelled: Vec<bool> = d.test.iter().filter_map(|s| s.is_illegal).collect();
    assert_eq!(labelled.len(), 816);
    assert_eq!(labelled.iter().filter(|&&b| b).count(), 405);
    assert_eq!(d.test.len(), 1611);
    assert_eq!(d.unlabelled, 1611 - 816);
    // Every data row is accounted for: accepted + rejected = rows in the files.
    let events: usize = d
        .training
        .iter()
        .chain(&d.test)
        .map(|s| s.stream.events.len())
        .sum();
    // Accepted rows: every event plus the 816 label rows.
    assert_eq!(events as u64 + 816, out.report.accepted);
    let rejected_rows = out
        .report
        .rejected
        .iter()
        .filter(|r| !r.file.ends_with("public_labels.csv"))
        .count();
    assert_eq!(events as u64 + rejected_rows as u64, 4_609_929);
    // Only the two XButton rows are rejected; nothing else is wrong with the set.
    assert_eq!(rejected_rows, 2, "{:?}", out.report.rejected);
    assert!(
        out.report
            .rejected
            .iter()
            .all(|r| r.field.as_deref() == Some("button"))
    );
}

/// A label naming no test session is rejected (file and field named); a test session with no label is kept,
/// unlabelled, and counted; a session with a bad header fails the read with its path.
#[test]
fn label_rules_on_a_copy_of_the_excerpt() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/balabit");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for sub in ["training_files/user12", "test_files/user12"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
        for f in std::fs::read_dir(src.join(sub)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, root.join(sub).join(f.file_name().unwrap())).unwrap();
        }
    }
    let labels = std::fs::read_to_string(src.join("public_labels.csv")).unwrap();
    std::fs::write(
        root.join("public_labels.csv"),
        format!("{labels}session_0000000000,1\n"),
    )
    .unwrap();
    let t = root.join("test_files/user12");
    std::fs::copy(t.join("session_4905082660"), t.join("session_unlabelled")).unwrap();
    let out = read_balabit(root, |_, _| {}).unwrap();
    assert_eq!(out.data.unlabelled, 1);
    assert_eq!(out.data.test.len(), 3);
    assert_eq!(out.report.rejected.len(), 1);
    let r = &out.report.rejected[0];
    assert!(r.file.ends_with("public_labels.csv"));
    assert_eq!(r.field.as_deref(), Some("filename"));
    assert!(r.reason.contains("session_0000000000"), "{r}");
    assert_eq!(r.line, 4);
    std::fs::write(t.join("session_bad"), "time,x,y\n1,2,3\n").unwrap();
    let err = read_balabit(root, |_, _| {}).unwrap_err().to_string();
    assert!(
        err.contains("session_bad") && err.contains("bad header"),
        "{err}"
    );
}
