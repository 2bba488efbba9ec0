//! The population key-context check: does the timing of a window depend on WHICH keys were typed?
//!
//! Human latencies and holds are strongly key-dependent (digraph speed depends on hands, fingers and
//! practice; a word boundary brings a pause; Space and Shift are held differently), consistently across
//! people. A humanized injection device that draws every hold and delay from a distribution, independent
//! of the text, shows no such dependence. The check correlates, over a window, each observed
//! `ln(DD)` of a digraph and each `ln(hold)` of a key with the population mean of that digraph / key,
//! taken from keyprint-freetext's [`PopulationModel`] (families `dd` and `hold`, features seen by enough
//! population people); each Pearson correlation `r` over `n` pairs is turned into a Fisher z statistic
//! `atanh(r)·√(n−3)` (standard normal when timing ignores the keys), and the score is
//! `−(z_dd + z_hold)/√2`: about N(0, 1) for key-independent timing, strongly negative for humans.
//! Higher = more machine-like. Modifier keys are left out (a device can reproduce their gross structure —
//! Shift held across its letter — without any sense of the text); on hashed identities modifiers cannot
//! be recognised and stay in. Otherwise only key equality is used.

use keyprint_core::detector::Template;
use keyprint_core::event::KeyEvent;
use keyprint_freetext::PopulationModel;
use std::sync::Arc;

/// Family index of digraph DD features in keyprint-freetext (`Family::Dd`).
const DD: u8 = 1;
/// Family index of per-key hold features (`Family::Hold`).
const HOLD: u8 = 0;
/// Per-feature families scored by [`KeyContextCheck::family_statistics`] (keyprint-freetext's `Family`
/// 0–10; the embedding is not a timing family).
pub const FAMILY_COUNT: usize = 11;

/// The key-context check over a population model (see the module docs).
#[derive(Clone)]
pub struct KeyContextCheck {
    model: Arc<PopulationModel>,
}

impl KeyContextCheck {
    /// A check using `model`'s population means.
    pub fn new(model: Arc<PopulationModel>) -> Self {
        KeyContextCheck { model }
    }

    /// The Fisher z statistic of every per-feature family of keyprint-freetext (index = `Family as u8`,
    /// families 0 to [`FAMILY_COUNT`]` − 1`: hold, DD, UD, DD-to, …, trigraph, DD-from): the correlation of
    /// the window's observations with their population means (0 for fewer than 4 pairs or no spread).
    /// Pooled families (one feature) give 0.
    pub fn family_statistics(&self, window: &[KeyEvent]) -> [f64; FAMILY_COUNT] {
        let typed: Vec<KeyEvent> = window
            .iter()
            .filter(|e| !e.key.is_modifier())
            .cloned()
            .collect();
        let mut pairs: [Vec<(f64, f64)>; FAMILY_COUNT] = Default::default();
        for o in self.model.observations(&typed) {
            if let Some(v) = pairs.get_mut(o.family as usize) {
                v.push((o.value, self.model.features[o.feature as usize].mu));
            }
        }
        pairs.map(|p| fisher_z(&p))
    }

    /// The Fisher z statistics `(z_dd, z_hold)` of a window (0 for a family with fewer than 4 pairs or no
    /// spread).
    pub fn statistics(&self, window: &[KeyEvent]) -> (f64, f64) {
        let typed: Vec<KeyEvent> = window
            .iter()
            .filter(|e| !e.key.is_modifier())
            .cloned()
            .collect();
        let obs = self.model.observations(&typed);
        let z = |fam: u8| {
            let pairs: Vec<(f64, f64)> = obs
                .iter()
                .filter(|o| o.family == fam)
                .map(|o| (o.value, self.model.features[o.feature as usize].mu))
                .collect();
            fisher_z(&pairs)
        };
        (z(DD), z(HOLD))
    }
}

pub(crate) fn fisher_z(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    if pairs.len() < 4 {
        return 0.0;
    }
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |a, p| (a.0 + p.0 / n, a.1 + p.1 / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return 0.0;
    }
    let r = (sxy / (sxx * syy).sqrt()).clamp(-0.999_999, 0.999_999);
    r.atanh() * (n - 3.0).sqrt()
}

impl Template<Vec<KeyEvent>> for KeyContextCheck {
    fn score(&self, probe: &Vec<KeyEvent>) -> f64 {
        let (zd, zh) = self.statistics(probe);
        -(zd + zh) / std::f64::consts::SQRT_2
    }
}
