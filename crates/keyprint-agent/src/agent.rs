//! The agent's core, without devices or network: capture events from any source go in ([`Input`]), each
//! source gets its own [`Edge`] and session (so a verdict names the device that typed, and a new keyboard
//! is judged as a fresh stream), the edge's records are cut into batches and written to the [`Spool`], and
//! injection verdicts go through the policy (monitor, block, quarantine; allowlist; XTEST auto-type).
//!
//! Nothing here keeps a key identity beyond the edge's own window and a quarantined device's held keys:
//! batches hold edge records only; log lines name devices, rules and counts, never keys.

use crate::config::{CheckedConfig, Policy};
use crate::quarantine::{Gate, GateState, KeySink};
use crate::spool::Spool;
use crate::sysfs::{SourceInfo, Synthetic};
use keyprint_client::SessionBatcher;
use keyprint_core::event::{KeyEvent, MouseEvent};
use keyprint_edge::{DeviceAction, DeviceRecord, Edge, EdgeConfig, Record};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// One capture event, from any source.
#[derive(Clone, Debug)]
pub enum Input {
    /// A source appeared: at start (`hotplug: false`) or plugged in while running (`hotplug: true`; starts
    /// the typing-after-attach rule and, under `quarantine`, the gate).
    Attach {
        /// Identity.
        info: SourceInfo,
        /// When, µs on the source's event clock.
        at_us: i64,
        /// Plugged in while the agent ran.
        hotplug: bool,
        /// Capture holds an `EVIOCGRAB` on it (policy `quarantine`, a hot-plugged keyboard, uinput
        /// available): nothing else sees its keys until the gate releases it through the sink.
        grabbed: bool,
    },
    /// A source went away.
    Detach {
        /// [`SourceInfo::id`].
        id: String,
        /// When, µs.
        at_us: i64,
    },
    /// A complete keystroke, in press order per source.
    Key {
        /// [`SourceInfo::id`].
        id: String,
        /// The keystroke.
        key: KeyEvent,
    },
    /// A mouse sample.
    Mouse {
        /// [`SourceInfo::id`].
        id: String,
        /// The sample.
        event: MouseEvent,
    },
}

/// What the agent did about a verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    /// Reported only (policy `monitor`).
    Reported,
    /// The USB device was de-authorized.
    Blocked,
    /// Blocking was asked for but not possible (no USB device, or the write failed): reported only.
    BlockFailed,
    /// A quarantined (grabbed) device's held keys were discarded; it stays grabbed (its keys reach nothing)
    /// and its USB device, if any, is de-authorized.
    Quarantined,
    /// XTEST auto-type (password manager, xdotool): recognised and reported, not blocked.
    AutoType,
    /// An allowlisted device (OTP token, scanner): not reported.
    Allowlisted,
}

/// One verdict as the agent handled it (kept for the operator and tests; no key identities).
#[derive(Clone, Debug, PartialEq)]
pub struct LocalAlert {
    /// The source.
    pub source: SourceInfo,
    /// The session its records go to.
    pub session: String,
    /// The rule that fired.
    pub rule: String,
    /// 1-based keystroke index of that source's stream.
    pub keystroke: u64,
    /// What was done.
    pub response: Response,
}

/// Counters (no key identities).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentCounts {
    /// Keystrokes captured.
    pub keys: u64,
    /// Mouse samples captured.
    pub mouse: u64,
    /// Records emitted by the edges.
    pub records: u64,
    /// Batches handed to the spool.
    pub batches: u64,
    /// Batches the spool could not take (counted there too).
    pub spool_failures: u64,
    /// Events from sources the agent does not know (counted, ignored).
    pub unknown_source: u64,
}

struct Stream {
    info: SourceInfo,
    session: String,
    edge: Edge,
    batcher: SessionBatcher,
    allowed: Option<String>,
    gate: Option<Gate>,
}

/// The agent core.
pub struct Agent {
    cfg: CheckedConfig,
    edge_cfg: EdgeConfig,
    user: String,
    device: Option<String>,
    session_base: String,
    streams: HashMap<String, Stream>,
    spool: Arc<Mutex<Spool>>,
    sink: Box<dyn KeySink + Send>,
    log: Box<dyn FnMut(&str) + Send>,
    out: Vec<Record>,
    /// Verdicts handled.
    pub alerts: Vec<LocalAlert>,
    /// Counters.
    pub counts: AgentCounts,
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

impl Agent {
    /// An agent reporting as `user` from `device` (the credential's device id), sessions named
    /// `<session_prefix>-<start_ms>-<source>`; batches go to `spool`, log lines to `log`, released
    /// quarantined keys to `sink`.
    pub fn new(
        cfg: CheckedConfig,
        user: &str,
        device: Option<&str>,
        start_ms: u64,
        spool: Arc<Mutex<Spool>>,
        sink: Box<dyn KeySink + Send>,
        log: Box<dyn FnMut(&str) + Send>,
    ) -> Agent {
        Agent {
            session_base: format!("{}-{start_ms}", cfg.session_prefix),
            cfg,
            edge_cfg: EdgeConfig::default(),
            user: user.to_string(),
            device: device.map(str::to_string),
            streams: HashMap::new(),
            spool,
            sink,
            log,
            out: Vec::new(),
            alerts: Vec::new(),
            counts: AgentCounts::default(),
        }
    }

    /// The session a source's records go to.
    pub fn session_of(&self, id: &str) -> Option<&str> {
        self.streams.get(id).map(|s| s.session.as_str())
    }

    /// A quarantined source's gate state.
    pub fn gate_state(&self, id: &str) -> Option<GateState> {
        self.streams.get(id)?.gate.as_ref().map(Gate::state)
    }

    /// One capture event.
    pub fn handle(&mut self, input: Input) {
        match input {
            Input::Attach {
                info,
                at_us,
                hotplug,
                grabbed,
            } => self.attach(info, at_us, hotplug, grabbed),
            Input::Detach { id, at_us } => self.detach(&id, at_us),
            Input::Key { id, key } => self.key(&id, &key),
            Input::Mouse { id, event } => {
                let Some(s) = self.streams.get_mut(&id) else {
                    self.counts.unknown_source += 1;
                    return;
                };
                self.counts.mouse += 1;
                s.edge.mouse(event, &mut self.out);
                self.emit(&id);
            }
        }
    }

    fn attach(&mut self, info: SourceInfo, at_us: i64, hotplug: bool, grabbed: bool) {
        if self.streams.contains_key(&info.id) {
            return;
        }
        let mut tail = slug(&info.id);
        tail.push('-');
        let bus = info
            .synthetic
            .map_or(info.bus.clone(), |k| k.name().to_string());
        tail.push_str(&slug(&bus));
        if let (Some(v), Some(p)) = (&info.vendor, &info.product) {
            tail.push_str(&format!("-{v}-{p}"));
        }
        let session = format!("{}-{tail}", self.session_base);
        let allowed = self
            .cfg
            .allowed(
                info.vendor.as_deref(),
                info.product.as_deref(),
                info.serial.as_deref(),
            )
            .map(|a| a.note.clone());
        let gate = (grabbed
            && hotplug
            && info.keyboard
            && self.cfg.defence.policy == Policy::Quarantine
            && allowed.is_none())
        .then(|| {
            Gate::new(
                self.cfg.defence.quarantine_release_after,
                self.edge_cfg.injection.human_hold_us,
            )
        });
        (self.log)(&format!(
            "device {} {}: {} -> session {session}{}{}",
            if hotplug { "attached" } else { "present" },
            info.id,
            info.describe(),
            if allowed.is_some() {
                " (allowlisted)"
            } else {
                ""
            },
            if gate.is_some() {
                " (quarantined until it types like a human)"
            } else {
                ""
            },
        ));
        let mut s = Stream {
            edge: Edge::new(self.edge_cfg.clone()).expect("default edge settings are valid"),
            batcher: SessionBatcher::new(
                &self.user,
                &session,
                self.device.as_deref(),
                self.cfg.upload.batch_records,
            ),
            session,
            allowed,
            gate,
            info,
        };
        if grabbed && s.gate.is_none() {
            // Grabbed by capture but not to be held (allowlisted): let it go at once.
            self.sink.release(&s.info.id);
        }
        let rec = device_record(&s.info, at_us, DeviceAction::Attach);
        if hotplug {
            s.edge.device(rec, &mut self.out);
        } else {
            // Present at start: reported, but not judged as freshly attached.
            self.out.push(Record::Device(rec));
        }
        let id = s.info.id.clone();
        self.streams.insert(id.clone(), s);
        self.emit(&id);
    }

    fn detach(&mut self, id: &str, at_us: i64) {
        let Some(s) = self.streams.get_mut(id) else {
            return;
        };
        let rec = device_record(&s.info, at_us, DeviceAction::Detach);
        s.edge.finish(&mut self.out);
        self.out.push(Record::Device(rec));
        self.emit(id);
        self.flush_one(id);
        if let Some(s) = self.streams.remove(id) {
            (self.log)(&format!("device detached {id}: {}", s.info.describe()));
        }
    }

    fn key(&mut self, id: &str, k: &KeyEvent) {
        let Some(s) = self.streams.get_mut(id) else {
            self.counts.unknown_source += 1;
            return;
        };
        self.counts.keys += 1;
        s.edge.key(k, &mut self.out);
        let verdict = self.emit(id);
        let s = self.streams.get_mut(id).expect("present");
        if let Some(g) = s.gate.as_mut() {
            let before = g.state();
            g.key(id, k, self.sink.as_mut());
            if before == GateState::Holding && g.state() == GateState::Released {
                let (passed, desc) = (g.passed, s.info.describe());
                (self.log)(&format!(
                    "quarantine: {id} ({desc}) typed like a human: {passed} held keystrokes re-emitted, grab released"
                ));
            }
        }
        if verdict {
            self.flush_one(id);
        }
    }

    /// Routes the records the edge just emitted for `id`; returns true when one was a verdict.
    fn emit(&mut self, id: &str) -> bool {
        let mut verdict = false;
        let records = std::mem::take(&mut self.out);
        for r in &records {
            self.counts.records += 1;
            if let Record::Injection(v) = r {
                verdict = true;
                if !self.on_verdict(id, &v.rule, v.keystroke) {
                    continue;
                }
            }
            let s = self.streams.get_mut(id).expect("present");
            if let Some(b) = s.batcher.push(r) {
                self.spool_batch(&b);
            }
        }
        self.out = records;
        self.out.clear();
        verdict
    }

    /// Applies the policy to a verdict; returns whether the verdict record is reported.
    fn on_verdict(&mut self, id: &str, rule: &str, keystroke: u64) -> bool {
        let policy = self.cfg.defence.policy;
        let act_on_xtest = self.cfg.defence.act_on_xtest;
        let s = self.streams.get_mut(id).expect("present");
        let response = if s.allowed.is_some() {
            Response::Allowlisted
        } else if s.info.synthetic == Some(Synthetic::Xtest) && !act_on_xtest {
            Response::AutoType
        } else if let Some(g) = s.gate.as_mut().filter(|g| g.state() == GateState::Holding) {
            let n = g.verdict();
            let blocked = block(&s.info, Response::Blocked) == Response::Blocked;
            (self.log)(&format!(
                "quarantine: {id}: {n} held keystrokes discarded; device stays grabbed{}",
                if blocked {
                    " and is de-authorized"
                } else {
                    " (not de-authorized: no USB device, or the write was refused)"
                }
            ));
            Response::Quarantined
        } else if policy == Policy::Monitor {
            Response::Reported
        } else {
            block(&s.info, Response::Blocked)
        };
        let alert = LocalAlert {
            source: s.info.clone(),
            session: s.session.clone(),
            rule: rule.to_string(),
            keystroke,
            response,
        };
        let note = s.allowed.clone().unwrap_or_default();
        (self.log)(&format!(
            "injection verdict on {} ({}): rule {rule} at keystroke {keystroke}, session {}: {}",
            alert.source.id,
            alert.source.describe(),
            alert.session,
            match response {
                Response::Reported => "reported (policy monitor)".to_string(),
                Response::Blocked => format!(
                    "device de-authorized ({})",
                    alert
                        .source
                        .usb_device
                        .as_ref()
                        .map_or(String::new(), |p| p.display().to_string())
                ),
                Response::BlockFailed =>
                    "reported; could not block (no USB device or write refused)".to_string(),
                Response::Quarantined =>
                    "quarantined keys discarded, device kept grabbed".to_string(),
                Response::AutoType =>
                    "XTEST auto-type recognised (password manager, xdotool); reported, not blocked"
                        .to_string(),
                Response::Allowlisted => format!("allowlisted device ({note}); not reported"),
            }
        ));
        self.alerts.push(alert);
        response != Response::Allowlisted
    }

    fn spool_batch(&mut self, b: &keyprint_wire::IngestBatch) {
        self.counts.batches += 1;
        let mut spool = self.spool.lock().expect("spool lock");
        let before = spool.counts.dropped_full;
        if let Err(e) = spool.append(b) {
            self.counts.spool_failures += 1;
            let c = spool.counts;
            drop(spool);
            (self.log)(&format!(
                "spool: batch dropped: {e} (dropped so far: {} full, {} write)",
                c.dropped_full, c.dropped_write
            ));
        } else if spool.counts.dropped_full > before {
            let c = spool.counts.dropped_full;
            drop(spool);
            (self.log)(&format!(
                "spool full: oldest batches dropped (dropped so far: {c})"
            ));
        }
    }

    fn flush_one(&mut self, id: &str) {
        if let Some(b) = self.streams.get_mut(id).and_then(|s| s.batcher.flush()) {
            self.spool_batch(&b);
        }
    }

    /// No input is pending: the sink emits the releases it still holds back (see [`KeySink::flush`]).
    pub fn idle(&mut self) {
        self.sink.flush();
    }

    /// Spools every partly filled batch (called every `upload.flush_ms`).
    pub fn tick(&mut self) {
        self.sink.flush();
        let ids: Vec<String> = self.streams.keys().cloned().collect();
        for id in ids {
            self.flush_one(&id);
        }
    }

    /// Ends every session (windows summarised, last mouse action) and spools what is pending.
    pub fn finish(&mut self) {
        let ids: Vec<String> = self.streams.keys().cloned().collect();
        for id in ids {
            let s = self.streams.get_mut(&id).expect("present");
            s.edge.finish(&mut self.out);
            self.emit(&id);
            self.flush_one(&id);
        }
    }
}

/// The edge's device record of a source (a synthetic source's bus is its kind: `uinput`, `xtest`, …).
fn device_record(info: &SourceInfo, at_us: i64, action: DeviceAction) -> DeviceRecord {
    DeviceRecord {
        at_us,
        action,
        bus: info
            .synthetic
            .map_or(info.bus.clone(), |k| k.name().to_string()),
        vendor: info.vendor.clone(),
        product: info.product.clone(),
        synthetic: info.synthetic.is_some(),
    }
}

fn block(info: &SourceInfo, ok: Response) -> Response {
    match &info.usb_device {
        Some(p) if crate::sysfs::deauthorize(p).is_ok() => ok,
        _ => Response::BlockFailed,
    }
}
