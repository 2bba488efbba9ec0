//! # keyprint-core
//!
//! The core of keyprint, a continuous behavioral-authentication system: the event model, behavioral
//! features, the detector contract, the fixed-text detectors, and the evaluation module. It does no I/O,
//! reads no clock and has no async code: time arrives as event timestamps in microseconds.
//!
//! Score polarity, everywhere: **higher = more impostor-like**.
//!
//! ```
//! use keyprint_core::detector::{Detector, Enrolment};
//! use keyprint_core::detectors::ManhattanScaled;
//! use keyprint_core::eval::roc;
//!
//! // Three enrolment samples of a 2-feature template (ms), one genuine and one impostor probe.
//! let enrol = vec![vec![100.0, 200.0], vec![110.0, 190.0], vec![90.0, 210.0]];
//! let template = ManhattanScaled.fit(&Enrolment::one_class(&enrol)).unwrap();
//! let genuine = template.score(&vec![101.0, 201.0]);
//! let impostor = template.score(&vec![160.0, 120.0]);
//! assert!(genuine < impostor);
//! assert_eq!(roc(&[genuine], &[impostor]).unwrap().eer(), 0.0);
//! ```
#![deny(missing_docs)]

pub mod detector;
pub mod detectors;
pub mod eval;
pub mod event;
pub mod keystroke;
pub mod pseudonym;
pub mod stats;

pub use detector::{Detector, Enrolment, FeatureVector, FitError, Template};
pub use event::{KeyEvent, KeyId, MouseButton, MouseEvent, MouseEventKind, Origin, Stream};
