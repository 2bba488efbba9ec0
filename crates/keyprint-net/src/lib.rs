//! # keyprint-net
//!
//! Device network-behavior profiling on Zeek logs. What goes in: Zeek `conn`, `dns`, `ssl`, `http` and
//! `dhcp` logs (TSV or JSON, [`zeek`]), optional threat-intel files ([`intel`]) and optional per-device
//! baselines ([`baseline`]). What comes out: [`Finding`]s — a device (originator address), a peer, a
//! score 0–100 (higher = more suspicious) and named reasons (`threat_intel`, `beaconing`, `port_scan`,
//! `dns_anomaly`, `dhcp_scan`, `new_destination`, `new_port`, `unusual_hour`, `volume`), each with its
//! detail, first and last time and the number of log records behind it.
//!
//! Method sources: Zeek's Intel framework (indicator format and types), RITA (beacon score, in
//! [`beacon::rita_score`]), Stratosphere Slips (scan rules counting unanswered connections to distinct
//! hosts or ports in a time window; per-host state). keyprint adds what none of them keeps: a baseline of
//! what *this* device normally talks to, and a beacon statistic that speaks after six attempts.
//!
//! Invariants: no I/O outside [`fs`]; no serde derive outside [`json`] (the JSON log reader in [`zeek`]
//! reads untyped `serde_json::Value`s); the reader never panics and names every
//! rejected row by file, line and field.
//!
//! ```
//! use keyprint_net::{Analyzer, Baselines, IntelSet, Settings, zeek::parse_log};
//!
//! let conn = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n\
//!             #types\ttime\tstring\taddr\tport\taddr\tport\tenum\n\
//!             100.0\tC1\t10.0.0.5\t40000\t203.0.113.7\t443\ttcp\n";
//! let logs = parse_log("conn.log", conn.as_bytes()).unwrap().logs;
//! let mut intel = IntelSet::new();
//! intel.add_blocklist("my-list.txt", "203.0.113.7\n");
//! let analyzer = Analyzer::new(Settings::default().check().unwrap(), intel, Baselines::default());
//! let findings = analyzer.analyze(&logs).findings;
//! assert_eq!(findings[0].peer.to_string(), "203.0.113.7:443");
//! assert_eq!(findings[0].reasons[0].kind.name(), "threat_intel");
//! assert!(findings[0].reasons[0].detail.contains("my-list.txt"));
//! ```
#![deny(missing_docs)]

pub mod analyze;
pub mod baseline;
pub mod beacon;
pub mod fs;
pub mod intel;
pub mod json;
pub mod names;
pub mod record;
pub mod zeek;

pub use analyze::{
    Analysis, Analyzer, BeaconStats, CheckedSettings, Finding, Peer, Reason, ReasonKind, Settings,
    SettingsError,
};
pub use baseline::{Baselines, DeviceBaseline};
pub use intel::{Indicator, IndicatorType, IntelSet};
pub use record::{Conn, Dhcp, Dns, Http, Logs, Proto, Ssl};
