//! keyprint's own fixed-text detectors.
//!
//! **One-class** ([`KeyprintOneClass`]). Four choices, each selected on a development protocol that uses
//! only the CMU enrolment sessions (enrol on reps 1–100, genuine probes reps 101–200, impostor probes reps
//! 6–10 of the other subjects; see `docs/BENCHMARKS.md`), never on the test sessions:
//! 1. *Features*: holds and up-down latencies; down-down latencies are dropped because `DD = H + UD`
//!    carries nothing new and double-weights flight times.
//! 2. *Transform*: `ln(max(x, 0) + c)` with `c` = 30 ms. Keystroke timings are right-skewed and vary
//!    multiplicatively; key overlap (negative UD) is clipped to 0 because its amount is noisy.
//! 3. *Recency weights*: enrolment sample `i` of `n` gets weight `2^(−(n−1−i)/h)` (half-life `h` = 15
//!    samples) in the template's centre and spread, so the template follows the owner's practice drift
//!    (CMU subjects get faster across sessions).
//! 4. *Score*: `mix × Σⱼ |zⱼ − mⱼ| / aⱼ + (1 − mix) × mean of the k smallest Σⱼ |zⱼ − yᵢⱼ| / aⱼ` over
//!    enrolment samples `yᵢ` — a scaled-Manhattan distance to the weighted centre `m` (spread `a` = weighted
//!    mean absolute deviation; Araújo et al. 2005) blended with a scaled-Manhattan k-nearest-neighbour
//!    distance (after Zhong, Deng & Jain 2012), `k` = 3, `mix` = 0.5.
//!
//! **Background** ([`KeyprintBackground`]): the one-class score divided by the mean one-class score of the
//! same probe against every background person's template (cohort normalisation, as in speaker
//! verification's T-norm family; Auckenthaler et al. 2000). A probe close to *everyone* is not evidence
//! for the owner.

use crate::detector::{
    Detector, Enrolment, FeatureVector, FitError, Template, check_vectors, probe_fits,
};
use crate::keystroke::{FixedTextLayout, LatencyKind};

/// keyprint's one-class fixed-text detector (see the module docs for the method and its provenance).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyprintOneClass {
    /// Offset `c` of the log transform, ms.
    pub offset_ms: f64,
    /// Half-life of the recency weights, in enrolment samples (`f64::INFINITY` = equal weights).
    pub half_life: f64,
    /// Neighbours averaged in the k-NN term.
    pub k: usize,
    /// Weight of the distance-to-centre term (1 − `mix` for the k-NN term).
    pub mix: f64,
    /// Which features to use (`None` = all).
    pub keep: Option<Vec<bool>>,
}

impl Default for KeyprintOneClass {
    fn default() -> Self {
        KeyprintOneClass {
            offset_ms: 30.0,
            half_life: 15.0,
            k: 3,
            mix: 0.5,
            keep: None,
        }
    }
}

impl KeyprintOneClass {
    /// The detector for a fixed-text layout: holds and UD latencies kept, DD dropped.
    pub fn for_layout(layout: &FixedTextLayout) -> Self {
        KeyprintOneClass {
            keep: Some(
                layout
                    .feature_kinds()
                    .iter()
                    .map(|k| *k != LatencyKind::DownDown)
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn transform(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .enumerate()
            .filter(|(j, _)| {
                self.keep
                    .as_ref()
                    .is_none_or(|k| k.get(*j).copied().unwrap_or(false))
            })
            .map(|(_, v)| (v.max(0.0) + self.offset_ms).ln())
            .collect()
    }

    fn fit_template(&self, genuine: &[FeatureVector]) -> Result<OneClassTemplate, FitError> {
        let dim = check_vectors(genuine, 1)?;
        if let Some(k) = &self.keep {
            if k.len() != dim {
                return Err(FitError::Dimension {
                    index: 0,
                    expected: k.len(),
                    got: dim,
                });
            }
        }
        let z: Vec<Vec<f64>> = genuine.iter().map(|x| self.transform(x)).collect();
        let n = z.len();
        let w: Vec<f64> = (0..n)
            .map(|i| 0.5f64.powf((n - 1 - i) as f64 / self.half_life))
            .collect();
        let wsum: f64 = w.iter().sum();
        let d = z[0].len();
        let mut center = vec![0.0; d];
        for (zi, wi) in z.iter().zip(&w) {
            center
                .iter_mut()
                .zip(zi)
                .for_each(|(c, v)| *c += wi * v / wsum);
        }
        let mut spread = vec![0.0; d];
        for (zi, wi) in z.iter().zip(&w) {
            spread
                .iter_mut()
                .zip(zi.iter().zip(&center))
                .for_each(|(s, (v, c))| *s += wi * (v - c).abs() / wsum);
        }
        spread.iter_mut().for_each(|s| *s += 1e-6);
        let scaled: Vec<Vec<f64>> = z
            .iter()
            .map(|zi| zi.iter().zip(&spread).map(|(v, s)| v / s).collect())
            .collect();
        Ok(OneClassTemplate {
            params: self.clone(),
            input_dim: dim,
            center,
            spread,
            scaled,
        })
    }
}

struct OneClassTemplate {
    params: KeyprintOneClass,
    /// Length of the enrolment vectors (before feature selection).
    input_dim: usize,
    center: Vec<f64>,
    spread: Vec<f64>,
    /// Enrolment samples in transformed, spread-scaled coordinates, shape `(n, d)`.
    scaled: Vec<Vec<f64>>,
}

impl OneClassTemplate {
    /// Distance of a probe; `f64::INFINITY` for a probe that does not fit the enrolment (see
    /// [`Template::score`]).
    fn distance(&self, x: &[f64]) -> f64 {
        if !probe_fits(x, self.input_dim) {
            return f64::INFINITY;
        }
        let z = self.params.transform(x);
        let to_center: f64 = z
            .iter()
            .zip(&self.center)
            .zip(&self.spread)
            .map(|((v, c), s)| (v - c).abs() / s)
            .sum();
        let zs: Vec<f64> = z.iter().zip(&self.spread).map(|(v, s)| v / s).collect();
        let k = self.params.k.clamp(1, self.scaled.len());
        let mut best = vec![f64::INFINITY; k];
        for y in &self.scaled {
            let d: f64 = zs.iter().zip(y).map(|(a, b)| (a - b).abs()).sum();
            if d < best[k - 1] {
                let pos = best.partition_point(|b| *b <= d);
                best.insert(pos, d);
                best.pop();
            }
        }
        let knn = best.iter().sum::<f64>() / k as f64;
        self.params.mix * to_center + (1.0 - self.params.mix) * knn
    }
}

impl Template<FeatureVector> for OneClassTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        self.distance(probe)
    }
}

impl Detector<FeatureVector> for KeyprintOneClass {
    fn name(&self) -> &str {
        "keyprint"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        Ok(Box::new(self.fit_template(e.genuine)?))
    }
}

/// keyprint's fixed-text detector with a background population: [`KeyprintOneClass`] with cohort
/// normalisation (see the module docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyprintBackground {
    /// The one-class detector used for the owner and for every cohort member.
    pub inner: KeyprintOneClass,
}

impl KeyprintBackground {
    /// The detector for a fixed-text layout (see [`KeyprintOneClass::for_layout`]).
    pub fn for_layout(layout: &FixedTextLayout) -> Self {
        KeyprintBackground {
            inner: KeyprintOneClass::for_layout(layout),
        }
    }
}

struct CohortTemplate {
    owner: OneClassTemplate,
    cohort: Vec<OneClassTemplate>,
}

impl Template<FeatureVector> for CohortTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        if !probe_fits(probe, self.owner.input_dim) {
            return f64::INFINITY;
        }
        let own = self.owner.distance(probe);
        let mean =
            self.cohort.iter().map(|t| t.distance(probe)).sum::<f64>() / self.cohort.len() as f64;
        own / mean.max(1e-12)
    }
}

impl Detector<FeatureVector> for KeyprintBackground {
    fn name(&self) -> &str {
        "keyprint-background"
    }
    fn uses_background(&self) -> bool {
        true
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let owner = self.inner.fit_template(e.genuine)?;
        let cohort = e
            .background
            .iter()
            .filter(|b| !b.is_empty())
            .map(|b| self.inner.fit_template(b))
            .collect::<Result<Vec<_>, _>>()?;
        if cohort.is_empty() {
            return Err(FitError::NeedsBackground);
        }
        Ok(Box::new(CohortTemplate { owner, cohort }))
    }
}
