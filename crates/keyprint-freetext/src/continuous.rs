//! Continuous verification: a comparison score after every keystroke, over a sliding window of the last
//! `window_keys` keystrokes, in O(window) time per key with no allocation after warm-up.
//!
//! ```
//! use std::sync::Arc;
//! use keyprint_core::event::{KeyEvent, KeyId};
//! use keyprint_freetext::{ContinuousScorer, FreeTextConfig, PopulationModel};
//!
//! // A toy population of two people (real use: hundreds, disjoint from the owners).
//! let seq = |dt: i64| -> Vec<KeyEvent> {
//!     (0..40).map(|i| {
//!         let k = ["KeyA", "KeyB", "KeyC"][i % 3];
//!         KeyEvent::new(KeyId::code(k), i as i64 * dt * 1000, (i as i64 * dt + 80) * 1000).unwrap()
//!     }).collect()
//! };
//! let people = vec![vec![seq(150), seq(160)], vec![seq(250), seq(240)]];
//! let model = Arc::new(PopulationModel::train(&people, FreeTextConfig::default()));
//! let owner = seq(150);
//! let profile = Arc::new(model.enrol(&[owner.as_slice()]));
//! let mut scorer = ContinuousScorer::new(profile, 30, 10);
//! let mut last = None;
//! for e in &seq(155) {
//!     last = scorer.push(e).or(last); // None until 10 keys are in the window
//! }
//! assert!(last.is_some());
//! ```

use crate::model::{FreeTextProfile, Observation};
use keyprint_core::event::KeyEvent;
use std::collections::VecDeque;
use std::sync::Arc;

/// Streaming scorer for one owner's profile and one live session.
///
/// Feed keystrokes in press order with [`push`](Self::push) (each complete, i.e. when its key-up is
/// known). After each keystroke it returns the comparison score (higher = more impostor-like, same scale
/// as [`FreeTextProfile::score`]) of the last `window_keys` keystrokes, or `None` while fewer than
/// `min_keys` keystrokes are in the window. Scoring the first `window_keys` keystrokes of a fresh scorer
/// gives exactly [`FreeTextProfile::score`] of those keystrokes.
#[derive(Clone, Debug)]
pub struct ContinuousScorer {
    profile: Arc<FreeTextProfile>,
    window_keys: usize,
    min_keys: usize,
    prev: [Option<KeyEvent>; 2],
    window: VecDeque<Vec<Observation>>,
    znorm: Option<(f64, f64)>,
}

impl ContinuousScorer {
    /// A scorer over windows of `window_keys` keystrokes (≥ 1) that starts answering once `min_keys`
    /// (clamped to 1..=`window_keys`) are in the window.
    pub fn new(profile: Arc<FreeTextProfile>, window_keys: usize, min_keys: usize) -> Self {
        let window_keys = window_keys.max(1);
        ContinuousScorer {
            profile,
            window_keys,
            min_keys: min_keys.clamp(1, window_keys),
            prev: [None, None],
            window: VecDeque::with_capacity(window_keys + 1),
            znorm: None,
        }
    }

    /// Z-normalised scores from now on: `(score − mean) / sd` with `(mean, sd)` =
    /// [`Cohort::z_stats`](crate::model::Cohort::z_stats) of the owner's profile (computed once per
    /// profile), so that score scales are comparable across owners (1 = one cohort standard deviation).
    pub fn with_znorm(mut self, (mean, sd): (f64, f64)) -> Self {
        self.znorm = Some((mean, sd.max(1e-9)));
        self
    }

    /// Adds one keystroke; returns the window's comparison score once `min_keys` keystrokes are in it.
    ///
    /// A keystroke pressed before the previous one (out of order) or more than the model's
    /// `max_latency_ms` after it contributes its hold time only, no digraph latency.
    pub fn push(&mut self, event: &KeyEvent) -> Option<f64> {
        let mut obs = if self.window.len() >= self.window_keys {
            self.window.pop_front().unwrap_or_default()
        } else {
            Vec::new()
        };
        obs.clear();
        self.profile.model().observations_of(
            [self.prev[0].as_ref(), self.prev[1].as_ref()],
            event,
            &mut obs,
        );
        self.window.push_back(obs);
        self.prev[1] = self.prev[0].take();
        self.prev[0] = Some(event.clone());
        self.score()
    }

    /// The current window's score (as returned by the last [`push`](Self::push)).
    pub fn score(&self) -> Option<f64> {
        if self.window.len() < self.min_keys {
            return None;
        }
        let mut all = Vec::with_capacity(self.window.iter().map(Vec::len).sum());
        for k in &self.window {
            all.extend_from_slice(k);
        }
        let probe = self.profile.model().probe_from_observations(&all);
        let s = self.profile.score_probe(&probe);
        Some(match self.znorm {
            Some((m, sd)) => (s - m) / sd,
            None => s,
        })
    }

    /// Keystrokes currently in the window.
    pub fn keys_in_window(&self) -> usize {
        self.window.len()
    }

    /// Forgets the window and the previous keystroke (e.g. at a session boundary).
    pub fn reset(&mut self) {
        self.window.clear();
        self.prev = [None, None];
    }

    /// The owner's profile.
    pub fn profile(&self) -> &Arc<FreeTextProfile> {
        &self.profile
    }
}
