//! One checklist swept over every fixed-vector detector (after PyOD's test sweep): scores are finite and
//! deterministic, genuine probes score below impostors on separable data, and bad enrolments are refused.

use keyprint_core::detector::{Detector, Enrolment, FeatureVector, FitError};
use keyprint_core::detectors::{KeyprintBackground, KeyprintOneClass, killourhy_maxion};
use keyprint_core::eval::roc;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn all() -> Vec<Box<dyn Detector<FeatureVector>>> {
    let mut v: Vec<Box<dyn Detector<FeatureVector>>> =
        killourhy_maxion().into_iter().map(|(d, _)| d).collect();
    v.push(Box::new(KeyprintOneClass::default()));
    v.push(Box::new(KeyprintBackground::default()));
    v
}

/// Person `p`'s samples: a per-person mean timing profile (ms) plus noise.
fn person(rng: &mut ChaCha8Rng, center: &[f64], n: usize) -> Vec<FeatureVector> {
    (0..n)
        .map(|_| {
            center
                .iter()
                .map(|c| c * (1.0 + 0.05 * (rng.random::<f64>() - 0.5)))
                .collect()
        })
        .collect()
}

#[test]
fn every_detector_passes_the_checklist() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let dim = 12;
    let owner_c: Vec<f64> = (0..dim).map(|_| rng.random_range(80.0..300.0)).collect();
    let other_c: Vec<f64> = owner_c.iter().map(|c| c * 1.6).collect();
    let enrol = person(&mut rng, &owner_c, 60);
    let genuine = person(&mut rng, &owner_c, 30);
    let impostor = person(&mut rng, &other_c, 30);
    let background: Vec<Vec<FeatureVector>> = (0..4)
        .map(|i| {
            person(
                &mut rng,
                &owner_c
                    .iter()
                    .map(|c| c * (0.6 + 0.25 * i as f64))
                    .collect::<Vec<_>>(),
                40,
            )
        })
        .collect();
    let e = Enrolment {
        genuine: &enrol,
        background: &background,
    };
    for det in all() {
        let t = det
            .fit(&e)
            .unwrap_or_else(|err| panic!("{}: {err}", det.name()));
        let g: Vec<f64> = genuine.iter().map(|x| t.score(x)).collect();
        let m: Vec<f64> = impostor.iter().map(|x| t.score(x)).collect();
        assert!(
            g.iter().chain(&m).all(|s| s.is_finite()),
            "{}: non-finite score",
            det.name()
        );
        let again = det.fit(&e).unwrap();
        assert_eq!(
            g,
            genuine.iter().map(|x| again.score(x)).collect::<Vec<_>>(),
            "{}: not deterministic",
            det.name()
        );
        let r = roc(&g, &m).unwrap();
        assert!(
            r.auc() > 0.99,
            "{}: AUC {} on separable data",
            det.name(),
            r.auc()
        );

        // Malformed probes fail closed: never truncated, never NaN.
        let mut short = genuine[0].clone();
        short.pop();
        let mut long = genuine[0].clone();
        long.push(100.0);
        let mut nan_probe = genuine[0].clone();
        nan_probe[0] = f64::NAN;
        for bad in [short, long, nan_probe] {
            assert_eq!(
                t.score(&bad),
                f64::INFINITY,
                "{}: malformed probe of length {}",
                det.name(),
                bad.len()
            );
        }

        // Bad enrolments are refused with a reason, never a panic.
        assert!(
            det.fit(&Enrolment {
                genuine: &[],
                background: &background
            })
            .is_err(),
            "{}: empty",
            det.name()
        );
        let mut ragged = enrol.clone();
        ragged[3].pop();
        assert!(
            matches!(
                det.fit(&Enrolment {
                    genuine: &ragged,
                    background: &background
                }),
                Err(FitError::Dimension { index: 3, .. })
            ),
            "{}: ragged",
            det.name()
        );
        let mut nan = enrol.clone();
        nan[5][0] = f64::NAN;
        assert!(
            matches!(
                det.fit(&Enrolment {
                    genuine: &nan,
                    background: &background
                }),
                Err(FitError::NonFinite { index: 5 })
            ),
            "{}: NaN",
            det.name()
        );
    }
}

#[test]
fn background_detector_requires_background() {
    let enrol = vec![vec![1.0, 2.0]; 5];
    assert_eq!(
        KeyprintBackground::default()
            .fit(&Enrolment::one_class(&enrol))
            .err(),
        Some(FitError::NeedsBackground)
    );
}
