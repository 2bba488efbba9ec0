//! Fusion of calibrated evidence over time into a session's trust (0–100), confidence and reasons.
//!
//! Model (sequential log-likelihood-ratio test with exponential forgetting, cf. Wald's SPRT and the
//! "trust model" of Mondal & Bours 2015): each scored sample `t` brings `LLR_t` (from
//! [`Calibration`](crate::calibration::Calibration), already clipped). The session's evidence is
//!
//! `E_t = λ · E_{t−1} + LLR_t`,  `trust_t = 100 · σ(logit(p₀) + E_t)`,
//!
//! with `σ` the logistic function, `p₀` the prior probability that the owner is at the keyboard and
//! `λ ∈ (0, 1)` the forgetting factor (old evidence fades with a half-life of `ln ½ / ln λ` samples, so a
//! session taken over mid-way falls). `confidence = 1 − λⁿ` after `n` scored samples (the share of a full
//! forgetting window seen). Each reason code keeps its own forgotten sum of the evidence *against* the
//! owner, `R_t = λ · R_{t−1} + max(−LLR_t, 0)`; reasons whose `R` exceeds [`FusionParams::reason_min`] are
//! named, largest first. An alert is raised when trust falls below the threshold while at least
//! `min_samples` samples were scored; it re-arms once trust is back above `threshold + rearm`.

use keyprint_wire::{Reason, ReasonCode, TrustState};
use std::collections::BTreeMap;

/// Fusion parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FusionParams {
    /// Prior probability that the owner is present, `p₀`.
    pub prior: f64,
    /// Forgetting factor `λ` per sample.
    pub lambda: f64,
    /// Alert threshold on trust (0–100).
    pub threshold: f64,
    /// Trust must climb above `threshold + rearm` before another alert.
    pub rearm: f64,
    /// Samples scored in the session before an alert may fire.
    pub min_samples: u64,
    /// Smallest reason evidence that is named.
    pub reason_min: f64,
}

impl Default for FusionParams {
    fn default() -> Self {
        FusionParams {
            prior: 0.9,
            lambda: 0.85,
            threshold: 30.0,
            rearm: 20.0,
            min_samples: 3,
            reason_min: 0.5,
        }
    }
}

/// A session's fusion state (persisted with the session).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fusion {
    /// Forgotten evidence sum `E`.
    pub evidence: f64,
    /// Samples scored.
    pub scored: u64,
    /// Per-reason evidence against the owner, with the last detail text.
    pub reasons: BTreeMap<ReasonCode, (f64, String)>,
    /// True while an alert is outstanding (not re-armed).
    pub alerted: bool,
    /// True once the user had a template when this session was scored.
    pub scoring: bool,
}

/// What [`Fusion::update`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crossing {
    /// No threshold event.
    None,
    /// Trust crossed below the threshold: raise an alert.
    Alert,
}

impl Fusion {
    /// Adds one sample's evidence, attributed to `reason`.
    pub fn update(
        &mut self,
        p: &FusionParams,
        llr: f64,
        reason: ReasonCode,
        detail: String,
    ) -> Crossing {
        self.scoring = true;
        self.evidence = p.lambda * self.evidence + llr;
        self.scored += 1;
        for (_, (r, _)) in self.reasons.iter_mut() {
            *r *= p.lambda;
        }
        let e = self.reasons.entry(reason).or_insert((0.0, String::new()));
        e.0 += (-llr).max(0.0);
        if llr < 0.0 {
            e.1 = detail;
        }
        let t = self.trust(p);
        if self.alerted {
            if t >= p.threshold + p.rearm {
                self.alerted = false;
            }
            Crossing::None
        } else if t < p.threshold && self.scored >= p.min_samples {
            self.alerted = true;
            Crossing::Alert
        } else {
            Crossing::None
        }
    }

    /// Trust 0–100.
    pub fn trust(&self, p: &FusionParams) -> f64 {
        let logit = (p.prior / (1.0 - p.prior)).ln() + self.evidence;
        100.0 / (1.0 + (-logit).exp())
    }

    /// Confidence 0–1.
    pub fn confidence(&self, p: &FusionParams) -> f64 {
        1.0 - p.lambda.powf(self.scored as f64)
    }

    /// Named reasons, largest evidence first.
    pub fn reasons(&self, p: &FusionParams) -> Vec<Reason> {
        let mut v: Vec<Reason> = self
            .reasons
            .iter()
            .filter(|(_, (r, _))| *r >= p.reason_min)
            .map(|(c, (r, d))| Reason {
                code: *c,
                evidence: (*r * 1000.0).round() / 1000.0,
                detail: d.clone(),
            })
            .collect();
        v.sort_by(|a, b| b.evidence.total_cmp(&a.evidence));
        v
    }

    /// The wire view.
    pub fn view(&self, p: &FusionParams) -> keyprint_wire::Trust {
        keyprint_wire::Trust {
            trust: (self.trust(p) * 100.0).round() / 100.0,
            confidence: (self.confidence(p) * 1000.0).round() / 1000.0,
            state: if self.scoring {
                TrustState::Scoring
            } else {
                TrustState::Enrolling
            },
            reasons: self.reasons(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impostor_evidence_alerts_once_and_rearms() {
        let p = FusionParams::default();
        let mut f = Fusion::default();
        assert!(f.trust(&p) > 89.0 && f.trust(&p) < 91.0);
        let mut alerts = 0;
        for _ in 0..10 {
            if f.update(&p, -2.0, ReasonCode::KeystrokeMismatch, "x".into()) == Crossing::Alert {
                alerts += 1;
            }
        }
        assert_eq!(alerts, 1);
        assert!(f.trust(&p) < p.threshold);
        assert_eq!(f.reasons(&p)[0].code, ReasonCode::KeystrokeMismatch);
        for _ in 0..30 {
            f.update(&p, 2.0, ReasonCode::KeystrokeMismatch, "ok".into());
        }
        assert!(!f.alerted && f.trust(&p) > 95.0);
        assert!(f.reasons(&p).is_empty());
        assert!(f.confidence(&p) > 0.99);
    }
}
