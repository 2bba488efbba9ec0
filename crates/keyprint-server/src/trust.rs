//! Fusion of calibrated evidence over time into a session's trust (0–100), confidence and reasons.
//!
//! Model: one evidence channel per reason (keystroke mismatch, mouse mismatch, injection, replay — i.e. per
//! engine, plus the server's replay check). Within a channel, observations are fused by a sequential
//! log-likelihood-ratio sum with exponential forgetting (Wald's SPRT with a fading memory, cf. the trust
//! model of Mondal & Bours 2015): each observation `t` brings `LLR_t` (from
//! [`Calibration`](crate::calibration::Calibration), clipped) and
//!
//! `E_c,t = λ_c · E_c,t−1 + LLR_t`,  `trust_c = 100 · σ(logit(p₀) + E_c)`,
//!
//! with `σ` the logistic function, `p₀` the prior probability that the owner is at the keyboard, and
//! `λ_c ∈ (0, 1)` the channel's forgetting factor per observation (half-life `ln ½ / ln λ_c` observations:
//! weak, plentiful evidence such as single mouse actions needs a longer memory than typings). The session's
//! trust is the **minimum over channels**: the channels watch different ways of taking over a session
//! (someone else typing, someone else at the mouse, a keystroke-injection device, a replayed recording) and
//! an attacker needs only one, so owner-like evidence on one channel must not mask impostor evidence on
//! another. Confidence is `1 − λ_c^n_c` of the channel that sets the trust (`n_c` its actions). Reasons are
//! the channels whose evidence is against the owner (`E_c < 0`), largest first, with `−E_c` as their weight.
//! An alert fires when trust falls below the threshold while the deciding channel has at least
//! `min_samples` actions — except the injection channel, whose evidence is the device's verdict, a decision
//! already taken over every keystroke it saw; it re-arms once trust is back above `threshold + rearm`.

use keyprint_wire::{Reason, ReasonCode, TrustState};
use std::collections::BTreeMap;

/// Fusion parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FusionParams {
    /// Prior probability that the owner is present, `p₀`.
    pub prior: f64,
    /// Default forgetting factor `λ` per observation (engines may set their own).
    pub lambda: f64,
    /// Alert threshold on trust (0–100).
    pub threshold: f64,
    /// Trust must climb above `threshold + rearm` before another alert.
    pub rearm: f64,
    /// Actions on the deciding channel before an alert may fire.
    pub min_samples: u64,
    /// Smallest reason weight that is named.
    pub reason_min: f64,
    /// Upper bound of a channel's evidence in the per-user view ([`Fusion::cusum`]): how much credit the
    /// owner's past behavior may give against what comes next (0 = a pure CUSUM change detector). Chosen on
    /// `keyprint replay-eval` (CMU, genuine sessions with a false alert: 15.0 % at 0, 11.7 % at 2, 10.3 % at
    /// 3; impostor sessions alerted 81.0 / 80.0 / 80.0 %) with the split test of `tests/identity.rs`
    /// (1, 5 and 50 sessions alert at the same typing at 2 and 3).
    pub user_credit: f64,
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
            user_credit: 2.0,
        }
    }
}

/// One evidence channel.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Channel {
    /// Forgotten LLR sum `E_c` (positive = owner).
    pub evidence: f64,
    /// Actions observed.
    pub actions: u64,
    /// Forgetting factor of the channel.
    pub lambda: f64,
    /// Last detail text of an observation against the owner.
    pub detail: String,
}

/// A session's fusion state (persisted with the session).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fusion {
    /// Channels by reason.
    pub channels: BTreeMap<ReasonCode, Channel>,
    /// Actions scored over all channels.
    pub scored: u64,
    /// True while an alert is outstanding (not re-armed).
    pub alerted: bool,
    /// True once any sample of the session was scored.
    pub scoring: bool,
    /// A change detector (CUSUM-like, after Page 1954) rather than a balance: each channel's evidence is
    /// capped at [`FusionParams::user_credit`], so owner-like evidence of the past gives an impostor little
    /// credit. Set on the per-user view, where it makes the time to detect independent of how the same
    /// behavior is split into sessions and of how long the owner typed before. In this view the event
    /// channels (replay, injection) also fade by their `λ` with each observation on another channel.
    pub cusum: bool,
}

/// What [`Fusion::update`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Crossing {
    /// No threshold event.
    None,
    /// Trust crossed below the threshold: raise an alert.
    Alert,
}

fn channel_trust(p: &FusionParams, e: f64) -> f64 {
    let logit = (p.prior / (1.0 - p.prior)).ln() + e;
    100.0 / (1.0 + (-logit).exp())
}

impl Fusion {
    /// Adds one observation's evidence `llr` on channel `reason`, summarising `actions` actions, with the
    /// channel's forgetting factor `lambda`.
    pub fn update(
        &mut self,
        p: &FusionParams,
        reason: ReasonCode,
        lambda: f64,
        llr: f64,
        actions: u64,
        detail: String,
    ) -> Crossing {
        self.scoring = true;
        self.scored += actions.max(1);
        if self.cusum {
            // Event channels (a replayed sample, an injection verdict) see no observations of their own once
            // the event is over, so in the per-user view, which lives on across sessions, they fade with the
            // user's other observations; otherwise one past event would hold the user's trust down for ever
            // (and block enrolment and template updates). The event itself is alerted when it happens.
            for (code, c) in self.channels.iter_mut() {
                if *code != reason && matches!(code, ReasonCode::Replay | ReasonCode::Injection) {
                    c.evidence *= c.lambda;
                }
            }
        }
        let c = self.channels.entry(reason).or_default();
        c.lambda = lambda;
        c.evidence = lambda * c.evidence + llr;
        if self.cusum {
            c.evidence = c.evidence.min(p.user_credit);
        }
        c.actions += actions.max(1);
        if llr < 0.0 {
            c.detail = detail;
        }
        let t = self.trust(p);
        if self.alerted {
            if t >= p.threshold + p.rearm {
                self.alerted = false;
            }
            Crossing::None
        } else if t < p.threshold
            && self.deciding().is_some_and(|(code, c)| {
                *code == ReasonCode::Injection || c.actions >= p.min_samples
            })
        {
            self.alerted = true;
            Crossing::Alert
        } else {
            Crossing::None
        }
    }

    /// The channel with the lowest evidence.
    fn deciding(&self) -> Option<(&ReasonCode, &Channel)> {
        self.channels
            .iter()
            .min_by(|a, b| a.1.evidence.total_cmp(&b.1.evidence))
    }

    /// Trust 0–100 (the prior when nothing was scored).
    pub fn trust(&self, p: &FusionParams) -> f64 {
        channel_trust(p, self.deciding().map_or(0.0, |(_, c)| c.evidence))
    }

    /// Confidence 0–1 of the deciding channel.
    pub fn confidence(&self, _p: &FusionParams) -> f64 {
        self.deciding()
            .map_or(0.0, |(_, c)| 1.0 - c.lambda.powf(c.actions as f64))
    }

    /// Named reasons (channels with evidence against the owner), largest first.
    pub fn reasons(&self, p: &FusionParams) -> Vec<Reason> {
        let mut v: Vec<Reason> = self
            .channels
            .iter()
            .filter(|(_, c)| -c.evidence >= p.reason_min)
            .map(|(code, c)| Reason {
                code: *code,
                evidence: (-c.evidence * 1000.0).round() / 1000.0,
                detail: c.detail.clone(),
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
            if f.update(&p, ReasonCode::KeystrokeMismatch, 0.85, -2.0, 1, "x".into())
                == Crossing::Alert
            {
                alerts += 1;
            }
        }
        assert_eq!(alerts, 1);
        assert!(f.trust(&p) < p.threshold);
        assert_eq!(f.reasons(&p)[0].code, ReasonCode::KeystrokeMismatch);
        for _ in 0..30 {
            f.update(&p, ReasonCode::KeystrokeMismatch, 0.85, 2.0, 1, "ok".into());
        }
        assert!(!f.alerted && f.trust(&p) > 95.0);
        assert!(f.reasons(&p).is_empty());
        assert!(f.confidence(&p) > 0.99);
    }

    #[test]
    fn user_view_event_channels_fade_with_later_observations() {
        let p = FusionParams::default();
        let mut f = Fusion {
            cusum: true,
            ..Fusion::default()
        };
        f.update(&p, ReasonCode::Replay, 0.85, -10.0, 1, "replay".into());
        assert!(f.trust(&p) < p.threshold);
        // A replay observation does not fade itself, and keystroke channels do not fade with each other.
        for _ in 0..40 {
            f.update(
                &p,
                ReasonCode::KeystrokeMismatch,
                0.85,
                1.0,
                1,
                String::new(),
            );
        }
        assert!(f.trust(&p) > 85.0, "trust {}", f.trust(&p));
        let mut session = Fusion::default();
        session.update(&p, ReasonCode::Replay, 0.85, -10.0, 1, "replay".into());
        for _ in 0..40 {
            session.update(
                &p,
                ReasonCode::KeystrokeMismatch,
                0.85,
                1.0,
                1,
                String::new(),
            );
        }
        assert!(
            session.trust(&p) < p.threshold,
            "the session view keeps the event"
        );
        // Splitting replays still accumulates on the replay channel.
        let mut g = Fusion {
            cusum: true,
            ..Fusion::default()
        };
        for _ in 0..3 {
            g.update(&p, ReasonCode::Replay, 0.85, -10.0, 1, "replay".into());
        }
        assert!(g.trust(&p) < 1.0);
        // Evasion: one replayed sample per session, each hidden among 20 owner typings, so the event evidence
        // fades in between — the user view still alerts at the third replay.
        let mut h = Fusion {
            cusum: true,
            ..Fusion::default()
        };
        let mut alerts = Vec::new();
        for replay in 1..=3 {
            for _ in 0..20 {
                h.update(
                    &p,
                    ReasonCode::KeystrokeMismatch,
                    0.85,
                    1.0,
                    1,
                    String::new(),
                );
            }
            if h.update(&p, ReasonCode::Replay, 0.85, -10.0, 1, "replay".into()) == Crossing::Alert
            {
                alerts.push(replay);
            }
        }
        assert_eq!(alerts, vec![3]);
    }

    #[test]
    fn owner_evidence_on_one_channel_does_not_mask_another() {
        let p = FusionParams::default();
        let mut f = Fusion::default();
        for _ in 0..20 {
            f.update(
                &p,
                ReasonCode::KeystrokeMismatch,
                0.85,
                3.0,
                1,
                String::new(),
            );
        }
        let c = f.update(&p, ReasonCode::Injection, 0.85, -4.0, 20, "machine".into());
        assert_eq!(c, Crossing::Alert);
        assert_eq!(f.reasons(&p)[0].code, ReasonCode::Injection);
        // A single strong observation needs enough actions behind it.
        let mut g = Fusion::default();
        assert_eq!(
            g.update(&p, ReasonCode::Replay, 0.85, -6.0, 1, String::new()),
            Crossing::None
        );
    }
}
