//! The humanized-timing check on **window summaries**: does a window's timing depend on which keys were
//! typed the way its owner's does, or was each delay drawn independently of the keys (a "humanized"
//! keystroke-injection device replaying delays sampled from the owner's own timing)?
//!
//! # Method
//! A summary (the edge's vocabulary) holds, per *family* — class hold means, class-pair DD means, class-pair
//! UD means — one entry per key class or class pair and one *global* entry over all keys of the window.
//! A person's entries differ by class in a stable way (a space is held longer than a letter, a same-hand
//! pair is slower than a hand alternation); a device that draws every hold and delay independently of the
//! keys gives every class entry the same expected value: the owner's global mean of that family. The check
//! is the Neyman–Pearson matched filter between these two simple hypotheses, per entry `f` of family `F`
//! with owner mean `m_f`, owner global mean `g_F` and owner within-window variance `v_F` (pooled over the
//! family's entries of the enrolment windows):
//!
//! `S = Σ_f (m_f − g_F)·(x_f − (m_f + g_F)/2) / v_F`,  `D = Σ_f (m_f − g_F)² / v_F`,  `z = S / √D`.
//!
//! Under the model, `z ~ N(+√D/2, 1)` for the owner and `N(−√D/2, 1)` for an independent sampler. Real
//! windows are more spread than the model says, so the owner's location `μ_h` is measured on the enrolment
//! windows themselves (leave-one-out, shrunk toward [`KeyDependenceConfig::prior_mean`]), the sampler's is
//! the analytic `μ_s = −√D/2` of each probe, and both get the common spread [`KeyDependenceConfig::sigma`].
//! The window's evidence is the equal-variance Gaussian log-likelihood ratio
//! `LLR = (μ_h − μ_s)/σ² · (z − (μ_h + μ_s)/2)`, clipped to `[llr_min, 0]`: a human-looking window is no
//! evidence *for* the owner (another person is human too), only the absence of evidence against.
//!
//! Measured on development owners only (the population half of `keyprint replay-eval --aalto`: even
//! positions of the first 600 participants with 15 sentences; 50-key windows; the owner-timed sampler of
//! `replay_freetext`; `cargo test --release -p keyprint-server --lib dev_measurements -- --ignored
//! --nocapture`; the server leaves out the modifier classes, see `keyprint_server::engine::summary_families`):
//! with edge vocabulary 2 (letters only by hand), owners' later windows `z` mean 2.30 (sd 1.81), injections
//! −2.78 (sd 2.20), window AUC 0.969; the demo's DuckyScript payload rendered with the owners' own timing (with
//! its modifier mechanics) `z` −1.93. With vocabulary 1, when the settings were chosen: 1.27, −2.69, AUC 0.942,
//! payload −1.76. Gunetti & Picardi (2005) and Dhakal et al. (2018) document the key dependence of typing latencies
//! this rests on; the humanized-timing check of `keyprint-injection` tests the same dependence on key
//! identities at the device.
//!
//! Limits: a device that samples each class pair's delays from the owner's own class-pair profile defeats it.
//!
//! Shapes: windows and probes are summary vectors (`NaN` = absent entry) of one length; families are index
//! lists into them ([`Family`]).

use keyprint_core::detector::{FeatureVector, Template};

/// One family of a summary vector: its class (or class-pair) entries and its global entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// Indices of the per-class (or per-pair) entries.
    pub entries: Vec<usize>,
    /// Index of the entry over all keys of the window.
    pub global: usize,
}

/// Settings of the check (chosen on the development owners named in the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyDependenceConfig {
    /// Common spread of `z` for owners and samplers (default 2.7; the development owners' sd is 1.69 and the
    /// injections' 1.91, and a wider spread costs fewer false alerts: on `keyprint replay-eval --aalto
    /// --dev`, genuine sessions with a false alert 7 / 569 at 2.3 and 3 / 569 at 2.7 — as many as without
    /// the check before issue 14's model change — three-window humanized injections alerted 333 and
    /// 241 / 569).
    pub sigma: f64,
    /// Prior owner location of `z` (default 1.3, about the development owners' mean).
    pub prior_mean: f64,
    /// Weight of the prior, in windows (default 5).
    pub prior_weight: f64,
    /// Lowest LLR of one window (default −2.5: one window alone never reaches the alert threshold of the
    /// service's fusion, about −3.04 from a neutral start).
    pub llr_min: f64,
    /// Smallest `√D` a probe needs to be judged (default 1: fewer than about one sd of separation between
    /// the hypotheses is no test).
    pub min_separation: f64,
}

impl Default for KeyDependenceConfig {
    fn default() -> Self {
        KeyDependenceConfig {
            sigma: 2.7,
            prior_mean: 1.3,
            prior_weight: 5.0,
            llr_min: -2.5,
            min_separation: 1.0,
        }
    }
}

/// The owner's key dependence, learned from enrolment windows (the check's template).
#[derive(Clone, Debug)]
pub struct KeyDependence {
    families: Vec<Family>,
    mean: Vec<f64>,
    var: Vec<f64>,
    mu_h: f64,
    config: KeyDependenceConfig,
}

/// Per-entry means (NaN where no window has the entry) and per-family pooled within variances.
fn reference(windows: &[&[f64]], dim: usize, families: &[Family]) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![f64::NAN; dim];
    let mut var = vec![f64::NAN; families.len()];
    for (k, fam) in families.iter().enumerate() {
        let (mut ss, mut dof) = (0.0, 0.0);
        for &f in fam.entries.iter().chain([&fam.global]) {
            let xs: Vec<f64> = windows
                .iter()
                .map(|w| w[f])
                .filter(|x| x.is_finite())
                .collect();
            if xs.is_empty() {
                continue;
            }
            let m = xs.iter().sum::<f64>() / xs.len() as f64;
            mean[f] = m;
            if f != fam.global {
                ss += xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>();
                dof += (xs.len() - 1) as f64;
            }
        }
        if dof >= 2.0 && ss > 0.0 {
            var[k] = ss / dof;
        }
    }
    (mean, var)
}

/// `(z, √D)` of `probe` against a reference, `None` when it cannot be judged.
fn statistic(
    probe: &[f64],
    mean: &[f64],
    var: &[f64],
    families: &[Family],
    min_sep: f64,
) -> Option<(f64, f64)> {
    let (mut s, mut d) = (0.0, 0.0);
    for (k, fam) in families.iter().enumerate() {
        let (g, v) = (mean.get(fam.global)?, var[k]);
        if !(g.is_finite() && v.is_finite() && v > 0.0) {
            continue;
        }
        for &f in &fam.entries {
            let (x, m) = (*probe.get(f)?, mean[f]);
            if x.is_finite() && m.is_finite() {
                let dm = m - g;
                s += dm * (x - (m + g) / 2.0) / v;
                d += dm * dm / v;
            }
        }
    }
    let sep = d.sqrt();
    (sep >= min_sep && s.is_finite()).then(|| (s / sep, sep))
}

impl KeyDependence {
    /// Learns the owner's reference from enrolment `windows` (all of one length; at least 3, else `None`).
    /// The owner location `μ_h` is the shrunk mean of each window's `z` against the others (leave-one-out).
    pub fn learn(
        windows: &[FeatureVector],
        families: &[Family],
        config: KeyDependenceConfig,
    ) -> Option<KeyDependence> {
        let dim = windows.first()?.len();
        let ws: Vec<&[f64]> = windows
            .iter()
            .filter(|w| w.len() == dim)
            .map(|w| w.as_slice())
            .collect();
        if ws.len() < 3
            || families
                .iter()
                .any(|f| f.global >= dim || f.entries.iter().any(|&e| e >= dim))
        {
            return None;
        }
        let (mut sum, mut n) = (0.0, 0.0);
        for i in 0..ws.len() {
            let others: Vec<&[f64]> = ws
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, w)| *w)
                .collect();
            let (m, v) = reference(&others, dim, families);
            if let Some((z, _)) = statistic(ws[i], &m, &v, families, config.min_separation) {
                sum += z;
                n += 1.0;
            }
        }
        let mu_h =
            (sum + config.prior_mean * config.prior_weight) / (n + config.prior_weight.max(1e-9));
        let (mean, var) = reference(&ws, dim, families);
        Some(KeyDependence {
            families: families.to_vec(),
            mean,
            var,
            mu_h,
            config,
        })
    }

    /// The owner's location `μ_h` of `z`.
    pub fn owner_location(&self) -> f64 {
        self.mu_h
    }

    /// `z` of a probe and its separation `√D` (module docs); `None` when the probe has the wrong length or
    /// too little in common with the reference to be judged.
    pub fn statistic(&self, probe: &[f64]) -> Option<(f64, f64)> {
        if probe.len() != self.mean.len() {
            return None;
        }
        statistic(
            probe,
            &self.mean,
            &self.var,
            &self.families,
            self.config.min_separation,
        )
    }

    /// The probe's evidence, a log-likelihood ratio in `[llr_min, 0]` (negative = timing independent of the
    /// keys); 0 when it cannot be judged.
    pub fn llr(&self, probe: &[f64]) -> f64 {
        let Some((z, sep)) = self.statistic(probe) else {
            return 0.0;
        };
        let mu_s = -sep / 2.0;
        // The owner's location is never put below the sampler's plus one spread: a weak owner gives weak
        // evidence, not inverted evidence.
        let mu_h = self.mu_h.max(mu_s + self.config.sigma);
        let slope = (mu_h - mu_s) / (self.config.sigma * self.config.sigma);
        (slope * (z - (mu_h + mu_s) / 2.0)).clamp(self.config.llr_min, 0.0)
    }
}

/// Score = `−LLR` (higher = more machine-like), the core's polarity.
impl Template<FeatureVector> for KeyDependence {
    fn score(&self, probe: &FeatureVector) -> f64 {
        -self.llr(probe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two families of 4 entries each: entries 0..4 (global 8) and 4..8 (global 9).
    fn fams() -> Vec<Family> {
        vec![
            Family {
                entries: (0..4).collect(),
                global: 8,
            },
            Family {
                entries: (4..8).collect(),
                global: 9,
            },
        ]
    }

    /// A deterministic noise in [−0.5, 0.5).
    fn noise(i: usize, k: usize) -> f64 {
        (((i * 7919 + k * 104_729) % 1000) as f64) / 1000.0 - 0.5
    }

    /// A person: class means that differ (structure); a sampler: every class at the global mean.
    fn window(i: usize, structured: bool) -> FeatureVector {
        let profile = [4.0, 5.0, 6.0, 7.0, 1.0, 2.5, 4.0, 5.5];
        let mut v: Vec<f64> = (0..8)
            .map(|k| {
                let centre = if structured {
                    profile[k]
                } else if k < 4 {
                    5.5
                } else {
                    3.25
                };
                centre + 0.4 * noise(i, k)
            })
            .collect();
        v.push(5.5);
        v.push(3.25);
        v
    }

    #[test]
    fn owner_windows_pass_and_key_independent_windows_are_evidence() {
        let enrol: Vec<FeatureVector> = (0..10).map(|i| window(i, true)).collect();
        let kd = KeyDependence::learn(&enrol, &fams(), KeyDependenceConfig::default()).unwrap();
        assert!(kd.owner_location() > 2.0, "{}", kd.owner_location());
        for i in 20..30 {
            assert_eq!(kd.llr(&window(i, true)), 0.0);
            let l = kd.llr(&window(i, false));
            assert!(l <= -1.5, "sampler window LLR {l}");
            assert!(l >= KeyDependenceConfig::default().llr_min);
        }
    }

    #[test]
    fn unjudgeable_probes_are_neutral() {
        let enrol: Vec<FeatureVector> = (0..10).map(|i| window(i, true)).collect();
        let kd = KeyDependence::learn(&enrol, &fams(), KeyDependenceConfig::default()).unwrap();
        assert_eq!(kd.llr(&vec![f64::NAN; 10]), 0.0);
        assert_eq!(kd.llr(&vec![1.0; 3]), 0.0);
        assert!(kd.statistic(&vec![1.0; 3]).is_none());
        // Too few windows, or families outside the vectors: no template.
        assert!(
            KeyDependence::learn(&enrol[..2], &fams(), KeyDependenceConfig::default()).is_none()
        );
        let bad = vec![Family {
            entries: (0..20).collect(),
            global: 8,
        }];
        assert!(KeyDependence::learn(&enrol, &bad, KeyDependenceConfig::default()).is_none());
    }

    #[test]
    fn an_owner_without_key_dependence_gives_no_evidence_either_way() {
        // An owner whose own windows are flat: the two hypotheses coincide, nothing is judged.
        let enrol: Vec<FeatureVector> = (0..10).map(|i| window(i, false)).collect();
        let kd = KeyDependence::learn(&enrol, &fams(), KeyDependenceConfig::default()).unwrap();
        for i in 20..25 {
            assert!(kd.llr(&window(i, false)) > -1.0);
        }
    }
}
