//! # keyprint-edge
//!
//! The on-device half of keyprint: raw events in, **content-free records** out. Every client — the
//! endpoint agent, the demo, the replay tools — runs this core before anything leaves the device; the
//! browser SDK implements the same specification (`docs/EDGE.md`, with conformance vectors). The server
//! only ever receives and stores these records:
//!
//! * [`Record::FixedText`] — one typing of the configured fixed phrase (e.g. a password) as its timing
//!   vector: `3n − 2` values in ms (hold, DD, UD by position, `keyprint_core::keystroke` order), no key
//!   identity;
//! * [`Record::FreeText`] — a window of at least [`vocab::MIN_WINDOW_KEYS`] keystrokes summarised over the
//!   public, versioned [`vocab`] (timing statistics of key *classes* and class pairs; no order, no counts);
//! * [`Record::Mouse`] — one MouseMove / PointClick / DragDrop action as `keyprint-mouse`'s 46 features;
//! * [`Record::Injection`] — the on-device keystroke-injection verdict (`keyprint-injection`, which sees
//!   every key with its real code here), as rule, keystroke index and score, without its free-text detail;
//! * [`Record::Device`] — a keyboard or pointing device attached or detached (feeds typing-after-attach).
//!
//! Ordered key identities never leave [`Edge`]: it holds at most one window of keys and one phrase's worth
//! of keys in memory, and drops them once summarised.
//!
//! ```
//! use keyprint_core::event::{KeyEvent, KeyId};
//! use keyprint_edge::{Edge, EdgeConfig, Record};
//! let mut edge = Edge::new(EdgeConfig::default()).unwrap();
//! let mut out = Vec::new();
//! for i in 0..40i64 {
//!     let k = KeyEvent::new(KeyId::code(if i % 5 == 4 { "Space" } else { "KeyE" }), i * 150_000, i * 150_000 + 90_000).unwrap();
//!     edge.key(&k, &mut out);
//! }
//! edge.finish(&mut out);
//! assert!(out.iter().any(|r| matches!(r, Record::FreeText(_))));
//! ```
#![deny(missing_docs)]

pub mod spec;
pub mod vocab;

pub use keyprint_mouse::ActionKind;

use keyprint_core::event::{KeyEvent, KeyId, MouseEvent};
use keyprint_core::keystroke::FixedTextLayout;
use keyprint_injection::{InjectionConfig, InjectionDetector, StreamDetector};
use keyprint_mouse::{SegmentRules, Segmenter};

/// One typing of the fixed phrase: its timing vector.
#[derive(Clone, Debug, PartialEq)]
pub struct FixedTextSample {
    /// Press time of the phrase's last key, µs (the record's time).
    pub at_us: i64,
    /// The phrase's id (from [`Phrase::id`]); the server accepts samples of its tenant's current phrase only.
    pub phrase: String,
    /// `3n − 2` values, ms: `H.k1, DD.k1.k2, UD.k1.k2, …, H.kn` (`keyprint_core::keystroke`).
    pub vector: Vec<f64>,
}

/// A free-text window summary over [`vocab`] version [`vocab::VOCAB_VERSION`].
#[derive(Clone, Debug, PartialEq)]
pub struct WindowSummary {
    /// Press time of the window's last key, µs.
    pub at_us: i64,
    /// Vocabulary version.
    pub vocab: u32,
    /// Keys summarised (≥ [`vocab::MIN_WINDOW_KEYS`]).
    pub keys: u32,
    /// [`vocab::SUMMARY_DIM`] entries, `None` where absent (layout in [`vocab`]).
    pub values: Vec<Option<f64>>,
}

/// One mouse action's features.
#[derive(Clone, Debug, PartialEq)]
pub struct MouseActionRecord {
    /// End time of the action, µs.
    pub at_us: i64,
    /// MouseMove, PointClick or DragDrop.
    pub kind: ActionKind,
    /// `keyprint_mouse::action_features` (46 values; units in that module).
    pub features: Vec<f64>,
}

/// The on-device injection verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct InjectionRecord {
    /// Press time of the keystroke at which the rule fired, µs.
    pub at_us: i64,
    /// 1-based index of that keystroke in the session.
    pub keystroke: u64,
    /// The rule's stable name (`keyprint_injection::Reason::name`, e.g. `machine-regularity`).
    pub rule: String,
    /// The detector's score at the verdict (higher = more machine-like).
    pub score: f64,
}

/// What happened to a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceAction {
    /// Enumerated (plugged in, or seen at start).
    Attach,
    /// Removed.
    Detach,
}

/// A device attach or detach, as the agent's udev monitor or the SDK reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRecord {
    /// When, µs on the events' clock.
    pub at_us: i64,
    /// Attach or detach.
    pub action: DeviceAction,
    /// Bus (`usb`, `bluetooth`, `i8042`, `virtual`, `xtest`, …).
    pub bus: String,
    /// USB vendor id, 4 hex digits, when known.
    pub vendor: Option<String>,
    /// USB product id, 4 hex digits, when known.
    pub product: Option<String>,
    /// True for virtual or synthetic sources (uinput, XTEST, remote desktop).
    pub synthetic: bool,
}

/// A content-free record: the only thing that leaves the device.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// A fixed-phrase typing.
    FixedText(FixedTextSample),
    /// A free-text window summary.
    FreeText(WindowSummary),
    /// A mouse action.
    Mouse(MouseActionRecord),
    /// An injection verdict.
    Injection(InjectionRecord),
    /// A device event.
    Device(DeviceRecord),
}

impl Record {
    /// The record's time, µs.
    pub fn at_us(&self) -> i64 {
        match self {
            Record::FixedText(r) => r.at_us,
            Record::FreeText(r) => r.at_us,
            Record::Mouse(r) => r.at_us,
            Record::Injection(r) => r.at_us,
            Record::Device(r) => r.at_us,
        }
    }
}

/// The fixed phrase as the device knows it (configured locally; only its id travels).
#[derive(Clone, Debug, PartialEq)]
pub struct Phrase {
    /// Public id of the phrase (e.g. `pw-2026-12`), at most 64 printable ASCII characters.
    pub id: String,
    /// Its keys, modifiers excluded, as W3C codes.
    pub keys: Vec<KeyId>,
}

/// Edge settings.
#[derive(Clone, Debug)]
pub struct EdgeConfig {
    /// The fixed phrase, if the tenant uses one.
    pub phrase: Option<Phrase>,
    /// Keys per free-text window (≥ [`vocab::MIN_WINDOW_KEYS`]; default 50, TypeNet's L).
    pub window_keys: usize,
    /// Free-text windows on (default true).
    pub free_text: bool,
    /// Mouse segmentation rules.
    pub mouse_rules: SegmentRules,
    /// On-device injection detector settings.
    pub injection: InjectionConfig,
}

impl Default for EdgeConfig {
    fn default() -> Self {
        EdgeConfig {
            phrase: None,
            window_keys: 50,
            free_text: true,
            mouse_rules: SegmentRules::default(),
            injection: InjectionConfig::default(),
        }
    }
}

/// Bad edge settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EdgeConfigError {
    /// Window shorter than the vocabulary allows.
    #[error("window_keys {0} is below the minimum {min}", min = vocab::MIN_WINDOW_KEYS)]
    WindowTooShort(usize),
    /// Window longer than 10,000 keys.
    #[error("window_keys {0} is above 10000")]
    WindowTooLong(usize),
    /// Phrase of fewer than 2 or more than 256 keys.
    #[error("the phrase needs 2 to 256 keys, has {0}")]
    PhraseLength(usize),
    /// Phrase id empty, too long or not printable ASCII.
    #[error("phrase id must be 1 to 64 printable ASCII characters")]
    PhraseId,
}

/// The edge: feed it events in time order; it appends records to `out`.
pub struct Edge {
    phrase: Option<(String, FixedTextLayout)>,
    phrase_buf: Vec<KeyEvent>,
    window_keys: usize,
    free_text: bool,
    window: Vec<KeyEvent>,
    segmenter: Segmenter,
    actions: Vec<keyprint_mouse::Action>,
    injection: InjectionDetector,
    injection_sent: bool,
    keys_seen: u64,
}

fn class_of(e: &KeyEvent) -> usize {
    e.key.as_code().map_or(vocab::CLASSES - 1, vocab::key_class)
}

impl Edge {
    /// An edge with checked settings.
    ///
    /// # Errors
    /// [`EdgeConfigError`] for a window outside 20..=10,000 keys or a bad phrase.
    pub fn new(cfg: EdgeConfig) -> Result<Edge, EdgeConfigError> {
        if cfg.window_keys < vocab::MIN_WINDOW_KEYS {
            return Err(EdgeConfigError::WindowTooShort(cfg.window_keys));
        }
        if cfg.window_keys > 10_000 {
            return Err(EdgeConfigError::WindowTooLong(cfg.window_keys));
        }
        let phrase = match cfg.phrase {
            None => None,
            Some(p) => {
                if !(2..=256).contains(&p.keys.len()) {
                    return Err(EdgeConfigError::PhraseLength(p.keys.len()));
                }
                if !valid_phrase_id(&p.id) {
                    return Err(EdgeConfigError::PhraseId);
                }
                let labels = (0..p.keys.len()).map(|i| format!("k{i}")).collect();
                Some((p.id, FixedTextLayout::new(p.keys, labels)))
            }
        };
        Ok(Edge {
            phrase,
            phrase_buf: Vec::new(),
            window_keys: cfg.window_keys,
            free_text: cfg.free_text,
            window: Vec::with_capacity(cfg.window_keys),
            segmenter: Segmenter::new(cfg.mouse_rules),
            actions: Vec::new(),
            injection: InjectionDetector::new(cfg.injection, None),
            injection_sent: false,
            keys_seen: 0,
        })
    }

    /// One keystroke (complete: press and release), in press order.
    pub fn key(&mut self, e: &KeyEvent, out: &mut Vec<Record>) {
        self.keys_seen += 1;
        if let Some(v) = self.injection.observe(e)
            && !self.injection_sent
        {
            self.injection_sent = true;
            out.push(Record::Injection(InjectionRecord {
                at_us: v.t_us,
                keystroke: v.keystroke as u64,
                rule: v.reason.name().to_string(),
                score: self.injection.score(),
            }));
        }
        self.phrase_key(e, out);
        if self.free_text {
            self.window.push(e.clone());
            if self.window.len() >= self.window_keys {
                self.flush_window(out);
            }
        }
    }

    fn phrase_key(&mut self, e: &KeyEvent, out: &mut Vec<Record>) {
        let Some((id, layout)) = &self.phrase else {
            return;
        };
        if e.key.is_modifier() {
            return;
        }
        let n = layout.keys().len();
        self.phrase_buf.push(e.clone());
        if self.phrase_buf.len() >= n {
            let tail = &self.phrase_buf[self.phrase_buf.len() - n..];
            if tail.iter().zip(layout.keys()).all(|(a, k)| &a.key == k)
                && let Ok(vector) = layout.features(tail)
            {
                out.push(Record::FixedText(FixedTextSample {
                    at_us: tail[n - 1].press_us,
                    phrase: id.clone(),
                    vector,
                }));
                self.phrase_buf.clear();
                return;
            }
            if self.phrase_buf.len() >= 2 * n {
                let cut = self.phrase_buf.len() - (n - 1);
                self.phrase_buf.drain(..cut);
            }
        }
    }

    fn flush_window(&mut self, out: &mut Vec<Record>) {
        if let Some(values) = vocab::summarize(&self.window, class_of) {
            out.push(Record::FreeText(WindowSummary {
                at_us: self.window.iter().map(|e| e.press_us).max().unwrap_or(0),
                vocab: vocab::VOCAB_VERSION,
                keys: self.window.len() as u32,
                values,
            }));
        }
        self.window.clear();
    }

    /// One mouse sample, in time order.
    pub fn mouse(&mut self, e: MouseEvent, out: &mut Vec<Record>) {
        self.segmenter.push(e, &mut self.actions);
        self.drain_actions(out);
    }

    fn drain_actions(&mut self, out: &mut Vec<Record>) {
        for a in self.actions.drain(..) {
            out.push(Record::Mouse(MouseActionRecord {
                at_us: a.end_us(),
                kind: a.kind,
                features: keyprint_mouse::action_features(&a),
            }));
        }
    }

    /// A device event: forwarded as a record; an attach also starts the injection detector's
    /// typing-after-attach rule.
    pub fn device(&mut self, d: DeviceRecord, out: &mut Vec<Record>) {
        if d.action == DeviceAction::Attach {
            self.injection.device_attached(d.at_us);
        }
        out.push(Record::Device(d));
    }

    /// A context change (focus moved, page hidden, device locked): the current free-text window is
    /// summarised if it has at least [`vocab::MIN_WINDOW_KEYS`] keys (else dropped), and a phrase typing in
    /// progress is abandoned.
    pub fn cut(&mut self, out: &mut Vec<Record>) {
        self.flush_window(out);
        self.phrase_buf.clear();
    }

    /// End of the session: [`cut`](Self::cut) plus the mouse segmenter's last action.
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        self.cut(out);
        self.segmenter.finish(&mut self.actions);
        self.drain_actions(out);
    }

    /// Keys seen so far.
    pub fn keys_seen(&self) -> u64 {
        self.keys_seen
    }

    /// Keys currently held in memory (at most one window plus one phrase): the most a memory dump of the
    /// device process could show.
    pub fn keys_held(&self) -> usize {
        self.window.len() + self.phrase_buf.len()
    }
}

/// A phrase id: 1 to 64 printable ASCII characters.
pub fn valid_phrase_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// Runs a whole recorded session through a fresh edge: keys and mouse samples merged in time order,
/// then [`Edge::finish`]. Used by the demo, the replay tools and the benchmarks.
///
/// # Errors
/// [`EdgeConfigError`] for bad settings.
pub fn records_of_session(
    cfg: EdgeConfig,
    keys: &[KeyEvent],
    mouse: &[MouseEvent],
) -> Result<Vec<Record>, EdgeConfigError> {
    let mut edge = Edge::new(cfg)?;
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < keys.len() || j < mouse.len() {
        let take_key = j >= mouse.len() || (i < keys.len() && keys[i].press_us <= mouse[j].t_us);
        if take_key {
            edge.key(&keys[i], &mut out);
            i += 1;
        } else {
            edge.mouse(mouse[j], &mut out);
            j += 1;
        }
    }
    edge.finish(&mut out);
    Ok(out)
}
