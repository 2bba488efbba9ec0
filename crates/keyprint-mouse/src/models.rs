//! Per-account mouse models over per-action feature vectors ([`crate::features::action_features`]),
//! implementing the one detector contract [`keyprint_core::Detector`]. Scores are in [0, 1], **higher = more
//! impostor-like**, and comparable across accounts (so one global ROC over all accounts is meaningful, as
//! the Balabit challenge scores it).
//!
//! * [`MouseForest`] — two-class: the owner's actions against other accounts' actions (the enrolment's
//!   background), a random forest as in Antal & Egyed-Zsigmond (2019). Negatives are balanced: as many as the
//!   owner has actions, drawn evenly (seeded) from each background account. Score: the forest's impostor
//!   probability.
//! * [`MouseOneClass`] — one-class, owner's actions only, per action kind: features are compared with the
//!   owner's marginal distributions ([`OneClassScore`]; default a Gaussian copula — normal scores through the
//!   owner's empirical CDFs, then the core's Mahalanobis detector — which is robust to the heavy tails of
//!   speed and jerk), and the raw score is calibrated to the fraction of held-out owner actions (every 5th)
//!   that score lower.

use crate::forest::{Forest, ForestParams};
use keyprint_core::detector::{
    Detector, Enrolment, FeatureVector, FitError, Template, check_vectors,
};
use keyprint_core::detectors::Mahalanobis;
use keyprint_core::eval::probit;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Two-class per-account random forest (module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct MouseForest {
    /// Forest hyper-parameters (seeded).
    pub params: ForestParams,
}

struct ForestTemplate(Forest);

impl Template<FeatureVector> for ForestTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        self.0.predict(probe)
    }
}

impl Detector<FeatureVector> for MouseForest {
    fn name(&self) -> &str {
        "random-forest"
    }
    fn uses_background(&self) -> bool {
        true
    }
    /// # Errors
    /// [`FitError::NeedsBackground`] with no background; [`FitError`] for empty, ragged or non-finite samples.
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 2)?;
        let others: Vec<&Vec<FeatureVector>> =
            e.background.iter().filter(|b| !b.is_empty()).collect();
        if others.is_empty() {
            return Err(FitError::NeedsBackground);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.params.seed);
        let per = e.genuine.len().div_ceil(others.len());
        let mut x: Vec<FeatureVector> = e.genuine.to_vec();
        let mut y = vec![false; x.len()];
        for b in others {
            let mut idx: Vec<usize> = (0..b.len()).collect();
            idx.shuffle(&mut rng);
            for &i in idx.iter().take(per) {
                x.push(b[i].clone());
                y.push(true);
            }
        }
        // Background samples must match the owner's dimension and be finite too.
        let got = check_vectors(&x, 2)?;
        debug_assert_eq!(got, dim);
        Ok(Box::new(ForestTemplate(Forest::fit(&x, &y, self.params))))
    }
}

/// One-class per-account model (module docs). The first three features must be the action-kind one-hot
/// of [`crate::features::FEATURE_NAMES`]; kinds with fewer than `min_per_kind` enrolment actions fall back
/// to the model of all kinds.
#[derive(Clone, Copy, Debug)]
pub struct MouseOneClass {
    /// Minimum enrolment actions for a kind-specific model (default 30).
    pub min_per_kind: usize,
    /// Raw score (default [`OneClassScore::Copula`], chosen by 3-fold cross-validation on Balabit's
    /// training files, blocks of 20 actions: CV AUC copula 0.786, tail 0.745, rank 0.726, density 0.678).
    pub score: OneClassScore,
}

/// The per-feature raw score of [`MouseOneClass`], averaged over features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneClassScore {
    /// `|2u − 1|`, `u` the owner's mid-rank empirical CDF at the probe value (outlyingness).
    Rank,
    /// `−ln(p̂ · r)`: `p̂` the owner's k-nearest-neighbour marginal density at the probe value
    /// (`k = ⌈√n⌉` neighbours each side; `p̂ = m / (n · width)`), `r` the owner's 5–95 % range (so features
    /// of every unit weigh alike): a naive-Bayes negative log-likelihood.
    Density,
    /// `−ln(2 · min(u, 1 − u))` with `u` clamped to `[1/(2n), 1 − 1/(2n)]`: the negative log of the two-sided
    /// empirical tail probability (emphasises the tails more than `Rank`).
    Tail,
    /// Gaussian copula: each feature is mapped to a normal score `Φ⁻¹(u)` through the owner's empirical CDF
    /// and the vector of normal scores is compared with the owner's by the core's Mahalanobis detector
    /// (pseudo-inverse covariance): unlike the per-feature scores, it sees correlations between features.
    Copula,
}

impl Default for MouseOneClass {
    fn default() -> Self {
        MouseOneClass {
            min_per_kind: 30,
            score: OneClassScore::Copula,
        }
    }
}

/// Owner's sorted values per feature (with their 5–95 % range), and sorted held-out raw scores.
struct Marginals {
    sorted: Vec<Vec<f64>>,
    range: Vec<f64>,
    calib: Vec<f64>,
    kind: OneClassScore,
    /// Mahalanobis template over normal scores (`Copula` only).
    copula: Option<Box<dyn Template<FeatureVector>>>,
}

impl Marginals {
    fn fit(fit: &[&FeatureVector], calib: &[&FeatureVector], kind: OneClassScore) -> Marginals {
        let dim = fit[0].len();
        let sorted: Vec<Vec<f64>> = (3..dim)
            .map(|j| {
                let mut c: Vec<f64> = fit.iter().map(|s| s[j]).collect();
                c.sort_by(f64::total_cmp);
                c
            })
            .collect();
        let range = sorted
            .iter()
            .map(|c: &Vec<f64>| {
                let q = |p: f64| c[((c.len() - 1) as f64 * p).round() as usize];
                (q(0.95) - q(0.05)).max(1e-9 * (1.0 + q(0.5).abs()))
            })
            .collect();
        let mut m = Marginals {
            sorted,
            range,
            calib: Vec::new(),
            kind,
            copula: None,
        };
        if kind == OneClassScore::Copula {
            let z: Vec<FeatureVector> = fit.iter().map(|x| m.normal_scores(x)).collect();
            m.copula = Mahalanobis.fit(&Enrolment::one_class(&z)).ok();
        }
        let mut c: Vec<f64> = calib.iter().map(|s| m.raw(s)).collect();
        c.sort_by(f64::total_cmp);
        m.calib = c;
        m
    }
    fn mid_rank(col: &[f64], v: f64) -> f64 {
        let n = col.len() as f64;
        let lo = col.partition_point(|&c| c < v);
        let hi = col.partition_point(|&c| c <= v);
        ((lo + hi) as f64 / (2.0 * n)).clamp(0.5 / n, 1.0 - 0.5 / n)
    }
    fn normal_scores(&self, x: &[f64]) -> FeatureVector {
        self.sorted
            .iter()
            .zip(&x[3..])
            .map(|(c, &v)| probit(Self::mid_rank(c, v)))
            .collect()
    }
    fn raw(&self, x: &[f64]) -> f64 {
        if self.kind == OneClassScore::Copula {
            let z = self.normal_scores(x);
            return self.copula.as_ref().map_or(0.0, |t| t.score(&z));
        }
        let mut s = 0.0;
        for ((col, &v), &r) in self.sorted.iter().zip(&x[3..]).zip(&self.range) {
            let n = col.len();
            let lo = col.partition_point(|&c| c < v);
            let hi = col.partition_point(|&c| c <= v);
            s += match self.kind {
                // Mid-rank empirical CDF.
                OneClassScore::Rank => (2.0 * ((lo + hi) as f64 / (2.0 * n as f64)) - 1.0).abs(),
                OneClassScore::Copula => 0.0,
                OneClassScore::Tail => {
                    let e = 1.0 / (2.0 * n as f64);
                    let u = ((lo + hi) as f64 / (2.0 * n as f64)).clamp(e, 1.0 - e);
                    -(2.0 * u.min(1.0 - u)).ln()
                }
                OneClassScore::Density => {
                    let k = (n as f64).sqrt().ceil() as usize;
                    let a = lo.saturating_sub(k);
                    let b = (hi + k).min(n) - 1;
                    let width = (col[b].max(v) - col[a].min(v)).max(1e-3 * r);
                    let p = (b + 1 - a) as f64 / (n as f64 * width);
                    -(p * r).ln()
                }
            };
        }
        s / self.sorted.len().max(1) as f64
    }
    fn score(&self, x: &[f64]) -> f64 {
        let r = self.raw(x);
        if self.calib.is_empty() {
            return r;
        }
        let lo = self.calib.partition_point(|&c| c < r);
        let hi = self.calib.partition_point(|&c| c <= r);
        (lo + hi) as f64 / (2.0 * self.calib.len() as f64)
    }
}

struct OneClassTemplate {
    all: Marginals,
    by_kind: [Option<Marginals>; 3],
}

fn kind_of(x: &[f64]) -> Option<usize> {
    (0..3).find(|&k| x[k] == 1.0)
}

impl Template<FeatureVector> for OneClassTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        match kind_of(probe).and_then(|k| self.by_kind[k].as_ref()) {
            Some(m) => m.score(probe),
            None => self.all.score(probe),
        }
    }
}

impl Detector<FeatureVector> for MouseOneClass {
    fn name(&self) -> &str {
        match self.score {
            OneClassScore::Rank => "one-class-marginal-rank",
            OneClassScore::Density => "one-class-marginal-density",
            OneClassScore::Tail => "one-class-marginal-tail",
            OneClassScore::Copula => "one-class-copula-mahalanobis",
        }
    }
    /// # Errors
    /// [`FitError`] for fewer than 10 samples, ragged or non-finite samples, or fewer than 4 features.
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 10)?;
        if dim < 4 {
            return Err(FitError::Dimension {
                index: 0,
                expected: 4,
                got: dim,
            });
        }
        let split = |pred: &dyn Fn(&FeatureVector) -> bool| {
            let sel: Vec<&FeatureVector> = e.genuine.iter().filter(|x| pred(x)).collect();
            let (mut fit, mut cal) = (Vec::new(), Vec::new());
            for (i, x) in sel.into_iter().enumerate() {
                if i % 5 == 4 { cal.push(x) } else { fit.push(x) }
            }
            (fit, cal)
        };
        let (fit, cal) = split(&|_| true);
        let all = Marginals::fit(&fit, &cal, self.score);
        let by_kind = [0, 1, 2].map(|k| {
            let (fit, cal) = split(&|x| kind_of(x) == Some(k));
            (fit.len() + cal.len() >= self.min_per_kind.max(5) && !cal.is_empty())
                .then(|| Marginals::fit(&fit, &cal, self.score))
        });
        Ok(Box::new(OneClassTemplate { all, by_kind }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Kind one-hot + 3 features; owner centred at 0, others at `shift`.
    fn sample(rng: &mut ChaCha8Rng, shift: f64) -> FeatureVector {
        let mut v = vec![1.0, 0.0, 0.0];
        v.extend((0..3).map(|_| shift + rng.random_range(-1.0..1.0)));
        v
    }

    fn auc(t: &dyn Template<FeatureVector>, rng: &mut ChaCha8Rng) -> f64 {
        let g: Vec<f64> = (0..200).map(|_| t.score(&sample(rng, 0.0))).collect();
        let m: Vec<f64> = (0..200).map(|_| t.score(&sample(rng, 1.5))).collect();
        keyprint_core::eval::roc(&g, &m).unwrap().auc()
    }

    #[test]
    fn both_models_separate_shifted_impostors() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let own: Vec<FeatureVector> = (0..400).map(|_| sample(&mut rng, 0.0)).collect();
        let bg: Vec<Vec<FeatureVector>> = (0..3)
            .map(|_| (0..300).map(|_| sample(&mut rng, 0.8)).collect())
            .collect();
        for score in [
            OneClassScore::Rank,
            OneClassScore::Density,
            OneClassScore::Tail,
        ] {
            let oc = MouseOneClass {
                score,
                ..Default::default()
            }
            .fit(&Enrolment::one_class(&own))
            .unwrap();
            assert!(auc(oc.as_ref(), &mut rng) > 0.75, "{score:?}");
        }
        let rf = MouseForest {
            params: ForestParams {
                n_trees: 30,
                ..Default::default()
            },
        };
        assert_eq!(
            rf.fit(&Enrolment::one_class(&own)).err(),
            Some(FitError::NeedsBackground)
        );
        let t = rf
            .fit(&Enrolment {
                genuine: &own,
                background: &bg,
            })
            .unwrap();
        assert!(auc(t.as_ref(), &mut rng) > 0.8);
        let s = t.score(&sample(&mut rng, 0.0));
        assert!((0.0..=1.0).contains(&s));
    }

    #[test]
    fn fit_errors() {
        let oc = MouseOneClass::default();
        let few = vec![vec![1.0, 0.0, 0.0, 1.0]; 3];
        assert!(matches!(
            oc.fit(&Enrolment::one_class(&few)),
            Err(FitError::TooFewSamples { .. })
        ));
        let mut bad = vec![vec![1.0, 0.0, 0.0, 1.0]; 20];
        bad[7][3] = f64::NAN;
        assert_eq!(
            oc.fit(&Enrolment::one_class(&bad)).err(),
            Some(FitError::NonFinite { index: 7 })
        );
    }
}
