//! A learned linear embedding of a key sequence: linear discriminant analysis (Fisher 1936; as used for
//! i-vectors/PLDA in speaker verification, Prince & Elder 2007) over per-feature posterior means, trained
//! on the population.
//!
//! A sequence becomes a raw vector of `D` entries, one per selected feature (the `D` features seen by the
//! most population people): `(m̂ − μ)/√B`, where `m̂ = (μ/B + s/W)/(1/B + n/W)` is the posterior mean of
//! that feature for the sequence (`n` observations summing to `s`; `m̂ = μ` when absent), with the
//! population's `μ`, `B`, `W` (see [`crate::model`]). LDA on population sequences (classes = people)
//! whitens the within-person covariance and keeps the `k` directions of largest between-person variance:
//! in the embedding, within-person covariance is `I` and between-person covariance `diag(λ)`. Unlike the
//! per-feature likelihood ratios, it accounts for correlations between features (overall speed shows in
//! every latency). Comparison in the embedding uses the same two-covariance likelihood ratio per dimension.

use crate::model::{IdMap, PopulationModel, Probe};
use keyprint_core::event::KeyEvent;
use nalgebra::{DMatrix, DVector};

/// A trained LDA embedding (shape: `k × D` projection of `D` selected features).
#[derive(Clone, Debug)]
pub struct Embedding {
    slot: IdMap<u32, usize>,
    /// Population `(μ, B, W)` of each selected feature, by slot.
    stat: Vec<(f64, f64, f64)>,
    /// Mean raw vector of the training sequences, length `D`.
    mean: DVector<f64>,
    /// Projection, `k × D`.
    proj: DMatrix<f64>,
    /// Between-person variance of each embedding dimension (within-person variance is 1).
    pub between: Vec<f64>,
}

impl Embedding {
    /// Embedding dimension `k`.
    pub fn dim(&self) -> usize {
        self.between.len()
    }

    /// Number of raw features `D`.
    pub fn features(&self) -> usize {
        self.stat.len()
    }

    /// The raw `D`-vector of a probe.
    fn raw(&self, probe: &Probe) -> DVector<f64> {
        let d = self.stat.len();
        let mut n = vec![0.0; d];
        let mut s = vec![0.0; d];
        for (feature, _, cnt, sum) in probe.items() {
            if let Some(&i) = self.slot.get(&feature) {
                n[i] += cnt;
                s[i] += sum;
            }
        }
        DVector::from_iterator(
            d,
            (0..d).map(|i| {
                let (mu, b, w) = self.stat[i];
                if n[i] == 0.0 {
                    0.0
                } else {
                    let m = (mu / b + s[i] / w) / (1.0 / b + n[i] / w);
                    (m - mu) / b.sqrt()
                }
            }),
        )
    }

    /// The `k`-dimensional embedding of a probe.
    pub fn embed(&self, probe: &Probe) -> Vec<f64> {
        let v = &self.proj * (self.raw(probe) - &self.mean);
        v.iter().copied().collect()
    }

    /// Trains an LDA embedding on population `people` (each a list of sequences, each cut to at most
    /// `max_keys` keys, as probes will be), over the `d` features seen by the most population people,
    /// keeping `k` dimensions. Returns `None` when there are fewer than 2 people or no features.
    pub fn train(
        model: &PopulationModel,
        people: &[Vec<Vec<KeyEvent>>],
        max_keys: usize,
        d: usize,
        k: usize,
    ) -> Option<Embedding> {
        let mut order: Vec<u32> = (0..model.features.len() as u32)
            .filter(|&i| model.features[i as usize].people >= model.config.min_people)
            .collect();
        // Most people first; ties by index (deterministic).
        order.sort_by(|a, b| {
            model.features[*b as usize]
                .people
                .cmp(&model.features[*a as usize].people)
                .then(a.cmp(b))
        });
        order.truncate(d);
        let d = order.len();
        if d == 0 || people.len() < 2 {
            return None;
        }
        let mut emb = Embedding {
            slot: order.iter().enumerate().map(|(i, &f)| (f, i)).collect(),
            stat: order
                .iter()
                .map(|&f| {
                    let s = &model.features[f as usize];
                    (s.mu, s.between, s.within)
                })
                .collect(),
            mean: DVector::zeros(d),
            proj: DMatrix::zeros(0, d),
            between: Vec::new(),
        };
        let raws: Vec<Vec<DVector<f64>>> = people
            .iter()
            .map(|p| {
                p.iter()
                    .map(|s| emb.raw(&model.probe(&s[..max_keys.min(s.len())])))
                    .collect()
            })
            .collect();
        let (mean, proj, between) = lda(&raws, k, 1e-3);
        emb.mean = mean;
        emb.proj = proj;
        emb.between = between;
        Some(emb)
    }
}

/// Linear discriminant analysis of raw `D`-vectors grouped by person (`raws[p]`, a person with no vector
/// is skipped): returns the mean raw vector, the `k × D` projection that whitens the within-person
/// covariance (ridged by `ridge_frac` of its mean variance) and keeps the `k` directions of largest
/// between-person variance, and those variances less the within-person noise of a person mean.
pub(crate) fn lda(
    raws: &[Vec<DVector<f64>>],
    k: usize,
    ridge_frac: f64,
) -> (DVector<f64>, DMatrix<f64>, Vec<f64>) {
    let d = raws.iter().flatten().next().map_or(0, |v| v.len());
    let total: usize = raws.iter().map(Vec::len).sum();
    let mut mean = DVector::zeros(d);
    for v in raws.iter().flatten() {
        mean += v;
    }
    mean /= total.max(1) as f64;
    let mut sw = DMatrix::<f64>::zeros(d, d);
    let mut sb = DMatrix::<f64>::zeros(d, d);
    let mut classes = 0.0;
    for p in raws.iter().filter(|p| !p.is_empty()) {
        let mut pm = DVector::zeros(d);
        for v in p {
            pm += v;
        }
        pm /= p.len() as f64;
        for v in p {
            let c = v - &pm;
            sw.ger(1.0, &c, &c, 1.0);
        }
        let c = &pm - &mean;
        sb.ger(1.0, &c, &c, 1.0);
        classes += 1.0;
    }
    sw /= (total as f64 - classes).max(1.0);
    sb /= (classes - 1.0).max(1.0);
    let ridge = ridge_frac * sw.trace() / d.max(1) as f64 + 1e-9;
    for i in 0..d {
        sw[(i, i)] += ridge;
    }
    // Whitening W^{-1/2} from the eigen-decomposition of Sw.
    let e = sw.symmetric_eigen();
    let inv_sqrt = DMatrix::from_diagonal(&e.eigenvalues.map(|l| 1.0 / l.max(ridge).sqrt()));
    let wh = &e.eigenvectors * inv_sqrt * e.eigenvectors.transpose();
    let sbw = &wh * sb * &wh;
    let sbw = (&sbw + sbw.transpose()) * 0.5;
    let eb = sbw.symmetric_eigen();
    let mut idx: Vec<usize> = (0..d).collect();
    idx.sort_by(|&a, &b| {
        eb.eigenvalues[b]
            .total_cmp(&eb.eigenvalues[a])
            .then(a.cmp(&b))
    });
    idx.truncate(k.min(d));
    let mut proj = DMatrix::zeros(idx.len(), d);
    let mut between = Vec::with_capacity(idx.len());
    for (r, &i) in idx.iter().enumerate() {
        let row = eb.eigenvectors.column(i).transpose() * &wh;
        proj.row_mut(r).copy_from(&row);
        // Class means carry within-person noise of variance 1/(sequences per person).
        between.push((eb.eigenvalues[i] - classes / total.max(1) as f64).max(1e-3));
    }
    (mean, proj, between)
}
