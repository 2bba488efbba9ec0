//! The humanized-timing check: key-dependent typing scores far below a device that draws delays
//! independently; the detector's humanized-timing rule fires on the device and not on the typist, at
//! its 70th keystroke, exactly when the window score exceeds the threshold.
use keyprint_core::detector::Template;
use keyprint_core::event::{KeyEvent, KeyId};
use keyprint_freetext::{FreeTextConfig, PopulationModel};
use keyprint_injection::context::KeyContextCheck;
use keyprint_injection::detector::{
    InjectionConfig, InjectionDetector, Reason, StreamDetector, WindowCheck, run_stream,
};
use keyprint_injection::humanized::HumanizedCheck;
use std::sync::Arc;

mod common;
use common::{KEYS, lcg};

/// Human-like: DD by digraph, hold by key, both scaled by a slowly drifting speed. `iid`: DD and hold drawn
/// independently from fixed ranges.
fn typing(n: usize, seed: u64, iid: bool) -> Vec<KeyEvent> {
    let mut st = seed;
    let mut t = 0i64;
    let mut prev = 0usize;
    let mut speed = 1.0f64;
    (0..n)
        .map(|_| {
            let mut k = (lcg(&mut st) * KEYS.len() as f64) as usize % KEYS.len();
            if k == prev {
                // A key is never typed twice in a row here (the detector folds overlapping repeats).
                k = (k + 1) % KEYS.len();
            }
            speed = (speed + 0.4 * (lcg(&mut st) - 0.5)).clamp(0.5, 2.0);
            let (dd, hold) = if iid {
                (80.0 + 240.0 * lcg(&mut st), 60.0 + 80.0 * lcg(&mut st))
            } else {
                (
                    speed * (90.0 + 30.0 * ((prev * 3 + k * 5) % 8) as f64 + 20.0 * lcg(&mut st)),
                    speed * (60.0 + 10.0 * k as f64 + 10.0 * lcg(&mut st)),
                )
            };
            prev = k;
            t += (dd * 1000.0) as i64;
            KeyEvent::new(KeyId::code(KEYS[k]), t, t + (hold * 1000.0) as i64).unwrap()
        })
        .collect()
}

fn check() -> HumanizedCheck {
    let people: Vec<Vec<Vec<KeyEvent>>> = (0..20)
        .map(|p| vec![typing(400, 1000 + p, false)])
        .collect();
    HumanizedCheck::new(KeyContextCheck::new(Arc::new(PopulationModel::train(
        &people,
        FreeTextConfig::default(),
    ))))
}

#[test]
fn key_dependent_typing_scores_far_below_independent_delays() {
    let c = check();
    for seed in 0..10 {
        let human = c.statistics(&typing(70, 50 + seed, false));
        let device = c.statistics(&typing(70, 50 + seed, true));
        assert!(human.z_dd > 3.0 && human.families[9] > 3.0, "{human:?}");
        assert!(human.score() < -6.0, "{human:?}");
        assert!(device.score() > -4.0, "{device:?}");
    }
}

#[test]
fn detector_rule_fires_at_70_keys_exactly_when_the_window_score_is_over_the_threshold() {
    let c = Arc::new(check());
    let threshold = -5.0;
    for seed in 0..10 {
        for iid in [false, true] {
            let ev = typing(70, 500 + seed, iid);
            let over = c.score(&ev) > threshold;
            let shared = c.clone();
            let mut d = InjectionDetector::new(InjectionConfig::default(), None).with_humanized(
                WindowCheck {
                    template: Box::new(Shared(shared)),
                    threshold,
                },
            );
            let (v, _) = run_stream(&mut d, None, &ev, &[]);
            assert_eq!(v.is_some(), over, "seed {seed} iid {iid}: {v:?}");
            if let Some(v) = v {
                assert_eq!((v.reason, v.keystroke), (Reason::HumanizedTiming, 70));
                assert!(d.score() >= 1.0);
            }
            assert_eq!(over, iid, "seed {seed}");
        }
    }
}

struct Shared(Arc<HumanizedCheck>);

impl Template<Vec<KeyEvent>> for Shared {
    fn score(&self, probe: &Vec<KeyEvent>) -> f64 {
        self.0.score(probe)
    }
}
