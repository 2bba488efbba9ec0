//! # keyprint-freetext
//!
//! Free-text keystroke verification: is the person typing *anything* the enrolled owner? No I/O.
//!
//! * [`model`]: per-feature (hold, DD/UD/UU digraph and trigraph latencies, with key-level and global
//!   back-off) Gaussian likelihood ratios of owner against a population (background) model, fused by
//!   logistic regression; `PopulationModel` (trained on other people), `FreeTextProfile` (an owner's
//!   template), `Cohort` (score normalisation).
//! * [`embed`]: [`embed::Embedding`], an LDA embedding of sequences learned on the population.
//! * [`continuous`]: [`ContinuousScorer`], a score after every keystroke over a sliding window.
//! * [`detector`]: [`FreeTextDetector`], the model behind [`keyprint_core::Detector`].
//! * [`summary`]: the same two-covariance comparison over the edge's content-free window summaries
//!   (`SummaryPopulation`, `SummaryProfile`, `SummaryDetector`) — what the server verifies.
//! * [`key_dependence`]: the humanized-timing check on window summaries ([`KeyDependence`]): is a
//!   window's timing tied to the key classes as its owner's is, or drawn independently of the keys?
//! * Pseudonymisation is `keyprint_core::pseudonym::KeyHasher` (HMAC-SHA256); the model only compares key
//!   identities, so it gives identical scores on hashed data.
//!
//! Scores follow keyprint's polarity: **higher = more impostor-like**.
#![deny(missing_docs)]

pub mod continuous;
pub mod detector;
pub mod embed;
pub mod key_dependence;
pub mod model;
pub mod summary;

pub use continuous::ContinuousScorer;
pub use detector::FreeTextDetector;
pub use key_dependence::{Family, KeyDependence, KeyDependenceConfig};
pub use model::{FreeTextConfig, FreeTextProfile, Fusion, PopulationModel};
pub use summary::{SummaryConfig, SummaryDetector, SummaryPopulation, SummaryProfile};
