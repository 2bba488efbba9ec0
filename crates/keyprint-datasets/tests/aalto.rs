//! The Aalto reader on a real excerpt (tests/fixtures/aalto, non-commercial, test-only) and, when
//! `KEYPRINT_DATASETS` is set, on the whole development set.

use keyprint_core::event::KeyId;
use keyprint_datasets::aalto::{read_aalto_dir, read_aalto_file};
use keyprint_datasets::datasets_root;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/aalto")
}

#[test]
fn fixture_files_read_with_their_real_bad_rows() {
    let out = read_aalto_dir(&fixtures(), None).unwrap();
    let ids: Vec<u64> = out.data.iter().map(|p| p.id).collect();
    assert_eq!(ids, [1466, 2404, 2917]);
    for p in &out.data {
        assert_eq!(p.sequences.len(), 15, "participant {}", p.id);
        for s in &p.sequences {
            assert_eq!(s.origin.user, Some(p.id.to_string()));
            assert!(s.events.len() >= 10);
            assert!(s.events.windows(2).all(|w| w[0].press_us <= w[1].press_us));
            assert!(s.events.iter().all(|e| e.release_us >= e.press_us));
        }
    }
    let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
    assert_eq!(r.len(), 2, "{r:#?}");
    assert!(r[0].ends_with("1466_keystrokes.txt:237: field `RELEASE_TIME`: released before pressed (1471954761988 < 1471954768313)"), "{}", r[0]);
    assert!(r[1].contains("2917_keystrokes.txt:33: field `RELEASE_TIME`: not a non-negative integer: \"1.471968e+12\""), "{}", r[1]);
    assert!(
        out.report
            .repaired
            .get("invalid_utf8")
            .copied()
            .unwrap_or(0)
            >= 1
    );
    // Every row of the three files is accepted or rejected.
    let rows: u64 = ["1466", "2404", "2917"]
        .iter()
        .map(|p| {
            let b = std::fs::read(fixtures().join(format!("{p}_keystrokes.txt"))).unwrap();
            b.split(|&c| c == b'\n')
                .skip(1)
                .filter(|l| !l.is_empty())
                .count() as u64
        })
        .sum();
    assert_eq!(out.report.accepted + out.report.rejected.len() as u64, rows);
}

#[test]
fn fixture_first_keys_are_mapped() {
    let out = read_aalto_file(&fixtures().join("2917_keystrokes.txt")).unwrap();
    let first = &out.data[0].events[0];
    assert!(matches!(&first.key, KeyId::Code(c) if c == "ShiftLeft" || c.starts_with("Key")));
    assert_eq!(first.press_us % 1000, 0, "ms → µs");
}

#[test]
fn whole_development_set() {
    let Some(root) = datasets_root() else {
        println!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let dir = root.join("aalto-keystrokes-dev");
    if !dir.is_dir() {
        println!("skipped: {} missing", dir.display());
        return;
    }
    let out = read_aalto_dir(&dir, None).unwrap();
    println!("{}", out.report.summary());
    assert_eq!(out.data.len(), 1137);
    assert!(out.data.iter().all(|p| p.sequences.len() == 15));
    // Measured on the set: 834,955 rows; 5 release-before-press, 1 float time, 84 holds > 10 s, a few
    // duplicates. Nothing else may go missing.
    let rejected = out.report.rejected.len() as u64;
    assert_eq!(out.report.accepted + rejected, 834_955);
    assert!((90..200).contains(&rejected), "{rejected}");
}
