//! The record specification's value rules, checked by the server on every received record (and usable by
//! any client to test itself): a record that breaks one is refused with the field to blame.
//!
//! | record | rule |
//! |---|---|
//! | every | `0 ≤ at_us ≤ 2^52` |
//! | fixed text | phrase id valid ([`crate::valid_phrase_id`]); `3n − 2` values for `2 ≤ n ≤ 256`; all finite; holds in `[0, 60000]` ms; DD in `[0, 86 400 000]` ms; `|DD − (H + UD)| ≤ 0.01` ms |
//! | free text | `vocab` = [`VOCAB_VERSION`]; `keys` in `[MIN_WINDOW_KEYS, 10000]`; [`SUMMARY_DIM`] values; each present value finite and in its entry's range (below) |
//! | mouse | `keyprint_mouse::N_FEATURES` finite values |
//! | injection | `keystroke ≥ 1`; `rule` one of `keyprint_injection::Reason::ALL`'s names; finite score |
//! | device | `bus` 1–32 printable ASCII; vendor and product 4 hex digits when given |
//!
//! Entry ranges of a summary (transforms in [`crate::vocab`]): hold means in `[0, ln 2000]`, hold sds in
//! `[0, ln 2000]`, DD means in `[0, ln 5000]`, UD means in `[asinh(−3000), asinh(250)]` (a UD is at least
//! −60 s and at most 5 s when DD ≤ 5 s), global sds `≥ 0` and within the same bounds, shares in `[0, 1]`, DD
//! quantiles in `[0, ln 5000]`, hold quantiles in `[0, ln 2000]`.

use crate::vocab::{CLASSES, MIN_WINDOW_KEYS, SUMMARY_DIM, VOCAB_VERSION};
use crate::{Record, valid_phrase_id};

/// Latest accepted record time, µs (2^52: every time and difference stays exact as an `f64`).
pub const MAX_TIME_US: i64 = 1 << 52;

/// A broken rule: the field (relative to the record, e.g. `vector[4]`) and what is wrong.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct SpecError {
    /// Field path within the record.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

fn err(field: impl Into<String>, reason: impl Into<String>) -> SpecError {
    SpecError {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The allowed range of summary entry `i` (see the module docs).
pub fn entry_range(i: usize) -> (f64, f64) {
    let c2 = CLASSES * CLASSES;
    let hold = (0.0, 2000f64.ln());
    let dd = (0.0, 5000f64.ln());
    let ud = ((-3000f64).asinh(), 250f64.asinh());
    match i {
        _ if i < 2 * CLASSES => hold,
        _ if i < 2 * CLASSES + c2 => dd,
        _ if i < 2 * CLASSES + 2 * c2 => ud,
        _ => match i - (2 * CLASSES + 2 * c2) {
            0 | 1 => hold,
            2 | 3 => dd,
            4 => ud,
            5..=7 => (0.0, 1.0),
            8..=12 => dd,
            _ => hold,
        },
    }
}

/// Checks one record against the specification.
///
/// # Errors
/// The first broken rule.
pub fn check_record(r: &Record) -> Result<(), SpecError> {
    if !(0..=MAX_TIME_US).contains(&r.at_us()) {
        return Err(err("at_us", format!("must be from 0 to {MAX_TIME_US} µs")));
    }
    match r {
        Record::FixedText(f) => {
            if !valid_phrase_id(&f.phrase) {
                return Err(err("phrase", "must be 1 to 64 printable ASCII characters"));
            }
            let len = f.vector.len();
            if len < 4 || len > 3 * 256 - 2 || len % 3 != 1 {
                return Err(err(
                    "vector",
                    format!("{len} values; a phrase of n keys (2..=256) has 3n − 2"),
                ));
            }
            for (i, x) in f.vector.iter().enumerate() {
                if !x.is_finite() {
                    return Err(err(format!("vector[{i}]"), "not a finite number"));
                }
                let (lo, hi, what) = match i % 3 {
                    0 => (0.0, 60_000.0, "hold"),
                    1 => (0.0, 86_400_000.0, "DD"),
                    _ => (-60_000.0, 86_400_000.0, "UD"),
                };
                if !(lo..=hi).contains(x) {
                    return Err(err(
                        format!("vector[{i}]"),
                        format!("{what} {x} ms outside [{lo}, {hi}]"),
                    ));
                }
            }
            for i in (0..len - 1).step_by(3) {
                let (h, dd, ud) = (f.vector[i], f.vector[i + 1], f.vector[i + 2]);
                if (dd - (h + ud)).abs() > 0.01 {
                    return Err(err(
                        format!("vector[{}]", i + 1),
                        format!("DD {dd} ≠ hold {h} + UD {ud}"),
                    ));
                }
            }
        }
        Record::FreeText(w) => {
            if w.vocab != VOCAB_VERSION {
                return Err(err(
                    "vocab",
                    format!(
                        "vocabulary {} is not supported (expected {VOCAB_VERSION})",
                        w.vocab
                    ),
                ));
            }
            if !(MIN_WINDOW_KEYS as u32..=10_000).contains(&w.keys) {
                return Err(err(
                    "keys",
                    format!("{} keys; a window has {MIN_WINDOW_KEYS} to 10000", w.keys),
                ));
            }
            if w.values.len() != SUMMARY_DIM {
                return Err(err(
                    "values",
                    format!(
                        "{} values; vocabulary {VOCAB_VERSION} has {SUMMARY_DIM}",
                        w.values.len()
                    ),
                ));
            }
            for (i, v) in w.values.iter().enumerate() {
                let Some(x) = v else { continue };
                let (lo, hi) = entry_range(i);
                if !x.is_finite() || *x < lo - 1e-9 || *x > hi + 1e-9 {
                    return Err(err(
                        format!("values[{i}]"),
                        format!("{x} outside [{lo:.4}, {hi:.4}]"),
                    ));
                }
            }
        }
        Record::Mouse(m) => {
            if m.features.len() != keyprint_mouse::N_FEATURES {
                return Err(err(
                    "features",
                    format!(
                        "{} values; expected {}",
                        m.features.len(),
                        keyprint_mouse::N_FEATURES
                    ),
                ));
            }
            if let Some(i) = m.features.iter().position(|x| !x.is_finite()) {
                return Err(err(format!("features[{i}]"), "not a finite number"));
            }
        }
        Record::Injection(j) => {
            if j.keystroke == 0 {
                return Err(err("keystroke", "keystrokes are numbered from 1"));
            }
            if !keyprint_injection::Reason::ALL
                .iter()
                .any(|r| r.name() == j.rule)
            {
                return Err(err("rule", format!("unknown rule {:?}", j.rule)));
            }
            if !j.score.is_finite() {
                return Err(err("score", "not a finite number"));
            }
        }
        Record::Device(d) => {
            if d.bus.is_empty() || d.bus.len() > 32 || !d.bus.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(err("bus", "must be 1 to 32 printable ASCII characters"));
            }
            for (name, v) in [("vendor", &d.vendor), ("product", &d.product)] {
                if let Some(v) = v
                    && !(v.len() == 4 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                {
                    return Err(err(name, "must be 4 hex digits"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{GLOBALS, entry_names};

    /// Every entry's range follows its name: holds (and hold quantiles) `[0, ln 2000]`, DDs (and DD
    /// quantiles) `[0, ln 5000]`, UDs the asinh range, shares `[0, 1]`.
    #[test]
    fn every_entry_has_the_range_of_its_kind() {
        let hold = (0.0, 2000f64.ln());
        let dd = (0.0, 5000f64.ln());
        for (i, name) in entry_names().iter().enumerate() {
            let want = if name.starts_with("hold") {
                hold
            } else if name.starts_with("dd") {
                dd
            } else if name.starts_with("ud") {
                ((-3000f64).asinh(), 250f64.asinh())
            } else {
                assert!(name.ends_with("_share"), "{name}");
                (0.0, 1.0)
            };
            assert_eq!(entry_range(i), want, "entry {i} ({name})");
        }
        assert_eq!(entry_range(GLOBALS + 8), dd);
        assert_eq!(entry_range(SUMMARY_DIM - 1), hold);
    }
}
