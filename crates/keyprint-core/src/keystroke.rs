//! Fixed-text keystroke features: hold (H), down-down (DD) and up-down (UD) latencies of a typed phrase.
//!
//! For a phrase of `n` keys `k1..kn` the feature vector has `3n - 2` entries, in the order of the CMU
//! benchmark file (Killourhy & Maxion, "Comparing anomaly-detection algorithms for keystroke dynamics",
//! DSN 2009): `H.k1, DD.k1.k2, UD.k1.k2, H.k2, DD.k2.k3, UD.k2.k3, …, H.kn`, all in milliseconds, where
//! `H.a = up(a) − down(a)`, `DD.a.b = down(b) − down(a)`, `UD.a.b = down(b) − up(a)`, so `DD = H + UD`.
//! UD is negative when keys overlap (rollover).
//!
//! Modifier keys are not part of the phrase: CMU records the capital `R` of `.tie5Roanl` as one keystroke
//! (`Shift.r`), so [`FixedTextLayout::features`] skips modifier events (see [`KeyId::is_modifier`]).

use crate::event::{KeyEvent, KeyId};
use thiserror::Error;

/// The expected key sequence of a fixed phrase (modifiers excluded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedTextLayout {
    keys: Vec<KeyId>,
    labels: Vec<String>,
}

/// Why a typed sequence cannot be turned into fixed-text features.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FeatureError {
    /// The sequence has a different number of (non-modifier) keys than the phrase.
    #[error("expected {expected} keys, found {found}")]
    Length {
        /// Keys in the phrase.
        expected: usize,
        /// Non-modifier keys in the sequence.
        found: usize,
    },
    /// A key differs from the phrase (a typo, or another phrase).
    #[error("key {position}: expected {expected}, found {found}")]
    WrongKey {
        /// 0-based position in the phrase.
        position: usize,
        /// The phrase's key.
        expected: KeyId,
        /// The typed key.
        found: KeyId,
    },
    /// A key is released before it is pressed.
    #[error("key {position}: released before pressed")]
    NegativeHold {
        /// 0-based position in the phrase.
        position: usize,
    },
}

impl FixedTextLayout {
    /// A layout from the phrase's keys and short labels (labels name the features, e.g. `"period"`).
    ///
    /// # Panics
    /// If `keys` is empty or the two slices differ in length.
    pub fn new(keys: Vec<KeyId>, labels: Vec<String>) -> Self {
        assert!(
            !keys.is_empty() && keys.len() == labels.len(),
            "one label per key, at least one key"
        );
        FixedTextLayout { keys, labels }
    }

    /// The CMU benchmark phrase `.tie5Roanl` followed by Return, as W3C codes
    /// (`Period KeyT KeyI KeyE Digit5 KeyR KeyO KeyA KeyN KeyL Enter`), labelled as in the CMU header.
    pub fn cmu_strong_password() -> Self {
        let codes = [
            ("Period", "period"),
            ("KeyT", "t"),
            ("KeyI", "i"),
            ("KeyE", "e"),
            ("Digit5", "five"),
            ("KeyR", "Shift.r"),
            ("KeyO", "o"),
            ("KeyA", "a"),
            ("KeyN", "n"),
            ("KeyL", "l"),
            ("Enter", "Return"),
        ];
        FixedTextLayout::new(
            codes.iter().map(|(c, _)| KeyId::code(*c)).collect(),
            codes.iter().map(|(_, l)| (*l).to_string()).collect(),
        )
    }

    /// The phrase's keys.
    pub fn keys(&self) -> &[KeyId] {
        &self.keys
    }

    /// Length of the feature vector: `3n − 2` for `n` keys.
    pub fn dim(&self) -> usize {
        3 * self.keys.len() - 2
    }

    /// Feature names in vector order, in the CMU header's spelling (`H.period`, `DD.period.t`, …).
    pub fn feature_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.dim());
        for (i, l) in self.labels.iter().enumerate() {
            names.push(format!("H.{l}"));
            if let Some(next) = self.labels.get(i + 1) {
                names.push(format!("DD.{l}.{next}"));
                names.push(format!("UD.{l}.{next}"));
            }
        }
        names
    }

    /// Which features are holds (`H`), down-down (`DD`) or up-down (`UD`) latencies, in vector order.
    pub fn feature_kinds(&self) -> Vec<LatencyKind> {
        let mut kinds = Vec::with_capacity(self.dim());
        for i in 0..self.keys.len() {
            kinds.push(LatencyKind::Hold);
            if i + 1 < self.keys.len() {
                kinds.push(LatencyKind::DownDown);
                kinds.push(LatencyKind::UpDown);
            }
        }
        kinds
    }

    /// The feature vector (ms) of one typing of the phrase.
    ///
    /// `events` may contain modifier keys (skipped) and need not be sorted; the remaining keys, ordered by
    /// press time, must be exactly the phrase's keys.
    ///
    /// # Errors
    /// [`FeatureError`] when the keys do not match the phrase or a hold is negative.
    pub fn features(&self, events: &[KeyEvent]) -> Result<Vec<f64>, FeatureError> {
        let mut typed: Vec<&KeyEvent> = events.iter().filter(|e| !e.key.is_modifier()).collect();
        typed.sort_by_key(|e| e.press_us);
        if typed.len() != self.keys.len() {
            return Err(FeatureError::Length {
                expected: self.keys.len(),
                found: typed.len(),
            });
        }
        let mut out = Vec::with_capacity(self.dim());
        for (i, (ev, want)) in typed.iter().zip(&self.keys).enumerate() {
            if &ev.key != want {
                return Err(FeatureError::WrongKey {
                    position: i,
                    expected: want.clone(),
                    found: ev.key.clone(),
                });
            }
            if ev.release_us < ev.press_us {
                return Err(FeatureError::NegativeHold { position: i });
            }
            out.push(us_to_ms(ev.hold_us()));
            if let Some(next) = typed.get(i + 1) {
                out.push(us_to_ms(next.press_us - ev.press_us));
                out.push(us_to_ms(next.press_us - ev.release_us));
            }
        }
        Ok(out)
    }

    /// The inverse of [`features`](Self::features): key events (press at 0 µs) whose features are `v`.
    /// Holds and DD latencies are used; UD entries are implied (`UD = DD − H`). Used to replay benchmark
    /// rows through the raw-event path.
    ///
    /// # Panics
    /// If `v.len() != self.dim()`.
    pub fn events_from_features(&self, v: &[f64]) -> Vec<KeyEvent> {
        assert_eq!(v.len(), self.dim());
        let mut press = 0i64;
        let mut out = Vec::with_capacity(self.keys.len());
        for (i, key) in self.keys.iter().enumerate() {
            let hold = ms_to_us(v[3 * i]);
            out.push(KeyEvent {
                key: key.clone(),
                press_us: press,
                release_us: press + hold,
            });
            if i + 1 < self.keys.len() {
                press += ms_to_us(v[3 * i + 1]);
            }
        }
        out
    }
}

/// The three timing features of fixed-text keystroke dynamics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LatencyKind {
    /// Hold (dwell) time of one key.
    Hold,
    /// Down-down latency between consecutive keys.
    DownDown,
    /// Up-down latency (flight time) between consecutive keys.
    UpDown,
}

/// µs → ms.
pub fn us_to_ms(us: i64) -> f64 {
    us as f64 / 1000.0
}

/// ms → µs, rounded to the nearest µs.
pub fn ms_to_us(ms: f64) -> i64 {
    (ms * 1000.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn layout() -> FixedTextLayout {
        FixedTextLayout::cmu_strong_password()
    }

    #[test]
    fn names_match_cmu_header() {
        let names = layout().feature_names();
        assert_eq!(names.len(), 31);
        assert_eq!(
            &names[..4],
            &["H.period", "DD.period.t", "UD.period.t", "H.t"]
        );
        assert_eq!(names[13], "DD.five.Shift.r");
        assert_eq!(names[15], "H.Shift.r");
        assert_eq!(names[30], "H.Return");
    }

    #[test]
    fn modifiers_are_skipped_and_typos_reported() {
        let l = layout();
        let mut ev = l.events_from_features(&[100.0; 31]);
        ev.push(KeyEvent {
            key: KeyId::code("ShiftLeft"),
            press_us: 450_000,
            release_us: 560_000,
        });
        assert!(l.features(&ev).is_ok());
        ev[3].key = KeyId::code("KeyW");
        assert!(matches!(
            l.features(&ev),
            Err(FeatureError::WrongKey { position: 3, .. })
        ));
        ev.pop();
        ev.pop();
        assert!(matches!(
            l.features(&ev),
            Err(FeatureError::Length {
                expected: 11,
                found: 10
            })
        ));
    }

    proptest! {
        /// DD = H + UD for every pair, and the features do not depend on the clock's origin.
        #[test]
        fn dd_is_hold_plus_ud_and_shift_invariant(
            gaps in proptest::collection::vec(0i64..2_000_000, 10),
            holds in proptest::collection::vec(0i64..500_000, 11),
            origin in -1_000_000_000_000i64..1_000_000_000_000,
        ) {
            let l = layout();
            let mut t = 0;
            let mut ev = Vec::new();
            for (i, key) in l.keys().iter().enumerate() {
                ev.push(KeyEvent { key: key.clone(), press_us: t, release_us: t + holds[i] });
                if i < 10 { t += gaps[i] + 1; }
            }
            let f = l.features(&ev).unwrap();
            for i in 0..10 {
                let (h, dd, ud) = (f[3 * i], f[3 * i + 1], f[3 * i + 2]);
                prop_assert!((dd - (h + ud)).abs() < 1e-9);
            }
            let shifted: Vec<_> = ev.iter().map(|e| KeyEvent { key: e.key.clone(), press_us: e.press_us + origin, release_us: e.release_us + origin }).collect();
            prop_assert_eq!(l.features(&shifted).unwrap(), f.clone());
            // And the inverse reproduces the events' features.
            prop_assert_eq!(l.features(&l.events_from_features(&f)).unwrap(), f);
        }
    }
}
