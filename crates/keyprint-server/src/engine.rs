//! The engine seam: how a scoring engine (fixed text, free text, mouse, injection) plugs into the server.
//!
//! The server owns sessions, users' reference sets, enrolment, calibration, fusion and storage; an engine
//! owns only its behavioural logic, which lives in its own crate behind `keyprint_core::Detector`:
//!
//! * [`Engine::new_session`] gives a per-session [`EngineSession`] that picks its records out of each
//!   batch of content-free records (made on the device by `keyprint-edge`) and turns them into
//!   [`Observation`]s — samples (feature vectors of timings, never typed text) and, for user-independent
//!   engines, a comparison score;
//! * for per-user engines ([`Engine::per_user`]) the server collects enrolment samples and calls
//!   [`Engine::fit`] to learn the user's template, then scores later samples with it;
//! * every score has **higher = more impostor-like** (the core's polarity) and is mapped to evidence by the
//!   engine's [`Calibration`].

use crate::calibration::Calibration;
use keyprint_core::detector::{Detector, FeatureVector, FitError, Template};
use keyprint_core::event::KeyId;
use keyprint_core::keystroke::FixedTextLayout;
use keyprint_edge::Record;
use keyprint_wire::ReasonCode;

/// One completed sample seen by an engine in a session.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The sample's features (timings only). Per-user engines always set it; it feeds enrolment,
    /// template updates and replay detection.
    pub sample: Option<FeatureVector>,
    /// A comparison score computed by the engine itself (user-independent engines); per-user engines
    /// leave it `None` and the server scores `sample` with the user's template.
    pub score: Option<f64>,
    /// Event-clock time of the sample's last event, µs.
    pub at_us: i64,
    /// Actions (typings, keystrokes, mouse actions) the observation summarises, at least 1; counted
    /// towards the session's confidence and the alert's minimum-evidence rule.
    pub actions: u64,
    /// What the engine saw, in words (empty for plain samples).
    pub detail: String,
}

/// The tenant's fixed phrase as the server knows it: its public id and length (the phrase itself stays on
/// the devices).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhraseSetting {
    /// Phrase id.
    pub id: String,
    /// Keys in the phrase, 2 to 256.
    pub keys: usize,
}

/// Tenant settings an engine may need to start a session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantSettings {
    /// The fixed phrase (see `keyprint_wire::FixedTextPhrase`).
    pub phrase: Option<PhraseSetting>,
}

/// A scoring engine.
pub trait Engine: Send + Sync {
    /// Stable name (`"fixed-text"`, `"mouse"`, …) used in storage and reports.
    fn name(&self) -> &'static str;
    /// The reason named when this engine's evidence lowers trust.
    fn reason(&self) -> ReasonCode;
    /// True when the engine compares with a per-user template (learned by [`fit`](Self::fit)).
    fn per_user(&self) -> bool;
    /// Enrolment samples needed before [`fit`](Self::fit) is called.
    fn enrolment_samples(&self) -> usize;
    /// Per-session state, or `None` when the tenant lacks what the engine needs (e.g. no phrase).
    fn new_session(&self, tenant: &TenantSettings) -> Option<Box<dyn EngineSession>>;
    /// Learns a user's template from reference samples (oldest first).
    ///
    /// # Errors
    /// [`FitError`] from the detector.
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError>;
    /// Learns `user`'s template in `tenant` (an engine whose population is the tenant's own people needs
    /// to know whose samples these are); by default [`fit`](Self::fit).
    ///
    /// # Errors
    /// [`FitError`] from the detector.
    fn fit_for(
        &self,
        tenant: &str,
        user: &str,
        samples: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let _ = (tenant, user);
        self.fit(samples)
    }
    /// Like [`fit_for`](Self::fit_for) but for a check only: the samples are not recorded anywhere (e.g.
    /// not added to the tenant's population). By default [`fit`](Self::fit).
    ///
    /// # Errors
    /// [`FitError`] from the detector.
    fn fit_check(
        &self,
        tenant: &str,
        user: &str,
        samples: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let _ = (tenant, user);
        self.fit(samples)
    }
    /// Maps this engine's comparison scores to log-likelihood ratios.
    fn calibration(&self) -> &Calibration;
    /// Forgetting factor `λ` of this engine's evidence channel, per observation (see [`crate::trust`]).
    fn forgetting(&self) -> f64 {
        0.85
    }
    /// A second check of this engine's samples, learned from the user's reference samples, whose score is
    /// `−LLR` of machine-made input on the injection channel (free text: the humanized-timing check
    /// `keyprint_freetext::KeyDependence`); `None` (the default) when the engine has none or the samples
    /// are too few.
    fn fit_humanized(
        &self,
        _samples: &[FeatureVector],
    ) -> Option<Box<dyn Template<FeatureVector>>> {
        None
    }
    /// When `sample` is a replay with jitter of one of the user's `stored` samples — closer to it than the
    /// owner's own genuine samples ever come to each other — the distance and the rule's bound, for the
    /// alert's detail; `None` otherwise. Default: no near-duplicate rule (only exact replays, which the
    /// service checks for every engine by digest).
    fn near_duplicate(&self, _stored: &[FeatureVector], _sample: &[f64]) -> Option<(f64, f64)> {
        None
    }
}

/// An engine's state within one session.
pub trait EngineSession: Send {
    /// Feeds a batch of checked records (in the order the edge emitted them) and returns the engine's
    /// observations.
    fn push(&mut self, records: &[Record]) -> Vec<Observation>;
}

/// The fixed-text engine: typings of the tenant's phrase (e.g. a password), which the edge turned into
/// hold/DD/UD vectors by position (`keyprint_core::keystroke`), compared with the user's template by a
/// `keyprint_core` one-class detector (default [`KeyprintOneClass`](keyprint_core::detectors::KeyprintOneClass)).
pub struct FixedTextEngine {
    detector: DetectorFactory,
    calibration: Calibration,
    enrolment_samples: usize,
}

impl FixedTextEngine {
    /// An engine with a detector factory (phrase length in keys → detector), its calibration and the
    /// enrolment size (samples).
    pub fn new(
        detector: DetectorFactory,
        calibration: Calibration,
        enrolment_samples: usize,
    ) -> Self {
        FixedTextEngine {
            detector,
            calibration,
            enrolment_samples,
        }
    }

    /// The detector's name.
    pub fn detector_name(&self) -> String {
        (self.detector)(2).name().to_string()
    }
}

/// Builds the detector for a phrase of `n` keys (a detector may depend on the layout, e.g. which
/// features it keeps).
pub type DetectorFactory = Box<dyn Fn(usize) -> Box<dyn Detector<FeatureVector>> + Send + Sync>;

/// The default fixed-text detector: [`KeyprintOneClass::for_layout`](keyprint_core::detectors::KeyprintOneClass::for_layout)
/// for a phrase of `n` keys.
pub fn keyprint_detector(n: usize) -> Box<dyn Detector<FeatureVector>> {
    let n = n.max(2);
    let layout = FixedTextLayout::new(
        (0..n as u64).map(KeyId::Hashed).collect(),
        (0..n).map(|i| format!("k{i}")).collect(),
    );
    Box::new(keyprint_core::detectors::KeyprintOneClass::for_layout(
        &layout,
    ))
}

impl Engine for FixedTextEngine {
    fn name(&self) -> &'static str {
        "fixed-text"
    }
    fn reason(&self) -> ReasonCode {
        ReasonCode::KeystrokeMismatch
    }
    fn per_user(&self) -> bool {
        true
    }
    fn enrolment_samples(&self) -> usize {
        self.enrolment_samples
    }
    fn new_session(&self, tenant: &TenantSettings) -> Option<Box<dyn EngineSession>> {
        let phrase = tenant.phrase.clone().filter(|p| p.keys >= 2)?;
        Some(Box::new(FixedTextSession { phrase }))
    }
    /// Genuine CMU typings of one person never come within 0.44 of their per-feature sd of each other
    /// ([`crate::service::near_duplicate`]).
    fn near_duplicate(&self, stored: &[FeatureVector], sample: &[f64]) -> Option<(f64, f64)> {
        crate::service::near_duplicate(stored, sample)
            .map(|d| (d, crate::service::NEAR_DUPLICATE_SD))
    }
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let n = samples.first().map_or(2, |s| s.len().div_ceil(3));
        (self.detector)(n).fit(&keyprint_core::Enrolment::one_class(samples))
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
}

/// Takes the fixed-text records of the tenant's current phrase (id and length); others are not scored.
struct FixedTextSession {
    phrase: PhraseSetting,
}

impl EngineSession for FixedTextSession {
    fn push(&mut self, records: &[Record]) -> Vec<Observation> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::FixedText(f)
                    if f.phrase == self.phrase.id && f.vector.len() == 3 * self.phrase.keys - 2 =>
                {
                    Some(Observation {
                        sample: Some(f.vector.clone()),
                        score: None,
                        at_us: f.at_us,
                        actions: 1,
                        detail: String::new(),
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// The injection engine: the verdicts of keyprint-injection's streaming
/// [`InjectionDetector`](keyprint_injection::InjectionDetector), which runs on the device (in `keyprint-edge`,
/// where it sees every key's real code and the device's attach time). User-independent: each verdict
/// record becomes one observation with the detector's score and the rule that fired; the calibration turns
/// a verdict into a fixed LLR.
pub struct InjectionEngine {
    calibration: Calibration,
}

impl InjectionEngine {
    /// An engine with the verdict's calibration.
    pub fn new(calibration: Calibration) -> Self {
        InjectionEngine { calibration }
    }
}

impl Engine for InjectionEngine {
    fn name(&self) -> &'static str {
        "injection"
    }
    fn reason(&self) -> ReasonCode {
        ReasonCode::Injection
    }
    fn per_user(&self) -> bool {
        false
    }
    fn enrolment_samples(&self) -> usize {
        0
    }
    fn new_session(&self, _tenant: &TenantSettings) -> Option<Box<dyn EngineSession>> {
        Some(Box::new(InjectionSession))
    }
    fn fit(
        &self,
        _samples: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        Err(FitError::TooFewSamples { need: 1, got: 0 })
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
}

struct InjectionSession;

impl EngineSession for InjectionSession {
    fn push(&mut self, records: &[Record]) -> Vec<Observation> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Injection(v) => Some(Observation {
                    sample: None,
                    score: Some(v.score),
                    at_us: v.at_us,
                    actions: v.keystroke.max(1),
                    detail: format!("{} at keystroke {} (on device)", v.rule, v.keystroke),
                }),
                _ => None,
            })
            .collect()
    }
}

/// The mouse engine: on the device, keyprint-mouse's streaming [`Segmenter`](keyprint_mouse::Segmenter)
/// cut the mouse stream into MouseMove / PointClick / DragDrop actions and each became keyprint-mouse's
/// per-action feature vector (a mouse record); the user's template is keyprint-mouse's one-class model
/// ([`MouseOneClass`](keyprint_mouse::MouseOneClass), scores in [0, 1]). The session-level aggregation is
/// the server's fusion, not keyprint-mouse's running mean.
pub struct MouseEngine {
    calibration: Calibration,
    enrolment_samples: usize,
}

impl MouseEngine {
    /// An engine with its calibration and the enrolment size (actions).
    pub fn new(calibration: Calibration, enrolment_samples: usize) -> Self {
        MouseEngine {
            calibration,
            enrolment_samples,
        }
    }
}

impl Engine for MouseEngine {
    fn name(&self) -> &'static str {
        "mouse"
    }
    fn reason(&self) -> ReasonCode {
        ReasonCode::MouseMismatch
    }
    fn per_user(&self) -> bool {
        true
    }
    fn enrolment_samples(&self) -> usize {
        self.enrolment_samples
    }
    fn new_session(&self, _tenant: &TenantSettings) -> Option<Box<dyn EngineSession>> {
        Some(Box::new(MouseSession))
    }
    /// Checks first that the enrolment can judge its owner: a template of its first two thirds scores the
    /// last third; when those own actions get a negative mean LLR, the enrolment is too small (or too
    /// varied) to judge and the template is [`LowConfidence`]: every action scores neutral (LLR 0) — no
    /// evidence, never a false alarm — until a refit on more reference actions passes the check.
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let det = keyprint_mouse::MouseOneClass::default();
        let cut = samples.len() * 2 / 3;
        if cut >= 2 && samples.len() - cut >= 2 {
            let t = det.fit(&keyprint_core::Enrolment::one_class(&samples[..cut]))?;
            let own: f64 = samples[cut..]
                .iter()
                .map(|x| self.calibration.llr(t.score(x)))
                .sum::<f64>()
                / (samples.len() - cut) as f64;
            if !(own >= 0.0) {
                return Ok(Box::new(LowConfidence(self.calibration.neutral_score())));
            }
        }
        det.fit(&keyprint_core::Enrolment::one_class(samples))
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
    /// Single actions carry weak evidence: a half-life of about 23 actions.
    fn forgetting(&self) -> f64 {
        0.97
    }
}

/// A template whose enrolment cannot judge its owner: every probe gets the score the calibration maps to
/// LLR 0 (low confidence, no evidence either way).
pub struct LowConfidence(pub f64);

impl Template<FeatureVector> for LowConfidence {
    fn score(&self, _probe: &FeatureVector) -> f64 {
        self.0
    }
}

struct MouseSession;

impl EngineSession for MouseSession {
    fn push(&mut self, records: &[Record]) -> Vec<Observation> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Mouse(m) => Some(Observation {
                    sample: Some(m.features.clone()),
                    score: None,
                    at_us: m.at_us,
                    actions: 1,
                    detail: String::new(),
                }),
                _ => None,
            })
            .collect()
    }
}

/// A window summary as a feature vector: absent entries become `NaN` (what
/// `keyprint_freetext::summary` reads as absent).
pub fn summary_vector(values: &[Option<f64>]) -> FeatureVector {
    values.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

/// The free-text engine: each window summary the edge sent (`keyprint_edge::vocab`) is one sample,
/// compared with the user's template learned by [`TenantPopulations`](crate::population::TenantPopulations):
/// against the tenant's own people once enough of them enrolled, population-free before (cold start).
/// Templates return `−LLR`, so the engine's calibration is [`passthrough`](crate::population::passthrough).
pub struct FreeTextEngine {
    populations: crate::population::TenantPopulations,
    calibration: Calibration,
    enrolment_samples: usize,
}

impl FreeTextEngine {
    /// An engine learning each tenant's population with `settings`, enrolling from `enrolment_samples`
    /// windows.
    pub fn new(settings: crate::population::PopulationSettings, enrolment_samples: usize) -> Self {
        FreeTextEngine {
            calibration: crate::population::passthrough(
                settings.clip.max(crate::population::COLD_CLIP),
            ),
            populations: crate::population::TenantPopulations::new(settings),
            enrolment_samples,
        }
    }

    /// The tenants' populations.
    pub fn populations(&self) -> &crate::population::TenantPopulations {
        &self.populations
    }
}

impl Engine for FreeTextEngine {
    fn name(&self) -> &'static str {
        "free-text"
    }
    fn reason(&self) -> ReasonCode {
        ReasonCode::KeystrokeMismatch
    }
    fn per_user(&self) -> bool {
        true
    }
    fn enrolment_samples(&self) -> usize {
        self.enrolment_samples
    }
    fn new_session(&self, _tenant: &TenantSettings) -> Option<Box<dyn EngineSession>> {
        Some(Box::new(FreeTextSession))
    }
    /// Without a tenant: the population-free (cold-start) template.
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        crate::population::ColdProfile::learn(samples)
            .map(|c| Box::new(c) as Box<dyn Template<FeatureVector>>)
            .ok_or(FitError::TooFewSamples {
                need: 2,
                got: samples.len(),
            })
    }
    fn fit_for(
        &self,
        tenant: &str,
        user: &str,
        samples: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        self.populations.fit(tenant, user, samples)
    }
    fn fit_check(
        &self,
        tenant: &str,
        user: &str,
        samples: &[FeatureVector],
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        self.populations.fit_unrecorded(tenant, user, samples)
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
    /// Genuine Aalto windows of one person came no closer than a median of 0.191 of their per-entry sd to
    /// each other ([`crate::service::near_duplicate_median`]).
    fn near_duplicate(&self, stored: &[FeatureVector], sample: &[f64]) -> Option<(f64, f64)> {
        crate::service::near_duplicate_median(stored, sample)
            .map(|d| (d, crate::service::NEAR_DUPLICATE_MEDIAN_SD))
    }
    fn fit_humanized(&self, samples: &[FeatureVector]) -> Option<Box<dyn Template<FeatureVector>>> {
        keyprint_freetext::KeyDependence::learn(
            samples,
            &summary_families(),
            keyprint_freetext::KeyDependenceConfig::default(),
        )
        .map(|k| Box::new(k) as Box<dyn Template<FeatureVector>>)
    }
}

/// The edge vocabulary's families ([`keyprint_edge::vocab::FAMILIES`]) for the humanized-timing check,
/// without the entries of the `shift` and `other` classes (modifiers): an injection device reproduces the
/// mechanics of a modifier held across its key (a long Shift hold, a short Shift-to-key delay) for free, so
/// their structure is no evidence of a hand. On the demo's payload (mostly punctuation and digits) rendered
/// with development owners' own timing, keeping them made the windows look human (mean `z` +2.57); see
/// `replay_freetext`'s development measurements.
pub fn summary_families() -> Vec<keyprint_freetext::Family> {
    use keyprint_edge::vocab::{CLASSES, FAMILIES, key_class};
    let skip = [key_class("ShiftLeft"), key_class("Tab")];
    let keep_class = |c: usize| !skip.contains(&c);
    FAMILIES
        .iter()
        .map(|&(a, b, g)| keyprint_freetext::Family {
            entries: (a..b)
                .filter(|&f| {
                    let i = f - a;
                    if b - a == CLASSES {
                        keep_class(i)
                    } else {
                        keep_class(i / CLASSES) && keep_class(i % CLASSES)
                    }
                })
                .collect(),
            global: g,
        })
        .collect()
}

struct FreeTextSession;

impl EngineSession for FreeTextSession {
    fn push(&mut self, records: &[Record]) -> Vec<Observation> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::FreeText(w) => Some(Observation {
                    sample: Some(summary_vector(&w.values)),
                    score: None,
                    at_us: w.at_us,
                    // Keystrokes summarised: the alert's minimum evidence counts keystrokes.
                    actions: u64::from(w.keys.max(1)),
                    detail: String::new(),
                }),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_edge::FixedTextSample;

    #[test]
    fn fixed_text_takes_only_the_current_phrase() {
        let e = FixedTextEngine::new(Box::new(keyprint_detector), Calibration::identity(), 2);
        let t = TenantSettings {
            phrase: Some(PhraseSetting {
                id: "pw1".into(),
                keys: 3,
            }),
        };
        let mut s = e.new_session(&t).unwrap();
        let rec = |id: &str, n: usize| {
            Record::FixedText(FixedTextSample {
                at_us: 5,
                phrase: id.into(),
                vector: vec![1.0; n],
            })
        };
        let obs = s.push(&[rec("pw1", 7), rec("pw0", 7), rec("pw1", 4)]);
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].sample.as_ref().unwrap().len(), 7);
        assert!(e.new_session(&TenantSettings::default()).is_none());
    }

    /// An owner whose later enrolment actions do not look like the earlier ones gets a low-confidence
    /// template (neutral scores); a consistent owner gets a real one that tells an impostor apart.
    #[test]
    fn mouse_does_not_judge_an_owner_its_enrolment_cannot_judge() {
        let cal = Calibration {
            // Own actions score about uniformly on [0, 1] (mean LLR +0.5), strangers near 1 (LLR −0.5).
            a: 1.5,
            b: -2.0,
            transform: crate::calibration::ScoreTransform::Identity,
            clip: 3.0,
            genuine_n: 0,
            impostor_n: 0,
            eer: f64::NAN,
        };
        let e = MouseEngine::new(cal.clone(), 30);
        let action = |level: f64, i: usize| -> FeatureVector {
            // The first three features are the action-kind one-hot (all MouseMove here).
            (0..46)
                .map(|f| match f {
                    0 => 1.0,
                    1 | 2 => 0.0,
                    _ => {
                        let h = (i as u64 * 2_654_435_761 + f as u64 * 40_503) % 1000;
                        level + h as f64 / 2000.0 + f as f64 * 0.1
                    }
                })
                .collect()
        };
        let consistent: Vec<FeatureVector> = (0..30).map(|i| action(1.0, i)).collect();
        let t = e.fit(&consistent).unwrap();
        let mean_llr = |level: f64| {
            (31..51)
                .map(|i| cal.llr(t.score(&action(level, i))))
                .sum::<f64>()
                / 20.0
        };
        let (g, i) = (mean_llr(1.0), mean_llr(9.0));
        assert!(g > i, "consistent owner: mean LLR {g} vs impostor {i}");
        let mut drifting: Vec<FeatureVector> = (0..20).map(|i| action(1.0, i)).collect();
        drifting.extend((20..30).map(|i| action(9.0, i)));
        let t = e.fit(&drifting).unwrap();
        for probe in [action(1.0, 40), action(9.0, 40), action(-5.0, 40)] {
            assert!(cal.llr(t.score(&probe)).abs() < 1e-9);
        }
    }
}
