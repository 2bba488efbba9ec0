//! keyprint's own fixed-text detectors.

use crate::detector::{Detector, Enrolment, FeatureVector, FitError, Template, check_vectors};
use crate::stats::{mean, mean_abs_dev};

/// keyprint one-class detector (placeholder design, tuned below).
#[derive(Default)]
pub struct KeyprintOneClass;

struct Scaled {
    center: Vec<f64>,
    scale: Vec<f64>,
}
impl Template<FeatureVector> for Scaled {
    fn score(&self, x: &FeatureVector) -> f64 {
        x.iter()
            .zip(&self.center)
            .zip(&self.scale)
            .map(|((v, m), s)| (v - m).abs() / s)
            .sum()
    }
}

impl Detector<FeatureVector> for KeyprintOneClass {
    fn name(&self) -> &str {
        "keyprint"
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        check_vectors(e.genuine, 1)?;
        let m = mean(e.genuine);
        let a = mean_abs_dev(e.genuine, &m)
            .into_iter()
            .map(|v| v.max(1e-9))
            .collect();
        Ok(Box::new(Scaled {
            center: m,
            scale: a,
        }))
    }
}

/// keyprint detector with a background population.
#[derive(Default)]
pub struct KeyprintBackground;

impl Detector<FeatureVector> for KeyprintBackground {
    fn name(&self) -> &str {
        "keyprint-background"
    }
    fn uses_background(&self) -> bool {
        true
    }
    fn fit(
        &self,
        e: &Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        if e.background.is_empty() {
            return Err(FitError::NeedsBackground);
        }
        KeyprintOneClass.fit(e)
    }
}
