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
//! Added to it: a two-covariance score in an LDA embedding of the standardised entries
//! ([`SummaryEmbedding`]), length-normalised (Garcia-Romero & Espy-Wilson 2011), and the same in a
//! second embedding of the entries taken relative to their family's all-keys entry ([`relative_blocks`]).
//!
//! Shapes: a population is `people × windows × dim`; every vector of a model has the same `dim`.

use keyprint_core::detector::{Detector, Enrolment, FeatureVector, FitError, Template};
use keyprint_core::stats::{finite_column, mean_sd};
use nalgebra::{DMatrix, DVector};
use std::sync::Arc;

/// Settings of the summary model.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryConfig {
    /// Each entry's LLR is clipped to `±llr_clip` (default 3).
    pub llr_clip: f64,
    /// An entry needs windows from at least this many population people (default 5).
    pub min_people: usize,
    /// Dimensions of the LDA embedding learned with the population ([`SummaryEmbedding`]; 0: none;
    /// default 40).
    pub emb_dim: usize,
    /// Weight of the embedding's score against the per-entry score (weight 1; default 2.5).
    pub emb_weight: f64,
    /// Compare in the embedding by cosine similarity of the enrolment mean and the probe instead of the
    /// two-covariance likelihood ratio.
    pub emb_cosine: bool,
    /// Express each class (pair) entry relative to its family's all-keys entry (the edge's layout,
    /// [`relative_blocks`]; vectors of another length are left as they are). Not the default: on the development split
    /// (G=5, L=50) it raised the EER of the whole model from 4.49 % to 4.99 %; it is what the second
    /// embedding sees.
    pub relative: bool,
    /// Degrees of freedom of a Student-t per-entry likelihood (0: Gaussian, the default; ν = 3, 5, 10
    /// moved the development EER by at most 0.1 point, within noise).
    pub t_dof: f64,
    /// Length normalisation in the embedding: 0 none; 1 whiten the raw vectors by their total covariance
    /// and length-normalise them before the LDA; 2 (default) scale each LDA dimension to unit total
    /// variance, length-normalise, and learn a second LDA that re-diagonalises the within- and
    /// between-person covariances for the two-covariance score (the i-vector practice of Garcia-Romero &
    /// Espy-Wilson 2011, "Analysis of i-vector length normalization in speaker recognition systems").
    /// Development EER (G=5, L=50): none 5.31 %, 1 5.87 %, 2 4.81 %. Mode 2 applies only to an embedding
    /// of at least [`MIN_NORM_DIM`] dimensions.
    pub emb_norm: u8,
    /// Ridge of the LDA's within-person covariance, as a fraction of its mean variance (default 0.01;
    /// 0.05 helped without length normalisation, 5.31 → 5.10 %, but not with it).
    pub emb_ridge: f64,
    /// Weight of a second embedding (same settings) learned on the relative entries ([`relative_blocks`]),
    /// whose absent entries are imputed at the person's own all-keys value plus the population's offset
    /// rather than at the population mean (0: none; default 1: development EER 4.49 → 4.42 %, 2.5: 4.50 %).
    pub emb2_weight: f64,
}

/// The relative blocks `(first, end, reference)` of a summary vector of length `dim` in the edge's layout
/// (`keyprint_edge::vocab`) with `C` classes: entries `first..end` become `x − x[reference]` with
/// [`SummaryConfig::relative`] — class hold means `0..C` − all-keys hold mean, class hold sds `C..2C` −
/// all-keys sd, pair DD means (`C²`) − all-digraph DD mean, pair UD means (`C²`) − all-digraph UD mean; the
/// globals start at `2C + 2C²` (hold mean, hold sd, DD mean, DD sd, UD mean, …). `C` is the largest with
/// `2C + 2C² + 8 ≤ dim` (vocabulary 2: `dim` 162, `C` 8); `None` when there is none.
pub fn relative_blocks(dim: usize) -> Option<[(usize, usize, usize); 4]> {
    let c = (1..64)
        .take_while(|c| 2 * c + 2 * c * c + 8 <= dim)
        .last()?;
    let g = 2 * c + 2 * c * c;
    Some([
        (0, c, g),
        (c, 2 * c, g + 1),
        (2 * c, 2 * c + c * c, g + 2),
        (2 * c + c * c, g, g + 4),
    ])
}

/// Fewest embedding dimensions length normalisation (`emb_norm` 2) is applied to.
pub const MIN_NORM_DIM: usize = 8;

impl Default for SummaryConfig {
    fn default() -> Self {
        SummaryConfig {
            llr_clip: 3.0,
            min_people: 5,
            emb_dim: 40,
            emb_weight: 2.5,
            emb_cosine: false,
            relative: false,
            t_dof: 0.0,
            emb_norm: 2,
            emb_ridge: 1e-2,
            emb2_weight: 1.0,
        }
    }
}

impl SummaryConfig {
    /// The vector the model sees: with [`relative`](Self::relative), the class entries of a summary
    /// vector in the edge's layout relative to their family's all-keys entry; otherwise `x` itself.
    pub fn transform(&self, x: &[f64]) -> Vec<f64> {
        let mut y = x.to_vec();
        if let Some(blocks) = relative_blocks(x.len()).filter(|_| self.relative) {
            for &(a, b, r) in &blocks {
                for v in &mut y[a..b] {
                    *v -= x[r];
                }
            }
        }
        y
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
    /// The LDA embedding learned with the statistics (when `config.emb_dim > 0` and it could be learned).
    pub embedding: Option<SummaryEmbedding>,
    /// The second embedding, over the relative entries (with `config.emb2_weight > 0`).
    pub embedding2: Option<Box<SummaryPopulation>>,
}

impl SummaryPopulation {
    /// Learns entry statistics from `people[p][w]` = window vectors (length `dim`, `NaN` = absent).
    /// People with no window are ignored. Vectors of another length than the first are ignored.
    pub fn train(people: &[Vec<Vec<f64>>], config: SummaryConfig) -> SummaryPopulation {
        let people: Vec<Vec<Vec<f64>>> = people
            .iter()
            .map(|p| p.iter().map(|w| config.transform(w)).collect())
            .collect();
        let people = &people[..];
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
        let mut pop = SummaryPopulation {
            entries,
            config,
            embedding: None,
            embedding2: None,
        };
        if pop.config.emb_dim > 0 {
            pop.embedding = SummaryEmbedding::train(&pop, people, pop.config.emb_dim);
        }
        if pop.config.emb2_weight > 0.0
            && relative_blocks(pop.dim()).is_some()
            && !pop.config.relative
        {
            let sub = SummaryConfig {
                relative: true,
                emb2_weight: 0.0,
                ..pop.config.clone()
            };
            pop.embedding2 = Some(Box::new(SummaryPopulation::train(people, sub)));
        }
        pop
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
        let emb2 = self
            .embedding2
            .as_ref()
            .and_then(|p2| Self::mean_embedding(p2, windows));
        let emb = Self::mean_embedding(self, windows);
        let owned: Vec<Vec<f64>> = windows.iter().map(|w| self.config.transform(w)).collect();
        let windows: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
        let windows = &windows[..];
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
            emb,
            emb2,
        }
    }

    /// Mean embedding (in `pop`'s embedding, after its transform) of `windows` and their count.
    fn mean_embedding(pop: &SummaryPopulation, windows: &[&[f64]]) -> Option<(Vec<f64>, usize)> {
        let e = pop.embedding.as_ref()?;
        let ys: Vec<Vec<f64>> = windows
            .iter()
            .filter(|w| w.len() == pop.dim())
            .map(|w| e.embed(&pop.config.transform(w)))
            .collect();
        let n = ys.len();
        (n > 0).then(|| {
            let mean = (0..e.dim())
                .map(|d| ys.iter().map(|y| y[d]).sum::<f64>() / n as f64)
                .collect();
            (mean, n)
        })
    }
}

fn ln_normal(x: f64, m: f64, var: f64) -> f64 {
    -0.5 * ((x - m) * (x - m) / var + var.ln() + std::f64::consts::TAU.ln())
}

/// Log-density of a Student-t with `nu` degrees of freedom and scale² `var` (its normalising constant
/// omitted: it cancels in a ratio of two with the same `nu`); Gaussian with `nu ≤ 0`.
fn ln_density(x: f64, m: f64, var: f64, nu: f64) -> f64 {
    if nu <= 0.0 {
        return ln_normal(x, m, var);
    }
    -0.5 * (nu + 1.0) * (1.0 + (x - m) * (x - m) / (nu * var)).ln() - 0.5 * var.ln()
}

/// An owner's template over summaries: posterior mean and variance of the owner's mean per entry.
#[derive(Clone, Debug)]
pub struct SummaryProfile {
    pop: Arc<SummaryPopulation>,
    post: Vec<Option<(f64, f64)>>,
    /// Mean embedding of the enrolment windows and their count.
    emb: Option<(Vec<f64>, usize)>,
    /// The same in the second embedding.
    emb2: Option<(Vec<f64>, usize)>,
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
        let raw_probe = probe;
        let probe = &self.pop.config.transform(probe)[..];
        let nu = self.pop.config.t_dof;
        let clip = self.pop.config.llr_clip;
        let (mut sum, mut k) = (0.0, 0usize);
        for (f, x) in probe.iter().enumerate() {
            let (Some((m, v)), Some(st)) = (self.post[f], self.pop.entries[f]) else {
                continue;
            };
            if !x.is_finite() {
                continue;
            }
            let llr = ln_density(*x, m, st.w + v, nu) - ln_density(*x, st.mu, st.w + st.b, nu);
            sum += llr.clamp(-clip, clip);
            k += 1;
        }
        if k == 0 {
            return 0.0;
        }
        let diag = -sum / (k as f64).sqrt();
        let cfg = &self.pop.config;
        let first = match (&self.emb, &self.pop.embedding) {
            (Some((mean, n)), Some(e)) => cfg.emb_weight * e.score(mean, *n, probe, cfg.emb_cosine),
            _ => 0.0,
        };
        let second = match (&self.emb2, &self.pop.embedding2) {
            (Some((mean, n)), Some(p2)) => p2.embedding.as_ref().map_or(0.0, |e| {
                let x = p2.config.transform(raw_probe);
                cfg.emb2_weight * e.score(mean, *n, &x, cfg.emb_cosine)
            }),
            _ => 0.0,
        };
        diag + first + second
    }
}

/// A linear discriminant embedding of window summaries (Fisher 1936; LDA before a two-covariance model as
/// for i-vectors, Prince & Elder 2007), learned on the population: a window becomes the `D`-vector of its
/// usable entries standardised by the population, `(x_f − μ_f)/√(W_f + B_f)`, with `0` (the population
/// mean) for an absent entry; LDA whitens the within-person covariance of these vectors and keeps the `k`
/// directions of largest between-person variance. Unlike the per-entry comparison it accounts for the
/// correlations between entries (overall speed shows in every latency). Shape: projection `k × D`.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryEmbedding {
    /// `(entry index, μ, √(W + B))` of each of the `D` raw entries.
    raw: Vec<(usize, f64, f64)>,
    /// Mean raw vector of the training windows, length `D`.
    mean: DVector<f64>,
    /// Projection, `k × D`.
    proj: DMatrix<f64>,
    /// Between-person variance of each embedding dimension (within-person variance is 1).
    pub between: Vec<f64>,
    /// Before the LDA (`emb_norm` 1): mean and total-covariance whitening of the raw vectors, which are
    /// then length-normalised.
    pre: Option<(DVector<f64>, DMatrix<f64>)>,
    /// After the LDA (`emb_norm` 2): per-dimension scale `1/√(1 + λ)`, then length normalisation, then a
    /// second LDA (mean, projection `k × k`).
    post: Option<(DVector<f64>, DVector<f64>, DMatrix<f64>)>,
}

fn length_normalise(mut v: DVector<f64>) -> DVector<f64> {
    let n = v.norm();
    if n > 1e-12 {
        v *= (v.len() as f64).sqrt() / n;
    }
    v
}

/// Mean and inverse square root of the total covariance (ridged by `ridge_frac` of its mean variance).
fn total_whitening(xs: &[&DVector<f64>], ridge_frac: f64) -> (DVector<f64>, DMatrix<f64>) {
    let d = xs.first().map_or(0, |v| v.len());
    let mut mean = DVector::zeros(d);
    for v in xs {
        mean += *v;
    }
    mean /= xs.len().max(1) as f64;
    let mut c = DMatrix::<f64>::zeros(d, d);
    for v in xs {
        let x = *v - &mean;
        c.ger(1.0, &x, &x, 1.0);
    }
    c /= (xs.len() as f64 - 1.0).max(1.0);
    let ridge = ridge_frac * c.trace() / d.max(1) as f64 + 1e-9;
    let e = c.symmetric_eigen();
    let inv = DMatrix::from_diagonal(&e.eigenvalues.map(|l| 1.0 / (l.max(0.0) + ridge).sqrt()));
    (mean, &e.eigenvectors * inv * e.eigenvectors.transpose())
}

impl SummaryEmbedding {
    /// Embedding dimension `k`.
    pub fn dim(&self) -> usize {
        self.between.len()
    }

    fn raw_vector(&self, x: &[f64]) -> DVector<f64> {
        DVector::from_iterator(
            self.raw.len(),
            self.raw.iter().map(|&(f, mu, sd)| {
                let v = x.get(f).copied().unwrap_or(f64::NAN);
                if v.is_finite() { (v - mu) / sd } else { 0.0 }
            }),
        )
    }

    fn pre_vector(&self, x: &[f64]) -> DVector<f64> {
        let r = self.raw_vector(x);
        match &self.pre {
            Some((m, wh)) => length_normalise(wh * (r - m)),
            None => r,
        }
    }

    fn post_vector(&self, y: DVector<f64>) -> DVector<f64> {
        match &self.post {
            Some((scale, m, p)) => p * (length_normalise(y.component_mul(scale)) - m),
            None => y,
        }
    }

    /// The `k`-dimensional embedding of one window vector (as the model sees it, after
    /// [`SummaryConfig::transform`]).
    pub fn embed(&self, x: &[f64]) -> Vec<f64> {
        let y = &self.proj * (self.pre_vector(x) - &self.mean);
        self.post_vector(y).iter().copied().collect()
    }

    /// Learns the embedding from `people[p][w]` window vectors over the usable entries of `pop`, keeping
    /// `k` dimensions; `None` with fewer than 3 people or no usable entry.
    pub fn train(pop: &SummaryPopulation, people: &[Vec<Vec<f64>>], k: usize) -> Option<Self> {
        let raw: Vec<(usize, f64, f64)> = pop
            .entries
            .iter()
            .enumerate()
            .filter_map(|(f, st)| st.map(|s| (f, s.mu, (s.w + s.b).sqrt())))
            .collect();
        let d = raw.len();
        let people: Vec<&Vec<Vec<f64>>> = people.iter().filter(|p| p.len() >= 2).collect();
        if d == 0 || people.len() < 3 {
            return None;
        }
        let mut emb = SummaryEmbedding {
            raw,
            mean: DVector::zeros(d),
            proj: DMatrix::zeros(0, d),
            between: Vec::new(),
            pre: None,
            post: None,
        };
        let dim = pop.dim();
        let ridge = pop.config.emb_ridge;
        let mut raws: Vec<Vec<DVector<f64>>> = people
            .iter()
            .map(|p| {
                p.iter()
                    .filter(|w| w.len() == dim)
                    .map(|w| emb.raw_vector(w))
                    .collect()
            })
            .collect();
        if pop.config.emb_norm == 1 {
            let all: Vec<&DVector<f64>> = raws.iter().flatten().collect();
            let (m, wh) = total_whitening(&all, ridge);
            for v in raws.iter_mut().flatten() {
                *v = length_normalise(&wh * (&*v - &m));
            }
            emb.pre = Some((m, wh));
        }
        let (mean, proj, between) = crate::embed::lda(&raws, k, ridge);
        // Length normalisation needs dimensions to concentrate norms (with k = 1 it keeps only a sign).
        if pop.config.emb_norm == 2 && between.len() >= MIN_NORM_DIM {
            let scale = DVector::from_iterator(
                between.len(),
                between.iter().map(|l| 1.0 / (1.0 + l).sqrt()),
            );
            let ys: Vec<Vec<DVector<f64>>> = raws
                .iter()
                .map(|p| {
                    p.iter()
                        .map(|v| length_normalise((&proj * (v - &mean)).component_mul(&scale)))
                        .collect()
                })
                .collect();
            let k2 = between.len();
            let (m2, p2, b2) = crate::embed::lda(&ys, k2, ridge);
            emb.post = Some((scale, m2, p2));
            emb.between = b2;
        } else {
            emb.between = between;
        }
        emb.mean = mean;
        emb.proj = proj;
        Some(emb)
    }

    /// Comparison score (higher = more impostor-like) of a probe window against an enrolment of `n`
    /// windows with mean embedding `mean`: minus the two-covariance log-likelihood ratio summed over
    /// dimensions and divided by `√k`, or minus the cosine similarity times `√k` with `cosine`.
    pub fn score(&self, mean: &[f64], n: usize, probe: &[f64], cosine: bool) -> f64 {
        let y = self.embed(probe);
        let k = (y.len() as f64).max(1.0);
        if cosine {
            let dot: f64 = y.iter().zip(mean).map(|(a, b)| a * b).sum();
            let na = y.iter().map(|a| a * a).sum::<f64>().sqrt();
            let nb = mean.iter().map(|a| a * a).sum::<f64>().sqrt();
            return -dot / (na * nb).max(1e-12) * k.sqrt();
        }
        let n = n as f64;
        let mut sum = 0.0;
        for ((&yd, &md), &lam) in y.iter().zip(mean).zip(&self.between) {
            let p = 1.0 / lam + n;
            let m = n * md / p;
            sum += ln_normal(yd, m, 1.0 + 1.0 / p) - ln_normal(yd, 0.0, 1.0 + lam);
        }
        -sum / k.sqrt()
    }
}

/// Score normalisation against a cohort (Auckenthaler et al. 2000): T-norm standardises a probe's score
/// by the scores the probe gets against cohort profiles; Z-norm standardises an owner's score by the
/// scores the owner's profile gives cohort windows; S-norm averages the two. With `top > 0` only the `top`
/// cohort scores closest to genuine (the lowest) are used (adaptive normalisation, Sturim & Reynolds 2005).
pub struct SummaryCohort {
    profiles: Vec<SummaryProfile>,
    windows: Vec<Vec<f64>>,
    top: usize,
}

impl SummaryCohort {
    /// A T-norm cohort of profiles (population people, never the verified ones).
    pub fn new(profiles: Vec<SummaryProfile>) -> Self {
        SummaryCohort {
            profiles,
            windows: Vec::new(),
            top: 0,
        }
    }

    /// A cohort for T-norm (`profiles`) and Z-norm (`windows`, one or more per cohort person), adaptive to
    /// the `top` lowest scores (0: all).
    pub fn with_windows(profiles: Vec<SummaryProfile>, windows: Vec<Vec<f64>>, top: usize) -> Self {
        SummaryCohort {
            profiles,
            windows,
            top,
        }
    }

    fn stats(&self, mut s: Vec<f64>) -> Option<(f64, f64)> {
        s.retain(|x| x.is_finite());
        if self.top >= 2 && s.len() > self.top {
            s.sort_by(f64::total_cmp);
            s.truncate(self.top);
        }
        if s.len() < 2 {
            return None;
        }
        let (m, sd) = mean_sd(&s);
        Some((m, sd.max(1e-6)))
    }

    /// Mean and sd of the probe's scores against the cohort profiles (`None` with fewer than 2). They do
    /// not depend on the owner, so a caller scoring one probe against many owners computes them once.
    pub fn t_stats(&self, probe: &[f64]) -> Option<(f64, f64)> {
        self.stats(self.profiles.iter().map(|p| p.score(probe)).collect())
    }

    /// Mean and sd of the scores the owner's profile gives the cohort windows (`None` with fewer than 2).
    pub fn z_stats(&self, owner: &SummaryProfile) -> Option<(f64, f64)> {
        self.stats(self.windows.iter().map(|w| owner.score(w)).collect())
    }

    /// `(score − mean) / sd` with [`t_stats`](Self::t_stats); the raw score without them or when not finite.
    pub fn normalize_with(score: f64, stats: Option<(f64, f64)>) -> f64 {
        match stats {
            Some((m, sd)) if score.is_finite() => (score - m) / sd,
            _ => score,
        }
    }

    /// S-norm: the mean of the T- and Z-normalised scores (either alone when the other is missing; the raw
    /// score without both).
    pub fn s_normalize(score: f64, t: Option<(f64, f64)>, z: Option<(f64, f64)>) -> f64 {
        match (t, z) {
            (Some(_), Some(_)) if score.is_finite() => {
                0.5 * (Self::normalize_with(score, t) + Self::normalize_with(score, z))
            }
            (Some(_), None) => Self::normalize_with(score, t),
            _ => Self::normalize_with(score, z),
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

    #[test]
    fn relative_blocks_follow_the_edge_layout() {
        assert_eq!(
            relative_blocks(162),
            Some([(0, 8, 144), (8, 16, 145), (16, 80, 146), (80, 144, 148)])
        );
        // Vocabulary 1 (12 classes, 320 entries).
        assert_eq!(relative_blocks(320).unwrap()[3], (168, 312, 316));
        assert_eq!(relative_blocks(7), None);
    }

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

    /// `n` people of 8 windows each, and the default settings with a `k`-dimensional embedding.
    fn population(
        n: usize,
        window: impl Fn(usize, usize) -> Vec<f64>,
        k: usize,
    ) -> (Vec<Vec<Vec<f64>>>, SummaryConfig) {
        let pop = (0..n)
            .map(|p| (0..8).map(|w| window(p, w)).collect())
            .collect();
        let cfg = SummaryConfig {
            emb_dim: k,
            ..SummaryConfig::default()
        };
        (pop, cfg)
    }

    /// People differ only in a contrast of two entries that a large shared within-person shift (overall
    /// speed) hides from a per-entry comparison; the embedding finds it.
    #[test]
    fn embedding_finds_a_contrast_hidden_by_shared_speed() {
        let window = |p: usize, w: usize| {
            let speed = (((p * 7 + w * 13) % 17) as f64 - 8.0) / 4.0;
            let e = (((p * 5 + w * 3) % 7) as f64 - 3.0) / 300.0;
            let o = p as f64 * 0.05;
            vec![speed + o + e, speed - o - e, speed]
        };
        let (pop, cfg) = population(30, window, 1);
        let with = Arc::new(SummaryPopulation::train(&pop, cfg.clone()));
        let without = Arc::new(SummaryPopulation::train(
            &pop,
            SummaryConfig { emb_dim: 0, ..cfg },
        ));
        assert!(with.embedding.is_some() && without.embedding.is_none());
        // Owners 40..50 (not in the population); impostor probes from the next owner.
        let (mut wins_with, mut wins_without) = (0, 0);
        for o in 40..50 {
            let enrol: Vec<Vec<f64>> = (0..5).map(|w| window(o, w)).collect();
            let refs: Vec<&[f64]> = enrol.iter().map(Vec::as_slice).collect();
            let (a, b) = (with.enrol(&refs), without.enrol(&refs));
            let g = window(o, 6);
            let i = window(o + 3, 6);
            wins_with += usize::from(a.score(&g) < a.score(&i));
            wins_without += usize::from(b.score(&g) < b.score(&i));
        }
        assert!(wins_with >= 9, "embedding: {wins_with}/10");
        assert!(wins_without < wins_with, "per-entry: {wins_without}/10");
    }

    /// A length-normalised embedding (`emb_norm` 2, at least [`MIN_NORM_DIM`] dimensions) is learned and
    /// still separates people who differ on many entries; a 1-dimensional one is left unnormalised.
    #[test]
    fn length_normalised_embedding_separates_people() {
        let window = |p: usize, w: usize| -> Vec<f64> {
            (0..12)
                .map(|f| {
                    let trait_ = (((p * 13 + f * 7) % 19) as f64 - 9.0) / 10.0;
                    let noise = (((p * 5 + w * 11 + f * 3) % 13) as f64 - 6.0) / 30.0;
                    trait_ + noise
                })
                .collect()
        };
        let (pop, cfg) = population(60, window, 10);
        let model = Arc::new(SummaryPopulation::train(&pop, cfg.clone()));
        let e = model.embedding.as_ref().unwrap();
        assert!(e.post.is_some() && e.dim() == 10);
        let small = SummaryPopulation::train(&pop, SummaryConfig { emb_dim: 1, ..cfg });
        assert!(small.embedding.unwrap().post.is_none());
        let mut wins = 0;
        for o in 70..80 {
            let enrol: Vec<Vec<f64>> = (0..5).map(|w| window(o, w)).collect();
            let prof = model.enrol(&enrol.iter().map(Vec::as_slice).collect::<Vec<_>>());
            wins += usize::from(prof.score(&window(o, 6)) < prof.score(&window(o + 1, 6)));
        }
        assert!(wins >= 9, "{wins}/10");
    }
}
