//! The free-text summary vocabulary, version 2: key classes and the layout of a window summary.
//!
//! This module *is* the specification (mirrored in `docs/EDGE.md`, which another implementation such as
//! the browser SDK follows, and checked by the conformance vectors in `docs/edge-conformance/`).
//!
//! # Key classes
//! Every W3C `KeyboardEvent.code` falls in one of [`CLASSES`] classes ([`key_class`]). The 26 letter keys
//! are split only by the hand that types them on a QWERTY board (15 left, 11 right), so a summary never
//! names a letter or a row: behaviourally, latency depends mostly on hand alternation, which the classes
//! keep. Version 1 also split letters by row (6 classes of 2–7 keys, 320 entries); on the development
//! part of the Aalto population the hand split gave a lower EER (G=5, L=50: 3.92 % against 4.42 %;
//! finger classes, 14 in all, gave 5.04 %, one class for all letters 4.91 %) and it tells an attacker
//! less. Version 2 also adds ten global quantile entries (ln-DD and ln-hold, no class): 3.92 → 3.62 %
//! (docs/BENCHMARKS.md).
//!
//! | # | name | codes |
//! |---|---|---|
//! | 0 | `space` | `Space` |
//! | 1 | `correction` | `Backspace`, `Delete` |
//! | 2 | `shift` | `ShiftLeft`, `ShiftRight` |
//! | 3 | `enter` | `Enter`, `NumpadEnter` |
//! | 4 | `left_letter` | `KeyQ KeyW KeyE KeyR KeyT KeyA KeyS KeyD KeyF KeyG KeyZ KeyX KeyC KeyV KeyB` |
//! | 5 | `right_letter` | `KeyY KeyU KeyI KeyO KeyP KeyH KeyJ KeyK KeyL KeyN KeyM` |
//! | 6 | `digit` | `Digit0`–`Digit9`, `Numpad0`–`Numpad9` |
//! | 7 | `other` | every other code (punctuation, modifiers other than Shift, navigation, function keys) |
//!
//! # Observations
//! Keys are taken in press order. Each key gives a hold `ln(clamp(hold_ms, 1, 2000))` for its class. Each
//! consecutive pair `(a, b)` whose down-down latency `DD = press(b) − press(a)` is at most
//! [`MAX_DIGRAPH_MS`] is a digraph of the class pair `(class(a), class(b))` and gives
//! `ln(max(DD_ms, 1))` and `asinh(UD_ms / 20)` with `UD = press(b) − release(a)` (negative on rollover).
//!
//! # Layout of a summary vector (length [`SUMMARY_DIM`] = 162)
//! | index | entry |
//! |---|---|
//! | `c` for `c < 8` | mean ln-hold of class `c` |
//! | `8 + c` | standard deviation (n − 1) of ln-hold of class `c` |
//! | `16 + 8·a + b` | mean ln-DD of class pair `(a, b)` |
//! | `80 + 8·a + b` | mean asinh-UD of class pair `(a, b)` |
//! | `144` | mean ln-hold, all keys |
//! | `145` | sd of ln-hold, all keys |
//! | `146` | mean ln-DD, all digraphs |
//! | `147` | sd of ln-DD, all digraphs |
//! | `148` | mean asinh-UD, all digraphs |
//! | `149` | share of digraphs with `UD < 0` (rollover), 0–1 |
//! | `150` | share of consecutive pairs with `DD >` [`PAUSE_MS`] (pauses), 0–1 |
//! | `151` | share of keys in class `correction`, 0–1 |
//! | `152`–`156` | 10 / 25 / 50 / 75 / 90 % quantiles of ln-DD, all digraphs ([`QUANTILES`]) |
//! | `157`–`161` | 10 / 25 / 50 / 75 / 90 % quantiles of ln-hold, all keys |
//!
//! A class or class-pair entry is *absent* (`None`; JSON `null`) unless it rests on at least
//! [`MIN_SUPPORT`] observations (an sd needs `MIN_SUPPORT` too, and at least 2). Globals: 144, 150 and 151
//! are always present; 145 needs 2 keys; 146, 148 and 149 one digraph; 147 two digraphs; the DD quantiles
//! 152–156 need [`MIN_QUANTILE_SUPPORT`] digraphs and the hold quantiles 157–161 as many keys (linear
//! interpolation between order statistics at position `p·(n − 1)`). **No count is sent** and entries have no order: the summary says
//! how a person types, not what, which the privacy test (`tests/privacy.rs` of `keyprint-bench`)
//! measures with an attacker's solver.

use keyprint_core::event::KeyEvent;

/// Version of this vocabulary; a record of another version is refused by the server.
pub const VOCAB_VERSION: u32 = 2;
/// Number of key classes.
pub const CLASSES: usize = 8;
/// Longest down-down latency, ms, still counted as a digraph (as `keyprint-freetext`'s default).
pub const MAX_DIGRAPH_MS: f64 = 5000.0;
/// A down-down latency above this, ms, counts as a pause (global entry [`GLOBALS`] + 6).
pub const PAUSE_MS: f64 = 1000.0;
/// Observations an entry needs to be present.
pub const MIN_SUPPORT: usize = 2;
/// Length of a summary vector.
pub const SUMMARY_DIM: usize = 2 * CLASSES + 2 * CLASSES * CLASSES + 8 + 2 * QUANTILES.len();
/// Probabilities of the quantile entries (ln-DD over all digraphs, then ln-hold over all keys).
pub const QUANTILES: [f64; 5] = [0.1, 0.25, 0.5, 0.75, 0.9];
/// Observations a quantile entry needs to be present.
pub const MIN_QUANTILE_SUPPORT: usize = 5;
/// Fewest keys a window may summarise (a shorter window is not emitted).
pub const MIN_WINDOW_KEYS: usize = 20;

/// The families of a summary as `(first entry, end of entries, global entry)`: class hold means
/// (`0..8`, global 144), class-pair DD means (`16..80`, global 146), class-pair UD means (`80..144`,
/// global 148). What `keyprint_freetext::key_dependence` compares class entries with.
pub const FAMILIES: [(usize, usize, usize); 3] = [
    (0, CLASSES, GLOBALS),
    (2 * CLASSES, 2 * CLASSES + CLASSES * CLASSES, GLOBALS + 2),
    (
        2 * CLASSES + CLASSES * CLASSES,
        2 * CLASSES + 2 * CLASSES * CLASSES,
        GLOBALS + 4,
    ),
];
/// Index of the first global entry (144): the globals follow the class and class-pair entries.
pub const GLOBALS: usize = 2 * CLASSES + 2 * CLASSES * CLASSES;

/// Class names, by class number.
pub const CLASS_NAMES: [&str; CLASSES] = [
    "space",
    "correction",
    "shift",
    "enter",
    "left_letter",
    "right_letter",
    "digit",
    "other",
];

/// The class (0..[`CLASSES`]) of a W3C `KeyboardEvent.code` (table in the module docs).
pub fn key_class(code: &str) -> usize {
    match code {
        "Space" => 0,
        "Backspace" | "Delete" => 1,
        "ShiftLeft" | "ShiftRight" => 2,
        "Enter" | "NumpadEnter" => 3,
        "KeyQ" | "KeyW" | "KeyE" | "KeyR" | "KeyT" | "KeyA" | "KeyS" | "KeyD" | "KeyF" | "KeyG"
        | "KeyZ" | "KeyX" | "KeyC" | "KeyV" | "KeyB" => 4,
        "KeyY" | "KeyU" | "KeyI" | "KeyO" | "KeyP" | "KeyH" | "KeyJ" | "KeyK" | "KeyL" | "KeyN"
        | "KeyM" => 5,
        c if c
            .strip_prefix("Digit")
            .or_else(|| c.strip_prefix("Numpad"))
            .is_some_and(|d| d.len() == 1 && d.as_bytes()[0].is_ascii_digit()) =>
        {
            6
        }
        _ => 7,
    }
}

/// Names of the [`SUMMARY_DIM`] entries, in layout order (`hold_mean.space`, `dd_mean.left_letter>space`, …).
pub fn entry_names() -> Vec<String> {
    let mut v = Vec::with_capacity(SUMMARY_DIM);
    for c in CLASS_NAMES {
        v.push(format!("hold_mean.{c}"));
    }
    for c in CLASS_NAMES {
        v.push(format!("hold_sd.{c}"));
    }
    for what in ["dd_mean", "ud_mean"] {
        for a in CLASS_NAMES {
            for b in CLASS_NAMES {
                v.push(format!("{what}.{a}>{b}"));
            }
        }
    }
    v.extend(
        [
            "hold_mean.all",
            "hold_sd.all",
            "dd_mean.all",
            "dd_sd.all",
            "ud_mean.all",
            "rollover_share",
            "pause_share",
            "correction_share",
        ]
        .map(String::from),
    );
    for what in ["dd", "hold"] {
        v.extend(QUANTILES.map(|p| format!("{what}_q{:02}.all", (p * 100.0).round() as u32)));
    }
    v
}

/// Running count, mean and sum of squared deviations (Welford 1962), so an sd of equal values is exactly 0.
#[derive(Default, Clone, Copy)]
struct Acc {
    n: usize,
    mean: f64,
    m2: f64,
}

impl Acc {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    fn mean(&self, min: usize) -> Option<f64> {
        (self.n >= min.max(1)).then_some(self.mean)
    }
    fn sd(&self, min: usize) -> Option<f64> {
        (self.n >= min.max(2)).then(|| (self.m2.max(0.0) / (self.n - 1) as f64).sqrt())
    }
}

/// The `p`-quantile of sorted `xs` with linear interpolation between order statistics (position
/// `p·(n − 1)`, Hyndman & Fan 1996 type 7); `None` below [`MIN_QUANTILE_SUPPORT`] values.
fn quantile(xs: &[f64], p: f64) -> Option<f64> {
    if xs.len() < MIN_QUANTILE_SUPPORT {
        return None;
    }
    let pos = p * (xs.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo as f64))
}

/// The summary vector (length [`SUMMARY_DIM`], `None` = absent) of a window of keystrokes, with `class_of`
/// giving each event's class. Events are taken in press order (stable for equal press times).
///
/// Returns `None` when the window has fewer than [`MIN_WINDOW_KEYS`] keys.
pub fn summarize(
    events: &[KeyEvent],
    class_of: impl Fn(&KeyEvent) -> usize,
) -> Option<Vec<Option<f64>>> {
    if events.len() < MIN_WINDOW_KEYS {
        return None;
    }
    let mut ev: Vec<&KeyEvent> = events.iter().collect();
    ev.sort_by_key(|e| e.press_us);
    let mut hold = [Acc::default(); CLASSES];
    let mut dd = vec![Acc::default(); CLASSES * CLASSES];
    let mut ud = vec![Acc::default(); CLASSES * CLASSES];
    let (mut hold_all, mut dd_all, mut ud_all) = (Acc::default(), Acc::default(), Acc::default());
    let (mut rollover, mut pauses, mut corrections) = (0usize, 0usize, 0usize);
    let (mut dds, mut holds) = (Vec::new(), Vec::new());
    let classes: Vec<usize> = ev.iter().map(|e| class_of(e).min(CLASSES - 1)).collect();
    for (i, e) in ev.iter().enumerate() {
        let c = classes[i];
        let h = (e.hold_us() as f64 / 1000.0).clamp(1.0, 2000.0).ln();
        hold[c].add(h);
        hold_all.add(h);
        holds.push(h);
        if c == 1 {
            corrections += 1;
        }
        if i == 0 {
            continue;
        }
        let p = ev[i - 1];
        let dd_ms = (e.press_us - p.press_us) as f64 / 1000.0;
        if dd_ms > PAUSE_MS {
            pauses += 1;
        }
        if dd_ms <= MAX_DIGRAPH_MS {
            let ud_ms = (e.press_us - p.release_us) as f64 / 1000.0;
            let pair = classes[i - 1] * CLASSES + c;
            let (d, u) = (dd_ms.max(1.0).ln(), (ud_ms / 20.0).asinh());
            dd[pair].add(d);
            ud[pair].add(u);
            dd_all.add(d);
            ud_all.add(u);
            dds.push(d);
            if ud_ms < 0.0 {
                rollover += 1;
            }
        }
    }
    let mut v = Vec::with_capacity(SUMMARY_DIM);
    v.extend(hold.iter().map(|a| a.mean(MIN_SUPPORT)));
    v.extend(hold.iter().map(|a| a.sd(MIN_SUPPORT)));
    v.extend(dd.iter().map(|a| a.mean(MIN_SUPPORT)));
    v.extend(ud.iter().map(|a| a.mean(MIN_SUPPORT)));
    let pairs = (ev.len() - 1) as f64;
    let has_digraph = dd_all.n > 0;
    v.push(hold_all.mean(1));
    v.push(hold_all.sd(2));
    v.push(dd_all.mean(1));
    v.push(dd_all.sd(2));
    v.push(ud_all.mean(1));
    v.push(has_digraph.then(|| rollover as f64 / dd_all.n as f64));
    v.push(Some(pauses as f64 / pairs));
    v.push(Some(corrections as f64 / ev.len() as f64));
    for xs in [&mut dds, &mut holds] {
        xs.sort_by(f64::total_cmp);
        v.extend(QUANTILES.map(|p| quantile(xs, p)));
    }
    debug_assert_eq!(v.len(), SUMMARY_DIM);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_core::event::KeyId;

    #[test]
    fn classes_cover_the_table() {
        assert_eq!(key_class("Space"), 0);
        assert_eq!(key_class("KeyE"), 4);
        assert_eq!(key_class("KeyB"), 4);
        assert_eq!(key_class("KeyN"), 5);
        assert_eq!(key_class("Comma"), 7);
        assert_eq!(key_class("Digit7"), 6);
        assert_eq!(key_class("Numpad0"), 6);
        assert_eq!(key_class("NumpadAdd"), 7);
        assert_eq!(key_class("Digits"), 7);
        // Exactly the prefix and one digit (as the SDK's `^(Digit|Numpad)[0-9]$`).
        assert_eq!(key_class("NumpadX5"), 7);
        assert_eq!(key_class("Digit55"), 7);
        assert_eq!(key_class("F5"), 7);
        let letters = keyprint_core::event::LETTER_CODES;
        assert!(letters.iter().all(|c| (4..=5).contains(&key_class(c))));
        // Each hand's class holds many letters: no summary entry names one letter.
        assert_eq!(letters.iter().filter(|l| key_class(l) == 4).count(), 15);
        assert_eq!(letters.iter().filter(|l| key_class(l) == 5).count(), 11);
        assert_eq!(entry_names().len(), SUMMARY_DIM);
        assert_eq!((SUMMARY_DIM, GLOBALS), (162, 144));
        assert_eq!(entry_names()[152], "dd_q10.all");
        assert_eq!(entry_names()[161], "hold_q90.all");
        assert_eq!(entry_names()[GLOBALS], "hold_mean.all");
    }

    #[test]
    fn summary_entries_follow_the_spec() {
        // 20 keys alternating KeyA (left_letter) and Space, 100 ms apart, holds 80 ms.
        let ev: Vec<KeyEvent> = (0..20)
            .map(|i| {
                let k = if i % 2 == 0 { "KeyA" } else { "Space" };
                KeyEvent::new(KeyId::code(k), i * 100_000, i * 100_000 + 80_000).unwrap()
            })
            .collect();
        let v = summarize(&ev, |e| key_class(e.key.as_code().unwrap())).unwrap();
        assert!((v[4].unwrap() - 80f64.ln()).abs() < 1e-12);
        assert!(v[8 + 4].unwrap().abs() < 1e-12);
        let pair = 16 + 4 * CLASSES;
        assert!((v[pair].unwrap() - 100f64.ln()).abs() < 1e-12);
        assert!((v[80 + 4 * CLASSES].unwrap() - 1f64.asinh()).abs() < 1e-12);
        assert!(v[16 + 5 * CLASSES + 5].is_none());
        assert_eq!(v[149], Some(0.0));
        assert_eq!(v[151], Some(0.0));
        // Every DD is 100 ms and every hold 80 ms: each quantile is that value.
        assert!((v[154].unwrap() - 100f64.ln()).abs() < 1e-12);
        assert!((v[161].unwrap() - 80f64.ln()).abs() < 1e-12);
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.25), Some(2.0));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.1), Some(1.5));
        assert_eq!(quantile(&[1.0, 2.0, 3.0, 4.0], 0.5), None);
        assert!(summarize(&ev[..19], |_| 0).is_none());
    }
}
