//! The humanized-timing check: is a window of keystrokes (about 70) typed by a hand, or by a device that
//! draws each delay and hold from a distribution (uniform, a population's, or the owner's own)?
//!
//! A sampler that draws delays independently of each other and of the text reproduces every first-order
//! statistic (the marginal distributions of holds and latencies) but none of the dependence structure of
//! real typing. The check measures four dependences over a window, each as a Fisher z statistic
//! `atanh(r)·√(n−3)` of a Pearson correlation `r` over `n` pairs, about N(0, 1) when timing is
//! independent (the null of every such sampler) and strongly positive for people:
//!
//! * `z_dd`, `z_hold` — **key context** ([`KeyContextCheck`]): each digraph's `ln DD` and each key's
//!   `ln hold` against the population mean of that digraph / key (keyprint-freetext's population model);
//! * `z_ac_dd` — **latency autocorrelation**: successive `ln DD` of typed (non-modifier) keys, gaps up to
//!   [`MAX_GAP_US`] (bursts and slow stretches: people drift in speed, an i.i.d. sampler does not);
//! * `z_ac_hold` — **hold autocorrelation**: successive `ln hold` of typed keys.
//!
//! Score (the [`Template`] polarity: higher = more machine-like): `−(z_dd + z_hold + z_ac_dd + z_ac_hold)/2`,
//! a Stouffer combination, about N(0, 1) for an independent sampler whatever its marginal distribution
//! (so it needs no attack data to train), and far below 0 for people. The statistics and their signs were
//! chosen on a development split of Aalto participants (`keyprint bench injection`, humanized section);
//! the threshold comes from held-out human windows, never from attacks. A device that samples each
//! digraph's latency from the owner's own per-digraph profile and adds drift would defeat `z_dd`/`z_hold`
//! and the autocorrelations respectively: this check raises the cost of humanized injection, it does not
//! make it impossible.

use crate::context::{KeyContextCheck, fisher_z};
use keyprint_core::detector::Template;
use keyprint_core::event::KeyEvent;

/// Longest press-to-press gap entering the latency autocorrelation, µs (longer ones are pauses).
pub const MAX_GAP_US: i64 = 2_000_000;

/// The four statistics of a window (see the module docs); 0 for one with fewer than 4 pairs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HumanizedStats {
    /// Key context of digraph latencies.
    pub z_dd: f64,
    /// Key context of holds.
    pub z_hold: f64,
    /// Lag-1 autocorrelation of `ln DD`.
    pub z_ac_dd: f64,
    /// Lag-1 autocorrelation of `ln hold`.
    pub z_ac_hold: f64,
    /// Correlation of a key's `ln hold` with the `ln DD` to the next key (diagnostic; not in the score).
    pub z_hold_flight: f64,
    /// Lag-2 autocorrelation of `ln DD` (diagnostic; not in the score).
    pub z_ac2_dd: f64,
}

impl HumanizedStats {
    /// The Stouffer score `−Σz / 2` (higher = more machine-like; about N(0, 1) for independent timing).
    pub fn score(&self) -> f64 {
        -(self.z_dd + self.z_hold + self.z_ac_dd + self.z_ac_hold) / 2.0
    }
}

/// The humanized-timing check (see the module docs).
#[derive(Clone)]
pub struct HumanizedCheck {
    context: KeyContextCheck,
}

impl HumanizedCheck {
    /// A check on a population key-context model.
    pub fn new(context: KeyContextCheck) -> Self {
        HumanizedCheck { context }
    }

    /// The statistics of a window (events in press order).
    pub fn statistics(&self, window: &[KeyEvent]) -> HumanizedStats {
        let (z_dd, z_hold) = self.context.statistics(window);
        let typed: Vec<&KeyEvent> = window.iter().filter(|e| !e.key.is_modifier()).collect();
        let dd: Vec<Option<f64>> = typed
            .windows(2)
            .map(|w| {
                let g = w[1].press_us - w[0].press_us;
                (g > 0 && g <= MAX_GAP_US).then(|| (g as f64).ln())
            })
            .collect();
        let hold: Vec<Option<f64>> = typed
            .iter()
            .map(|e| (e.hold_us() > 0).then(|| (e.hold_us() as f64).ln()))
            .collect();
        let hold_flight: Vec<(f64, f64)> = hold
            .iter()
            .zip(&dd)
            .filter_map(|(h, d)| Some(((*h)?, (*d)?)))
            .collect();
        let lag2: Vec<(f64, f64)> = dd
            .iter()
            .zip(dd.iter().skip(2))
            .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
            .collect();
        HumanizedStats {
            z_dd,
            z_hold,
            z_ac_dd: lag1(&dd),
            z_ac_hold: lag1(&hold),
            z_hold_flight: fisher_z(&hold_flight),
            z_ac2_dd: fisher_z(&lag2),
        }
    }
}

/// Fisher z of the lag-1 correlation over consecutive pairs where both values exist.
fn lag1(v: &[Option<f64>]) -> f64 {
    let pairs: Vec<(f64, f64)> = v.windows(2).filter_map(|w| Some((w[0]?, w[1]?))).collect();
    fisher_z(&pairs)
}

impl Template<Vec<KeyEvent>> for HumanizedCheck {
    fn score(&self, probe: &Vec<KeyEvent>) -> f64 {
        self.statistics(probe).score()
    }
}
