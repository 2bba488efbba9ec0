//! A compact, seeded random forest for two classes (Breiman, Machine Learning 45, 2001).
//!
//! Why our own: on this toolchain `smartcore` 0.4.10's `RandomForestClassifier` returns hard labels only
//! (no class probabilities, trees private), so it cannot give a graded comparison score; `linfa-ensemble`
//! 0.8.1 draws one feature subset per *tree* (random subspaces, not per-split sampling) and `linfa-trees`
//! 0.8.1 scans the full presorted index at every node. This module is the textbook method, kept small:
//! * each tree is grown on a bootstrap sample (n draws with replacement);
//! * at each node `mtry` features (default `⌈√d⌉`) are drawn without replacement and the best Gini split
//!   among candidate thresholds is taken; thresholds are the training data's per-feature quantiles (at most
//!   [`ForestParams::max_bins`] per feature), as in histogram-based tree learners;
//! * a node becomes a leaf when it is pure, smaller than `2 · min_samples_leaf`, at `max_depth`, or no split
//!   improves the impurity; a leaf stores the fraction of positive (label `true`) samples;
//! * `predict` is the mean of the leaf fractions over trees (sklearn's `predict_proba`).
//!
//! Tree `k` draws from `ChaCha8Rng::seed_from_u64(seed ⊕ k·φ)`, so results are bit-identical across runs.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Hyper-parameters of [`Forest::fit`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ForestParams {
    /// Number of trees (default 100).
    pub n_trees: usize,
    /// Features tried per split; 0 means `⌈√d⌉` (default 0).
    pub mtry: usize,
    /// Minimum samples in a leaf (default 1).
    pub min_samples_leaf: usize,
    /// Maximum depth (default 40).
    pub max_depth: usize,
    /// Candidate thresholds per feature (default 64).
    pub max_bins: usize,
    /// Seed (default 42).
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            n_trees: 100,
            mtry: 0,
            min_samples_leaf: 1,
            max_depth: 40,
            max_bins: 64,
            seed: 42,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Node {
    Split {
        feature: u32,
        threshold: f64,
        left: u32,
        right: u32,
    },
    Leaf(f64),
}

/// A fitted forest: [`Forest::predict`] gives the probability of the positive class.
#[derive(Clone, Debug)]
pub struct Forest {
    trees: Vec<Vec<Node>>,
    dim: usize,
}

struct Grower<'a> {
    /// Bin index of each sample for each feature: `bins[f][i]`.
    bins: &'a [Vec<u8>],
    /// Threshold of bin edge `b` of feature `f`: go left when `x <= edges[f][b]`.
    edges: &'a [Vec<f64>],
    y: &'a [bool],
    p: ForestParams,
    mtry: usize,
    nodes: Vec<Node>,
    rng: ChaCha8Rng,
}

impl Grower<'_> {
    fn grow(&mut self, idx: &mut [usize], depth: usize) -> u32 {
        let n = idx.len();
        let pos = idx.iter().filter(|&&i| self.y[i]).count();
        let me = self.nodes.len() as u32;
        self.nodes.push(Node::Leaf(pos as f64 / n as f64));
        if pos == 0
            || pos == n
            || n < 2 * self.p.min_samples_leaf.max(1)
            || depth >= self.p.max_depth
        {
            return me;
        }
        let dim = self.bins.len();
        // Partial Fisher–Yates: first `mtry` entries are the sampled features.
        let mut feats: Vec<usize> = (0..dim).collect();
        for k in 0..self.mtry {
            let j = self.rng.random_range(k..dim);
            feats.swap(k, j);
        }
        let parent = gini(pos as f64, n as f64);
        let mut best: Option<(f64, usize, usize)> = None; // (impurity, feature, bin)
        let mut hist_n = [0u32; 256];
        let mut hist_p = [0u32; 256];
        let min_leaf = self.p.min_samples_leaf.max(1);
        for &f in &feats[..self.mtry] {
            let nb = self.edges[f].len() + 1;
            hist_n[..nb].fill(0);
            hist_p[..nb].fill(0);
            let col = &self.bins[f];
            for &i in idx.iter() {
                let b = col[i] as usize;
                hist_n[b] += 1;
                hist_p[b] += self.y[i] as u32;
            }
            let (mut ln, mut lp) = (0.0, 0.0);
            for b in 0..nb - 1 {
                ln += hist_n[b] as f64;
                lp += hist_p[b] as f64;
                let rn = n as f64 - ln;
                if ln < min_leaf as f64 || rn < min_leaf as f64 {
                    continue;
                }
                let rp = pos as f64 - lp;
                let imp = (ln * gini(lp, ln) + rn * gini(rp, rn)) / n as f64;
                if imp < parent - 1e-12 && best.is_none_or(|(bi, _, _)| imp < bi) {
                    best = Some((imp, f, b));
                }
            }
        }
        let Some((_, f, b)) = best else { return me };
        let col = &self.bins[f];
        // Partition idx: bin <= b to the left.
        let mut l = 0;
        for k in 0..n {
            if col[idx[k]] as usize <= b {
                idx.swap(l, k);
                l += 1;
            }
        }
        let (li, ri) = idx.split_at_mut(l);
        let left = self.grow(li, depth + 1);
        let right = self.grow(ri, depth + 1);
        self.nodes[me as usize] = Node::Split {
            feature: f as u32,
            threshold: self.edges[f][b],
            left,
            right,
        };
        me
    }
}

fn gini(pos: f64, n: f64) -> f64 {
    if n <= 0.0 {
        return 0.0;
    }
    let p = pos / n;
    2.0 * p * (1.0 - p)
}

impl Forest {
    /// Fits a forest to samples `x` (shape `(n, d)`, finite) with labels `y` (`true` = positive class).
    ///
    /// # Panics
    /// When `x` is empty, ragged, or `x.len() != y.len()` (callers validate with
    /// [`keyprint_core::detector::check_vectors`]).
    pub fn fit(x: &[Vec<f64>], y: &[bool], p: ForestParams) -> Forest {
        assert!(!x.is_empty() && x.len() == y.len());
        let dim = x[0].len();
        let max_bins = p.max_bins.clamp(2, 255);
        let mut edges = Vec::with_capacity(dim);
        let mut bins = Vec::with_capacity(dim);
        for f in 0..dim {
            let mut col: Vec<f64> = x.iter().map(|r| r[f]).collect();
            col.sort_by(f64::total_cmp);
            col.dedup();
            // Edges: midpoints between distinct values, thinned to at most max_bins − 1 quantiles.
            let mut e: Vec<f64> = if col.len() <= max_bins {
                col.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect()
            } else {
                (1..max_bins)
                    .map(|k| {
                        let i = k * (col.len() - 1) / max_bins;
                        (col[i] + col[i + 1]) / 2.0
                    })
                    .collect()
            };
            e.dedup();
            let b: Vec<u8> = x
                .iter()
                .map(|r| e.partition_point(|&t| t < r[f]) as u8)
                .collect();
            edges.push(e);
            bins.push(b);
        }
        let mtry = if p.mtry == 0 {
            (dim as f64).sqrt().ceil() as usize
        } else {
            p.mtry
        }
        .clamp(1, dim);
        let n = x.len();
        let trees = (0..p.n_trees)
            .map(|k| {
                let seed = p.seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let mut idx: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
                let mut g = Grower {
                    bins: &bins,
                    edges: &edges,
                    y,
                    p,
                    mtry,
                    nodes: Vec::new(),
                    rng,
                };
                g.grow(&mut idx, 0);
                g.nodes
            })
            .collect();
        Forest { trees, dim }
    }

    /// Number of features the forest was fitted on.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Probability of the positive class for `x` (shape `(d,)`): the mean leaf fraction over trees, in [0, 1].
    pub fn predict(&self, x: &[f64]) -> f64 {
        let mut s = 0.0;
        for t in &self.trees {
            let mut i = 0usize;
            loop {
                match t[i] {
                    Node::Leaf(v) => {
                        s += v;
                        break;
                    }
                    Node::Split {
                        feature,
                        threshold,
                        left,
                        right,
                    } => {
                        i = if x[feature as usize] <= threshold {
                            left as usize
                        } else {
                            right as usize
                        }
                    }
                }
            }
        }
        s / self.trees.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(seed: u64, n: usize) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a: f64 = rng.random_range(-1.0..1.0);
            let b: f64 = rng.random_range(-1.0..1.0);
            let noise: f64 = rng.random_range(-1.0..1.0);
            x.push(vec![a, b, noise]);
            y.push(a * a + b * b < 0.5);
        }
        (x, y)
    }

    #[test]
    fn learns_a_disc_and_is_deterministic() {
        let (x, y) = data(1, 2000);
        let p = ForestParams {
            n_trees: 30,
            ..Default::default()
        };
        let f = Forest::fit(&x, &y, p);
        let (tx, ty) = data(2, 500);
        let acc = tx
            .iter()
            .zip(&ty)
            .filter(|(x, y)| (f.predict(x) > 0.5) == **y)
            .count() as f64
            / 500.0;
        assert!(acc > 0.9, "accuracy {acc}");
        let g = Forest::fit(&x, &y, p);
        assert!(tx.iter().all(|x| f.predict(x) == g.predict(x)));
        assert!(tx.iter().all(|x| (0.0..=1.0).contains(&f.predict(x))));
    }
}
