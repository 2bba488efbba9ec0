//! Published rules as baselines behind the same [`StreamDetector`] interface.
//!
//! * [`Ukip`] — Google's UKIP (github.com/google/ukip, `KEYSTROKE_WINDOW = 5`, `ABNORMAL_TYPING = 50000` µs):
//!   alarm when, over the last 5 key presses, every one of the 4 press-to-press intervals is ≤ 50 ms.
//!   Score: `50 ms / max(interval in the window)`, maximised over the stream so far (fewer than 5 presses:
//!   over the presses seen).
//! * [`DuckHunt`] — DuckHunt (github.com/pmsosa/duckhunt, "normal" mode, `threshold = 30` ms, history of
//!   25 intervals): alarm when the mean of the last 25 press-to-press intervals is below 30 ms. Score:
//!   `30 ms / mean`, maximised over the stream so far (fewer than 25 intervals: over the intervals seen;
//!   the alarm itself needs the full 25).
//!
//! Both use every key press (modifiers included), as they hook key-down events.

use crate::detector::{Reason, StreamDetector, Verdict};
use keyprint_core::event::KeyEvent;
use std::collections::VecDeque;

/// UKIP's rule (see the module docs).
#[derive(Clone, Debug)]
pub struct Ukip {
    /// Presses in the window (5).
    pub window: usize,
    /// Largest interval counted as abnormal, µs (50 000).
    pub max_interval_us: i64,
    presses: VecDeque<i64>,
    seen: usize,
    best: f64,
    verdict: Option<Verdict>,
}

impl Default for Ukip {
    fn default() -> Self {
        Ukip {
            window: 5,
            max_interval_us: 50_000,
            presses: VecDeque::new(),
            seen: 0,
            best: 0.0,
            verdict: None,
        }
    }
}

impl StreamDetector for Ukip {
    fn name(&self) -> &str {
        "ukip"
    }

    fn observe(&mut self, e: &KeyEvent) -> Option<Verdict> {
        self.seen += 1;
        self.presses.push_back(e.press_us);
        while self.presses.len() > self.window {
            self.presses.pop_front();
        }
        if self.presses.len() < 2 {
            return None;
        }
        let worst = self
            .presses
            .iter()
            .zip(self.presses.iter().skip(1))
            .map(|(a, b)| b - a)
            .max()
            .unwrap_or(i64::MAX);
        let s = self.max_interval_us as f64 / (worst.max(1) as f64);
        if self.verdict.is_none() {
            self.best = self.best.max(s.min(0.999));
        }
        if self.verdict.is_none()
            && self.presses.len() == self.window
            && worst <= self.max_interval_us
        {
            let v = Verdict {
                reason: Reason::UkipRule,
                keystroke: self.seen,
                t_us: e.press_us,
                detail: format!(
                    "{} intervals all <= {} ms (max {} µs)",
                    self.window - 1,
                    self.max_interval_us / 1000,
                    worst
                ),
            };
            self.best = 1.0 + s;
            self.verdict = Some(v.clone());
            return Some(v);
        }
        None
    }

    fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    fn score(&self) -> f64 {
        self.best
    }
}

/// DuckHunt's rule (see the module docs).
#[derive(Clone, Debug)]
pub struct DuckHunt {
    /// Intervals averaged (25).
    pub history: usize,
    /// Mean interval below which it alarms, µs (30 000).
    pub threshold_us: i64,
    last_press: Option<i64>,
    gaps: VecDeque<i64>,
    sum: i64,
    seen: usize,
    best: f64,
    verdict: Option<Verdict>,
}

impl Default for DuckHunt {
    fn default() -> Self {
        DuckHunt {
            history: 25,
            threshold_us: 30_000,
            last_press: None,
            gaps: VecDeque::new(),
            sum: 0,
            seen: 0,
            best: 0.0,
            verdict: None,
        }
    }
}

impl StreamDetector for DuckHunt {
    fn name(&self) -> &str {
        "duckhunt"
    }

    fn observe(&mut self, e: &KeyEvent) -> Option<Verdict> {
        self.seen += 1;
        let prev = self.last_press.replace(e.press_us);
        let p = prev?;
        let g = e.press_us - p;
        self.gaps.push_back(g);
        self.sum += g;
        while self.gaps.len() > self.history {
            self.sum -= self.gaps.pop_front().unwrap_or(0);
        }
        let mean = self.sum as f64 / self.gaps.len() as f64;
        let s = self.threshold_us as f64 / mean.max(1.0);
        if self.verdict.is_none() {
            self.best = self.best.max(s.min(0.999));
        }
        if self.verdict.is_none()
            && self.gaps.len() == self.history
            && mean < self.threshold_us as f64
        {
            let v = Verdict {
                reason: Reason::DuckHuntRule,
                keystroke: self.seen,
                t_us: e.press_us,
                detail: format!(
                    "mean of the last {} intervals {:.1} ms < {} ms",
                    self.history,
                    mean / 1000.0,
                    self.threshold_us / 1000
                ),
            };
            self.best = 1.0 + s;
            self.verdict = Some(v.clone());
            return Some(v);
        }
        None
    }

    fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    fn score(&self) -> f64 {
        self.best
    }
}
