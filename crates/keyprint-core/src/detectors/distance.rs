//! Distance-based detectors of Killourhy & Maxion (2009), section 4.

use crate::detector::{
    Detector, Enrolment, FeatureVector, FitError, Template, check_vectors, probe_fits,
};
use crate::stats::{covariance, mean, mean_abs_dev, norm, pinv_psd, quad_form, std_dev};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Relative eigenvalue cut-off for covariance pseudo-inverses.
const PINV_TOL: f64 = 1e-8;

/// A template defined by a scoring closure over probes of length `dim`.
struct Closure<F> {
    dim: usize,
    f: F,
}
impl<F: Fn(&FeatureVector) -> f64 + Send + Sync> Template<FeatureVector> for Closure<F> {
    fn score(&self, probe: &FeatureVector) -> f64 {
        if probe_fits(probe, self.dim) {
            (self.f)(probe)
        } else {
            f64::INFINITY
        }
    }
}
fn boxed<F: Fn(&FeatureVector) -> f64 + Send + Sync + 'static>(
    dim: usize,
    f: F,
) -> Box<dyn Template<FeatureVector>> {
    Box::new(Closure { dim, f })
}

/// Euclidean: the template is the mean vector; the score is the squared Euclidean distance to it.
pub struct Euclidean;
impl Detector<FeatureVector> for Euclidean {
    fn name(&self) -> &str {
        "euclidean"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 1)?;
        let m = mean(e.genuine);
        Ok(boxed(dim, move |x| {
            x.iter().zip(&m).map(|(a, b)| (a - b) * (a - b)).sum()
        }))
    }
}

/// Euclidean (normed): squared Euclidean distance divided by the product of the norms of probe and mean.
pub struct EuclideanNormed;
impl Detector<FeatureVector> for EuclideanNormed {
    fn name(&self) -> &str {
        "euclidean-normed"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 1)?;
        let m = mean(e.genuine);
        let nm = norm(&m);
        Ok(boxed(dim, move |x| {
            let d: f64 = x.iter().zip(&m).map(|(a, b)| (a - b) * (a - b)).sum();
            d / (norm(x) * nm).max(f64::MIN_POSITIVE)
        }))
    }
}

fn manhattan_to(m: Vec<f64>) -> Box<dyn Template<FeatureVector>> {
    boxed(m.len(), move |x| {
        x.iter().zip(&m).map(|(a, b)| (a - b).abs()).sum()
    })
}

/// Manhattan: city-block distance to the mean vector.
pub struct Manhattan;
impl Detector<FeatureVector> for Manhattan {
    fn name(&self) -> &str {
        "manhattan"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        check_vectors(e.genuine, 1)?;
        Ok(manhattan_to(mean(e.genuine)))
    }
}

/// Manhattan (filtered): as Manhattan, after removing enrolment vectors with any feature more than three
/// standard deviations from that feature's mean.
pub struct ManhattanFiltered;
impl Detector<FeatureVector> for ManhattanFiltered {
    fn name(&self) -> &str {
        "manhattan-filtered"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        check_vectors(e.genuine, 2)?;
        let m = mean(e.genuine);
        let sd = std_dev(e.genuine, &m);
        let kept: Vec<FeatureVector> = e
            .genuine
            .iter()
            .filter(|x| {
                x.iter()
                    .zip(&m)
                    .zip(&sd)
                    .all(|((v, mu), s)| (v - mu).abs() <= 3.0 * s)
            })
            .cloned()
            .collect();
        Ok(manhattan_to(if kept.is_empty() { m } else { mean(&kept) }))
    }
}

/// Manhattan (scaled) (Araújo et al. 2005): `Σ |xᵢ − mᵢ| / aᵢ` with `aᵢ` the mean absolute deviation of
/// feature `i` in the enrolment.
pub struct ManhattanScaled;
impl Detector<FeatureVector> for ManhattanScaled {
    fn name(&self) -> &str {
        "manhattan-scaled"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 1)?;
        let m = mean(e.genuine);
        let a: Vec<f64> = mean_abs_dev(e.genuine, &m)
            .into_iter()
            .map(|v| v.max(1e-9))
            .collect();
        Ok(boxed(dim, move |x| {
            x.iter()
                .zip(&m)
                .zip(&a)
                .map(|((v, mu), s)| (v - mu).abs() / s)
                .sum()
        }))
    }
}

fn precision(g: &[FeatureVector], m: &[f64]) -> DMatrix<f64> {
    pinv_psd(&covariance(g, m), PINV_TOL)
}

/// Mahalanobis: `(x − m)ᵀ S⁻¹ (x − m)` with `S` the enrolment covariance. CMU's features are linearly
/// dependent (`DD = H + UD`), so `S` is singular: keyprint uses its Moore–Penrose pseudo-inverse.
pub struct Mahalanobis;
impl Detector<FeatureVector> for Mahalanobis {
    fn name(&self) -> &str {
        "mahalanobis"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 2)?;
        let m = mean(e.genuine);
        let p = precision(e.genuine, &m);
        Ok(boxed(dim, move |x| {
            let d: Vec<f64> = x.iter().zip(&m).map(|(a, b)| a - b).collect();
            quad_form(&p, &d)
        }))
    }
}

/// Mahalanobis (normed): the Mahalanobis form `(x − m)ᵀ S⁻¹ (x − m)` divided by the product of the
/// Mahalanobis norms `‖x‖_S ‖m‖_S` (`‖v‖_S = √(vᵀ S⁻¹ v)`). The paper normalises by Euclidean norms, which
/// here gives a mean EER of 0.162, far from its 0.1101; see docs/BENCHMARKS.md.
pub struct MahalanobisNormed;
impl Detector<FeatureVector> for MahalanobisNormed {
    fn name(&self) -> &str {
        "mahalanobis-normed"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 2)?;
        let m = mean(e.genuine);
        let p = precision(e.genuine, &m);
        let nm = quad_form(&p, &m).max(0.0).sqrt();
        Ok(boxed(dim, move |x| {
            let d: Vec<f64> = x.iter().zip(&m).map(|(a, b)| a - b).collect();
            quad_form(&p, &d) / (quad_form(&p, x).max(0.0).sqrt() * nm).max(f64::MIN_POSITIVE)
        }))
    }
}

/// Nearest Neighbor (Mahalanobis) (Cho et al. 2000): Mahalanobis distance, under the enrolment covariance,
/// from the probe to the nearest enrolment vector.
pub struct NearestNeighborMahalanobis;
impl Detector<FeatureVector> for NearestNeighborMahalanobis {
    fn name(&self) -> &str {
        "nn-mahalanobis"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 2)?;
        let m = mean(e.genuine);
        let p = precision(e.genuine, &m);
        // Whiten once: with P = L Lᵀ (eigen form), dᵀ P d = ‖Lᵀ d‖², so store Lᵀ x for every sample.
        let eig = p.clone().symmetric_eigen();
        let w = DMatrix::from_fn(m.len(), m.len(), |i, j| {
            eig.eigenvectors[(j, i)] * eig.eigenvalues[i].max(0.0).sqrt()
        });
        let project = move |x: &[f64]| -> Vec<f64> {
            (0..w.nrows())
                .map(|i| (0..w.ncols()).map(|j| w[(i, j)] * x[j]).sum())
                .collect()
        };
        let train: Vec<Vec<f64>> = e.genuine.iter().map(|x| project(x)).collect();
        Ok(boxed(dim, move |x| {
            let px = project(x);
            train
                .iter()
                .map(|t| {
                    t.iter()
                        .zip(&px)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                })
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        }))
    }
}

/// Outlier Count (z-score) (Haider et al. 2000): the number of features whose z-score against the
/// enrolment mean and standard deviation exceeds `threshold` in absolute value (1.96 in the paper).
pub struct OutlierCount {
    /// |z| above which a feature counts as an outlier.
    pub threshold: f64,
}
impl Default for OutlierCount {
    fn default() -> Self {
        OutlierCount { threshold: 1.96 }
    }
}
impl Detector<FeatureVector> for OutlierCount {
    fn name(&self) -> &str {
        "outlier-count"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 2)?;
        let m = mean(e.genuine);
        let sd: Vec<f64> = std_dev(e.genuine, &m)
            .into_iter()
            .map(|v| v.max(1e-9))
            .collect();
        let t = self.threshold;
        Ok(boxed(dim, move |x| {
            x.iter()
                .zip(&m)
                .zip(&sd)
                .filter(|((v, mu), s)| ((*v - *mu) / *s).abs() > t)
                .count() as f64
        }))
    }
}

/// k-Means (Kang et al. 2007): `k` clusters of the enrolment (Euclidean, k-means++ seeding, Lloyd
/// iterations, fixed seed); the score is the Euclidean distance to the nearest centroid.
pub struct KMeans {
    /// Number of clusters (3 in the paper).
    pub k: usize,
    /// RNG seed for the initial centroids.
    pub seed: u64,
}
impl Default for KMeans {
    fn default() -> Self {
        KMeans { k: 3, seed: 7 }
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++ seeding then Lloyd's algorithm; returns the centroids.
pub(crate) fn kmeans(data: &[FeatureVector], k: usize, seed: u64, iters: usize) -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let k = k.min(data.len()).max(1);
    let mut cents = vec![data[rng.random_range(0..data.len())].clone()];
    while cents.len() < k {
        let d: Vec<f64> = data
            .iter()
            .map(|x| {
                cents
                    .iter()
                    .map(|c| sq_dist(x, c))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let total: f64 = d.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut r = rng.random::<f64>() * total;
        let mut pick = data.len() - 1;
        for (i, di) in d.iter().enumerate() {
            r -= di;
            if r <= 0.0 {
                pick = i;
                break;
            }
        }
        cents.push(data[pick].clone());
    }
    let dim = data[0].len();
    for _ in 0..iters {
        let mut sums = vec![vec![0.0; dim]; cents.len()];
        let mut counts = vec![0usize; cents.len()];
        for x in data {
            let (best, _) = cents
                .iter()
                .enumerate()
                .map(|(i, c)| (i, sq_dist(x, c)))
                .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
            counts[best] += 1;
            sums[best].iter_mut().zip(x).for_each(|(s, v)| *s += v);
        }
        let mut moved = false;
        for (c, (s, n)) in cents.iter_mut().zip(sums.iter().zip(&counts)) {
            if *n > 0 {
                let new: Vec<f64> = s.iter().map(|v| v / *n as f64).collect();
                moved |= sq_dist(&new, c) > 1e-18;
                *c = new;
            }
        }
        if !moved {
            break;
        }
    }
    cents
}

impl Detector<FeatureVector> for KMeans {
    fn name(&self) -> &str {
        "k-means"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, self.k.max(1))?;
        let cents = kmeans(e.genuine, self.k, self.seed, 100);
        Ok(boxed(dim, move |x| {
            cents
                .iter()
                .map(|c| sq_dist(x, c))
                .fold(f64::INFINITY, f64::min)
                .sqrt()
        }))
    }
}
