//! The evdev source: a scanner finds `event*` nodes in the input folder, reads each one's identity from
//! sysfs, and a reader thread per node decodes its `input_event`s into keystrokes and mouse samples. The
//! scanner wakes on a uevent ([`crate::uevent`]: a kernel or udev `add` of `input/event*`) and otherwise
//! every `sources.scan_ms` (only trigger without uevents; ×10, a safety net, with them). Nodes found at
//! start are `present`; nodes that appear later are hot-plugged (attach time = the uevent's arrival, or
//! when the scanner saw the node, on the clock of the kernel's event timestamps, `CLOCK_REALTIME`). A node
//! that cannot be opened yet (udev still setting its group) is retried at the next wake-up.
//!
//! Under quarantine a hot-plugged keyboard is grabbed (`EVIOCGRAB`) right after it is opened and before its
//! attach is announced; the agent's own uinput keyboard (by its sysfs name) is never opened.
//!
//! A reader of a character device stops when the device goes (`ENODEV`); a reader of a regular file (a
//! recording) follows it like `tail -f` until the file is removed, so recordings can be replayed live.

use crate::agent::Input;
use crate::evdev::{Assembler, Captured, Decoder};
use crate::sysfs::{self, SourceInfo};
use crate::uevent::Added;
use crate::uinput::{self, DeviceIo, FdIo, Grabs};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// Now on `CLOCK_REALTIME`, µs (the kernel's default `input_event` clock).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Quarantine's part in capture: which hot-plugged devices to grab, how, and where the grab handles go.
#[derive(Clone)]
pub struct Quarantine {
    /// Grab handles by source id, shared with the sink that releases them.
    pub grabs: Grabs,
    /// True for a device to hold (a keyboard, not allowlisted): decided from its sysfs identity.
    pub wants: Arc<dyn Fn(&SourceInfo) -> bool + Send + Sync>,
    /// Grabs the open node; returns the handle that later releases it ([`grab_node`] on a real system).
    pub grabber: Grabber,
}

/// Grabs an open evdev node and returns the handle that releases it.
pub type Grabber = Arc<dyn Fn(&std::fs::File) -> std::io::Result<Box<dyn DeviceIo>> + Send + Sync>;

/// `EVIOCGRAB 1` on a `dup` of `file` (the grab belongs to the open file, so the reader keeps receiving).
///
/// # Errors
/// `EBUSY` (another grabber), `ENOTTY` (not an evdev node), the `dup` error.
pub fn grab_node(file: &std::fs::File) -> std::io::Result<Box<dyn DeviceIo>> {
    let mut io = FdIo(file.try_clone()?);
    uinput::grab(&mut io)?;
    Ok(Box::new(io))
}

/// Evdev source settings.
#[derive(Clone)]
pub struct EvdevSource {
    /// Folder of `event*` nodes.
    pub input_dir: PathBuf,
    /// sysfs root.
    pub sysfs: PathBuf,
    /// Screen for relative motion, px.
    pub screen_px: [u32; 2],
    /// Scan period: the only trigger without uevents; ten times longer (a safety net) with them.
    pub scan: Duration,
    /// Grab hot-plugged keyboards (policy `quarantine` with a uinput device), or not.
    pub quarantine: Option<Quarantine>,
    /// The sysfs name (`input42`) of the agent's own uinput keyboard: never captured or judged.
    pub own_sysname: Option<String>,
}

fn unknown(node: &str) -> SourceInfo {
    SourceInfo {
        id: format!("evdev:{node}"),
        name: String::new(),
        bus: "unknown".into(),
        vendor: None,
        product: None,
        serial: None,
        phys: None,
        synthetic: None,
        usb_device: None,
        keyboard: true,
        pointer: true,
    }
}

fn log(line: &str) {
    eprintln!("keyprint-agent: {line}");
}

impl EvdevSource {
    /// Scans forever, sending [`Input`]s to `tx` (returns when `tx`'s receiver is gone). `added` carries
    /// uevent wake-ups ([`crate::uevent`]): each scans at once and its time is the node's attach time; with
    /// it the periodic scan runs every 10 × `scan`, without it (or once its sender is gone) every `scan`.
    pub fn run(self, tx: Sender<Input>, mut added: Option<Receiver<Added>>) {
        let mut known: HashSet<String> = HashSet::new();
        let mut unreadable: HashSet<String> = HashSet::new();
        let mut uevent_at: HashMap<String, i64> = HashMap::new();
        let mut first = true;
        loop {
            let mut nodes: Vec<String> = std::fs::read_dir(&self.input_dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with("event"))
                        .collect()
                })
                .unwrap_or_default();
            nodes.sort();
            let present: HashSet<String> = nodes.iter().cloned().collect();
            known.retain(|n| present.contains(n));
            // Uevent times wait for their node (it may show up a moment later); a stale one is replaced by
            // the node's next uevent, and the map stays small.
            uevent_at.retain(|n, _| !known.contains(n));
            if uevent_at.len() > 64 {
                uevent_at.clear();
            }
            for node in nodes {
                if known.contains(&node) {
                    continue;
                }
                if self.own_sysname.is_some()
                    && sysfs::input_sysname(&self.sysfs, &node) == self.own_sysname
                {
                    log(&format!(
                        "{node} is the agent's own quarantine keyboard: not captured"
                    ));
                    known.insert(node);
                    continue;
                }
                let path = self.input_dir.join(&node);
                let file = match std::fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) => {
                        // udev may not have set the node's group yet: retried at the next wake-up.
                        if unreadable.insert(node.clone()) {
                            log(&format!("{}: {e}; retrying", path.display()));
                        }
                        continue;
                    }
                };
                unreadable.remove(&node);
                known.insert(node.clone());
                let info = sysfs::identify(&self.sysfs, &node).unwrap_or_else(|| unknown(&node));
                let hotplug = !first;
                let mut grabbed = false;
                if let Some(q) = self
                    .quarantine
                    .as_ref()
                    .filter(|q| hotplug && (q.wants)(&info))
                {
                    match (q.grabber)(&file) {
                        Ok(handle) => {
                            q.grabs
                                .lock()
                                .expect("grabs lock")
                                .insert(info.id.clone(), handle);
                            grabbed = true;
                        }
                        Err(e) => log(&format!(
                            "quarantine: cannot grab {node} ({e}): judged without holding (policy block applies)"
                        )),
                    }
                }
                let at_us = uevent_at.remove(&node).unwrap_or_else(now_us);
                if tx
                    .send(Input::Attach {
                        info: info.clone(),
                        at_us,
                        hotplug,
                        grabbed,
                    })
                    .is_err()
                {
                    return;
                }
                let tx = tx.clone();
                let screen = self.screen_px;
                let grabs = self.quarantine.as_ref().map(|q| q.grabs.clone());
                std::thread::Builder::new()
                    .name(format!("evdev-{node}"))
                    .spawn(move || {
                        read_node(file, &path, &info.id, screen, &tx);
                        if let Some(g) = grabs {
                            g.lock().expect("grabs lock").remove(&info.id);
                        }
                    })
                    .expect("spawn reader");
            }
            first = false;
            match added.as_ref() {
                None => std::thread::sleep(self.scan),
                Some(rx) => match rx.recv_timeout(self.scan * 10) {
                    Ok(a) => {
                        for a in std::iter::once(a).chain(rx.try_iter()) {
                            if a.removed {
                                uevent_at.remove(&a.node);
                            } else {
                                uevent_at.insert(a.node, a.at_us);
                            }
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        log("uevents stopped: scanning every scan_ms");
                        added = None;
                    }
                },
            }
        }
    }
}

/// Pause after a read that drained the node: bounds wake-ups to 25 a second per device, and delays a
/// keystroke's verdict by at most this much.
pub const COALESCE: Duration = Duration::from_millis(40);

fn read_node(mut f: std::fs::File, path: &Path, id: &str, screen: [u32; 2], tx: &Sender<Input>) {
    let regular = f.metadata().is_ok_and(|m| m.is_file());
    let mut dec = Decoder::new(&path.display().to_string());
    let mut asm = Assembler::new(f64::from(screen[0]), f64::from(screen[1]));
    let (mut evs, mut out) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 24 * 64];
    loop {
        match f.read(&mut buf) {
            Ok(0) if regular && path.exists() => std::thread::sleep(Duration::from_millis(20)),
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if n < buf.len() {
                    // Coalesce: at most one wake-up per COALESCE per device (the kernel's evdev buffer holds far
                    // more than that; an overflow arrives as SYN_DROPPED and is handled). Thread hops, not
                    // decoding, are the agent's main cost at 100 mouse events/s.
                    std::thread::sleep(COALESCE);
                }
                dec.push(&buf[..n], &mut evs);
                for e in evs.drain(..) {
                    asm.push(&e, &mut out);
                }
                for c in out.drain(..) {
                    let input = match c {
                        Captured::Key(key) => Input::Key { id: id.into(), key },
                        Captured::Mouse(event) => Input::Mouse {
                            id: id.into(),
                            event,
                        },
                    };
                    if tx.send(input).is_err() {
                        return;
                    }
                }
            }
        }
    }
    if dec.rejected > 0 {
        eprintln!(
            "keyprint-agent: {}: {} records rejected; first: {}",
            path.display(),
            dec.rejected,
            dec.errors
                .first()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
    let _ = tx.send(Input::Detach {
        id: id.into(),
        at_us: now_us(),
    });
}
