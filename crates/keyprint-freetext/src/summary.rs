//! Free-text verification on **content-free window summaries** (the edge's records, `keyprint-edge`'s
//! vocabulary): each window is a fixed-length vector of timing statistics of key classes and class pairs,
//! with absent entries as `NaN`. No key identity, order or count is used.
//!
//! # Method
//! The same two-covariance (PLDA-style) comparison as [`crate::model`], per vector entry, with one
//! window's value as one observation (Brümmer & de Villiers 2010; per-feature Gaussian LLRs as in
//! Gunetti & Picardi 2005's shared-feature comparison). A population of people other than the ones
//! verified gives, per entry `f`, the mean of person means `μ_f`, the pooled within-person variance of
//! window values `W_f` and the between-person variance `B_f` (method of moments, floored at
//! `B_f ≥ 0.05·W_f`). Enrolling `n` windows with sum `s` gives the posterior of the owner's mean
//! `N(m̂, 1/P)`, `P = 1/B + n/W`, `m̂ = (μ/B + s/W)/P`; a probe value `x` scores
//! `LLR = ln N(x; m̂, W + 1/P) − ln N(x; μ, W + B)`, clipped to `±clip`. The comparison score is
//! `−Σ_f LLR_f / √k` over the `k` entries present in the probe, the enrolment and the population
//! (higher = more impostor-like, the core's polarity). [`SummaryCohort`] gives T-norm.
//!
//! Shapes: a population is `people × windows × dim`; every vector of a model has the same `dim`.

use keyprint_core::detector::{Detector, Enrolment, FeatureVector, FitError, Template};
use keyprint_core::stats::{finite_column, mean_sd};
use std::sync::Arc;

/// Settings of the summary model.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryConfig {
    /// Each entry's LLR is clipped to `±llr_clip` (default 3).
    pub llr_clip: f64,
    /// An entry needs windows from at least this many population people (default 5).
    pub min_people: usize,
}

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig {
            llr_clip: 3.0,
            min_people: 5,
        }
    }
}

/// Population statistics of one entry (`None` when too few people had it).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EntryStat {
    /// Mean of person means.
    pub mu: f64,
    /// Pooled within-person variance of window values.
    pub w: f64,
    /// Between-person variance of person means.
    pub b: f64,
}

/// The population (background) model over summaries.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryPopulation {
    /// Per entry, its statistics.
    pub entries: Vec<Option<EntryStat>>,
    /// Settings.
    pub config: SummaryConfig,
}

impl SummaryPopulation {
    /// Learns entry statistics from `people[p][w]` = window vectors (length `dim`, `NaN` = absent).
    /// People with no window are ignored. Vectors of another length than the first are ignored.
    pub fn train(people: &[Vec<Vec<f64>>], config: SummaryConfig) -> SummaryPopulation {
        let dim = people
            .iter()
            .flat_map(|p| p.first())
            .map(Vec::len)
            .next()
            .unwrap_or(0);
        let mut entries = Vec::with_capacity(dim);
        for f in 0..dim {
            let mut means = Vec::new();
            let (mut ss, mut dof, mut inv_n) = (0.0, 0.0, 0.0);
            for p in people {
                let xs = finite_column(p, dim, f);
                if xs.is_empty() {
                    continue;
                }
                let m = xs.iter().sum::<f64>() / xs.len() as f64;
                ss += xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
                dof += (xs.len() - 1) as f64;
                inv_n += 1.0 / xs.len() as f64;
                means.push(m);
            }
            if means.len() < config.min_people.max(2) || dof < 1.0 {
                entries.push(None);
                continue;
            }
            let k = means.len() as f64;
            let mu = means.iter().sum::<f64>() / k;
            let var_m = means.iter().map(|m| (m - mu) * (m - mu)).sum::<f64>() / (k - 1.0);
            let w = (ss / dof).max(1e-9);
            let b = (var_m - w * inv_n / k).max(0.05 * w);
            entries.push(Some(EntryStat { mu, w, b }));
        }
        SummaryPopulation { entries, config }
    }

    /// Vector length.
    pub fn dim(&self) -> usize {
        self.entries.len()
    }

    /// Entries with statistics.
    pub fn usable(&self) -> usize {
        self.entries.iter().flatten().count()
    }

    /// Enrols an owner from window vectors (wrong-length vectors are ignored).
    pub fn enrol(self: &Arc<Self>, windows: &[&[f64]]) -> SummaryProfile {
        let dim = self.dim();
        let mut post = vec![None; dim];
        for (f, st) in self.entries.iter().enumerate() {
            let Some(st) = st else { continue };
            let xs = finite_column(windows, dim, f);
            if xs.is_empty() {
                continue;
            }
            let p = 1.0 / st.b + xs.len() as f64 / st.w;
            let m = (st.mu / st.b + xs.iter().sum::<f64>() / st.w) / p;
            post[f] = Some((m, 1.0 / p));
        }
        SummaryProfile {
            pop: self.clone(),
            post,
        }
    }
}

fn ln_normal(x: f64, m: f64, var: f64) -> f64 {
    -0.5 * ((x - m) * (x - m) / var + var.ln() + std::f64::consts::TAU.ln())
}

/// An owner's template over summaries: posterior mean and variance of the owner's mean per entry.
#[derive(Clone, Debug)]
pub struct SummaryProfile {
    pop: Arc<SummaryPopulation>,
    post: Vec<Option<(f64, f64)>>,
}

impl SummaryProfile {
    /// Entries enrolled.
    pub fn enrolled_entries(&self) -> usize {
        self.post.iter().flatten().count()
    }

    /// Comparison score of one window vector (higher = more impostor-like). A vector of the wrong length
    /// or with an infinite entry scores `+∞` (fail closed); a probe sharing no entry scores 0.
    pub fn score(&self, probe: &[f64]) -> f64 {
        if probe.len() != self.post.len() || probe.iter().any(|x| x.is_infinite()) {
            return f64::INFINITY;
        }
        let clip = self.pop.config.llr_clip;
        let (mut sum, mut k) = (0.0, 0usize);
        for (f, x) in probe.iter().enumerate() {
            let (Some((m, v)), Some(st)) = (self.post[f], self.pop.entries[f]) else {
                continue;
            };
            if !x.is_finite() {
                continue;
            }
            let llr = ln_normal(*x, m, st.w + v) - ln_normal(*x, st.mu, st.w + st.b);
            sum += llr.clamp(-clip, clip);
            k += 1;
        }
        if k == 0 {
            0.0
        } else {
            -sum / (k as f64).sqrt()
        }
    }
}

/// T-norm (Auckenthaler et al. 2000) over a cohort of population profiles: a probe's score is
/// standardised by the scores it gets against the cohort.
pub struct SummaryCohort {
    profiles: Vec<SummaryProfile>,
}

impl SummaryCohort {
    /// A cohort of profiles (population people, never the verified ones).
    pub fn new(profiles: Vec<SummaryProfile>) -> Self {
        SummaryCohort { profiles }
    }

    /// Mean and sd of the probe's scores against the cohort (`None` with fewer than 2 profiles). They do
    /// not depend on the owner, so a caller scoring one probe against many owners computes them once.
    pub fn t_stats(&self, probe: &[f64]) -> Option<(f64, f64)> {
        if self.profiles.len() < 2 {
            return None;
        }
        let s: Vec<f64> = self.profiles.iter().map(|p| p.score(probe)).collect();
        let (m, sd) = mean_sd(&s);
        Some((m, sd.max(1e-6)))
    }

    /// `(score − mean) / sd` with [`t_stats`](Self::t_stats); the raw score without them or when not finite.
    pub fn normalize_with(score: f64, stats: Option<(f64, f64)>) -> f64 {
        match stats {
            Some((m, sd)) if score.is_finite() => (score - m) / sd,
            _ => score,
        }
    }

    /// `(score − mean) / sd` of the probe against the cohort; the raw score with fewer than 2 profiles.
    pub fn normalize(&self, score: f64, probe: &[f64]) -> f64 {
        Self::normalize_with(score, self.t_stats(probe))
    }
}

/// [`SummaryPopulation`] behind the core's detector contract (`Detector<FeatureVector>`): the template is
/// a [`SummaryProfile`] of the enrolment windows.
pub struct SummaryDetector(pub Arc<SummaryPopulation>);

struct SummaryTemplate(SummaryProfile);

impl Template<FeatureVector> for SummaryTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        self.0.score(probe)
    }
}

impl Detector<FeatureVector> for SummaryDetector {
    fn name(&self) -> &str {
        "keyprint-summary"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        if e.genuine.is_empty() {
            return Err(FitError::TooFewSamples { need: 1, got: 0 });
        }
        let w: Vec<&[f64]> = e.genuine.iter().map(Vec::as_slice).collect();
        Ok(Box::new(SummaryTemplate(self.0.enrol(&w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(mean: f64, n: usize, seed: u64) -> Vec<Vec<f64>> {
        (0..n)
            .map(|i| {
                let e = (((seed * 31 + i as u64 * 17) % 11) as f64 - 5.0) / 50.0;
                vec![mean + e, f64::NAN, mean * 2.0 - e]
            })
            .collect()
    }

    #[test]
    fn genuine_scores_below_impostor_and_bad_probes_fail_closed() {
        let pop: Vec<Vec<Vec<f64>>> = (0..20).map(|p| person(p as f64 * 0.3, 6, p)).collect();
        let model = Arc::new(SummaryPopulation::train(&pop, SummaryConfig::default()));
        assert_eq!(model.usable(), 2);
        let owner = person(1.0, 6, 99);
        let prof = model.enrol(&owner[..5].iter().map(Vec::as_slice).collect::<Vec<_>>());
        let g = prof.score(&owner[5]);
        let i = prof.score(&person(4.0, 1, 7)[0]);
        assert!(g < i, "{g} {i}");
        assert_eq!(prof.score(&[1.0]), f64::INFINITY);
        assert_eq!(prof.score(&[f64::INFINITY, 0.0, 0.0]), f64::INFINITY);
        assert_eq!(prof.score(&[f64::NAN; 3]), 0.0);
    }
}
