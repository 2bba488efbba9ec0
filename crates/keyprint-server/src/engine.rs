//! The engine seam: how a scoring engine (fixed text, free text, mouse, injection) plugs into the server.
//!
//! The server owns sessions, users' reference sets, enrolment, calibration, fusion and storage; an engine
//! owns only its behavioural logic, which lives in its own crate behind `keyprint_core::Detector`:
//!
//! * [`Engine::new_session`] gives a per-session [`EngineSession`] that turns each batch of new events
//!   into [`Observation`]s — completed samples (feature vectors of timings, never typed text) and, for
//!   user-independent engines, a comparison score;
//! * for per-user engines ([`Engine::per_user`]) the server collects enrolment samples and calls
//!   [`Engine::fit`] to learn the user's template, then scores later samples with it;
//! * every score has **higher = more impostor-like** (the core's polarity) and is mapped to evidence by the
//!   engine's [`Calibration`].

use crate::calibration::Calibration;
use keyprint_core::detector::{Detector, FeatureVector, FitError, Template};
use keyprint_core::event::{KeyEvent, KeyId, MouseEvent};
use keyprint_core::keystroke::FixedTextLayout;
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

/// Tenant settings an engine may need to start a session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantSettings {
    /// The fixed phrase as keyed hashes, in typing order (see `keyprint_wire::FixedTextPhrase`).
    pub phrase: Option<Vec<u64>>,
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
    /// Maps this engine's comparison scores to log-likelihood ratios.
    fn calibration(&self) -> &Calibration;
    /// Forgetting factor `λ` of this engine's evidence channel, per observation (see [`crate::trust`]).
    fn forgetting(&self) -> f64 {
        0.85
    }
}

/// An engine's state within one session.
pub trait EngineSession: Send {
    /// Feeds a batch of new events (each slice sorted by time) and returns the samples it completed.
    fn push(&mut self, keys: &[KeyEvent], mouse: &[MouseEvent]) -> Vec<Observation>;
}

/// The fixed-text engine: typings of the tenant's phrase (e.g. a password, as keyed hashes) become
/// hold/DD/UD vectors (`keyprint_core::keystroke`), compared with the user's template by a
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
        let phrase = tenant.phrase.as_ref().filter(|p| p.len() >= 2)?;
        let keys: Vec<KeyId> = phrase.iter().map(|h| KeyId::Hashed(*h)).collect();
        let labels = (0..keys.len()).map(|i| format!("k{i}")).collect();
        Some(Box::new(FixedTextSession {
            layout: FixedTextLayout::new(keys, labels),
            buf: Vec::new(),
        }))
    }
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let n = samples.first().map_or(2, |s| s.len().div_ceil(3));
        (self.detector)(n).fit(&keyprint_core::Enrolment::one_class(samples))
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
}

/// Segments a key stream into typings of the phrase: whenever the last `n` keys equal the phrase, they
/// form one sample and are consumed. Holds at most `n − 1` unmatched keys between batches.
struct FixedTextSession {
    layout: FixedTextLayout,
    buf: Vec<KeyEvent>,
}

impl EngineSession for FixedTextSession {
    fn push(&mut self, keys: &[KeyEvent], _mouse: &[MouseEvent]) -> Vec<Observation> {
        let n = self.layout.keys().len();
        let mut out = Vec::new();
        for k in keys {
            if k.key.is_modifier() {
                continue;
            }
            self.buf.push(k.clone());
            if self.buf.len() >= n {
                let tail = &self.buf[self.buf.len() - n..];
                if tail
                    .iter()
                    .zip(self.layout.keys())
                    .all(|(e, k)| &e.key == k)
                    && let Ok(f) = self.layout.features(tail)
                {
                    out.push(Observation {
                        sample: Some(f),
                        score: None,
                        at_us: tail[n - 1].release_us,
                        actions: 1,
                        detail: String::new(),
                    });
                    self.buf.clear();
                    continue;
                }
                if self.buf.len() >= 2 * n {
                    self.buf.drain(..self.buf.len() - (n - 1));
                }
            }
        }
        out
    }
}

/// The injection engine: keyprint-injection's streaming [`InjectionDetector`](keyprint_injection::InjectionDetector)
/// over each session's key stream (timing rules only: on hashed keys the modifier-based rule cannot see
/// modifiers). User-independent: it emits one observation when the detector's verdict fires, with the
/// detector's score and the rule that fired; the calibration turns a verdict into a fixed LLR.
pub struct InjectionEngine {
    config: keyprint_injection::InjectionConfig,
    calibration: Calibration,
}

impl InjectionEngine {
    /// An engine with the detector's settings and the verdict's calibration.
    pub fn new(config: keyprint_injection::InjectionConfig, calibration: Calibration) -> Self {
        InjectionEngine {
            config,
            calibration,
        }
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
        Some(Box::new(InjectionSession {
            det: keyprint_injection::InjectionDetector::new(self.config.clone(), None),
        }))
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

struct InjectionSession {
    det: keyprint_injection::InjectionDetector,
}

impl EngineSession for InjectionSession {
    fn push(&mut self, keys: &[KeyEvent], _mouse: &[MouseEvent]) -> Vec<Observation> {
        use keyprint_injection::StreamDetector;
        let mut out = Vec::new();
        for k in keys {
            if let Some(v) = self.det.observe(k) {
                out.push(Observation {
                    sample: None,
                    score: Some(self.det.score()),
                    at_us: v.t_us,
                    actions: v.keystroke as u64,
                    detail: format!("{} at keystroke {}: {}", v.reason, v.keystroke, v.detail),
                });
            }
        }
        out
    }
}

/// The mouse engine: keyprint-mouse's streaming [`Segmenter`](keyprint_mouse::Segmenter) cuts each
/// session's mouse stream into MouseMove / PointClick / DragDrop actions, each becomes keyprint-mouse's
/// per-action feature vector, and the user's template is keyprint-mouse's one-class model
/// ([`MouseOneClass`](keyprint_mouse::MouseOneClass), scores in [0, 1]). The session-level aggregation is
/// the server's fusion, not keyprint-mouse's running mean.
pub struct MouseEngine {
    rules: keyprint_mouse::SegmentRules,
    calibration: Calibration,
    enrolment_samples: usize,
}

impl MouseEngine {
    /// An engine with segmentation rules, calibration and the enrolment size (actions).
    pub fn new(
        rules: keyprint_mouse::SegmentRules,
        calibration: Calibration,
        enrolment_samples: usize,
    ) -> Self {
        MouseEngine {
            rules,
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
        Some(Box::new(MouseSession {
            seg: keyprint_mouse::Segmenter::new(self.rules),
            done: Vec::new(),
        }))
    }
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        keyprint_mouse::MouseOneClass::default().fit(&keyprint_core::Enrolment::one_class(samples))
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
    /// Single actions carry weak evidence: a half-life of about 23 actions.
    fn forgetting(&self) -> f64 {
        0.97
    }
}

struct MouseSession {
    seg: keyprint_mouse::Segmenter,
    done: Vec<keyprint_mouse::Action>,
}

impl EngineSession for MouseSession {
    fn push(&mut self, _keys: &[KeyEvent], mouse: &[MouseEvent]) -> Vec<Observation> {
        for m in mouse {
            self.seg.push(*m, &mut self.done);
        }
        self.done
            .drain(..)
            .map(|a| Observation {
                sample: Some(keyprint_mouse::action_features(&a)),
                score: None,
                at_us: a.end_us(),
                actions: 1,
                detail: String::new(),
            })
            .collect()
    }
}

/// Encodes a window of hashed key events as a feature vector (4 exact values per event: the hash's high
/// and low 32 bits, press and release µs), so free-text windows travel through the server's reference
/// store like any sample. Plain identities never reach the server; they would encode as hash 0.
pub fn encode_window(events: &[KeyEvent]) -> FeatureVector {
    let mut v = Vec::with_capacity(events.len() * 4);
    for e in events {
        let h = match e.key {
            KeyId::Hashed(h) => h,
            KeyId::Code(_) => 0,
        };
        v.extend([
            (h >> 32) as f64,
            (h & 0xffff_ffff) as f64,
            e.press_us as f64,
            e.release_us as f64,
        ]);
    }
    v
}

/// The inverse of [`encode_window`].
pub fn decode_window(v: &[f64]) -> Vec<KeyEvent> {
    v.chunks_exact(4)
        .map(|c| KeyEvent {
            key: KeyId::Hashed(((c[0] as u64) << 32) | c[1] as u64),
            press_us: c[2] as i64,
            release_us: c[3] as i64,
        })
        .collect()
}

/// keyprint-freetext's [`FreeTextDetector`](keyprint_freetext::FreeTextDetector) seen through
/// [`encode_window`]: a `Detector<FeatureVector>` over encoded key-event windows.
pub struct FreeTextVectors(pub keyprint_freetext::FreeTextDetector);

struct DecodingTemplate(Box<dyn Template<Vec<KeyEvent>>>);

impl Template<FeatureVector> for DecodingTemplate {
    fn score(&self, probe: &FeatureVector) -> f64 {
        self.0.score(&decode_window(probe))
    }
}

impl Detector<FeatureVector> for FreeTextVectors {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn fit(
        &self,
        e: &keyprint_core::Enrolment<'_, FeatureVector>,
    ) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        let windows: Vec<Vec<KeyEvent>> = e.genuine.iter().map(|v| decode_window(v)).collect();
        let t = self.0.fit(&keyprint_core::Enrolment::one_class(&windows))?;
        Ok(Box::new(DecodingTemplate(t)))
    }
}

/// The free-text engine: every `window_keys` keystrokes of a session (non-overlapping windows) form one
/// sample, compared with the user's keyprint-freetext profile (population LLR model).
pub struct FreeTextEngine {
    det: FreeTextVectors,
    window_keys: usize,
    calibration: Calibration,
    enrolment_samples: usize,
}

impl FreeTextEngine {
    /// An engine over a detector, a window length (keystrokes), its calibration and the enrolment size
    /// (windows).
    pub fn new(
        det: FreeTextVectors,
        window_keys: usize,
        calibration: Calibration,
        enrolment_samples: usize,
    ) -> Self {
        FreeTextEngine {
            det,
            window_keys: window_keys.max(2),
            calibration,
            enrolment_samples,
        }
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
        Some(Box::new(FreeTextSession {
            window: self.window_keys,
            buf: Vec::new(),
        }))
    }
    fn fit(&self, samples: &[FeatureVector]) -> Result<Box<dyn Template<FeatureVector>>, FitError> {
        self.det.fit(&keyprint_core::Enrolment::one_class(samples))
    }
    fn calibration(&self) -> &Calibration {
        &self.calibration
    }
}

struct FreeTextSession {
    window: usize,
    buf: Vec<KeyEvent>,
}

impl EngineSession for FreeTextSession {
    fn push(&mut self, keys: &[KeyEvent], _mouse: &[MouseEvent]) -> Vec<Observation> {
        let mut out = Vec::new();
        for k in keys {
            self.buf.push(k.clone());
            if self.buf.len() >= self.window {
                out.push(Observation {
                    sample: Some(encode_window(&self.buf)),
                    score: None,
                    at_us: self.buf.last().map_or(0, |e| e.release_us),
                    actions: 1,
                    detail: String::new(),
                });
                self.buf.clear();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn segments_phrase_typings_amid_other_keys() {
        let e = FixedTextEngine::new(Box::new(keyprint_detector), Calibration::identity(), 2);
        let t = TenantSettings {
            phrase: Some(vec![1, 2, 3]),
        };
        let mut s = e.new_session(&t).unwrap();
        let k = |h, p| KeyEvent::new(KeyId::Hashed(h), p, p + 50).unwrap();
        let ev = vec![
            k(9, 0),
            k(1, 100),
            k(2, 200),
            k(3, 300),
            k(1, 400),
            k(2, 500),
        ];
        let obs = s.push(&ev, &[]);
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].sample.as_ref().unwrap().len(), 7);
        // The typing started in one batch completes in the next.
        let obs = s.push(&[k(3, 600)], &[]);
        assert_eq!(obs.len(), 1);
        assert_eq!(obs[0].at_us, 650);
        assert!(e.new_session(&TenantSettings::default()).is_none());
    }

    #[test]
    fn free_text_windows_round_trip_exactly() {
        let ev = vec![
            KeyEvent::new(KeyId::Hashed(u64::MAX), 1 << 50, (1 << 50) + 7).unwrap(),
            KeyEvent::new(KeyId::Hashed(0x1234_5678_9abc_def0), 3, 3).unwrap(),
        ];
        assert_eq!(decode_window(&encode_window(&ev)), ev);
    }
}
