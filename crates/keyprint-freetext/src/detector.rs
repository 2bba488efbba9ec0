//! The free-text model behind the one detector contract, [`keyprint_core::Detector`], with probes and
//! enrolment samples being key-event sequences (`Vec<KeyEvent>`, sorted by press time).

use crate::model::{FreeTextProfile, PopulationModel};
use keyprint_core::detector::{Detector, Enrolment, FitError, Template};
use keyprint_core::event::KeyEvent;
use std::sync::Arc;

/// Free-text verification over a population model trained beforehand on people disjoint from the owners
/// ([`PopulationModel::train`]). `fit` enrols the genuine sequences; [`Enrolment::background`] is not
/// used (the population is already in the model).
#[derive(Clone, Debug)]
pub struct FreeTextDetector {
    /// The shared population model.
    pub model: Arc<PopulationModel>,
}

impl Detector<Vec<KeyEvent>> for FreeTextDetector {
    fn name(&self) -> &str {
        "freetext-llr"
    }

    /// # Errors
    /// [`FitError::TooFewSamples`] when no genuine sequence holds a keystroke.
    fn fit(
        &self,
        enrolment: &Enrolment<'_, Vec<KeyEvent>>,
    ) -> Result<Box<dyn Template<Vec<KeyEvent>>>, FitError> {
        let seqs: Vec<&[KeyEvent]> = enrolment
            .genuine
            .iter()
            .map(Vec::as_slice)
            .filter(|s| !s.is_empty())
            .collect();
        if seqs.is_empty() {
            return Err(FitError::TooFewSamples { need: 1, got: 0 });
        }
        Ok(Box::new(self.model.enrol(&seqs)))
    }
}

impl Template<Vec<KeyEvent>> for FreeTextProfile {
    fn score(&self, probe: &Vec<KeyEvent>) -> f64 {
        FreeTextProfile::score(self, probe)
    }
}
