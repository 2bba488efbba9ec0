//! The evdev source: a scanner finds `event*` nodes in the input folder (every `sources.scan_ms`; udev
//! creates them as devices appear), reads each one's identity from sysfs, and a reader thread per node
//! decodes its `input_event`s into keystrokes and mouse samples. Nodes found at start are `present`; nodes
//! that appear later are hot-plugged (attach time = when the scanner saw them, on the same clock as the
//! kernel's event timestamps, `CLOCK_REALTIME`).
//!
//! A reader of a character device stops when the device goes (`ENODEV`); a reader of a regular file (a
//! recording) follows it like `tail -f` until the file is removed, so recordings can be replayed live.

use crate::agent::Input;
use crate::evdev::{Assembler, Captured, Decoder};
use crate::sysfs::{self, SourceInfo};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

/// Now on `CLOCK_REALTIME`, µs (the kernel's default `input_event` clock).
pub fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Evdev source settings.
#[derive(Clone, Debug)]
pub struct EvdevSource {
    /// Folder of `event*` nodes.
    pub input_dir: PathBuf,
    /// sysfs root.
    pub sysfs: PathBuf,
    /// Screen for relative motion, px.
    pub screen_px: [u32; 2],
    /// Scan period.
    pub scan: Duration,
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

impl EvdevSource {
    /// Scans forever, sending [`Input`]s to `tx` (returns when `tx`'s receiver is gone).
    pub fn run(self, tx: Sender<Input>) {
        let mut known: HashSet<String> = HashSet::new();
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
            for node in nodes {
                if known.contains(&node) {
                    continue;
                }
                known.insert(node.clone());
                let info = sysfs::identify(&self.sysfs, &node).unwrap_or_else(|| unknown(&node));
                let at_us = now_us();
                if tx
                    .send(Input::Attach {
                        info: info.clone(),
                        at_us,
                        hotplug: !first,
                    })
                    .is_err()
                {
                    return;
                }
                let path = self.input_dir.join(&node);
                let tx = tx.clone();
                let screen = self.screen_px;
                std::thread::Builder::new()
                    .name(format!("evdev-{node}"))
                    .spawn(move || read_node(&path, &info.id, screen, &tx))
                    .expect("spawn reader");
            }
            first = false;
            std::thread::sleep(self.scan);
        }
    }
}

/// Pause after a read that drained the node: bounds wake-ups to 25 a second per device, and delays a
/// keystroke's verdict by at most this much.
pub const COALESCE: Duration = Duration::from_millis(40);

fn read_node(path: &Path, id: &str, screen: [u32; 2], tx: &Sender<Input>) {
    let Ok(mut f) = std::fs::File::open(path) else {
        let _ = tx.send(Input::Detach {
            id: id.into(),
            at_us: now_us(),
        });
        return;
    };
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
