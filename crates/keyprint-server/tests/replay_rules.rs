//! The free-text replay rule and humanized-timing check as the service uses them, on synthetic window
//! summaries in the edge's layout (`keyprint_edge::vocab`): a jittered copy of a stored window is a
//! near-duplicate, a fresh window of the same person is not; a window whose class entries all sit at the
//! owner's overall mean (a device drawing delays independently of the keys) is evidence on the injection
//! channel, the owner's own structure is not.

use keyprint_core::detector::{FeatureVector, Template};
use keyprint_edge::vocab::{CLASSES, GLOBALS, SUMMARY_DIM, key_class};
use keyprint_server::engine::{Engine, FreeTextEngine};
use keyprint_server::population::PopulationSettings;
use keyprint_server::service::{NEAR_DUPLICATE_MEDIAN_SD, near_duplicate_median};

/// Deterministic noise in [−0.5, 0.5).
fn noise(i: u64, k: u64) -> f64 {
    let mut x = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ k.wrapping_mul(0xbf58_476d_1ce4_e5b9)) | 1;
    x ^= x >> 31;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 29;
    (x % 10_000) as f64 / 10_000.0 - 0.5
}

/// The classes a support rep's typing fills (both hands' letters, space, digits, corrections, Enter); pairs
/// among them; `structured` gives each class and pair its own mean, otherwise every entry sits at the
/// family's overall mean.
fn window(i: u64, structured: bool) -> FeatureVector {
    let mut v = vec![f64::NAN; SUMMARY_DIM];
    let classes = ["KeyA", "KeyJ", "Space", "Digit1", "Backspace", "Enter"].map(key_class);
    for (k, &c) in classes.iter().enumerate() {
        let centre = if structured {
            4.2 + 0.12 * k as f64
        } else {
            4.5
        };
        v[c] = centre + 0.08 * noise(i, c as u64);
    }
    for &a in &classes {
        for &b in &classes {
            let f = 2 * CLASSES + CLASSES * a + b;
            let same_hand = a == b;
            let centre = if structured {
                if same_hand { 5.4 } else { 4.9 }
            } else {
                5.15
            };
            v[f] = centre + 0.2 * noise(i, f as u64);
            let u = f + CLASSES * CLASSES;
            v[u] = if structured {
                if same_hand { 3.0 } else { 2.0 }
            } else {
                2.5
            } + 0.3 * noise(i, u as u64);
        }
    }
    v[GLOBALS] = 4.5 + 0.05 * noise(i, 312);
    v[GLOBALS + 2] = 5.15 + 0.05 * noise(i, 314);
    v[GLOBALS + 4] = 2.5 + 0.05 * noise(i, 316);
    v
}

#[test]
fn a_jittered_copy_of_a_stored_window_is_a_replay_and_a_fresh_window_is_not() {
    let stored: Vec<FeatureVector> = (0..12).map(|i| window(i, true)).collect();
    let mut copy = stored[3].clone();
    for (f, x) in copy.iter_mut().enumerate() {
        if x.is_finite() {
            *x += 0.004 * noise(99, f as u64);
        }
    }
    let d = near_duplicate_median(&stored, &copy).expect("a jittered copy is a near-duplicate");
    assert!(d <= NEAR_DUPLICATE_MEDIAN_SD);
    for i in 100..110 {
        assert_eq!(near_duplicate_median(&stored, &window(i, true)), None);
    }
    // Too few stored windows to know the owner's spread, or too few shared entries: no judgement.
    assert_eq!(near_duplicate_median(&stored[..5], &copy), None);
    let mut sparse = vec![f64::NAN; SUMMARY_DIM];
    sparse[..10].copy_from_slice(&copy[..10]);
    assert_eq!(near_duplicate_median(&stored, &sparse), None);
}

#[test]
fn key_independent_windows_are_evidence_on_the_injection_channel() {
    let engine = FreeTextEngine::new(PopulationSettings::default(), 10);
    let enrol: Vec<FeatureVector> = (0..10).map(|i| window(i, true)).collect();
    let check = engine
        .fit_humanized(&enrol)
        .expect("10 windows give a check");
    for i in 200..210 {
        // Score = −LLR: 0 for the owner's own structure, clearly positive for a key-independent device.
        assert_eq!(check.score(&window(i, true)), 0.0);
        let s = check.score(&window(i, false));
        assert!(s >= 1.5, "key-independent window scored {s}");
    }
    // Two windows are too few to learn the owner's key dependence.
    assert!(engine.fit_humanized(&enrol[..2]).is_none());
}
