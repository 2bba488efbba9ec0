//! The one detector contract, shared by every engine (fixed text, free text, mouse, injection).
//!
//! A [`Detector`] holds settings only; [`Detector::fit`] learns a [`Template`] (the biometric reference)
//! from an [`Enrolment`]; [`Template::score`] compares a probe with it and returns a **comparison score in
//! which higher means more impostor-like** (an anomaly score, as in Killourhy & Maxion 2009 and PyOD).
//! Thresholding is not the detector's business: the evaluation module and the server's trust model do it.

use thiserror::Error;

/// A fixed-length feature vector (for example the 31 CMU timings in ms, or one mouse action's features).
pub type FeatureVector = Vec<f64>;

/// Enrolment data for one subject.
#[derive(Clone, Copy, Debug)]
pub struct Enrolment<'a, S> {
    /// The owner's samples, oldest first.
    pub genuine: &'a [S],
    /// Samples of other people (a background population), grouped per person; empty for one-class
    /// detectors or when none is available. Never contains the owner.
    pub background: &'a [Vec<S>],
}

impl<'a, S> Enrolment<'a, S> {
    /// One-class enrolment: the owner's samples only.
    pub fn one_class(genuine: &'a [S]) -> Self {
        Enrolment {
            genuine,
            background: &[],
        }
    }
}

/// Why a template could not be learned.
#[derive(Clone, Debug, PartialEq, Error)]
pub enum FitError {
    /// Not enough enrolment samples for this method.
    #[error("need at least {need} enrolment samples, got {got}")]
    TooFewSamples {
        /// Minimum needed.
        need: usize,
        /// Provided.
        got: usize,
    },
    /// Samples have different lengths.
    #[error("sample {index} has {got} features, expected {expected}")]
    Dimension {
        /// Index of the offending sample.
        index: usize,
        /// Length of the first sample.
        expected: usize,
        /// Length of this one.
        got: usize,
    },
    /// A sample holds NaN or an infinity.
    #[error("sample {index} holds a non-finite value")]
    NonFinite {
        /// Index of the offending sample.
        index: usize,
    },
    /// The method needs background data and none was given.
    #[error("this detector needs background (other subjects') data")]
    NeedsBackground,
}

/// Settings of a detection method; fitting them to enrolment data gives a [`Template`].
pub trait Detector<S>: Send + Sync {
    /// Short, stable name, used in reports (e.g. `"manhattan-scaled"`).
    fn name(&self) -> &str;
    /// True when [`fit`](Self::fit) uses [`Enrolment::background`].
    fn uses_background(&self) -> bool {
        false
    }
    /// Learn a template.
    ///
    /// # Errors
    /// [`FitError`] on too few, ragged or non-finite samples.
    fn fit(&self, enrolment: &Enrolment<'_, S>) -> Result<Box<dyn Template<S>>, FitError>;
}

/// A learned biometric reference that scores probes.
pub trait Template<S>: Send + Sync {
    /// Comparison score of `probe` against this template: **higher = more impostor-like**; finite for a
    /// well-formed probe. A malformed probe — for vectors, one whose length differs from the enrolment's or
    /// that holds a non-finite value — scores `f64::INFINITY` (fail closed: the most impostor-like score),
    /// and is never truncated or padded to fit.
    fn score(&self, probe: &S) -> f64;
}

/// True when `probe` can be compared with a template enrolled on vectors of length `dim`: same length, all
/// values finite. Fixed-vector templates return `f64::INFINITY` for probes that fail this check.
pub fn probe_fits(probe: &[f64], dim: usize) -> bool {
    probe.len() == dim && probe.iter().all(|v| v.is_finite())
}

/// Checks that `samples` are non-empty (at least `need`), equally long and finite; returns their length.
///
/// # Errors
/// [`FitError`] describing the first problem.
pub fn check_vectors(samples: &[FeatureVector], need: usize) -> Result<usize, FitError> {
    if samples.len() < need.max(1) {
        return Err(FitError::TooFewSamples {
            need: need.max(1),
            got: samples.len(),
        });
    }
    let dim = samples[0].len();
    for (index, s) in samples.iter().enumerate() {
        if s.len() != dim {
            return Err(FitError::Dimension {
                index,
                expected: dim,
                got: s.len(),
            });
        }
        if s.iter().any(|v| !v.is_finite()) {
            return Err(FitError::NonFinite { index });
        }
    }
    Ok(dim)
}
