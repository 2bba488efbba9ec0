//! # keyprint-datasets
//!
//! Readers that map public data sets (CMU keystroke benchmark, Balabit mouse challenge, Aalto 136M
//! keystrokes) and keyprint's generic JSON Lines / CSV event files onto [`keyprint_core`] types.
//!
//! Every reader returns [`Loaded`]: the data plus a [`ReadReport`] that names each rejected row by file,
//! line and field, and counts every documented repair rule that fired. Nothing is dropped silently.
#![deny(missing_docs)]

pub mod aalto;
pub mod balabit;
pub mod cmu;
pub mod fuzzing;
pub mod generic;
pub mod report;

pub use report::{Loaded, ReadError, ReadReport, RowIssue};

/// The environment variable that points at the unpacked public data sets (`../shared/datasets/unpack DIR`).
pub const DATASETS_ENV: &str = "KEYPRINT_DATASETS";

/// The data-set root from `KEYPRINT_DATASETS`, if set and existing. Dataset-backed tests call this and
/// print that they were skipped when it returns `None`.
pub fn datasets_root() -> Option<std::path::PathBuf> {
    let p = std::path::PathBuf::from(std::env::var_os(DATASETS_ENV)?);
    p.is_dir().then_some(p)
}
