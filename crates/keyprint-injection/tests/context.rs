//! The key-context check separates key-dependent (human-like) timing from timing drawn independently of
//! the keys (a humanized injection device).
use keyprint_core::detector::Template;
use keyprint_core::event::{KeyEvent, KeyId};
use keyprint_freetext::{FreeTextConfig, PopulationModel};
use keyprint_injection::context::KeyContextCheck;
use std::sync::Arc;

mod common;
use common::{KEYS, lcg};

/// Typing whose DD depends on the digraph and hold on the key (plus noise), or — `iid` — whose DD and
/// hold are drawn from the same overall range regardless of the keys.
fn typing(n: usize, seed: u64, iid: bool) -> Vec<KeyEvent> {
    let mut st = seed;
    let mut t = 0i64;
    let mut prev = 0usize;
    (0..n)
        .map(|_| {
            let k = (lcg(&mut st) * KEYS.len() as f64) as usize % KEYS.len();
            let (dd, hold) = if iid {
                (80.0 + 240.0 * lcg(&mut st), 60.0 + 80.0 * lcg(&mut st))
            } else {
                (
                    90.0 + 30.0 * ((prev * 3 + k * 5) % 8) as f64 + 20.0 * lcg(&mut st),
                    60.0 + 10.0 * k as f64 + 10.0 * lcg(&mut st),
                )
            };
            prev = k;
            t += (dd * 1000.0) as i64;
            KeyEvent::new(KeyId::code(KEYS[k]), t, t + (hold * 1000.0) as i64).unwrap()
        })
        .collect()
}

#[test]
fn key_dependent_timing_scores_lower_than_key_independent_timing() {
    let people: Vec<Vec<Vec<KeyEvent>>> = (0..20)
        .map(|p| vec![typing(400, 1000 + p, false)])
        .collect();
    let check = KeyContextCheck::new(Arc::new(PopulationModel::train(
        &people,
        FreeTextConfig::default(),
    )));
    for seed in 0..10 {
        let human = check.score(&typing(70, 50 + seed, false));
        let device = check.score(&typing(70, 50 + seed, true));
        assert!(human < -3.0, "human-like window scored {human}");
        assert!(device > -3.0, "key-independent window scored {device}");
    }
}
