//! Device timing models: how a keystroke-injection device turns a [`Script`] into timed key events.
//!
//! * [`Timing::Stock`] — a stock USB Rubber Ducky-class device: a full-speed USB HID keyboard polled every
//!   [`FRAME_US`] (1 ms, `bInterval = 1`). Each keystroke is one report with the keys down (modifiers and key
//!   together) and the next report with them up, so every key is held one frame, and the next keystroke comes
//!   one frame after the release: a keystroke every 2 ms (500 keystrokes/s) plus any `STRING_DELAY`.
//!   Payload `$_JITTER_ENABLED` is honoured.
//! * [`Timing::Jitter`] — the same device with DuckyScript 3 jitter forced on: after every keystroke a random
//!   wait uniform in `0..=max_ms` whole milliseconds (as `$_JITTER_MAX`). Holds stay one frame, as on the device.
//! * [`Timing::Human`] — a careful attacker's device that draws every hold and every press-to-press interval
//!   (DD) independently from real human timing: the empirical quantile tables of
//!   [`HumanTiming::cmu`] (every hold and DD of the CMU benchmark, Killourhy & Maxion 2009; see
//!   `data/README.md`). Combos and shifted characters press the modifiers first, each one DD sample before
//!   the next key, and release them half a hold sample after the main key (an assumption: CMU has no
//!   modifier timings); the next keystroke never starts before every modifier is up. Jitter settings are
//!   ignored (the sampled delays replace them). `DELAY`s are kept as written.
//!
//! Time 0 is the moment the device starts its payload (taken as the time it was attached).

use crate::ducky::{DEFAULT_JITTER_MAX_MS, Script, Step};
use keyprint_core::event::{KeyEvent, KeyId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

/// One USB full-speed HID polling frame, µs.
pub const FRAME_US: i64 = 1_000;

/// A device timing model (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timing {
    /// Stock device: 1-frame holds, a keystroke every 2 frames.
    Stock,
    /// Stock device with jitter `0..=max_ms` ms after every keystroke.
    Jitter {
        /// `$_JITTER_MAX`, ms.
        max_ms: u64,
    },
    /// Holds and DDs sampled from human data.
    Human,
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Timing::Stock => f.write_str("stock"),
            Timing::Jitter { max_ms } => write!(f, "jitter:{max_ms}"),
            Timing::Human => f.write_str("human"),
        }
    }
}

impl FromStr for Timing {
    type Err = String;
    /// `stock`, `jitter:MS` or `human`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stock" => Ok(Timing::Stock),
            "human" => Ok(Timing::Human),
            _ => match s.strip_prefix("jitter:").map(str::parse::<u64>) {
                Some(Ok(max_ms)) if max_ms <= 60_000 => Ok(Timing::Jitter { max_ms }),
                _ => Err(format!(
                    "expected stock, jitter:MS (0..=60000) or human, found {s:?}"
                )),
            },
        }
    }
}

/// Empirical human timing: quantiles of hold and DD times, ms, at the probabilities in `p`
/// (sampled by inverse-CDF with linear interpolation).
#[derive(Clone, Debug, PartialEq)]
pub struct HumanTiming {
    /// Probabilities, increasing, in (0, 1).
    pub p: Vec<f64>,
    /// Hold-time quantiles, ms.
    pub hold_ms: Vec<f64>,
    /// Press-to-press (DD) quantiles, ms.
    pub dd_ms: Vec<f64>,
}

/// The committed CMU table (`data/cmu-human-timing.csv`).
pub const CMU_TABLE: &str = include_str!("../data/cmu-human-timing.csv");

impl HumanTiming {
    /// Parses a `p,hold_ms,dd_ms` table (header line, then increasing rows).
    ///
    /// # Errors
    /// A message naming the first bad line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut t = HumanTiming {
            p: Vec::new(),
            hold_ms: Vec::new(),
            dd_ms: Vec::new(),
        };
        for (i, line) in text.lines().enumerate().skip(1) {
            let f: Vec<Result<f64, _>> = line.split(',').map(|x| x.trim().parse::<f64>()).collect();
            match f.as_slice() {
                [Ok(p), Ok(h), Ok(d)]
                    if p.is_finite()
                        && h.is_finite()
                        && d.is_finite()
                        && t.p.last().is_none_or(|l| p > l)
                        && t.hold_ms.last().is_none_or(|l| h >= l)
                        && t.dd_ms.last().is_none_or(|l| d >= l) =>
                {
                    t.p.push(*p);
                    t.hold_ms.push(*h);
                    t.dd_ms.push(*d);
                }
                _ => {
                    return Err(format!(
                        "line {}: expected increasing p,hold_ms,dd_ms",
                        i + 1
                    ));
                }
            }
        }
        if t.p.len() < 2 {
            return Err("need at least two rows".into());
        }
        Ok(t)
    }

    /// The probabilities of a derived table: 0.001, 0.01, 0.02, …, 0.99, 0.999 (101 rows).
    pub fn table_probabilities() -> Vec<f64> {
        (0..=100)
            .map(|k| match k {
                0 => 0.001,
                100 => 0.999,
                _ => k as f64 / 100.0,
            })
            .collect()
    }

    /// A table from raw samples (ms): the quantiles (linear interpolation between order statistics) of
    /// `holds_ms` and `dds_ms` at [`HumanTiming::table_probabilities`], rounded to 0.1 ms. `None` when
    /// either is empty or holds a non-finite value.
    pub fn from_samples(mut holds_ms: Vec<f64>, mut dds_ms: Vec<f64>) -> Option<HumanTiming> {
        if holds_ms.is_empty()
            || dds_ms.is_empty()
            || holds_ms.iter().chain(&dds_ms).any(|v| !v.is_finite())
        {
            return None;
        }
        holds_ms.sort_by(f64::total_cmp);
        dds_ms.sort_by(f64::total_cmp);
        let p = Self::table_probabilities();
        let q =
            |v: &[f64], p: f64| (keyprint_core::stats::quantile_sorted(v, p) * 10.0).round() / 10.0;
        Some(HumanTiming {
            hold_ms: p.iter().map(|&x| q(&holds_ms, x)).collect(),
            dd_ms: p.iter().map(|&x| q(&dds_ms, x)).collect(),
            p,
        })
    }

    /// The table as `p,hold_ms,dd_ms` text (the format [`HumanTiming::parse`] reads).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("p,hold_ms,dd_ms\n");
        for ((p, h), d) in self.p.iter().zip(&self.hold_ms).zip(&self.dd_ms) {
            out.push_str(&format!("{p:.3},{h:.1},{d:.1}\n"));
        }
        out
    }

    /// The committed table derived from the CMU benchmark (parsed once).
    pub fn cmu() -> &'static HumanTiming {
        static T: OnceLock<HumanTiming> = OnceLock::new();
        T.get_or_init(|| HumanTiming::parse(CMU_TABLE).expect("committed table is valid"))
    }

    fn sample(&self, q: &[f64], u: f64) -> f64 {
        let u = u.clamp(self.p[0], self.p[self.p.len() - 1]);
        let j = self
            .p
            .partition_point(|&p| p < u)
            .clamp(1, self.p.len() - 1);
        let (p0, p1) = (self.p[j - 1], self.p[j]);
        q[j - 1] + (q[j] - q[j - 1]) * (u - p0) / (p1 - p0)
    }

    /// A hold time, µs, for a uniform `u` in [0, 1).
    pub fn hold_us(&self, u: f64) -> i64 {
        (self.sample(&self.hold_ms, u) * 1000.0).round().max(1.0) as i64
    }

    /// A DD time, µs, for a uniform `u` in [0, 1).
    pub fn dd_us(&self, u: f64) -> i64 {
        (self.sample(&self.dd_ms, u) * 1000.0).round().max(1.0) as i64
    }
}

struct Renderer<'a> {
    timing: Timing,
    human: &'a HumanTiming,
    rng: ChaCha8Rng,
    t: i64,
    jitter_on: bool,
    jitter_max_ms: u64,
    events: Vec<KeyEvent>,
    held: Vec<(&'static str, i64)>,
}

impl Renderer<'_> {
    fn push(&mut self, key: &'static str, press: i64, release: i64) {
        self.events.push(KeyEvent {
            key: KeyId::code(key),
            press_us: press,
            release_us: release.max(press),
        });
    }

    fn jitter_us(&mut self) -> i64 {
        let max = match self.timing {
            Timing::Jitter { max_ms } => Some(max_ms),
            Timing::Stock if self.jitter_on => Some(self.jitter_max_ms),
            _ => None,
        };
        max.map_or(0, |m| self.rng.random_range(0..=m) as i64 * 1000)
    }

    fn stroke(&mut self, keys: &[&'static str], extra_delay_ms: u64) {
        let extra = extra_delay_ms as i64 * 1000;
        match self.timing {
            Timing::Stock | Timing::Jitter { .. } => {
                let (p, r) = (self.t, self.t + FRAME_US);
                for &k in keys {
                    self.push(k, p, r);
                }
                self.t = r + FRAME_US + extra + self.jitter_us();
            }
            Timing::Human => {
                let (main, mods) = keys.split_last().expect("a stroke has a key");
                let mut p = self.t;
                let mut mod_press = Vec::new();
                for _ in mods {
                    mod_press.push(p);
                    p += self.human.dd_us(self.rng.random());
                }
                let release = p + self.human.hold_us(self.rng.random());
                self.push(main, p, release);
                let mut last_up = release;
                for (&m, &mp) in mods.iter().zip(&mod_press) {
                    let up = release + self.human.hold_us(self.rng.random()) / 2;
                    self.push(m, mp, up);
                    last_up = last_up.max(up);
                }
                let next = p + self.human.dd_us(self.rng.random());
                self.t = if mods.is_empty() {
                    next
                } else {
                    next.max(last_up + FRAME_US)
                } + extra;
            }
        }
    }

    fn advance_after_edge(&mut self) {
        self.t += match self.timing {
            Timing::Human => self.human.dd_us(self.rng.random()),
            _ => FRAME_US,
        };
    }
}

/// Renders a script under a timing model. `seed` fixes the random draws (jitter, human samples), so the
/// same `(script, timing, seed)` always gives the same events. Events are sorted by press time (modifiers of
/// a combo before its key); keys still held at the end are released one frame after the last action.
pub fn render(script: &Script, timing: Timing, seed: u64) -> Vec<KeyEvent> {
    render_with(script, timing, seed, HumanTiming::cmu())
}

/// [`render`] with an explicit human timing table.
pub fn render_with(
    script: &Script,
    timing: Timing,
    seed: u64,
    human: &HumanTiming,
) -> Vec<KeyEvent> {
    let mut r = Renderer {
        timing,
        human,
        rng: ChaCha8Rng::seed_from_u64(seed),
        t: 0,
        jitter_on: false,
        jitter_max_ms: DEFAULT_JITTER_MAX_MS,
        events: Vec::new(),
        held: Vec::new(),
    };
    for step in &script.steps {
        match step {
            Step::Stroke {
                keys,
                extra_delay_ms,
            } => r.stroke(keys, *extra_delay_ms),
            Step::Delay(ms) => r.t += *ms as i64 * 1000,
            Step::Hold(k) => {
                if !r.held.iter().any(|(h, _)| h == k) {
                    let t = r.t;
                    r.held.push((k, t));
                    r.advance_after_edge();
                }
            }
            Step::Release(k) => {
                if let Some(i) = r.held.iter().position(|(h, _)| h == k) {
                    let (k, p) = r.held.remove(i);
                    let t = r.t;
                    r.push(k, p, t);
                    r.advance_after_edge();
                }
            }
            Step::Jitter(on) => r.jitter_on = *on,
            Step::JitterMax(ms) => r.jitter_max_ms = *ms,
        }
    }
    let end = r.t;
    for (k, p) in std::mem::take(&mut r.held) {
        r.push(k, p, end.max(p + FRAME_US));
    }
    r.events.sort_by_key(|e| e.press_us);
    r.events
}
