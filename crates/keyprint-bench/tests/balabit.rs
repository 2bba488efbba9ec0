//! The Balabit benchmark end to end on the whole set (skipped when `KEYPRINT_DATASETS` is unset): the
//! global AUC over the 816 labelled test sessions must clear a sane floor, and results are deterministic.

use keyprint_bench::balabit::{BalabitArgs, run};
use keyprint_datasets::datasets_root;

#[test]
fn global_auc_above_floor() {
    let Some(root) = datasets_root() else {
        println!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let args = BalabitArgs {
        data: root.join("balabit-mouse"),
        out: out.path().to_path_buf(),
        trees: 50,
        min_leaf: 1,
        mtry: 0,
        seed: 7,
        cv_folds: 0,
        cv_block: 20,
        cv_only: false,
        one_class: "tail".into(),
        min_points: 4,
    };
    let r = run(&args).unwrap();
    let two = r.models.iter().find(|m| m.kind == "two-class").unwrap();
    let one = r.models.iter().find(|m| m.kind == "one-class").unwrap();
    assert!(
        two.global_auc > 0.85,
        "two-class global AUC {}",
        two.global_auc
    );
    assert!(
        one.global_auc > 0.6,
        "one-class global AUC {}",
        one.global_auc
    );
    // AUC grows with the number of actions seen.
    assert!(two.auc_by_actions[0].1 < two.auc_by_actions[5].1);
    for f in [
        "balabit.json",
        "balabit.md",
        "balabit-roc.png",
        "balabit-det.svg",
    ] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
}
