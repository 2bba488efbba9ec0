//! The one evaluation module: ROC/DET curves, EER, FMR/FNMR trade-offs, AUC, summaries over subjects,
//! and the continuous-authentication measures ANIA/ANGA.
//!
//! Scores follow the crate's polarity: **higher = more impostor-like**. A probe is *rejected* when its
//! score is `>= t` and *accepted* when it is `< t`. In ISO/IEC 2382-37 words:
//! * FMR(t) — false match rate: share of impostor probes accepted (`score < t`);
//! * FNMR(t) — false non-match rate: share of genuine probes rejected (`score >= t`).
//!
//! Killourhy & Maxion (2009) call FNMR the *false-alarm rate* and FMR the *miss rate*; their
//! *zero-miss false-alarm rate* is [`Roc::fnmr_at_zero_fmr`].

use thiserror::Error;

/// One operating point of a ROC curve.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RocPoint {
    /// Decision threshold: reject when `score >= threshold`.
    pub threshold: f64,
    /// False match rate at this threshold, in [0, 1].
    pub fmr: f64,
    /// False non-match rate at this threshold, in [0, 1].
    pub fnmr: f64,
}

/// A ROC curve: every distinct operating point, ordered by increasing threshold (FMR rising from 0,
/// FNMR falling to 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Roc {
    /// Operating points, first with FMR = 0 and FNMR = 1, last with FMR = 1 and FNMR = 0.
    pub points: Vec<RocPoint>,
    auc: f64,
}

/// Why a ROC cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EvalError {
    /// One of the two score sets is empty.
    #[error("need at least one genuine and one impostor score (got {genuine} and {impostor})")]
    Empty {
        /// Genuine scores given.
        genuine: usize,
        /// Impostor scores given.
        impostor: usize,
    },
    /// A score is NaN.
    #[error("a score is NaN")]
    NaN,
}

/// The ROC of genuine and impostor comparison scores.
///
/// Cost `O((n + m) log(n + m))`. Infinite scores are allowed (they sort to the ends); NaN is an error.
///
/// # Errors
/// [`EvalError`] when a set is empty or a score is NaN.
pub fn roc(genuine: &[f64], impostor: &[f64]) -> Result<Roc, EvalError> {
    if genuine.is_empty() || impostor.is_empty() {
        return Err(EvalError::Empty {
            genuine: genuine.len(),
            impostor: impostor.len(),
        });
    }
    if genuine.iter().chain(impostor).any(|s| s.is_nan()) {
        return Err(EvalError::NaN);
    }
    // (score, is_genuine), sorted by score.
    let mut all: Vec<(f64, bool)> = genuine
        .iter()
        .map(|&s| (s, true))
        .chain(impostor.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ng, ni) = (genuine.len() as f64, impostor.len() as f64);
    let mut points = Vec::with_capacity(all.len() + 1);
    let (mut gen_below, mut imp_below) = (0usize, 0usize);
    // AUC = P(impostor score > genuine score) + ½ P(equal), by the Mann–Whitney count.
    let mut auc_count = 0.0;
    let mut i = 0;
    while i < all.len() {
        let t = all[i].0;
        points.push(RocPoint {
            threshold: t,
            fmr: imp_below as f64 / ni,
            fnmr: 1.0 - gen_below as f64 / ng,
        });
        let (mut g, mut m) = (0usize, 0usize);
        while i < all.len() && all[i].0 == t {
            if all[i].1 {
                g += 1
            } else {
                m += 1
            }
            i += 1;
        }
        auc_count += m as f64 * gen_below as f64 + 0.5 * m as f64 * g as f64;
        gen_below += g;
        imp_below += m;
    }
    points.push(RocPoint {
        threshold: f64::INFINITY,
        fmr: 1.0,
        fnmr: 0.0,
    });
    Ok(Roc {
        points,
        auc: auc_count / (ng * ni),
    })
}

impl Roc {
    /// Area under the ROC curve: the probability that a random impostor scores higher than a random
    /// genuine probe (ties count ½). 1 is perfect separation, 0.5 chance.
    pub fn auc(&self) -> f64 {
        self.auc
    }

    /// Equal error rate, interpolated: the curve is taken as the polyline through the operating points in
    /// (FMR, FNMR) space, and the EER is where it crosses FMR = FNMR (linear interpolation between the two
    /// points that straddle the diagonal).
    pub fn eer(&self) -> f64 {
        let p = &self.points;
        for w in p.windows(2) {
            let (a, b) = (w[0], w[1]);
            let da = a.fnmr - a.fmr;
            let db = b.fnmr - b.fmr;
            if da >= 0.0 && db <= 0.0 {
                if da == db {
                    return a.fmr;
                }
                let lambda = da / (da - db);
                return a.fmr + lambda * (b.fmr - a.fmr);
            }
        }
        // Unreachable: the first point has FNMR − FMR = 1 and the last −1.
        0.5
    }

    /// Lowest FNMR at an operating point whose FMR is at most `fmr` (e.g. FNMR @ FMR = 1 %).
    pub fn fnmr_at_fmr(&self, fmr: f64) -> f64 {
        self.points
            .iter()
            .filter(|p| p.fmr <= fmr + 1e-12)
            .map(|p| p.fnmr)
            .fold(1.0, f64::min)
    }

    /// Lowest FMR at an operating point whose FNMR is at most `fnmr` (e.g. FMR @ FNMR = 5 %).
    pub fn fmr_at_fnmr(&self, fnmr: f64) -> f64 {
        self.points
            .iter()
            .filter(|p| p.fnmr <= fnmr + 1e-12)
            .map(|p| p.fmr)
            .fold(1.0, f64::min)
    }

    /// Killourhy & Maxion's *zero-miss false-alarm rate*: the FNMR when the threshold is set so that no
    /// impostor is accepted (FMR = 0).
    pub fn fnmr_at_zero_fmr(&self) -> f64 {
        self.fnmr_at_fmr(0.0)
    }
}

/// Vertical average of several ROC curves (Fawcett 2006, §7.1): at each FMR of a fixed grid (log-spaced
/// from 1e-4 plus linear steps to 1), the mean over curves of the lowest FNMR reachable at that FMR. Used
/// to draw one curve for a detector from per-subject curves whose scores are not comparable across
/// subjects. The returned curve's thresholds are the grid's FMR values; its AUC is the trapezoid area.
///
/// Returns `None` when `rocs` is empty.
pub fn average_rocs(rocs: &[Roc]) -> Option<Roc> {
    if rocs.is_empty() {
        return None;
    }
    let mut grid: Vec<f64> = (0..=40)
        .map(|i| 10f64.powf(-4.0 + 4.0 * i as f64 / 40.0))
        .collect();
    grid.extend((1..=50).map(|i| i as f64 / 50.0));
    grid.insert(0, 0.0);
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let points: Vec<RocPoint> = grid
        .iter()
        .map(|&f| RocPoint {
            threshold: f,
            fmr: f,
            fnmr: rocs.iter().map(|r| r.fnmr_at_fmr(f)).sum::<f64>() / rocs.len() as f64,
        })
        .collect();
    let auc = points
        .windows(2)
        .map(|w| (w[1].fmr - w[0].fmr) * (1.0 - (w[0].fnmr + w[1].fnmr) / 2.0))
        .sum();
    Some(Roc { points, auc })
}

/// Mean and sample standard deviation (`n − 1`) of per-subject figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation.
    pub sd: f64,
    /// Number of values.
    pub n: usize,
}

/// Summarise per-subject values (for example EERs).
pub fn summarize(values: &[f64]) -> Summary {
    let (mean, sd) = crate::stats::mean_sd(values);
    Summary {
        mean,
        sd,
        n: values.len(),
    }
}

/// The DET axis transform: the standard normal deviate (probit) of an error rate, clamped to
/// [1e-4, 1 − 1e-4]. DET plots draw `probit(FMR)` against `probit(FNMR)` (Martin et al., 1997).
pub fn probit(p: f64) -> f64 {
    let p = p.clamp(1e-4, 1.0 - 1e-4);
    // Acklam's rational approximation of the inverse normal CDF (relative error < 1.2e-9).
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383_577_518_672_69e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let pl = 0.02425;
    if p < pl {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - pl {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -probit(1.0 - p)
    }
}

/// Continuous-authentication figures for one decision sequence (after Mondal & Bours 2015).
///
/// `rejected[i]` is true when the system raised an alarm after the `i`-th action. Returns the number of
/// actions before the first alarm (`None` when no alarm was raised): for an impostor sequence this is one
/// sample of ANIA (average number of impostor actions), for a genuine sequence one of ANGA (average number
/// of genuine actions before a false alarm). Averaging, and treating sequences with no alarm (censored:
/// report them separately) is the caller's choice.
pub fn actions_until_alarm(rejected: &[bool]) -> Option<usize> {
    rejected.iter().position(|&r| r).map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_separation() {
        let r = roc(&[0.0, 1.0, 2.0], &[3.0, 4.0]).unwrap();
        assert_eq!(r.auc(), 1.0);
        assert_eq!(r.eer(), 0.0);
        assert_eq!(r.fnmr_at_zero_fmr(), 0.0);
    }

    #[test]
    fn total_inversion() {
        let r = roc(&[3.0, 4.0], &[0.0, 1.0]).unwrap();
        assert_eq!(r.auc(), 0.0);
        assert_eq!(r.eer(), 1.0);
        assert_eq!(r.fnmr_at_zero_fmr(), 1.0);
    }

    #[test]
    fn ties_and_interpolation() {
        // One genuine above one impostor out of 2×2.
        let r = roc(&[0.0, 2.0], &[1.0, 3.0]).unwrap();
        assert!((r.auc() - 0.75).abs() < 1e-12);
        assert!((r.eer() - 0.5).abs() < 1e-12);
        // All equal: chance.
        let r = roc(&[1.0; 4], &[1.0; 4]).unwrap();
        assert!((r.auc() - 0.5).abs() < 1e-12);
        assert!((r.eer() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn errors() {
        assert!(matches!(roc(&[], &[1.0]), Err(EvalError::Empty { .. })));
        assert_eq!(roc(&[f64::NAN], &[1.0]), Err(EvalError::NaN));
    }

    #[test]
    fn fixed_rate_queries() {
        let g: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let m: Vec<f64> = (50..150).map(|i| i as f64).collect();
        let r = roc(&g, &m).unwrap();
        assert!((r.eer() - 0.25).abs() < 0.011);
        assert!((r.fnmr_at_zero_fmr() - 0.5).abs() < 1e-12);
        assert!((r.fmr_at_fnmr(0.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn probit_is_symmetric_and_monotone() {
        assert!(probit(0.5).abs() < 1e-9);
        assert!((probit(0.975) - 1.959964).abs() < 1e-5);
        assert!((probit(0.01) + probit(0.99)).abs() < 1e-9);
    }

    #[test]
    fn alarm_counts() {
        assert_eq!(actions_until_alarm(&[false, false, true]), Some(3));
        assert_eq!(actions_until_alarm(&[false]), None);
    }
}
