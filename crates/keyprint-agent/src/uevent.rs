//! Hot-plug from the kernel's device events: a `NETLINK_KOBJECT_UEVENT` socket subscribed to the kernel's
//! group (1: sent the moment the kernel creates the device) and udev's (2: sent by `systemd-udevd` once it
//! has applied its rules, so the node's group `input` permission is in place). An `add` of an `input/event*`
//! node wakes the evdev scanner at once ([`crate::capture`]) and gives it the attach time (when the datagram
//! arrived, µs on `CLOCK_REALTIME`, the clock of the kernel's `input_event` timestamps), which starts the
//! typing-after-attach rule.
//!
//! Two framings of the same `KEY=VALUE\0` properties, both parsed by [`parse`]:
//!
//! * kernel: `add@/devices/…/input/input7/event7\0ACTION=add\0DEVPATH=/devices/…/event7\0SUBSYSTEM=input\0`
//!   `MAJOR=13\0MINOR=71\0DEVNAME=input/event7\0SEQNUM=4242\0`;
//! * libudev: a 40-byte `struct udev_monitor_netlink_header` — `"libudev\0"`, magic `0xfeedcafe` (network
//!   order), then native-endian `u32`s `header_size`, `properties_off`, `properties_len`, two filter hashes
//!   and a tag bloom filter (2 × `u32`) — followed by the properties at `properties_off`.
//!
//! A datagram that is neither is counted ([`UeventCounts::bad`]) and ignored. The listener is used when the
//! socket opens and the evdev folder is `/dev/input` (uevents name `/dev` nodes); otherwise, and always as
//! a safety net for a lost datagram (`ENOBUFS`), the periodic scan finds new nodes (see
//! [`crate::capture::EvdevSource`]). Only a process with `CAP_NET_ADMIN` can send to these groups; a
//! forged datagram could at worst cause an extra scan.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;

/// `NETLINK_KOBJECT_UEVENT`.
pub const NETLINK_KOBJECT_UEVENT: i32 = 15;
/// The kernel's multicast group.
pub const GROUP_KERNEL: u32 = 1;
/// udev's multicast group (`systemd-udevd` re-sends each event here after its rules ran).
pub const GROUP_UDEV: u32 = 2;
/// libudev's header magic, `0xfeedcafe` (sent in network byte order).
pub const UDEV_MAGIC: u32 = 0xfeed_cafe;
/// Bytes of `struct udev_monitor_netlink_header`.
pub const UDEV_HEADER_SIZE: usize = 40;

/// Who sent a uevent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The kernel (`ACTION@DEVPATH\0` then properties).
    Kernel,
    /// `systemd-udevd` (libudev header then properties).
    Udev,
}

/// One parsed uevent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uevent {
    /// Kernel or udev framing.
    pub framing: Framing,
    /// `ACTION`: `add`, `remove`, `change`, `bind`, …
    pub action: String,
    /// `DEVPATH`, under `/sys`.
    pub devpath: String,
    /// `SUBSYSTEM` (`input`, `usb`, …), when present.
    pub subsystem: Option<String>,
    /// `DEVNAME` relative to `/dev` (`input/event7`), when the device has a node.
    pub devname: Option<String>,
    /// `SEQNUM`, when present.
    pub seqnum: Option<u64>,
}

impl Uevent {
    /// The evdev node (`event7`) this event adds, if it is an `add` of an `input/event*` node.
    pub fn added_event_node(&self) -> Option<&str> {
        (self.action == "add").then(|| self.event_node()).flatten()
    }

    /// The evdev node (`event7`) of an `input/event*` event of any action.
    pub fn event_node(&self) -> Option<&str> {
        if self.subsystem.as_deref() != Some("input") {
            return None;
        }
        let node = self.devname.as_deref()?.strip_prefix("input/")?;
        (node.starts_with("event")
            && node.len() > 5
            && node[5..].bytes().all(|b| b.is_ascii_digit()))
        .then_some(node)
    }
}

/// Why a datagram is not a uevent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UeventError {
    /// Neither a kernel header (`ACTION@/DEVPATH`) nor libudev's.
    #[error("neither a kernel uevent nor a libudev message")]
    UnknownFraming,
    /// libudev header with a wrong magic, size or property range.
    #[error("libudev header: {0}")]
    BadHeader(&'static str),
    /// A property is not `KEY=VALUE` in UTF-8.
    #[error("property {index}: not KEY=VALUE in UTF-8")]
    BadProperty {
        /// 0-based index among the properties.
        index: usize,
    },
    /// `ACTION` or `DEVPATH` missing.
    #[error("missing {0}")]
    Missing(&'static str),
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

/// Parses one datagram (kernel or libudev framing).
///
/// # Errors
/// [`UeventError`]; the caller counts and ignores it.
pub fn parse(datagram: &[u8]) -> Result<Uevent, UeventError> {
    let (framing, props) = if datagram.starts_with(b"libudev\0") {
        if datagram.len() < UDEV_HEADER_SIZE {
            return Err(UeventError::BadHeader("shorter than 40 bytes"));
        }
        if u32::from_be_bytes(datagram[8..12].try_into().expect("4 bytes")) != UDEV_MAGIC {
            return Err(UeventError::BadHeader("magic is not 0xfeedcafe"));
        }
        let (hsize, off, len) = (
            u32_at(datagram, 12) as usize,
            u32_at(datagram, 16) as usize,
            u32_at(datagram, 20) as usize,
        );
        if hsize < UDEV_HEADER_SIZE || off < hsize {
            return Err(UeventError::BadHeader("properties overlap the header"));
        }
        let props = off
            .checked_add(len)
            .and_then(|end| datagram.get(off..end))
            .ok_or(UeventError::BadHeader("properties outside the datagram"))?;
        (Framing::Udev, props)
    } else {
        let head_end = datagram
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(datagram.len());
        let head = &datagram[..head_end];
        let at = head
            .iter()
            .position(|&b| b == b'@')
            .ok_or(UeventError::UnknownFraming)?;
        if at == 0 || head.get(at + 1) != Some(&b'/') {
            return Err(UeventError::UnknownFraming);
        }
        (
            Framing::Kernel,
            datagram.get(head_end + 1..).unwrap_or_default(),
        )
    };
    let mut map: HashMap<&str, &str> = HashMap::new();
    for (index, p) in props
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let s = std::str::from_utf8(p).map_err(|_| UeventError::BadProperty { index })?;
        let (k, v) = s
            .split_once('=')
            .ok_or(UeventError::BadProperty { index })?;
        map.insert(k, v);
    }
    let get = |k| map.get(k).map(|v| v.to_string());
    Ok(Uevent {
        framing,
        action: get("ACTION").ok_or(UeventError::Missing("ACTION"))?,
        devpath: get("DEVPATH").ok_or(UeventError::Missing("DEVPATH"))?,
        subsystem: get("SUBSYSTEM"),
        devname: get("DEVNAME"),
        seqnum: map.get("SEQNUM").and_then(|v| v.parse().ok()),
    })
}

/// Listener counters.
#[derive(Debug)]
pub struct UeventCounts {
    /// Datagrams received.
    pub received: AtomicU64,
    /// Datagrams that were not uevents (ignored).
    pub bad: AtomicU64,
    /// `add` events of `input/event*` nodes passed to the scanner (removals are passed too, not counted).
    pub input_adds: AtomicU64,
}

impl UeventCounts {
    /// All zero (usable in a `static`).
    pub const fn new() -> Self {
        UeventCounts {
            received: AtomicU64::new(0),
            bad: AtomicU64::new(0),
            input_adds: AtomicU64::new(0),
        }
    }
}

impl Default for UeventCounts {
    fn default() -> Self {
        Self::new()
    }
}

/// A wake-up for the evdev scanner: node `node` was added (or removed) at `at_us` (µs, `CLOCK_REALTIME`).
/// A removal wakes the scanner too, so a device unplugged and plugged in again between periodic scans is
/// seen as gone before it is seen as new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    /// `event7`.
    pub node: String,
    /// When the datagram arrived.
    pub at_us: i64,
    /// A `remove`, not an `add`.
    pub removed: bool,
}

/// Handles one datagram received at `at_us`: an `add` or `remove` of an `input/event*` node goes to `tx`; a
/// bad datagram is counted.
/// Returns false when `tx`'s receiver is gone.
pub fn handle_datagram(
    datagram: &[u8],
    at_us: i64,
    tx: &Sender<Added>,
    counts: &UeventCounts,
) -> bool {
    counts.received.fetch_add(1, Ordering::Relaxed);
    match parse(datagram) {
        Ok(ev) => match ev.event_node() {
            Some(node) if ev.action == "add" || ev.action == "remove" => {
                let removed = ev.action == "remove";
                if !removed {
                    counts.input_adds.fetch_add(1, Ordering::Relaxed);
                }
                tx.send(Added {
                    node: node.to_string(),
                    at_us,
                    removed,
                })
                .is_ok()
            }
            _ => true,
        },
        Err(_) => {
            counts.bad.fetch_add(1, Ordering::Relaxed);
            true
        }
    }
}

/// A bound `NETLINK_KOBJECT_UEVENT` socket.
pub struct UeventSocket(std::os::fd::OwnedFd);

impl UeventSocket {
    /// Opens and binds a socket to `groups` (a bit mask: [`GROUP_KERNEL`] | [`GROUP_UDEV`]), with a 1 MiB
    /// receive buffer (a burst of a docking station's devices fits).
    ///
    /// # Errors
    /// `EAFNOSUPPORT`/`EACCES` where netlink is filtered (a systemd unit without `AF_NETLINK` in
    /// `RestrictAddressFamilies`, some containers); other OS errors.
    pub fn open(groups: u32) -> std::io::Result<UeventSocket> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain socket calls; the fd is owned at once, sockaddr_nl is zeroed then filled.
        unsafe {
            let fd = libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                NETLINK_KOBJECT_UEVENT,
            );
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
            let size: libc::c_int = 1 << 20;
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
            let mut addr: libc::sockaddr_nl = std::mem::zeroed();
            addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
            addr.nl_groups = groups;
            if libc::bind(
                fd,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(UeventSocket(owned))
        }
    }

    /// Receives datagrams forever, passing each to [`handle_datagram`]; returns when `tx`'s receiver is gone
    /// or the socket fails (other than `EINTR`/`ENOBUFS`: a lost datagram is what the periodic scan covers).
    pub fn run(self, tx: Sender<Added>, counts: &UeventCounts) -> std::io::Error {
        use std::os::fd::AsRawFd;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            // SAFETY: buf outlives the call and its length is passed.
            let n =
                unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) | Some(libc::ENOBUFS) => continue,
                    _ => return e,
                }
            }
            if !handle_datagram(&buf[..n as usize], crate::capture::now_us(), &tx, counts) {
                return std::io::Error::other("scanner gone");
            }
        }
    }
}

/// A kernel-framed `add` of `/dev/input/<node>` as the kernel sends it (tests and examples).
pub fn kernel_add_datagram(node: &str, seqnum: u64) -> Vec<u8> {
    let n: String = node.chars().filter(char::is_ascii_digit).collect();
    let devpath =
        format!("/devices/pci0000:00/0000:00:14.0/usb1/1-{n}/1-{n}:1.0/input/input{n}/{node}");
    let mut d = format!("add@{devpath}\0").into_bytes();
    for p in [
        "ACTION=add".to_string(),
        format!("DEVPATH={devpath}"),
        "SUBSYSTEM=input".into(),
        "MAJOR=13".into(),
        format!("MINOR={}", 64 + n.parse::<u32>().unwrap_or(0)),
        format!("DEVNAME=input/{node}"),
        format!("SEQNUM={seqnum}"),
    ] {
        d.extend_from_slice(p.as_bytes());
        d.push(0);
    }
    d
}

/// The same event as `systemd-udevd` re-sends it: libudev header, then the properties (udev adds its own,
/// e.g. `ID_INPUT_KEYBOARD=1`, `USEC_INITIALIZED`).
pub fn udev_add_datagram(node: &str, seqnum: u64) -> Vec<u8> {
    let kernel = kernel_add_datagram(node, seqnum);
    let start = kernel.iter().position(|&b| b == 0).expect("header") + 1;
    let mut props = kernel[start..].to_vec();
    for p in [
        "ID_INPUT=1",
        "ID_INPUT_KEY=1",
        "ID_INPUT_KEYBOARD=1",
        "USEC_INITIALIZED=1234567",
    ] {
        props.extend_from_slice(p.as_bytes());
        props.push(0);
    }
    let mut d = Vec::with_capacity(UDEV_HEADER_SIZE + props.len());
    d.extend_from_slice(b"libudev\0");
    d.extend_from_slice(&UDEV_MAGIC.to_be_bytes());
    for v in [
        UDEV_HEADER_SIZE as u32,
        UDEV_HEADER_SIZE as u32,
        props.len() as u32,
        0x1234_5678, // filter_subsystem_hash (murmur of "input")
        0,
        0,
        0,
    ] {
        d.extend_from_slice(&v.to_ne_bytes());
    }
    d.extend_from_slice(&props);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_and_udev_framings() {
        let k = parse(&kernel_add_datagram("event7", 4242)).unwrap();
        assert_eq!(
            (k.framing, k.action.as_str(), k.seqnum),
            (Framing::Kernel, "add", Some(4242))
        );
        assert_eq!(k.added_event_node(), Some("event7"));
        let u = parse(&udev_add_datagram("event7", 4242)).unwrap();
        assert_eq!(
            (u.framing, u.added_event_node()),
            (Framing::Udev, Some("event7"))
        );
        assert_eq!(u.devpath, k.devpath);
        // The input device itself (no node) and a USB add are not evdev nodes.
        let parent = b"add@/devices/x/input/input7\0ACTION=add\0DEVPATH=/devices/x/input/input7\0SUBSYSTEM=input\0";
        assert_eq!(parse(parent).unwrap().added_event_node(), None);
        let js = b"add@/devices/x/js0\0ACTION=add\0DEVPATH=/devices/x/js0\0SUBSYSTEM=input\0DEVNAME=input/js0\0";
        assert_eq!(parse(js).unwrap().added_event_node(), None);
    }

    #[test]
    fn bad_datagrams_are_errors_not_panics() {
        let mut short = udev_add_datagram("event3", 1);
        short.truncate(30);
        let mut magic = udev_add_datagram("event3", 1);
        magic[8] = 0;
        let mut range = udev_add_datagram("event3", 1);
        range[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
        for d in [
            &b""[..],
            b"hello",
            b"@/x\0ACTION=add\0",
            b"add@/x\0ACTION=add\0\xff\xfe\0",
            b"add@/x\0ACTION=add\0",
            &short,
            &magic,
            &range,
        ] {
            assert!(parse(d).is_err(), "{d:?}");
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let c = UeventCounts::default();
        assert!(handle_datagram(b"garbage", 1, &tx, &c));
        assert!(handle_datagram(
            &kernel_add_datagram("event9", 2),
            5,
            &tx,
            &c
        ));
        // A removal wakes the scanner too (so an unplug-replug between periodic scans is seen as both).
        let gone = String::from_utf8(kernel_add_datagram("event9", 3))
            .unwrap()
            .replace("add", "remove");
        assert!(handle_datagram(gone.as_bytes(), 6, &tx, &c));
        assert_eq!(c.bad.load(Ordering::Relaxed), 1);
        assert_eq!(c.input_adds.load(Ordering::Relaxed), 1);
        assert_eq!(
            rx.try_recv().unwrap(),
            Added {
                node: "event9".into(),
                at_us: 5,
                removed: false
            }
        );
        assert!(rx.try_recv().unwrap().removed);
    }
}
