//! Session scores from action scores, available after every action: the same code scores a whole
//! benchmark session and serves continuous authentication in the server.
//!
//! A session's score after `k` actions is the mean of its first `k` action scores (Antal &
//! Egyed-Zsigmond 2019 average the per-action probabilities of a set of actions). Higher = more
//! impostor-like, in [0, 1] for this crate's models.

use crate::features::action_features;
use crate::segment::{Action, SegmentCounts, SegmentRules, Segmenter};
use keyprint_core::detector::{FeatureVector, Template};
use keyprint_core::event::MouseEvent;

/// Running means of `action_scores`: element `k` is the session score after `k + 1` actions.
pub fn running_scores(action_scores: &[f64]) -> Vec<f64> {
    let mut s = 0.0;
    action_scores
        .iter()
        .enumerate()
        .map(|(i, x)| {
            s += x;
            s / (i + 1) as f64
        })
        .collect()
}

/// Sliding-window scores: element `k` is the mean of action scores `k + 1 − w ..= k` (fewer at the start).
/// `w = 0` is taken as 1.
pub fn window_scores(action_scores: &[f64], w: usize) -> Vec<f64> {
    let w = w.max(1);
    let mut s = 0.0;
    action_scores
        .iter()
        .enumerate()
        .map(|(i, x)| {
            s += x;
            if i >= w {
                s -= action_scores[i - w];
            }
            s / (i + 1).min(w) as f64
        })
        .collect()
}

/// Streaming scorer for one session: feed raw mouse events as they arrive; every completed action is
/// segmented, turned into features, scored by the account's template, and folded into the running session
/// score. Holds one action's samples; cost per event is O(1) except when an action completes (features in
/// O(samples) plus one template comparison).
pub struct SessionScorer<'t> {
    template: &'t dyn Template<FeatureVector>,
    segmenter: Segmenter,
    done: Vec<Action>,
    sum: f64,
    n: usize,
    last_action_score: Option<f64>,
    window: usize,
    recent: std::collections::VecDeque<f64>,
}

impl<'t> SessionScorer<'t> {
    /// A scorer for a session of the account whose template is `template`.
    pub fn new(template: &'t dyn Template<FeatureVector>, rules: SegmentRules) -> Self {
        SessionScorer {
            template,
            segmenter: Segmenter::new(rules),
            done: Vec::new(),
            sum: 0.0,
            n: 0,
            last_action_score: None,
            window: 20,
            recent: std::collections::VecDeque::new(),
        }
    }

    /// Sets the sliding-window length of [`window_score`](Self::window_score) (default 20 actions).
    pub fn with_window(mut self, w: usize) -> Self {
        self.window = w.max(1);
        self
    }

    /// Mean score of the last `window` actions (fewer at the start), `None` before the first action.
    pub fn window_score(&self) -> Option<f64> {
        (!self.recent.is_empty())
            .then(|| self.recent.iter().sum::<f64>() / self.recent.len() as f64)
    }

    /// Scores one completed action and folds it into the session score; returns the new session score.
    pub fn push_action(&mut self, action: &Action) -> f64 {
        let s = self.template.score(&action_features(action));
        self.last_action_score = Some(s);
        self.sum += s;
        self.n += 1;
        self.recent.push_back(s);
        if self.recent.len() > self.window {
            self.recent.pop_front();
        }
        self.sum / self.n as f64
    }

    fn drain(&mut self) -> Option<f64> {
        let done = std::mem::take(&mut self.done);
        let mut last = None;
        for a in &done {
            last = Some(self.push_action(a));
        }
        self.done = done;
        self.done.clear();
        last
    }

    /// Feeds one raw event; returns the new session score when it completed one or more actions.
    pub fn push(&mut self, ev: MouseEvent) -> Option<f64> {
        self.segmenter.push(ev, &mut self.done);
        self.drain()
    }

    /// Ends the session (flushes the last action); returns the final session score, `None` when no action
    /// was ever completed.
    pub fn finish(&mut self) -> Option<f64> {
        self.segmenter.finish(&mut self.done);
        self.drain();
        self.score()
    }

    /// Session score so far (mean action score), `None` before the first action.
    pub fn score(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }

    /// Score of the most recent action alone.
    pub fn last_action_score(&self) -> Option<f64> {
        self.last_action_score
    }

    /// Actions scored so far.
    pub fn actions(&self) -> usize {
        self.n
    }

    /// Clean-up and segmentation counts so far (see [`crate::segment`]).
    pub fn counts(&self) -> &SegmentCounts {
        self.segmenter.counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_core::event::{MouseButton, MouseEventKind};

    struct Len;
    impl Template<FeatureVector> for Len {
        fn score(&self, probe: &FeatureVector) -> f64 {
            probe[9] // num_points
        }
    }

    #[test]
    fn running_mean_and_streaming() {
        assert_eq!(running_scores(&[1.0, 3.0, 2.0]), vec![1.0, 2.0, 2.0]);
        assert_eq!(
            window_scores(&[1.0, 3.0, 2.0, 6.0], 2),
            vec![1.0, 2.0, 2.5, 4.0]
        );
        let mut s = SessionScorer::new(&Len, SegmentRules::default()).with_window(1);
        let mut after = Vec::new();
        // Two moves of 4 and 6 samples separated by a scroll.
        for i in 0..4 {
            after.push(s.push(MouseEvent {
                t_us: i * 10_000,
                x_px: i as f64,
                y_px: 0.0,
                button: MouseButton::None,
                kind: MouseEventKind::Move,
            }));
        }
        after.push(s.push(MouseEvent {
            t_us: 50_000,
            x_px: 3.0,
            y_px: 0.0,
            button: MouseButton::Wheel,
            kind: MouseEventKind::ScrollDown,
        }));
        for i in 0..6 {
            s.push(MouseEvent {
                t_us: 100_000 + i * 10_000,
                x_px: i as f64,
                y_px: 5.0,
                button: MouseButton::None,
                kind: MouseEventKind::Move,
            });
        }
        assert_eq!(after[4], Some(4.0), "the scroll completes the first move");
        assert_eq!(s.actions(), 1);
        assert_eq!(s.finish(), Some(5.0));
        assert_eq!(s.last_action_score(), Some(6.0));
        assert_eq!(s.window_score(), Some(6.0));
        assert_eq!(s.counts().scroll, 1);
    }
}
