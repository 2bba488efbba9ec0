//! Calibration: comparison score → log-likelihood ratio (LLR) of "owner" versus "someone else".
//!
//! Model: linear logistic calibration on the log score (Platt 1999; Brümmer & du Preez, "Application-
//! independent evaluation of speaker detection", CSL 2006):
//!
//! `LLR(s) = a + b · ln(max(s, ε))`, with `b < 0` (higher score → more impostor-like → lower LLR),
//!
//! fitted by logistic regression (Newton–Raphson) on genuine and impostor comparison scores with the two
//! classes weighted equally, so the fitted logit is an LLR free of the training prior. Scores come from
//! background data, never from the users being served: for the fixed-text engine, the bundled CMU
//! background subjects (`demo-data/`), each enrolled exactly as the server enrols a user (first
//! `enrolment_samples` typings), genuine probes from the subject's later sessions and impostor probes from
//! the other background subjects. The LLR is clipped to ±[`Calibration::clip`] so that one sample never
//! decides alone.

use keyprint_core::detector::{Detector, Enrolment, FeatureVector};
use keyprint_core::eval::roc;

const EPS: f64 = 1e-9;

/// How a score enters the linear calibration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ScoreTransform {
    /// `x = ln(max(s, ε))`: for unbounded, right-skewed distances (fixed-text scores).
    #[default]
    Ln,
    /// `x = s`: for bounded scores such as keyprint-mouse's [0, 1] outlyingness fractions.
    Identity,
}

/// A fitted calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Intercept `a`.
    pub a: f64,
    /// Slope `b` on the transformed score.
    pub b: f64,
    /// The score transform.
    pub transform: ScoreTransform,
    /// Largest |LLR| one sample may contribute.
    pub clip: f64,
    /// Genuine and impostor scores the fit used, and the EER on them (for reports).
    pub genuine_n: usize,
    /// Impostor scores used.
    pub impostor_n: usize,
    /// Per-sample EER on the calibration scores (pooled over background subjects).
    pub eer: f64,
}

impl Calibration {
    /// A calibration that maps `ln s` to `−ln s` (for tests only).
    pub fn identity() -> Self {
        Calibration {
            a: 0.0,
            b: -1.0,
            transform: ScoreTransform::Ln,
            clip: 3.0,
            genuine_n: 0,
            impostor_n: 0,
            eer: f64::NAN,
        }
    }

    /// LLR of a comparison score (positive = owner more likely), clipped.
    pub fn llr(&self, score: f64) -> f64 {
        (self.a + self.b * self.x(score)).clamp(-self.clip, self.clip)
    }

    /// The score whose LLR is 0 (`a + b·x = 0`, through the transform); 0 when `b` is 0.
    pub fn neutral_score(&self) -> f64 {
        if self.b == 0.0 {
            return 0.0;
        }
        let x = -self.a / self.b;
        match self.transform {
            ScoreTransform::Ln => x.exp(),
            ScoreTransform::Identity => x,
        }
    }

    fn x(&self, score: f64) -> f64 {
        match self.transform {
            ScoreTransform::Ln => score.max(EPS).ln(),
            ScoreTransform::Identity => score,
        }
    }

    /// Fits `a`, `b` by equal-weight logistic regression of genuine (label 1) versus impostor (label 0)
    /// on `ln score`. Returns `None` when either set is empty or the fit does not give `b < 0`.
    pub fn fit(genuine: &[f64], impostor: &[f64], clip: f64) -> Option<Self> {
        Self::fit_with(genuine, impostor, clip, ScoreTransform::Ln)
    }

    /// [`fit`](Self::fit) with a chosen score transform.
    pub fn fit_with(
        genuine: &[f64],
        impostor: &[f64],
        clip: f64,
        transform: ScoreTransform,
    ) -> Option<Self> {
        if genuine.is_empty() || impostor.is_empty() {
            return None;
        }
        let t = Calibration {
            transform,
            ..Calibration::identity()
        };
        let wg = 0.5 / genuine.len() as f64;
        let wi = 0.5 / impostor.len() as f64;
        let data: Vec<(f64, f64, f64)> = genuine
            .iter()
            .map(|&s| (t.x(s), 1.0, wg))
            .chain(impostor.iter().map(|&s| (t.x(s), 0.0, wi)))
            .collect();
        let (mut a, mut b) = (0.0f64, 0.0f64);
        for _ in 0..100 {
            // Gradient and Hessian of the weighted log-loss (+ a tiny ridge for separable data).
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 1e-6, 0.0, 1e-6);
            for &(x, y, w) in &data {
                let p = 1.0 / (1.0 + (-(a + b * x)).exp());
                ga += w * (p - y);
                gb += w * (p - y) * x;
                let v = w * p * (1.0 - p);
                haa += v;
                hab += v * x;
                hbb += v * x * x;
            }
            gb += 1e-6 * b;
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            a -= da;
            b -= db;
            if da.abs() + db.abs() < 1e-10 {
                break;
            }
        }
        let eer = roc(genuine, impostor).map(|r| r.eer()).unwrap_or(f64::NAN);
        (b < 0.0 && a.is_finite()).then_some(Calibration {
            a,
            b,
            transform,
            clip,
            genuine_n: genuine.len(),
            impostor_n: impostor.len(),
            eer,
        })
    }
}

/// Genuine and impostor comparison scores of `detector` on background subjects, with the server's
/// enrolment protocol: each subject's first `enrol` samples form the template, its samples after
/// `genuine_from` are genuine probes, and the first `impostor_per_subject` samples of every other subject
/// are impostor probes. Subjects with too few samples are skipped.
pub fn background_scores(
    detector: &dyn Detector<FeatureVector>,
    subjects: &[Vec<FeatureVector>],
    enrol: usize,
    genuine_from: usize,
    impostor_per_subject: usize,
) -> (Vec<f64>, Vec<f64>) {
    let (mut g, mut m) = (Vec::new(), Vec::new());
    for (i, s) in subjects.iter().enumerate() {
        if s.len() <= genuine_from.max(enrol) {
            continue;
        }
        let Ok(t) = detector.fit(&Enrolment::one_class(&s[..enrol])) else {
            continue;
        };
        g.extend(s[genuine_from..].iter().map(|x| t.score(x)));
        for (j, o) in subjects.iter().enumerate() {
            if j != i {
                m.extend(o.iter().take(impostor_per_subject).map(|x| t.score(x)));
            }
        }
    }
    (g, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_and_is_monotone() {
        let g: Vec<f64> = (0..200).map(|i| 5.0 + (i % 20) as f64 * 0.5).collect();
        let m: Vec<f64> = (0..200).map(|i| 12.0 + (i % 20) as f64 * 2.0).collect();
        let c = Calibration::fit(&g, &m, 4.0).unwrap();
        assert!(c.b < 0.0);
        assert!(c.llr(5.0) > 0.0, "{c:?}");
        assert!(c.llr(40.0) < 0.0);
        assert!(c.llr(1e9) >= -4.0);
        assert!(Calibration::fit(&[], &m, 4.0).is_none());
        // Inverted data cannot give a valid (b < 0) calibration.
        assert!(Calibration::fit(&m, &g, 4.0).is_none());
    }
}
