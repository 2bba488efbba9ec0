//! # keyprint-agent
//!
//! The endpoint agent for Linux: capture → edge → durable spool → upload, with on-device injection
//! defence.
//!
//! * Sources: [`capture`] (evdev `event*` nodes, hot-plug from kernel and udev uevents ([`uevent`]) with a
//!   periodic scan as fallback, identity from [`sysfs`], the kernel's `input_event` decoded by [`evdev`])
//!   and [`x11`] (XInput 2 raw events with their source device; XTEST recognised as synthetic). Both produce [`agent::Input`]s: complete keystrokes with W3C codes
//!   ([`keys`]), mouse samples, device attach and detach.
//! * [`agent::Agent`]: one `keyprint_edge::Edge` and one session per source; records batched into the
//!   [`spool::Spool`] (fsync'd before anything else happens to them); injection verdicts through the
//!   policy of [`config::Policy`] (monitor, block through sysfs `authorized`, [`quarantine`]: hot-plugged
//!   keyboards grabbed and a person's keys re-emitted through one uinput keyboard, [`uinput`]) with an
//!   allowlist and XTEST auto-type recognised.
//! * [`upload::Uploader`]: spool → `POST /v1/records` with the device credential, deleted on
//!   acknowledgement, back-off on failure.
//! * [`run`]: the daemon wiring (used by `keyprint agent run|replay`); [`bench`]: the CPU/RSS benchmark;
//!   [`fuzzing`]: the fuzz targets' bodies.
//!
//! Key identities stop at the edge: the spool, the logs and the wire hold edge records, device identities
//! and counts only.
//!
//! ```
//! use keyprint_agent::keys::w3c_code;
//! assert_eq!(w3c_code(30), Some("KeyA"));
//! ```
#![deny(missing_docs)]

pub mod agent;
pub mod bench;
pub mod capture;
pub mod config;
pub mod evdev;
pub mod fuzzing;
pub mod keys;
pub mod quarantine;
pub mod run;
pub mod spool;
pub mod sysfs;
pub mod uevent;
pub mod uinput;
pub mod upload;
pub mod x11;
