//! Fixed-length-vector detectors: the one-class anomaly detectors of Killourhy & Maxion (DSN 2009),
//! re-implemented from the paper's descriptions, and keyprint's own.
//!
//! Every detector implements [`Detector<FeatureVector>`]; scores are anomaly scores (higher = more
//! impostor-like). Inputs are vectors of shape `(n_features,)`; enrolment is `(n_samples, n_features)`.

mod distance;
mod keyprint;
mod svm;

pub use distance::{
    Euclidean, EuclideanNormed, KMeans, Mahalanobis, MahalanobisNormed, Manhattan,
    ManhattanFiltered, ManhattanScaled, NearestNeighborMahalanobis, OutlierCount,
};
pub use keyprint::{KeyprintBackground, KeyprintOneClass};
pub use svm::OneClassSvm;

use crate::detector::{Detector, FeatureVector};

/// The Killourhy & Maxion (2009) one-class detectors that keyprint re-implements, with the mean EER the
/// paper reports for each on the CMU benchmark (Table 2).
pub fn killourhy_maxion() -> Vec<(Box<dyn Detector<FeatureVector>>, f64)> {
    vec![
        (Box::new(ManhattanScaled), 0.0962),
        (Box::new(NearestNeighborMahalanobis), 0.0996),
        (Box::new(OutlierCount::default()), 0.1022),
        (Box::new(OneClassSvm::default()), 0.1025),
        (Box::new(Mahalanobis), 0.1101),
        (Box::new(MahalanobisNormed), 0.1101),
        (Box::new(ManhattanFiltered), 0.1360),
        (Box::new(Manhattan), 0.1529),
        (Box::new(Euclidean), 0.1706),
        (Box::new(EuclideanNormed), 0.2153),
        (Box::new(KMeans::default()), 0.3722),
    ]
}
