//! # keyprint-bench
//!
//! The benchmark protocols behind `keyprint bench …`: each reads a public data set through
//! `keyprint-datasets`, runs detectors from the engines through the one [`keyprint_core::Detector`]
//! contract, evaluates with [`keyprint_core::eval`], prints a table beside the published figures, and
//! writes JSON, Markdown and ROC/DET plots (PNG, SVG) to an output folder.
#![deny(missing_docs)]

pub mod aalto;
pub mod balabit;
pub mod cmu;
pub mod corpus;
pub mod humanized;
pub mod injection;
pub mod net;
pub mod plot;
pub mod privacy;
pub mod table;
