//! The OS side of quarantine: `EVIOCGRAB` on a newly attached keyboard's evdev node (no other reader — X,
//! Wayland compositor, console — sees its keys while the agent holds them) and one virtual keyboard made
//! through `/dev/uinput` that re-emits the keystrokes the [`Gate`](crate::quarantine::Gate) releases.
//!
//! Every OS call goes through [`DeviceIo`] (an `ioctl` with an `int` value, an `ioctl` with a pointer to a
//! struct, a `write`), so a test double records the exact request numbers and bytes; [`FdIo`] is the real
//! one (`libc::ioctl` and `write(2)` on an open file). The request numbers are the kernel's
//! (`include/uapi/linux/uinput.h`, `input.h`, `_IOC` encoding of x86-64, arm64 and riscv64).
//!
//! Why not the `evdev` crate's `uinput::VirtualDevice`: it owns its file descriptor and makes the ioctls
//! itself, so a test cannot see the sequence or the written `input_event`s — and this module needs only five
//! requests.
//!
//! The uinput sequence ([`UinputSink::create`]): `UI_SET_EVBIT EV_KEY`, `UI_SET_EVBIT EV_SYN`, one
//! `UI_SET_KEYBIT` per key of the code table ([`crate::keys`]), `UI_DEV_SETUP` (bus `BUS_VIRTUAL`, name
//! [`UINPUT_NAME`]), `UI_DEV_CREATE`, then `UI_GET_SYSNAME` so the agent knows its own device's sysfs name
//! (`inputN`) and never captures or judges it. Each re-emitted keystroke is written as kernel
//! `input_event`s: `EV_KEY code 1`, `EV_SYN SYN_REPORT`, … `EV_KEY code 0`, `EV_SYN SYN_REPORT`; presses and
//! releases of overlapping keystrokes (Shift held over a letter, rollover) are interleaved as they were typed.

use crate::evdev::{EV_KEY, EV_SYN, InputEvent, SYN_REPORT};
use crate::quarantine::KeySink;
use keyprint_core::event::KeyEvent;
use std::collections::HashMap;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::{Arc, Mutex};

const fn ioc(dir: u64, ty: u8, nr: u8, size: u64) -> u64 {
    (dir << 30) | (size << 16) | ((ty as u64) << 8) | nr as u64
}
const IOC_NONE: u64 = 0;
const IOC_WRITE: u64 = 1;
const IOC_READ: u64 = 2;

/// `EVIOCGRAB` = `_IOW('E', 0x90, int)`: value 1 grabs the device for this open file, 0 releases it.
pub const EVIOCGRAB: u64 = ioc(IOC_WRITE, b'E', 0x90, 4);
/// `UI_DEV_CREATE` = `_IO('U', 1)`.
pub const UI_DEV_CREATE: u64 = ioc(IOC_NONE, b'U', 1, 0);
/// `UI_DEV_DESTROY` = `_IO('U', 2)`.
pub const UI_DEV_DESTROY: u64 = ioc(IOC_NONE, b'U', 2, 0);
/// `UI_DEV_SETUP` = `_IOW('U', 3, struct uinput_setup)` (92 bytes).
pub const UI_DEV_SETUP: u64 = ioc(IOC_WRITE, b'U', 3, UINPUT_SETUP_SIZE as u64);
/// `UI_SET_EVBIT` = `_IOW('U', 100, int)`.
pub const UI_SET_EVBIT: u64 = ioc(IOC_WRITE, b'U', 100, 4);
/// `UI_SET_KEYBIT` = `_IOW('U', 101, int)`.
pub const UI_SET_KEYBIT: u64 = ioc(IOC_WRITE, b'U', 101, 4);
/// Bytes asked of `UI_GET_SYSNAME`.
pub const SYSNAME_LEN: usize = 64;
/// `UI_GET_SYSNAME(64)` = `_IOC(_IOC_READ, 'U', 44, 64)`: the created device's sysfs name (`input42`).
pub const UI_GET_SYSNAME: u64 = ioc(IOC_READ, b'U', 44, SYSNAME_LEN as u64);
/// `sizeof(struct uinput_setup)`: `struct input_id` (4 × u16), `char name[80]`, `u32 ff_effects_max`.
pub const UINPUT_SETUP_SIZE: usize = 92;
/// `BUS_VIRTUAL`.
pub const BUS_VIRTUAL: u16 = 0x06;
/// The virtual keyboard's name (also how the X11 source recognises it: X shows uinput devices by name).
pub const UINPUT_NAME: &str = "keyprint-agent quarantine";

/// The OS calls quarantine makes on one open device file.
pub trait DeviceIo: Send {
    /// `ioctl(fd, request, value)` with an `int` argument passed by value (`EVIOCGRAB`, `UI_SET_*BIT`,
    /// `UI_DEV_CREATE` with 0).
    ///
    /// # Errors
    /// The OS error (`EBUSY` when another reader holds the grab, `EINVAL`, …).
    fn ioctl_value(&mut self, request: u64, value: i32) -> io::Result<()>;
    /// `ioctl(fd, request, buf.as_mut_ptr())`: `buf` is a struct the kernel reads (`UI_DEV_SETUP`) or fills
    /// (`UI_GET_SYSNAME`).
    ///
    /// # Errors
    /// The OS error.
    fn ioctl_ptr(&mut self, request: u64, buf: &mut [u8]) -> io::Result<()>;
    /// `write(fd, bytes)` in full (uinput takes whole `input_event`s).
    ///
    /// # Errors
    /// The OS error.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;
}

/// The real [`DeviceIo`]: an open `/dev/uinput` or `/dev/input/eventN`.
pub struct FdIo(pub std::fs::File);

fn check(r: libc::c_int) -> io::Result<()> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl DeviceIo for FdIo {
    fn ioctl_value(&mut self, request: u64, value: i32) -> io::Result<()> {
        // SAFETY: the requests used take an int by value; the fd is open for the life of self.
        check(unsafe { libc::ioctl(self.0.as_raw_fd(), request as _, value as libc::c_long) })
    }

    fn ioctl_ptr(&mut self, request: u64, buf: &mut [u8]) -> io::Result<()> {
        // The request encodes the size the kernel copies; refuse a shorter buffer.
        if buf.len() < ((request >> 16) & 0x3fff) as usize {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // SAFETY: buf is at least the size encoded in the request and lives across the call.
        check(unsafe { libc::ioctl(self.0.as_raw_fd(), request as _, buf.as_mut_ptr()) })
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        io::Write::write_all(&mut self.0, bytes)
    }
}

/// Opens `/dev/uinput` (or another path) for writing, non-blocking, as uinput expects.
///
/// # Errors
/// The open error (`ENOENT` without the uinput module, `EACCES` without `rw` on the node).
pub fn open_uinput(path: &Path) -> io::Result<FdIo> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map(FdIo)
}

/// Grabs an evdev node (`EVIOCGRAB 1`): until released (or the file closed) only this open file receives its
/// events.
///
/// # Errors
/// `EBUSY` when another process holds the grab; other OS errors.
pub fn grab(dev: &mut dyn DeviceIo) -> io::Result<()> {
    dev.ioctl_value(EVIOCGRAB, 1)
}

/// Grabbed evdev nodes by source id ([`crate::sysfs::SourceInfo::id`]): capture puts a handle (a `dup` of
/// the reader's file: the grab belongs to the open file, so either handle releases it) here when it grabs,
/// the sink releases it when the gate opens, and capture removes it when the device goes.
pub type Grabs = Arc<Mutex<HashMap<String, Box<dyn DeviceIo>>>>;

/// `struct uinput_setup` for the virtual keyboard: `BUS_VIRTUAL`, vendor and product 0, version 1,
/// [`UINPUT_NAME`], no force feedback.
pub fn uinput_setup() -> [u8; UINPUT_SETUP_SIZE] {
    let mut b = [0u8; UINPUT_SETUP_SIZE];
    b[0..2].copy_from_slice(&BUS_VIRTUAL.to_ne_bytes());
    b[6..8].copy_from_slice(&1u16.to_ne_bytes());
    b[8..8 + UINPUT_NAME.len()].copy_from_slice(UINPUT_NAME.as_bytes());
    b
}

/// Counters of the virtual keyboard (no key identities).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkCounts {
    /// Keystrokes re-emitted.
    pub emitted: u64,
    /// Writes that failed (their keystrokes are lost).
    pub write_errors: u64,
    /// Devices released from their grab.
    pub released: u64,
}

/// The real [`KeySink`]: one uinput virtual keyboard, re-emitting released keystrokes, and the releasing of
/// grabs when a gate opens.
pub struct UinputSink {
    dev: Box<dyn DeviceIo>,
    grabs: Grabs,
    /// Releases already due, `(release_us, code)`, written at the next press after them or at [`flush`].
    ///
    /// [`flush`]: KeySink::flush
    pending: Vec<(i64, u16)>,
    now_us: Box<dyn Fn() -> i64 + Send>,
    /// The created device's sysfs name (`input42`), when the kernel told it.
    pub sysname: Option<String>,
    /// Counters.
    pub counts: SinkCounts,
}

impl UinputSink {
    /// Creates the virtual keyboard on `dev` (an open `/dev/uinput`); `grabs` is shared with capture;
    /// `now_us` reads the clock of the kernel's event timestamps (`CLOCK_REALTIME`), used as the time a
    /// grab was released.
    ///
    /// # Errors
    /// The first ioctl that failed (the caller falls back to `block`).
    pub fn create(
        mut dev: Box<dyn DeviceIo>,
        grabs: Grabs,
        now_us: Box<dyn Fn() -> i64 + Send>,
    ) -> io::Result<UinputSink> {
        dev.ioctl_value(UI_SET_EVBIT, i32::from(EV_KEY))?;
        dev.ioctl_value(UI_SET_EVBIT, i32::from(EV_SYN))?;
        for code in crate::keys::codes() {
            dev.ioctl_value(UI_SET_KEYBIT, i32::from(code))?;
        }
        dev.ioctl_ptr(UI_DEV_SETUP, &mut uinput_setup())?;
        dev.ioctl_value(UI_DEV_CREATE, 0)?;
        let mut name = [0u8; SYSNAME_LEN];
        // Kernels before 3.15 lack UI_GET_SYSNAME: the device then is recognised by name only.
        let sysname = dev.ioctl_ptr(UI_GET_SYSNAME, &mut name).ok().and_then(|_| {
            let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
            std::str::from_utf8(&name[..end])
                .ok()
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        });
        Ok(UinputSink {
            dev,
            grabs,
            pending: Vec::new(),
            now_us,
            sysname,
            counts: SinkCounts::default(),
        })
    }

    fn emit(&mut self, code: u16, value: i32) {
        let ev = |kind, code, value| InputEvent {
            time_us: 0, // the kernel stamps uinput events itself
            kind,
            code,
            value,
        };
        let mut b = [0u8; 48];
        b[..24].copy_from_slice(&ev(EV_KEY, code, value).to_bytes());
        b[24..].copy_from_slice(&ev(EV_SYN, SYN_REPORT, 0).to_bytes());
        if self.dev.write(&b).is_err() {
            self.counts.write_errors += 1;
        }
    }

    fn release_due(&mut self, before_us: Option<i64>) {
        self.pending.sort_by_key(|p| p.0);
        let n = before_us.map_or(self.pending.len(), |t| {
            self.pending.partition_point(|p| p.0 <= t)
        });
        for (_, code) in self.pending.drain(..n).collect::<Vec<_>>() {
            self.emit(code, 0);
        }
    }
}

impl KeySink for UinputSink {
    fn pass(&mut self, k: &KeyEvent) {
        let Some(code) = k.key.as_code().and_then(crate::keys::linux_key) else {
            return;
        };
        self.release_due(Some(k.press_us));
        self.emit(code, 1);
        self.pending.push((k.release_us, code));
        self.counts.emitted += 1;
    }

    fn flush(&mut self) {
        self.release_due(None);
    }

    fn release(&mut self, id: &str) -> Option<i64> {
        self.flush();
        let mut g = self.grabs.lock().expect("grabs lock").remove(id)?;
        let at = (self.now_us)();
        let _ = g.ioctl_value(EVIOCGRAB, 0);
        self.counts.released += 1;
        Some(at)
    }
}

impl Drop for UinputSink {
    fn drop(&mut self) {
        self.flush();
        let _ = self.dev.ioctl_value(UI_DEV_DESTROY, 0);
    }
}

/// Recorded ioctls: `(request, argument bytes)` in call order.
pub type IoctlLog = Arc<Mutex<Vec<(u64, Vec<u8>)>>>;

/// A [`DeviceIo`] that records every call (tests and the replay demo): `calls` holds `(request, value or
/// the struct's bytes)`, `written` the bytes written. `fail_on` makes one request fail with `EBUSY`.
#[derive(Clone, Default)]
pub struct RecordingIo {
    /// Every ioctl in order: request number and argument (an `int` as 4 native-endian bytes, or the struct).
    pub calls: IoctlLog,
    /// Every byte written.
    pub written: Arc<Mutex<Vec<u8>>>,
    /// The sysfs name `UI_GET_SYSNAME` answers.
    pub sysname: &'static str,
    /// A request that fails.
    pub fail_on: Option<u64>,
}

impl DeviceIo for RecordingIo {
    fn ioctl_value(&mut self, request: u64, value: i32) -> io::Result<()> {
        self.calls
            .lock()
            .expect("calls lock")
            .push((request, value.to_ne_bytes().to_vec()));
        if self.fail_on == Some(request) {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        Ok(())
    }

    fn ioctl_ptr(&mut self, request: u64, buf: &mut [u8]) -> io::Result<()> {
        if request == UI_GET_SYSNAME {
            buf.fill(0);
            buf[..self.sysname.len()].copy_from_slice(self.sysname.as_bytes());
        }
        self.calls
            .lock()
            .expect("calls lock")
            .push((request, buf.to_vec()));
        if self.fail_on == Some(request) {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written
            .lock()
            .expect("written lock")
            .extend_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_numbers_are_the_kernels() {
        // Values from <linux/uinput.h> and <linux/input.h> as compiled on x86-64.
        assert_eq!(EVIOCGRAB, 0x4004_4590);
        assert_eq!(UI_DEV_CREATE, 0x5501);
        assert_eq!(UI_DEV_DESTROY, 0x5502);
        assert_eq!(UI_DEV_SETUP, 0x405c_5503);
        assert_eq!(UI_SET_EVBIT, 0x4004_5564);
        assert_eq!(UI_SET_KEYBIT, 0x4004_5565);
        assert_eq!(UI_GET_SYSNAME, 0x8040_552c);
    }

    #[test]
    fn overlapping_keys_are_interleaved_as_typed() {
        use keyprint_core::event::KeyId;
        let io = RecordingIo {
            sysname: "input42",
            ..RecordingIo::default()
        };
        let grabs = Grabs::default();
        let mut s = UinputSink::create(Box::new(io.clone()), grabs, Box::new(|| 7)).unwrap();
        assert_eq!(s.sysname.as_deref(), Some("input42"));
        let k = |c: &str, p, r| KeyEvent::new(KeyId::code(c), p, r).unwrap();
        // Shift held over A, then B alone.
        s.pass(&k("ShiftLeft", 0, 300));
        s.pass(&k("KeyA", 100, 200));
        s.pass(&k("KeyB", 400, 500));
        s.flush();
        let bytes = io.written.lock().unwrap().clone();
        let evs: Vec<(u16, u16, i32)> = bytes
            .chunks(24)
            .map(|c| InputEvent::parse(c.try_into().unwrap(), "w", 0).unwrap())
            .map(|e| (e.kind, e.code, e.value))
            .filter(|e| e.0 == EV_KEY)
            .collect();
        assert_eq!(
            evs,
            vec![
                (1, 42, 1),
                (1, 30, 1),
                (1, 30, 0),
                (1, 42, 0),
                (1, 48, 1),
                (1, 48, 0)
            ]
        );
    }
}
