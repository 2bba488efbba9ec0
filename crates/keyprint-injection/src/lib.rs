//! # keyprint-injection
//!
//! Keystroke-injection detection (USB Rubber Ducky and humanized variants), without I/O:
//!
//! * [`detector`] — the [`StreamDetector`] interface over one device's [`KeyEvent`](keyprint_core::KeyEvent)
//!   stream and keyprint's [`InjectionDetector`] (verdict + named [`Reason`] + keystroke index, as early as
//!   possible; allowed devices; autorepeat-safe; optional owner free-text profile);
//! * [`baselines`] — UKIP's and DuckHunt's published rules behind the same interface;
//! * [`context`] — the population key-context check (is timing independent of the keys typed?);
//! * [`humanized`] — the humanized-timing check (the key context of DD, UD, trigraph and hold timing that
//!   an i.i.d. delay sampler cannot reproduce);
//! * [`ducky`] — a DuckyScript 3 (and 1) interpreter: parse, then a bounded run on a simulated device and
//!   host (errors with line and column);
//! * [`timing`] — device timing models (stock, jitter, human timing sampled from the CMU table in `data/`);
//! * [`keymap`] — US layout to W3C `KeyboardEvent.code`.
//!
//! ```
//! use keyprint_injection::{ducky, timing::{render, Timing}};
//! use keyprint_injection::detector::{InjectionConfig, InjectionDetector, StreamDetector};
//!
//! let script = ducky::parse("GUI r\nDELAY 300\nSTRINGLN cmd").unwrap();
//! let events = render(&script, Timing::Stock, 1);
//! let mut det = InjectionDetector::new(InjectionConfig::default(), None);
//! let verdict = events.iter().find_map(|e| det.observe(e)).unwrap();
//! assert!(verdict.keystroke <= 3);
//! ```
#![deny(missing_docs)]

pub mod baselines;
pub mod context;
pub mod detector;
pub mod ducky;
pub mod humanized;
pub mod keymap;
pub mod timing;

pub use baselines::{DuckHunt, Ukip};
pub use detector::{
    InjectionConfig, InjectionDetector, OwnerProfile, Reason, StreamDetector, Verdict, WindowCheck,
    run_stream,
};
