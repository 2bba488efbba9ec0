//! # keyprint-mouse
//!
//! Mouse-dynamics verification (no I/O): raw [`keyprint_core::MouseEvent`]s are cleaned of RDP artefacts
//! and cut into actions — MouseMove, PointClick, DragDrop — by documented, counted rules
//! ([`segment`], after Ahmed & Traore 2007 and Antal & Egyed-Zsigmond 2019); each action becomes a
//! fixed-length feature vector ([`features`]); per-account models implement the one detector contract
//! [`keyprint_core::Detector`] over those vectors ([`models`]: a one-class model and a two-class random
//! forest, [`forest`]); and [`session::SessionScorer`] aggregates action scores into a session score
//! available after every action, for benchmarks and the server alike.
//!
//! Score polarity, as everywhere in keyprint: **higher = more impostor-like**.
#![deny(missing_docs)]

pub mod features;
pub mod forest;
pub mod models;
pub mod segment;
pub mod session;

pub use features::{N_FEATURES, action_features};
pub use models::{MouseForest, MouseOneClass, OneClassScore};
pub use segment::{Action, ActionKind, SegmentCounts, SegmentRules, Segmenter};
pub use session::{SessionScorer, running_scores, window_scores};
