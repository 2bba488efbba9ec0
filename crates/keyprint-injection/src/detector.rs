//! The streaming injection detector and the streaming interface shared with the baselines.
//!
//! A [`StreamDetector`] reads ONE device's key events in press order ([`KeyEvent`], the core event model),
//! one at a time, in `O(1)` amortised work per event (the optional owner-profile check runs every
//! [`InjectionConfig::owner_every`] keystrokes over a bounded window). It raises at most one [`Verdict`]
//! naming a [`Reason`] and the 1-based keystroke index at which it fired, and keeps a continuous
//! [`score`](StreamDetector::score) (higher = more injection-like; `>= 1` exactly when a verdict was raised)
//! for ROC analysis with `keyprint_core::eval`.
//!
//! keyprint's rules ([`InjectionDetector`]), each from a physical or behavioural property of typing:
//! * **machine chord** — a modifier and a key go down in the same ≤ 1 ms and up in the same ≤ 1 ms with
//!   short holds: one HID report carrying modifier bits and key, which a hand cannot produce (two fingers
//!   never land and lift within a millisecond of each other twice).
//! * **impossible speed** — a run of keystrokes each held ≤ [`InjectionConfig::machine_hold_us`] (15 ms),
//!   each pressed within [`InjectionConfig::machine_gap_us`] (250 ms) of the previous one or held exactly
//!   as long as it (within [`InjectionConfig::same_hold_us`], 0.2 ms: a firmware's fixed hold); a hold of
//!   exactly 0 (a release the capture coalesced with its press; no USB report pair is 0 µs apart) neither
//!   extends nor breaks a run:
//!   key travel and finger lift take longer (human holds in CMU: 0.1 % quantile 17 ms; Aalto: < 0.1 % of
//!   holds ≤ 15 ms, almost all inside software word-completion bursts). On a fresh stream (and for keystrokes
//!   within the attach window of a newly attached device) 3 such keystrokes
//!   alarm; once the stream has shown [`InjectionConfig::established_after`] human-like keystrokes, short
//!   bursts are tolerated up to [`InjectionConfig::machine_run_established`] keystrokes, because OS word
//!   completion and text expansion on a human's own keyboard type a few characters at machine speed. A
//!   modifier with a longer hold (held across other keys: `HOLD GUI`, Shift under a capital) neither extends
//!   nor breaks a run; so that such a held modifier does not delay a verdict, on a fresh stream from its
//!   [`InjectionConfig::machine_run_fresh`]-th keystroke on (of the stream, or of a device attached less than
//!   [`InjectionConfig::attach_window_us`] ago), a run of 2 already alarms when the two holds are
//!   equal within `same_hold_us` (a firmware's fixed hold). No verdict of this rule comes before that
//!   keystroke (the service requires as many observations before an alert).
//! * **constant holds** — [`InjectionConfig::constant_hold_window`] holds within
//!   [`InjectionConfig::constant_hold_range_us`] of each other and no key rollover among them.
//! * **machine regularity** — [`InjectionConfig::regularity_window`] press-to-press gaps (each under 2 s)
//!   taking at most [`InjectionConfig::regularity_max_distinct`] distinct values at 1 ms resolution (a fixed
//!   firmware delay; low gap entropy).
//! * **typing right after attach** — at least [`InjectionConfig::attach_burst`] keystrokes within
//!   [`InjectionConfig::attach_window_us`] of [`StreamDetector::device_attached`].
//! * **owner mismatch** — with an [`OwnerProfile`], the last [`InjectionConfig::owner_window`] keystrokes
//!   score above the owner's calibrated threshold (for humanized injection, whose timing is human but not
//!   the owner's).
//! * **no key context** — with a population [`KeyContextCheck`](crate::context::KeyContextCheck), the
//!   timing of the last [`InjectionConfig::owner_window`] keystrokes is statistically independent of which
//!   keys and digraphs were typed (humans pause and speed up by context; a device drawing delays from a
//!   distribution does not).
//! * **humanized timing** — with a [`HumanizedCheck`](crate::humanized::HumanizedCheck), the last
//!   [`InjectionConfig::owner_window`] keystrokes lack the key context of real typing (DD, UD, trigraph and hold timing that follows
//!   the keys typed).
//!
//! For ROC analysis the window checks' margins `Σ (score − threshold)` enter the score through a
//! logistic, so the owner profile and the key-context check combine; once a window check has run, that
//! logistic (of the largest margin so far) is the score below a verdict, and `1 + margin` after one.
//!
//! Autorepeat: an event whose key equals the previous event's key and which goes down before (or at the
//! instant) that one is released (a key cannot be pressed twice without being released: only the OS repeats it), or which has
//! zero hold right after the same key, is folded into that keystroke and feeds no statistic.
//!
//! Allowed devices: streams whose device id is in [`InjectionConfig::allowed_devices`] (assistive macro or
//! text-expansion software, configured by an administrator) are observed but never alarm.

use keyprint_core::detector::Template;
use keyprint_core::event::KeyEvent;
use std::collections::VecDeque;
use std::fmt;

/// Why a stream was judged injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Modifier and key in one HID report.
    MachineChord,
    /// Keystrokes held shorter than key travel allows.
    ImpossibleSpeed,
    /// Hold times that do not vary, with no rollover.
    ConstantHolds,
    /// Gaps from a fixed delay (few distinct values).
    MachineRegularity,
    /// A burst right after the device appeared.
    TypingAfterAttach,
    /// Timing unlike the enrolled owner's.
    OwnerMismatch,
    /// Timing that does not depend on which keys are typed (no pause / latency structure).
    NoKeyContext,
    /// Human-like timing without the key context of typing (DD, UD, trigraph, hold).
    HumanizedTiming,
    /// UKIP's rule (baseline).
    UkipRule,
    /// DuckHunt's rule (baseline).
    DuckHuntRule,
}

impl Reason {
    /// Every rule, for tables and for checking a rule name received from a device.
    pub const ALL: [Reason; 10] = [
        Reason::MachineChord,
        Reason::ImpossibleSpeed,
        Reason::ConstantHolds,
        Reason::MachineRegularity,
        Reason::TypingAfterAttach,
        Reason::OwnerMismatch,
        Reason::NoKeyContext,
        Reason::HumanizedTiming,
        Reason::UkipRule,
        Reason::DuckHuntRule,
    ];

    /// Stable kebab-case name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Reason::MachineChord => "machine-chord",
            Reason::ImpossibleSpeed => "impossible-speed",
            Reason::ConstantHolds => "constant-holds",
            Reason::MachineRegularity => "machine-regularity",
            Reason::TypingAfterAttach => "typing-after-attach",
            Reason::OwnerMismatch => "owner-mismatch",
            Reason::NoKeyContext => "no-key-context",
            Reason::HumanizedTiming => "humanized-timing",
            Reason::UkipRule => "ukip-rule",
            Reason::DuckHuntRule => "duckhunt-rule",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A detection: why, at which keystroke (1-based index in the stream, every event counted), when.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The rule that fired.
    pub reason: Reason,
    /// 1-based index of the event at which it fired.
    pub keystroke: usize,
    /// Press time of that event, µs.
    pub t_us: i64,
    /// Human-readable evidence (measured values).
    pub detail: String,
}

/// The streaming interface shared by keyprint's detector and the baselines.
pub trait StreamDetector: Send {
    /// Short stable name (`"keyprint"`, `"ukip"`, `"duckhunt"`).
    fn name(&self) -> &str;
    /// The device enumerated at `t_us` (same clock as the events). Detectors that ignore it may.
    fn device_attached(&mut self, _t_us: i64) {}
    /// Reads the next event (press order). Returns the verdict the first time one is raised, else `None`.
    fn observe(&mut self, event: &KeyEvent) -> Option<Verdict>;
    /// The verdict raised so far, if any.
    fn verdict(&self) -> Option<&Verdict>;
    /// Continuous injection score after the events seen so far: higher = more injection-like, finite,
    /// `>= 1` exactly when a verdict has been raised.
    fn score(&self) -> f64;
}

/// Runs a fresh detector over a stream and reports the verdict plus the score after each checkpoint
/// (number of events; `None` where the stream is shorter).
pub fn run_stream(
    det: &mut dyn StreamDetector,
    attached_us: Option<i64>,
    events: &[KeyEvent],
    checkpoints: &[usize],
) -> (Option<Verdict>, Vec<Option<f64>>) {
    if let Some(t) = attached_us {
        det.device_attached(t);
    }
    let mut scores = vec![None; checkpoints.len()];
    for (i, e) in events.iter().enumerate() {
        det.observe(e);
        for (c, s) in checkpoints.iter().zip(scores.iter_mut()) {
            if *c == i + 1 {
                *s = Some(det.score());
            }
        }
    }
    (det.verdict().cloned(), scores)
}

/// A window check: a template scoring the last [`InjectionConfig::owner_window`] keystrokes (higher = more
/// injection-like) and the threshold above which it alarms. Used for the enrolled owner's free-text profile
/// ([`OwnerProfile`]) and for the population key-context check.
pub struct WindowCheck {
    /// The template: scores a window of key events, higher = less like the owner (or less human).
    pub template: Box<dyn Template<Vec<KeyEvent>>>,
    /// Alarm threshold on the template's score (from held-out genuine data).
    pub threshold: f64,
}

/// An enrolled owner's free-text timing template with the threshold above which a window is not the owner.
pub type OwnerProfile = WindowCheck;

impl WindowCheck {
    /// Calibrates the threshold from the owner's held-out windows (not used to fit `template`): the largest
    /// of their scores plus `margin` (in the template's score units; for keyprint-freetext's LLR-based
    /// profile, nats), i.e. a zero-false-alarm point on the owner's own data with head-room.
    /// Returns `None` when no held-out window has a finite score.
    pub fn calibrate(
        template: Box<dyn Template<Vec<KeyEvent>>>,
        held_out: &[Vec<KeyEvent>],
        margin: f64,
    ) -> Option<Self> {
        let max = held_out
            .iter()
            .map(|w| template.score(w))
            .filter(|s| s.is_finite())
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))?;
        Some(OwnerProfile {
            template,
            threshold: max + margin,
        })
    }

    /// Evidence of a window score for [`StreamDetector::score`]: the logistic of `score − threshold`, in
    /// (0, 1), 0.5 at the threshold.
    pub fn evidence(&self, score: f64) -> f64 {
        1.0 / (1.0 + (-(score - self.threshold)).exp())
    }
}

/// Settings of [`InjectionDetector`] (see the module docs for the rules).
#[derive(Clone, Debug, PartialEq)]
pub struct InjectionConfig {
    /// Device ids never alarmed (assistive macro / text-expansion software).
    pub allowed_devices: Vec<String>,
    /// Largest hold counted as machine-typed, µs.
    pub machine_hold_us: i64,
    /// Longest press-to-press gap inside a machine-speed run, µs (a longer pause starts a new run).
    pub machine_gap_us: i64,
    /// Hold difference under which two short holds count as the same device hold, µs.
    pub same_hold_us: i64,
    /// Machine-speed run that alarms on a fresh stream, keystrokes.
    pub machine_run_fresh: usize,
    /// Machine-speed run that alarms on an established stream, keystrokes.
    pub machine_run_established: usize,
    /// Smallest hold counted as a human-like keystroke, µs.
    pub human_hold_us: i64,
    /// Human-like keystrokes after which a stream is established.
    pub established_after: usize,
    /// Press and release tolerance of a machine chord, µs.
    pub chord_tolerance_us: i64,
    /// Keystrokes in the constant-holds window.
    pub constant_hold_window: usize,
    /// Largest hold range in that window that counts as constant, µs.
    pub constant_hold_range_us: i64,
    /// Gaps in the regularity window.
    pub regularity_window: usize,
    /// Most distinct 1-ms gap values that count as a fixed delay.
    pub regularity_max_distinct: usize,
    /// Window after attach, µs.
    pub attach_window_us: i64,
    /// Keystrokes within the attach window that alarm.
    pub attach_burst: usize,
    /// Keystrokes scored by the owner profile.
    pub owner_window: usize,
    /// Owner check cadence, keystrokes.
    pub owner_every: usize,
}

impl Default for InjectionConfig {
    fn default() -> Self {
        InjectionConfig {
            allowed_devices: Vec::new(),
            machine_hold_us: 15_000,
            machine_gap_us: 250_000,
            same_hold_us: 200,
            machine_run_fresh: 3,
            machine_run_established: 24,
            human_hold_us: 25_000,
            established_after: 3,
            chord_tolerance_us: 1_000,
            constant_hold_window: 24,
            constant_hold_range_us: 1_000,
            regularity_window: 16,
            regularity_max_distinct: 2,
            attach_window_us: 4_000_000,
            attach_burst: 8,
            owner_window: 70,
            owner_every: 10,
        }
    }
}

/// keyprint's streaming injection detector (see the module docs).
pub struct InjectionDetector {
    cfg: InjectionConfig,
    allowed: bool,
    checks: Vec<(Reason, WindowCheck)>,
    attached_us: Option<i64>,
    /// Recent non-repeat keystrokes, newest last (bounded).
    recent: VecDeque<KeyEvent>,
    /// Window kept for the owner profile.
    owner_buf: VecDeque<KeyEvent>,
    seen: usize,
    keystrokes: usize,
    human_like: usize,
    run: usize,
    /// Press time and hold of the last keystroke of the current machine-speed run.
    last_short: Option<(i64, i64)>,
    /// The last two keystrokes of the run have the same hold (within `same_hold_us`).
    same_pair: bool,
    since_attach: usize,
    last_owner_check: usize,
    window_margin: Option<f64>,
    soft_evidence: f64,
    verdict: Option<Verdict>,
}

impl InjectionDetector {
    /// A detector for the stream of `device` (an allowed device never alarms).
    pub fn new(cfg: InjectionConfig, device: Option<&str>) -> Self {
        let allowed = device.is_some_and(|d| cfg.allowed_devices.iter().any(|a| a == d));
        InjectionDetector {
            cfg,
            allowed,
            checks: Vec::new(),
            attached_us: None,
            recent: VecDeque::new(),
            owner_buf: VecDeque::new(),
            seen: 0,
            keystrokes: 0,
            human_like: 0,
            run: 0,
            last_short: None,
            same_pair: false,
            since_attach: 0,
            last_owner_check: 0,
            window_margin: None,
            soft_evidence: 0.0,
            verdict: None,
        }
    }

    /// Adds the owner's free-text profile (enables the owner-mismatch rule).
    pub fn with_owner(mut self, owner: OwnerProfile) -> Self {
        self.checks.push((Reason::OwnerMismatch, owner));
        self
    }

    /// Adds a population key-context check (enables the no-key-context rule; see
    /// [`crate::context::KeyContextCheck`]), with its alarm threshold.
    pub fn with_key_context(mut self, check: WindowCheck) -> Self {
        self.checks.push((Reason::NoKeyContext, check));
        self
    }

    /// Adds the humanized-timing check (enables the humanized-timing rule; see
    /// [`crate::humanized::HumanizedCheck`]), with its alarm threshold.
    pub fn with_humanized(mut self, check: WindowCheck) -> Self {
        self.checks.push((Reason::HumanizedTiming, check));
        self
    }

    /// True when this stream's device is on the allowed list.
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    fn is_repeat(&self, e: &KeyEvent) -> bool {
        self.recent.back().is_some_and(|p| {
            p.key == e.key && (e.press_us <= p.release_us || (e.hold_us() == 0 && p.hold_us() == 0))
        })
    }

    fn fire(&mut self, reason: Reason, e: &KeyEvent, detail: String) -> Option<Verdict> {
        if self.allowed || self.verdict.is_some() {
            return None;
        }
        let v = Verdict {
            reason,
            keystroke: self.seen,
            t_us: e.press_us,
            detail,
        };
        self.verdict = Some(v.clone());
        Some(v)
    }

    fn check(&mut self, e: &KeyEvent) -> Option<(Reason, String)> {
        let c = &self.cfg;
        let n = self.recent.len();
        // Machine chord: modifier + key in one report, on a fresh stream.
        if self.human_like < c.established_after && e.hold_us() <= c.machine_hold_us {
            for p in self.recent.iter().rev().skip(1).take(4) {
                if p.key.is_modifier() != e.key.is_modifier()
                    && (p.press_us - e.press_us).abs() <= c.chord_tolerance_us
                    && (p.release_us - e.release_us).abs() <= c.chord_tolerance_us
                    && p.hold_us() <= c.machine_hold_us
                {
                    return Some((
                        Reason::MachineChord,
                        format!(
                            "{} and {} down and up together (holds {} and {} µs)",
                            p.key,
                            e.key,
                            p.hold_us(),
                            e.hold_us()
                        ),
                    ));
                }
            }
        }
        // Impossible speed: a run of machine-short holds. Keystrokes inside a newly attached device's attach
        // window are judged as a fresh stream: the owner's earlier typing says nothing about the new device.
        let after_attach = self
            .attached_us
            .and_then(|a| since_attach_us(e.press_us, a, c.attach_window_us))
            .is_some();
        let fresh = self.human_like < c.established_after || after_attach;
        let need = if fresh {
            c.machine_run_fresh
        } else {
            c.machine_run_established
        };
        let counted = if after_attach {
            self.since_attach
        } else {
            self.keystrokes
        };
        if fresh && counted >= c.machine_run_fresh && self.run >= 2 && self.same_pair {
            return Some((
                Reason::ImpossibleSpeed,
                format!(
                    "{} consecutive keystrokes held <= {} µs with the same hold (a device's fixed hold)",
                    self.run, c.machine_hold_us
                ),
            ));
        }
        if self.run >= need {
            return Some((
                Reason::ImpossibleSpeed,
                format!(
                    "{} consecutive keystrokes held <= {} µs",
                    self.run, c.machine_hold_us
                ),
            ));
        }
        // Constant holds, no rollover.
        let w = c.constant_hold_window;
        if w >= 2 && n >= w {
            let win = self.recent.range(n - w..);
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for k in win.clone() {
                lo = lo.min(k.hold_us());
                hi = hi.max(k.hold_us());
            }
            let rollover = self
                .recent
                .range(n - w..)
                .zip(self.recent.range(n - w + 1..))
                .any(|(a, b)| b.press_us < a.release_us);
            if hi - lo <= c.constant_hold_range_us && !rollover {
                return Some((
                    Reason::ConstantHolds,
                    format!("{w} holds within {} µs, no rollover", hi - lo),
                ));
            }
        }
        // Machine regularity: few distinct gaps.
        let g = c.regularity_window;
        if g >= 2 && n > g {
            let mut vals: Vec<i64> = self
                .recent
                .range(n - g - 1..)
                .zip(self.recent.range(n - g..))
                .map(|(a, b)| (b.press_us - a.press_us) / 1000)
                .collect();
            if vals.iter().all(|&v| (0..2000).contains(&v)) {
                vals.sort_unstable();
                vals.dedup();
                if vals.len() <= c.regularity_max_distinct {
                    return Some((
                        Reason::MachineRegularity,
                        format!(
                            "{g} gaps take only {} distinct ms values {vals:?}",
                            vals.len()
                        ),
                    ));
                }
            }
        }
        // Typing right after attach.
        if let Some(since) = self
            .attached_us
            .and_then(|a| since_attach_us(e.press_us, a, c.attach_window_us))
            && self.since_attach >= c.attach_burst
        {
            return Some((
                Reason::TypingAfterAttach,
                format!(
                    "{} keystrokes within {} ms of attach",
                    self.since_attach,
                    since / 1000
                ),
            ));
        }
        None
    }

    fn update_soft(&mut self) {
        // Sub-threshold evidence for ROC analysis: the largest ratio of a rule's measured value to its
        // threshold, kept below 1 (a verdict sets the score to >= 1).
        let c = &self.cfg;
        let n = self.recent.len();
        let need = if self.human_like >= c.established_after {
            c.machine_run_established
        } else {
            c.machine_run_fresh
        };
        let mut ev = self.run as f64 / need as f64;
        let k = n.min(3);
        if k > 0 {
            let mean_hold =
                self.recent.range(n - k..).map(|e| e.hold_us()).sum::<i64>() as f64 / k as f64;
            ev = ev.max(c.machine_hold_us as f64 / mean_hold.max(1.0));
        }
        self.soft_evidence = self.soft_evidence.max(ev.min(0.99));
    }
}

impl StreamDetector for InjectionDetector {
    fn name(&self) -> &str {
        "keyprint"
    }

    fn device_attached(&mut self, t_us: i64) {
        self.attached_us = Some(t_us);
        self.since_attach = 0;
    }

    fn observe(&mut self, e: &KeyEvent) -> Option<Verdict> {
        self.seen += 1;
        if self.is_repeat(e) {
            // Autorepeat: extend the held keystroke's release, feed no statistic.
            if let Some(p) = self.recent.back_mut()
                && e.hold_us() > 0
            {
                p.release_us = p.release_us.max(e.release_us);
            }
            return None;
        }
        self.keystrokes += 1;
        if self
            .attached_us
            .and_then(|a| since_attach_us(e.press_us, a, self.cfg.attach_window_us))
            .is_some()
        {
            self.since_attach += 1;
        }
        if e.hold_us() == 0 {
            // A zero hold is a release the capture did not see separately (coalesced key-down/key-up, as
            // virtual keyboards and some browsers emit); no USB HID report pair is 0 µs apart, so it is
            // evidence of neither a machine nor a finger and leaves the run as it is.
        } else if e.hold_us() <= self.cfg.machine_hold_us {
            // The run goes on through a fast gap, or through a pause when the hold is the previous run
            // keystroke's to within `same_hold_us` (a device's fixed hold, not a finger's).
            let same = self
                .last_short
                .is_some_and(|(_, h)| (h - e.hold_us()).abs() <= self.cfg.same_hold_us);
            let cont = self.run > 0
                && self
                    .last_short
                    .is_some_and(|(p, _)| e.press_us - p <= self.cfg.machine_gap_us || same);
            self.run = if cont { self.run + 1 } else { 1 };
            self.same_pair = cont && same;
            self.last_short = Some((e.press_us, e.hold_us()));
        } else {
            if e.hold_us() >= self.cfg.human_hold_us {
                self.human_like += 1;
            }
            // A modifier held across other keys (`HOLD GUI`, Shift under a capital) says nothing about
            // the hand or the device: it neither extends nor breaks a run.
            if !e.key.is_modifier() {
                self.run = 0;
                self.same_pair = false;
            }
        }
        self.recent.push_back(e.clone());
        let keep = self
            .cfg
            .constant_hold_window
            .max(self.cfg.regularity_window + 1)
            .max(8);
        while self.recent.len() > keep {
            self.recent.pop_front();
        }
        if !self.checks.is_empty() {
            self.owner_buf.push_back(e.clone());
            while self.owner_buf.len() > self.cfg.owner_window {
                self.owner_buf.pop_front();
            }
        }
        self.update_soft();
        if self.verdict.is_some() {
            return None;
        }
        if let Some((reason, detail)) = self.check(e) {
            return self.fire(reason, e, detail);
        }
        if !self.checks.is_empty()
            && self.owner_buf.len() >= self.cfg.owner_window
            && self.keystrokes - self.last_owner_check >= self.cfg.owner_every.max(1)
        {
            self.last_owner_check = self.keystrokes;
            let window: Vec<KeyEvent> = self.owner_buf.iter().cloned().collect();
            let mut margin = 0.0;
            let mut fired = None;
            for (reason, check) in &self.checks {
                let s = check.template.score(&window);
                if !s.is_finite() {
                    continue;
                }
                margin += s - check.threshold;
                if s > check.threshold && fired.is_none() {
                    fired = Some((
                        *reason,
                        format!(
                            "{reason} score {s:.3} over the last {} keystrokes > threshold {:.3}",
                            self.cfg.owner_window, check.threshold
                        ),
                    ));
                }
            }
            self.window_margin = Some(self.window_margin.map_or(margin, |x| x.max(margin)));
            if let Some((reason, detail)) = fired {
                return self.fire(reason, e, detail);
            }
        }
        None
    }

    fn verdict(&self) -> Option<&Verdict> {
        self.verdict.as_ref()
    }

    fn score(&self) -> f64 {
        if self.allowed {
            return 0.0;
        }
        // Once a window check has run, its margin is the score (the rules' sub-threshold evidence only ranks
        // streams too short for one): below a verdict the logistic of the (negative) margin, after one
        // `1 + margin`, so the order of margins is kept on both sides.
        match (&self.verdict, self.window_margin) {
            (None, Some(m)) => (1.0 / (1.0 + (-m).exp())).min(0.999),
            (None, None) => self.soft_evidence,
            (Some(_), Some(m)) => 1.0 + m.max(0.0),
            (Some(_), None) => 1.0 + self.soft_evidence,
        }
    }
}

/// Time from a keyboard's attach at `attached_us` to a key press at `press_us`, when the press falls inside
/// `[attach, attach + window]`; `None` for presses before the attach, after the window, or when the
/// difference overflows `i64`.
fn since_attach_us(press_us: i64, attached_us: i64, window_us: i64) -> Option<i64> {
    press_us
        .checked_sub(attached_us)
        .filter(|d| (0..=window_us).contains(d))
}
