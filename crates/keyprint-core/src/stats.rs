//! Small descriptive statistics over feature vectors, shared by the detectors (thin wrappers around
//! nalgebra for the matrix work).

use nalgebra::{DMatrix, DVector};

/// Per-feature mean of `samples` (shape `(n_samples, n_features)`, non-empty).
pub fn mean(samples: &[Vec<f64>]) -> Vec<f64> {
    let n = samples.len() as f64;
    let mut m = vec![0.0; samples[0].len()];
    for s in samples {
        for (a, b) in m.iter_mut().zip(s) {
            *a += b;
        }
    }
    m.iter_mut().for_each(|a| *a /= n);
    m
}

/// Per-feature sample standard deviation (denominator `n − 1`; 0 for one sample).
pub fn std_dev(samples: &[Vec<f64>], mean: &[f64]) -> Vec<f64> {
    let n = samples.len();
    let mut v = vec![0.0; mean.len()];
    for s in samples {
        for ((a, x), m) in v.iter_mut().zip(s).zip(mean) {
            *a += (x - m) * (x - m);
        }
    }
    let d = (n.saturating_sub(1)).max(1) as f64;
    v.iter().map(|a| (a / d).sqrt()).collect()
}

/// Per-feature mean absolute deviation from `center`.
pub fn mean_abs_dev(samples: &[Vec<f64>], center: &[f64]) -> Vec<f64> {
    let n = samples.len() as f64;
    let mut v = vec![0.0; center.len()];
    for s in samples {
        for ((a, x), m) in v.iter_mut().zip(s).zip(center) {
            *a += (x - m).abs();
        }
    }
    v.iter().map(|a| a / n).collect()
}

/// Per-feature median.
pub fn median(samples: &[Vec<f64>]) -> Vec<f64> {
    let dim = samples[0].len();
    (0..dim)
        .map(|j| {
            let mut col: Vec<f64> = samples.iter().map(|s| s[j]).collect();
            quantile_sorted(sort(&mut col), 0.5)
        })
        .collect()
}

fn sort(v: &mut [f64]) -> &[f64] {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted values, linear interpolation between order statistics.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Sample covariance matrix `(n_features, n_features)` about `mean` (denominator `n − 1`).
pub fn covariance(samples: &[Vec<f64>], mean: &[f64]) -> DMatrix<f64> {
    let dim = mean.len();
    let n = samples.len();
    let centered = DMatrix::from_fn(n, dim, |i, j| samples[i][j] - mean[j]);
    let d = (n.saturating_sub(1)).max(1) as f64;
    (centered.transpose() * &centered) / d
}

/// Moore–Penrose pseudo-inverse of a symmetric positive semi-definite matrix, via its eigen-decomposition;
/// eigenvalues below `rel_tol × largest` are treated as zero. Used for covariance matrices that are singular
/// because features are linearly dependent (CMU: `DD = H + UD`).
pub fn pinv_psd(m: &DMatrix<f64>, rel_tol: f64) -> DMatrix<f64> {
    let eig = m.clone().symmetric_eigen();
    let max = eig.eigenvalues.iter().cloned().fold(0.0, f64::max);
    let inv = DVector::from_iterator(
        eig.eigenvalues.len(),
        eig.eigenvalues.iter().map(|&l| {
            if l > rel_tol * max && l > 0.0 {
                1.0 / l
            } else {
                0.0
            }
        }),
    );
    &eig.eigenvectors * DMatrix::from_diagonal(&inv) * eig.eigenvectors.transpose()
}

/// Squared Mahalanobis form `dᵀ P d` for a precision (inverse covariance) matrix `P`.
pub fn quad_form(p: &DMatrix<f64>, d: &[f64]) -> f64 {
    let v = DVector::from_column_slice(d);
    (v.transpose() * p * &v)[(0, 0)]
}

/// Mean and sample standard deviation of `values` (sd with denominator `n − 1`).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (m, 0.0);
    }
    let v = values.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
    (m, v.sqrt())
}

/// The finite values of feature `f` over the vectors of length `dim` (vectors of another length and
/// `NaN` entries — absent values — are skipped).
pub fn finite_column<V: AsRef<[f64]>>(vectors: &[V], dim: usize, f: usize) -> Vec<f64> {
    vectors
        .iter()
        .map(AsRef::as_ref)
        .filter(|v| v.len() == dim)
        .map(|v| v[f])
        .filter(|x| x.is_finite())
        .collect()
}

/// Euclidean norm.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}
