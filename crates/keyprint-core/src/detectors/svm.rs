//! One-class support-vector machine (Schölkopf et al., "Estimating the support of a high-dimensional
//! distribution", Neural Computation 2001), trained by SMO with maximal-violating-pair working-set
//! selection (Fan, Chen & Lin, JMLR 2005), RBF kernel.

use crate::detector::{
    Detector, Enrolment, FeatureVector, FitError, Template, check_vectors, probe_fits,
};
use crate::stats::{mean, std_dev};

/// SVM (one-class), as used by Killourhy & Maxion (after Yu & Cho 2003).
///
/// Features are standardised with the enrolment mean and standard deviation (as R's `e1071::svm` does by
/// default), the kernel is `exp(−γ ‖x − y‖²)` with `γ = gamma_scale / n_features`. Score: `−Σ αᵢ K(xᵢ, x)`,
/// the negated decision function up to the constant offset ρ (higher = further outside the support).
pub struct OneClassSvm {
    /// ν ∈ (0, 1]: upper bound on the share of enrolment samples outside the support (0.5 = e1071 default).
    pub nu: f64,
    /// Kernel width multiplier: γ = `gamma_scale` / n_features (1.0 = e1071 default).
    pub gamma_scale: f64,
    /// SMO stopping tolerance on the maximal KKT violation.
    pub tol: f64,
}

impl Default for OneClassSvm {
    fn default() -> Self {
        OneClassSvm {
            nu: 0.5,
            gamma_scale: 1.0,
            tol: 1e-6,
        }
    }
}

struct SvmTemplate {
    mean: Vec<f64>,
    sd: Vec<f64>,
    gamma: f64,
    support: Vec<(f64, Vec<f64>)>,
}

fn rbf(gamma: f64, a: &[f64], b: &[f64]) -> f64 {
    (-gamma * a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>()).exp()
}

impl Template<FeatureVector> for SvmTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        if !probe_fits(probe, self.mean.len()) {
            return f64::INFINITY;
        }
        let z: Vec<f64> = probe
            .iter()
            .zip(&self.mean)
            .zip(&self.sd)
            .map(|((x, m), s)| (x - m) / s)
            .collect();
        -self
            .support
            .iter()
            .map(|(a, sv)| a * rbf(self.gamma, sv, &z))
            .sum::<f64>()
    }
}

impl Detector<FeatureVector> for OneClassSvm {
    fn name(&self) -> &str {
        "svm-one-class"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let dim = check_vectors(e.genuine, 2)?;
        let m = mean(e.genuine);
        let sd: Vec<f64> = std_dev(e.genuine, &m)
            .into_iter()
            .map(|v| if v > 1e-12 { v } else { 1.0 })
            .collect();
        let z: Vec<Vec<f64>> = e
            .genuine
            .iter()
            .map(|x| {
                x.iter()
                    .zip(&m)
                    .zip(&sd)
                    .map(|((v, mu), s)| (v - mu) / s)
                    .collect()
            })
            .collect();
        let gamma = self.gamma_scale / dim as f64;
        let n = z.len();
        let k: Vec<Vec<f64>> = (0..n)
            .map(|i| (0..n).map(|j| rbf(gamma, &z[i], &z[j])).collect())
            .collect();
        // libsvm scaling: 0 ≤ αᵢ ≤ 1, Σ αᵢ = ν n.
        let total = (self.nu.clamp(1e-6, 1.0) * n as f64).max(1.0);
        let mut alpha = vec![0.0; n];
        let mut left = total;
        for a in alpha.iter_mut() {
            let v = left.min(1.0);
            *a = v;
            left -= v;
            if left <= 0.0 {
                break;
            }
        }
        let mut grad: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| k[i][j] * alpha[j]).sum())
            .collect();
        for _ in 0..(100 * n).max(10_000) {
            // i: may increase (α < 1), smallest gradient; j: may decrease (α > 0), largest gradient.
            let (mut i, mut gi) = (usize::MAX, f64::INFINITY);
            let (mut j, mut gj) = (usize::MAX, f64::NEG_INFINITY);
            for t in 0..n {
                if alpha[t] < 1.0 && grad[t] < gi {
                    (i, gi) = (t, grad[t]);
                }
                if alpha[t] > 0.0 && grad[t] > gj {
                    (j, gj) = (t, grad[t]);
                }
            }
            if i == usize::MAX || j == usize::MAX || gj - gi < self.tol {
                break;
            }
            let curv = (k[i][i] + k[j][j] - 2.0 * k[i][j]).max(1e-12);
            let delta = ((gj - gi) / curv).min(1.0 - alpha[i]).min(alpha[j]);
            alpha[i] += delta;
            alpha[j] -= delta;
            for (t, g) in grad.iter_mut().enumerate() {
                *g += delta * (k[t][i] - k[t][j]);
            }
        }
        let support = alpha
            .iter()
            .zip(z)
            .filter(|(a, _)| **a > 0.0)
            .map(|(a, v)| (*a / total, v))
            .collect();
        Ok(Box::new(SvmTemplate {
            mean: m,
            sd,
            gamma,
            support,
        }))
    }
}
