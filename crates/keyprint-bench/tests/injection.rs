//! The injection protocol's pieces: the committed CMU timing table, the corpus targets for stock and
//! jittered devices, and no false alarm on CMU typists.
use keyprint_bench::injection::{
    attack_probes, cmu_probes, derive_timing_table, factories, load_payloads,
};
use keyprint_injection::detector::run_stream;
use keyprint_injection::timing::Timing;
use std::path::Path;

fn payload_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../keyprint-injection/payloads")
}

#[test]
fn stock_and_jitter_up_to_20ms_detected_within_three_keystrokes_on_the_corpus() {
    let payloads = load_payloads(&payload_dir()).unwrap();
    assert!(payloads.len() >= 30);
    let timings = [
        Timing::Stock,
        Timing::Jitter { max_ms: 5 },
        Timing::Jitter { max_ms: 20 },
    ];
    let probes = attack_probes(&payloads, &timings, 3);
    let (_, make) = factories()
        .into_iter()
        .find(|(n, _)| *n == "keyprint")
        .unwrap();
    for p in probes.iter().filter(|p| p.attached_us.is_none()) {
        let mut d = make();
        let (v, _) = run_stream(d.as_mut(), None, &p.events, &[]);
        let v = v.unwrap_or_else(|| panic!("{} stream not detected", p.group));
        assert!(
            v.keystroke <= 3,
            "{}: {} at {}",
            p.group,
            v.reason,
            v.keystroke
        );
    }
}

#[test]
fn committed_timing_table_matches_cmu() {
    let Some(root) = keyprint_datasets::datasets_root() else {
        println!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let cmu = keyprint_datasets::cmu::read_cmu(&keyprint_bench::cmu::locate(&root)).unwrap();
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../keyprint-injection/data/cmu-human-timing.csv"),
    )
    .unwrap();
    assert_eq!(derive_timing_table(&cmu.data), committed);
}

#[test]
fn no_false_alarm_on_cmu_typists() {
    let Some(root) = keyprint_datasets::datasets_root() else {
        println!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let cmu = keyprint_datasets::cmu::read_cmu(&keyprint_bench::cmu::locate(&root)).unwrap();
    let probes = cmu_probes(&cmu.data);
    assert_eq!(probes.len(), 20_400);
    let (_, make) = factories()
        .into_iter()
        .find(|(n, _)| *n == "keyprint")
        .unwrap();
    let alarms = probes
        .iter()
        .filter(|p| {
            let mut d = make();
            run_stream(d.as_mut(), None, &p.events, &[]).0.is_some()
        })
        .count();
    assert_eq!(alarms, 0);
}
