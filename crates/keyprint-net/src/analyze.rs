//! The analyzer: records → findings. Settings are checked once ([`Settings::check`]); the analyzer runs
//! every rule over a [`Logs`] batch and merges the evidence per (device, peer) into [`Finding`]s.
//!
//! Rules (each evidence has a strength in `[0, 1)`; a finding's score is
//! `100 · (1 − Π (1 − strength))` over its reasons, and findings below `min_score` are dropped):
//!
//! | reason | rule | strength |
//! |---|---|---|
//! | `threat_intel` | an address, DNS query or answer, TLS SNI, HTTP `Host` or URL, or an address a listed name resolved to, matches an indicator ([`IntelSet`]) | 0.95 |
//! | `beaconing` | ≥ `beacon_min_events` attempts to one `addr:port/proto`, median interval ≥ `beacon_min_interval_s`, rCV ≤ `beacon_max_rcv` ([`crate::beacon`]) | 0.55–0.90 (halved for a peer in the device's baseline) |
//! | `port_scan` | horizontal: ≥ `scan_min_targets` distinct hosts probed on one `proto/port` within `scan_window_s`; vertical: ≥ `scan_min_targets` distinct ports probed on one host (probe = [`Conn::is_probe`]); reported over the tightest of 60 s, 600 s, `scan_window_s` that shows it | 0.60–0.95 |
//! | `dns_anomaly` | ≥ `dga_min_names` distinct algorithmic-looking names from one device ([`crate::names`]); or ≥ `nxdomain_burst` distinct NXDOMAIN names within `nxdomain_window_s` | 0.55–0.95 |
//! | `dhcp_scan` | one client requesting ≥ `dhcp_min_requests` distinct addresses | 0.8 |
//! | `new_destination` | (baseline only) a peer address whose name is unknown too, or a name whose registered domain is unknown | 0.35 |
//! | `new_port` | (baseline only) a `proto/port` the device never used | 0.25 |
//! | `unusual_hour` | (baseline only) a connection in a UTC hour with no learned connection | 0.15 |
//! | `volume` | (baseline only) bytes of a connection ≥ `volume_min_bytes` and robust z ≥ `volume_min_z` | 0.4 |
//!
//! With the default `min_score` of 50, a device-independent rule alone reports, while baseline departures
//! must add up (a new destination on a new port: 51). Baseline departures are not judged for multicast
//! and broadcast peers. A horizontal scan's targets are the hosts probed in its window and the hosts the
//! device first contacted on that port in it. Multicast, broadcast and unspecified peers are
//! never beacon or scan targets; ICMP is no beacon candidate, nor are the infrastructure ports 53, 67, 68, 123, 137, 138, 1900, 5353,
//! 5355 beacon candidates (DNS tunnelling is a DNS-anomaly matter).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;

use crate::baseline::{Baselines, hour_of};
use crate::beacon::{Regularity, RitaScore, regularity, rita_score};
use crate::intel::{Indicator, IntelSet};
use crate::names::name_features;
use crate::record::{Conn, Logs, Proto};

/// Tunable thresholds. Build with `Settings::default()`, change fields, then [`Settings::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// Findings scoring below this (0–100) are not reported.
    pub min_score: f64,
    /// Sliding window of the scan rules, seconds.
    pub scan_window_s: f64,
    /// Distinct probed hosts (horizontal) or ports (vertical) that make a scan.
    pub scan_min_targets: usize,
    /// Events (merged attempts) before the beacon rule speaks.
    pub beacon_min_events: usize,
    /// Largest robust coefficient of variation of intervals still called a beacon.
    pub beacon_max_rcv: f64,
    /// Smallest median interval of a beacon, seconds.
    pub beacon_min_interval_s: f64,
    /// Attempts closer than this to the previous one are one event, seconds.
    pub beacon_merge_gap_s: f64,
    /// Algorithmic-looking names one device must look up before they are reported.
    pub dga_min_names: usize,
    /// Distinct NXDOMAIN names within `nxdomain_window_s` that make a burst.
    pub nxdomain_burst: usize,
    /// Window of the NXDOMAIN burst rule, seconds.
    pub nxdomain_window_s: f64,
    /// Distinct requested addresses of one DHCP client that make a DHCP scan.
    pub dhcp_min_requests: usize,
    /// Robust z-score (`(x − median) / (1.4826 · MAD + 1 byte)`) of bytes per connection for `volume`.
    pub volume_min_z: f64,
    /// Smallest connection (bytes) the `volume` rule reports.
    pub volume_min_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            min_score: 50.0,
            scan_window_s: 3600.0,
            scan_min_targets: 6,
            beacon_min_events: 6,
            beacon_max_rcv: 0.25,
            beacon_min_interval_s: 2.0,
            beacon_merge_gap_s: 1.0,
            dga_min_names: 3,
            nxdomain_burst: 10,
            nxdomain_window_s: 60.0,
            dhcp_min_requests: 5,
            volume_min_z: 8.0,
            volume_min_bytes: 1_000_000,
        }
    }
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("setting `{name}` = {value}: {reason}")]
pub struct SettingsError {
    /// The setting.
    pub name: &'static str,
    /// Its value, as text.
    pub value: String,
    /// The allowed range.
    pub reason: &'static str,
}

/// Settings that passed [`Settings::check`].
#[derive(Clone, Debug, PartialEq)]
pub struct CheckedSettings(Settings);

impl CheckedSettings {
    /// The checked values.
    pub fn get(&self) -> &Settings {
        &self.0
    }
}

impl Settings {
    /// Checks ranges: `min_score` in `[0, 100]`; windows, intervals and `beacon_max_rcv` finite and > 0;
    /// counts ≥ 2 (`beacon_min_events` ≥ 3).
    ///
    /// # Errors
    /// [`SettingsError`] naming the first bad setting.
    pub fn check(self) -> Result<CheckedSettings, SettingsError> {
        let bad = |name, value: f64, reason| {
            Err(SettingsError {
                name,
                value: value.to_string(),
                reason,
            })
        };
        if !(0.0..=100.0).contains(&self.min_score) {
            return bad("min_score", self.min_score, "must be in [0, 100]");
        }
        for (name, v) in [
            ("scan_window_s", self.scan_window_s),
            ("beacon_max_rcv", self.beacon_max_rcv),
            ("beacon_min_interval_s", self.beacon_min_interval_s),
            ("beacon_merge_gap_s", self.beacon_merge_gap_s),
            ("nxdomain_window_s", self.nxdomain_window_s),
            ("volume_min_z", self.volume_min_z),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, v, "must be finite and > 0");
            }
        }
        for (name, v, min) in [
            ("scan_min_targets", self.scan_min_targets, 2),
            ("beacon_min_events", self.beacon_min_events, 3),
            ("dga_min_names", self.dga_min_names, 1),
            ("nxdomain_burst", self.nxdomain_burst, 2),
            ("dhcp_min_requests", self.dhcp_min_requests, 2),
        ] {
            if v < min {
                return bad(name, v as f64, "too small");
            }
        }
        Ok(CheckedSettings(self))
    }
}

/// Why a finding was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonKind {
    /// A listed indicator was seen.
    ThreatIntel,
    /// Regular connection attempts to one peer.
    Beaconing,
    /// A horizontal or vertical port scan.
    PortScan,
    /// Algorithmic-looking names or a burst of failed lookups.
    DnsAnomaly,
    /// One DHCP client asking for many addresses.
    DhcpScan,
    /// A peer or name absent from the device's baseline.
    NewDestination,
    /// A protocol/port absent from the device's baseline.
    NewPort,
    /// Activity in an hour of the day the baseline never saw.
    UnusualHour,
    /// Far more bytes than the device's usual connection.
    Volume,
}

impl ReasonKind {
    /// The reason's name in output (`threat_intel`, `beaconing`, …).
    pub fn name(self) -> &'static str {
        match self {
            ReasonKind::ThreatIntel => "threat_intel",
            ReasonKind::Beaconing => "beaconing",
            ReasonKind::PortScan => "port_scan",
            ReasonKind::DnsAnomaly => "dns_anomaly",
            ReasonKind::DhcpScan => "dhcp_scan",
            ReasonKind::NewDestination => "new_destination",
            ReasonKind::NewPort => "new_port",
            ReasonKind::UnusualHour => "unusual_hour",
            ReasonKind::Volume => "volume",
        }
    }
}

/// One reason of a finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Reason {
    /// Which rule.
    pub kind: ReasonKind,
    /// Its strength in `[0, 1)`.
    pub strength: f64,
    /// What the rule saw, in words (indicator and source, statistics, counts).
    pub detail: String,
}

/// The other side of a finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    /// One address and port.
    Endpoint {
        /// Address.
        addr: IpAddr,
        /// Port (ICMP code for ICMP).
        port: u16,
        /// Protocol.
        proto: Proto,
    },
    /// A DNS name (lookups).
    Name(String),
    /// One port on many hosts (horizontal scan).
    Port {
        /// Port.
        port: u16,
        /// Protocol.
        proto: Proto,
    },
    /// Many ports on one host (vertical scan).
    Host(IpAddr),
}

fn fmt_addr(a: &IpAddr) -> String {
    match a {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    }
}

impl fmt::Display for Peer {
    /// `1.2.3.4:443`, `[2001:db8::1]:443`, `example.com`, `*:80/tcp`, `1.2.3.4:*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Endpoint { addr, port, .. } => write!(f, "{}:{port}", fmt_addr(addr)),
            Peer::Name(n) => f.write_str(n),
            Peer::Port { port, proto } => write!(f, "*:{port}/{}", proto.as_str()),
            Peer::Host(a) => write!(f, "{}:*", fmt_addr(a)),
        }
    }
}

/// One finding: a device, a peer, a score 0–100 (higher = more suspicious) and named reasons.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The device (originator address).
    pub device: IpAddr,
    /// The peer.
    pub peer: Peer,
    /// A name of the peer, when the device resolved it or asked for it (DNS, SNI, HTTP `Host`).
    pub peer_name: Option<String>,
    /// `100 · (1 − Π (1 − strength))`.
    pub score: f64,
    /// Reasons, strongest first.
    pub reasons: Vec<Reason>,
    /// First `ts` of the evidence, seconds.
    pub first_ts: f64,
    /// Last `ts` of the evidence, seconds.
    pub last_ts: f64,
    /// Log records (connections, lookups, DHCP exchanges) behind the finding.
    pub flows: u64,
    /// Hosts or names the finding covers (for a horizontal scan: every host probed in the window).
    pub targets: Vec<String>,
}

/// keyprint's beacon statistic and RITA's score for one (device, endpoint) series.
#[derive(Clone, Debug, PartialEq)]
pub struct BeaconStats {
    /// Device.
    pub device: IpAddr,
    /// Endpoint.
    pub peer: Peer,
    /// keyprint's statistic, when there are ≥ 3 events.
    pub regularity: Option<Regularity>,
    /// RITA's score, when there are ≥ 3 connections.
    pub rita: Option<RitaScore>,
}

/// What one run produced.
#[derive(Clone, Debug, Default)]
pub struct Analysis {
    /// Findings at or above `min_score`, highest score first.
    pub findings: Vec<Finding>,
    /// Beacon statistics for every series with ≥ 3 attempts (beacon candidates only).
    pub beacons: Vec<BeaconStats>,
}

/// Runs the rules. Holds the checked settings, the intel set and the baselines (optional).
#[derive(Clone, Debug)]
pub struct Analyzer {
    settings: Settings,
    intel: IntelSet,
    baselines: Baselines,
}

#[derive(Default)]
struct Acc {
    reasons: BTreeMap<ReasonKind, (f64, String, u64)>,
    first: f64,
    last: f64,
    flows: HashSet<(u8, usize)>,
    targets: BTreeSet<String>,
    name: Option<String>,
}

struct Evidence {
    first: f64,
    last: f64,
    flows: Vec<(u8, usize)>,
    targets: Vec<String>,
    name: Option<String>,
}

const CONN: u8 = 0;
const DNS: u8 = 1;
const OTHER: u8 = 2;

fn routable(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !(v.is_multicast() || v.is_broadcast() || v.is_unspecified()),
        IpAddr::V6(v) => !(v.is_multicast() || v.is_unspecified()),
    }
}

const INFRA_PORTS: &[u16] = &[53, 67, 68, 123, 137, 138, 1900, 5353, 5355];

fn describe(ind: &Indicator) -> String {
    format!(
        "{} {} (source {}{})",
        ind.kind.zeek_name(),
        ind.value,
        ind.source,
        ind.desc
            .as_ref()
            .map(|d| format!(": {d}"))
            .unwrap_or_default()
    )
}

impl Analyzer {
    /// An analyzer with checked settings, indicators (possibly empty) and baselines (possibly empty:
    /// then only device-independent rules apply).
    pub fn new(settings: CheckedSettings, intel: IntelSet, baselines: Baselines) -> Analyzer {
        Analyzer {
            settings: settings.0,
            intel,
            baselines,
        }
    }
    /// Runs every rule over `logs`.
    pub fn analyze(&self, logs: &Logs) -> Analysis {
        let names = resolve_names(logs);
        let mut col = Collector::default();
        self.intel_rules(logs, &names, &mut col);
        self.baseline_rules(logs, &names, &mut col);
        let beacons = self.beacon_rules(logs, &names, &mut col);
        self.scan_rules(logs, &names, &mut col);
        self.dns_rules(logs, &mut col);
        self.dhcp_rules(logs, &mut col);
        Analysis {
            findings: col.finish(self.settings.min_score),
            beacons,
        }
    }

    /// `threat_intel`: addresses, names the device resolved them from, DNS queries and answers, TLS SNI,
    /// HTTP `Host` and URL.
    fn intel_rules(&self, logs: &Logs, names: &Names, col: &mut Collector) {
        if self.intel.is_empty() {
            return;
        }
        let uid_conn: HashMap<&str, usize> = logs
            .conn
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.uid.is_empty())
            .map(|(i, c)| (c.uid.as_str(), i))
            .collect();
        let conn_flow = |uid: &str| uid_conn.get(uid).map(|&i| (CONN, i));

        for (i, c) in logs.conn.iter().enumerate() {
            let name = names.get(&(c.orig_h, c.resp_h)).cloned();
            if let Some(ind) = self.intel.match_addr(c.resp_h) {
                col.add(
                    c.orig_h,
                    ep(c),
                    ReasonKind::ThreatIntel,
                    0.95,
                    format!("connection to listed address: {}", describe(ind)),
                    one(c.ts, Some((CONN, i)), c.resp_h.to_string(), name.clone()),
                );
            } else if let Some(n) = &name
                && let Some(ind) = self.intel.match_name(n)
            {
                col.add(
                    c.orig_h,
                    ep(c),
                    ReasonKind::ThreatIntel,
                    0.95,
                    format!(
                        "connection to {}, resolved from listed name {n}: {}",
                        c.resp_h,
                        describe(ind)
                    ),
                    one(c.ts, Some((CONN, i)), c.resp_h.to_string(), name.clone()),
                );
            }
        }
        for (j, d) in logs.dns.iter().enumerate() {
            let Some(q) = &d.query else { continue };
            let hit = self
                .intel
                .match_name(q)
                .map(|ind| format!("DNS query for listed name {q}: {}", describe(ind)))
                .or_else(|| {
                    d.answers.iter().find_map(|a| {
                        self.intel.match_name(a).map(|ind| {
                            format!("DNS answer {a} for {q} is listed: {}", describe(ind))
                        })
                    })
                });
            if let Some(detail) = hit {
                col.add(
                    d.orig_h,
                    Peer::Name(q.clone()),
                    ReasonKind::ThreatIntel,
                    0.95,
                    detail,
                    one(d.ts, Some((DNS, j)), q.clone(), Some(q.clone())),
                );
            }
        }
        for s in &logs.ssl {
            let Some(n) = &s.server_name else { continue };
            if let Some(ind) = self.intel.match_name(n) {
                let peer = Peer::Endpoint {
                    addr: s.resp_h,
                    port: s.resp_p,
                    proto: Proto::Tcp,
                };
                col.add(
                    s.orig_h,
                    peer,
                    ReasonKind::ThreatIntel,
                    0.95,
                    format!("TLS SNI {n} is listed: {}", describe(ind)),
                    one(
                        s.ts,
                        conn_flow(&s.uid),
                        s.resp_h.to_string(),
                        Some(n.clone()),
                    ),
                );
            }
        }
        for h in &logs.http {
            let host = h.host.clone().unwrap_or_default();
            let hit = self
                .intel
                .match_url(&host, h.uri.as_deref().unwrap_or(""))
                .map(|ind| {
                    format!(
                        "HTTP URL {host}{} is listed: {}",
                        h.uri.as_deref().unwrap_or(""),
                        describe(ind)
                    )
                })
                .or_else(|| {
                    self.intel
                        .match_name(&host)
                        .filter(|_| !host.is_empty())
                        .map(|ind| format!("HTTP Host {host} is listed: {}", describe(ind)))
                });
            if let Some(detail) = hit {
                let peer = Peer::Endpoint {
                    addr: h.resp_h,
                    port: h.resp_p,
                    proto: Proto::Tcp,
                };
                col.add(
                    h.orig_h,
                    peer,
                    ReasonKind::ThreatIntel,
                    0.95,
                    detail,
                    one(
                        h.ts,
                        conn_flow(&h.uid),
                        h.resp_h.to_string(),
                        Some(host.clone()),
                    ),
                );
            }
        }
    }

    /// Baseline departures: `new_destination`, `new_port`, `unusual_hour`, `volume`.
    fn baseline_rules(&self, logs: &Logs, names: &Names, col: &mut Collector) {
        if self.baselines.devices.is_empty() {
            return;
        }
        let bytes_z = |b: &crate::baseline::DeviceBaseline, x: f64| {
            (x - b.bytes_median) / (1.4826 * b.bytes_mad + 1.0)
        };
        for (i, c) in logs.conn.iter().enumerate() {
            let Some(b) = self.baselines.get(c.orig_h) else {
                continue;
            };
            if !routable(c.resp_h) {
                continue;
            }
            let name = names.get(&(c.orig_h, c.resp_h)).cloned();
            let ev = || one(c.ts, Some((CONN, i)), c.resp_h.to_string(), name.clone());
            let known_name = name.as_deref().is_some_and(|n| b.knows_name(n));
            if !b.peers.contains(&c.resp_h) && !known_name {
                col.add(
                    c.orig_h,
                    ep(c),
                    ReasonKind::NewDestination,
                    0.35,
                    format!(
                        "{}{} never contacted in the baseline ({} connections, {} peers learned)",
                        c.resp_h,
                        name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default(),
                        b.connections,
                        b.peers.len()
                    ),
                    ev(),
                );
            }
            if !b.ports.contains(&(c.proto, c.resp_p)) {
                col.add(
                    c.orig_h,
                    ep(c),
                    ReasonKind::NewPort,
                    0.25,
                    format!(
                        "{}/{} never used in the baseline ({} protocol/port pairs learned)",
                        c.resp_p,
                        c.proto.as_str(),
                        b.ports.len()
                    ),
                    ev(),
                );
            }
            let h = hour_of(c.ts);
            if b.hours[h] == 0 {
                col.add(
                    c.orig_h,
                    ep(c),
                    ReasonKind::UnusualHour,
                    0.15,
                    format!(
                        "activity at {h:02}:00 UTC, an hour with no connection in the baseline"
                    ),
                    ev(),
                );
            }
            let x = (c.orig_bytes.unwrap_or(0) + c.resp_bytes.unwrap_or(0)) as f64;
            let z = bytes_z(b, x);
            if x >= self.settings.volume_min_bytes as f64 && z >= self.settings.volume_min_z {
                col.add(
                    c.orig_h,
                    ep(c),
                    ReasonKind::Volume,
                    0.4,
                    format!(
                        "{x:.0} bytes in one connection, robust z {z:.1} (baseline median {:.0}, MAD {:.0})",
                        b.bytes_median, b.bytes_mad
                    ),
                    ev(),
                );
            }
        }
        for (j, d) in logs.dns.iter().enumerate() {
            let (Some(b), Some(q)) = (self.baselines.get(d.orig_h), &d.query) else {
                continue;
            };
            if !b.knows_name(q) {
                col.add(
                    d.orig_h,
                    Peer::Name(q.clone()),
                    ReasonKind::NewDestination,
                    0.35,
                    format!(
                        "name {q} (domain {}) never looked up in the baseline ({} names learned)",
                        crate::names::registered_domain(q),
                        b.names.len()
                    ),
                    one(d.ts, Some((DNS, j)), q.clone(), Some(q.clone())),
                );
            }
        }
    }

    /// `beaconing`, and both beacon statistics of every candidate series.
    fn beacon_rules(&self, logs: &Logs, names: &Names, col: &mut Collector) -> Vec<BeaconStats> {
        let mut series: HashMap<(IpAddr, Peer), Vec<usize>> = HashMap::new();
        for (i, c) in logs.conn.iter().enumerate() {
            if routable(c.resp_h) && !INFRA_PORTS.contains(&c.resp_p) && c.proto != Proto::Icmp {
                series.entry((c.orig_h, ep(c))).or_default().push(i);
            }
        }
        let span = logs.time_span().map_or(0.0, |(a, b)| b - a);
        let st = &self.settings;
        let mut beacons = Vec::new();
        let mut keys: Vec<_> = series.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let idx = &series[&key];
            if idx.len() < 3 {
                continue;
            }
            let ts: Vec<f64> = idx.iter().map(|&i| logs.conn[i].ts).collect();
            let bytes: Vec<f64> = idx
                .iter()
                .map(|&i| logs.conn[i].orig_bytes.unwrap_or(0) as f64)
                .collect();
            let reg = regularity(&ts, st.beacon_merge_gap_s);
            let rita = rita_score(&ts, &bytes, span);
            if let Some(r) = reg
                && r.events >= st.beacon_min_events
                && r.median_interval_s >= st.beacon_min_interval_s
                && r.rcv <= st.beacon_max_rcv
            {
                let (device, peer) = key.clone();
                let Peer::Endpoint { addr, .. } = peer else {
                    continue;
                };
                let known = self
                    .baselines
                    .get(device)
                    .is_some_and(|b| b.peers.contains(&addr));
                let mut strength = 0.55 + 0.35 * (1.0 - r.rcv / st.beacon_max_rcv);
                if known {
                    strength *= 0.5;
                }
                let failed = idx.iter().filter(|&&i| logs.conn[i].is_probe()).count();
                let name = names.get(&(device, addr)).cloned();
                col.add(
                    device,
                    peer,
                    ReasonKind::Beaconing,
                    strength,
                    format!(
                        "{} attempts ({} events, {failed} without reply or data), median interval {:.1} s, rCV {:.3} (Poisson ≈ 1.03, limit {}){}; RITA score {}",
                        idx.len(),
                        r.events,
                        r.median_interval_s,
                        r.rcv,
                        st.beacon_max_rcv,
                        if known {
                            "; peer is in the baseline"
                        } else {
                            ""
                        },
                        rita.map_or("n/a".into(), |s| format!("{:.3}", s.score))
                    ),
                    Evidence {
                        first: ts.iter().copied().fold(f64::INFINITY, f64::min),
                        last: ts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        flows: idx.iter().map(|&i| (CONN, i)).collect(),
                        targets: vec![addr.to_string()],
                        name,
                    },
                );
            }
            beacons.push(BeaconStats {
                device: key.0,
                peer: key.1,
                regularity: reg,
                rita,
            });
        }
        beacons
    }

    /// `port_scan`: horizontal and vertical.
    fn scan_rules(&self, logs: &Logs, names: &Names, col: &mut Collector) {
        let st = &self.settings;
        let mut horiz: HashMap<(IpAddr, Proto, u16), Vec<usize>> = HashMap::new();
        let mut vert: HashMap<(IpAddr, IpAddr, Proto), Vec<usize>> = HashMap::new();
        for (i, c) in logs.conn.iter().enumerate() {
            if !routable(c.resp_h) {
                continue;
            }
            horiz
                .entry((c.orig_h, c.proto, c.resp_p))
                .or_default()
                .push(i);
            vert.entry((c.orig_h, c.resp_h, c.proto))
                .or_default()
                .push(i);
        }
        for ((device, proto, port), idx) in sorted(horiz) {
            let probed = |i: usize| {
                logs.conn[i]
                    .is_probe()
                    .then(|| logs.conn[i].resp_h.to_string())
            };
            if let Some((n, from, to, inside)) = probe_window(logs, &idx, probed, st) {
                // Targets: hosts probed in the window, and hosts the device first contacted (on this
                // port) in the window; hosts it already talked to before are ordinary traffic.
                let mut first_seen: HashMap<IpAddr, f64> = HashMap::new();
                for &i in &idx {
                    let c = &logs.conn[i];
                    let e = first_seen.entry(c.resp_h).or_insert(c.ts);
                    *e = e.min(c.ts);
                }
                let hosts: BTreeSet<String> = inside
                    .iter()
                    .map(|&i| &logs.conn[i])
                    .filter(|c| c.is_probe() || first_seen[&c.resp_h] >= from)
                    .map(|c| c.resp_h.to_string())
                    .collect();
                col.add(
                    device,
                    Peer::Port { port, proto },
                    ReasonKind::PortScan,
                    scan_strength(n, st.scan_min_targets),
                    format!(
                        "horizontal scan of {port}/{}: {n} hosts probed without reply or data within {:.0} s ({} hosts contacted)",
                        proto.as_str(),
                        to - from,
                        hosts.len()
                    ),
                    Evidence {
                        first: from,
                        last: to,
                        flows: inside.iter().map(|&i| (CONN, i)).collect(),
                        targets: hosts.into_iter().collect(),
                        name: None,
                    },
                );
            }
        }
        for ((device, host, proto), idx) in sorted(vert) {
            let probed = |i: usize| {
                logs.conn[i]
                    .is_probe()
                    .then(|| logs.conn[i].resp_p.to_string())
            };
            if let Some((n, from, to, inside)) = probe_window(logs, &idx, probed, st) {
                let ports: BTreeSet<u16> = inside.iter().map(|&i| logs.conn[i].resp_p).collect();
                col.add(
                    device,
                    Peer::Host(host),
                    ReasonKind::PortScan,
                    scan_strength(n, st.scan_min_targets),
                    format!(
                        "vertical scan of {host}: {n} {} ports probed without reply or data within {:.0} s ({} ports contacted)",
                        proto.as_str(),
                        to - from,
                        ports.len()
                    ),
                    Evidence {
                        first: from,
                        last: to,
                        flows: inside.iter().map(|&i| (CONN, i)).collect(),
                        targets: vec![host.to_string()],
                        name: names.get(&(device, host)).cloned(),
                    },
                );
            }
        }
    }

    /// `dns_anomaly`: algorithmic-looking names; bursts of NXDOMAIN.
    fn dns_rules(&self, logs: &Logs, col: &mut Collector) {
        let st = &self.settings;
        let mut by_dev: HashMap<IpAddr, Vec<usize>> = HashMap::new();
        for (j, d) in logs.dns.iter().enumerate() {
            by_dev.entry(d.orig_h).or_default().push(j);
        }
        for (device, idx) in sorted(by_dev) {
            let mut algo: BTreeMap<&str, (Vec<usize>, String)> = BTreeMap::new();
            for &j in &idx {
                let Some(q) = logs.dns[j].query.as_deref() else {
                    continue;
                };
                if let Some(f) = name_features(q).filter(|f| f.algorithmic) {
                    let e = algo.entry(q).or_insert_with(|| (Vec::new(), format!(
                        "label {:?}: entropy {:.2} bits/char, consonant run {}, digits {:.0} %, vowels {:.0} %",
                        f.label, f.entropy_bits, f.consonant_run, 100.0 * f.digit_ratio, 100.0 * f.vowel_ratio)));
                    e.0.push(j);
                }
            }
            if algo.len() >= st.dga_min_names {
                let n = algo.len();
                for (q, (js, feat)) in &algo {
                    let nx = js.iter().any(|&j| logs.dns[j].is_nxdomain());
                    let strength = 0.55
                        + 0.05 * (n - st.dga_min_names).min(6) as f64
                        + if nx { 0.1 } else { 0.0 };
                    let ts: Vec<f64> = js.iter().map(|&j| logs.dns[j].ts).collect();
                    col.add(
                        device,
                        Peer::Name(q.to_string()),
                        ReasonKind::DnsAnomaly,
                        strength,
                        format!(
                            "algorithmic-looking name{} ({feat}); the device looked up {n} such names",
                            if nx { ", NXDOMAIN" } else { "" }
                        ),
                        Evidence {
                            first: ts.iter().copied().fold(f64::INFINITY, f64::min),
                            last: ts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                            flows: js.iter().map(|&j| (DNS, j)).collect(),
                            targets: vec![q.to_string()],
                            name: Some(q.to_string()),
                        },
                    );
                }
            }
            let nx: Vec<usize> = idx
                .iter()
                .copied()
                .filter(|&j| logs.dns[j].is_nxdomain())
                .collect();
            let dns_ts = |j: &usize| logs.dns[*j].ts;
            if let Some((n, from, to)) = widest_window(
                &nx,
                &dns_ts,
                |j| logs.dns[j].query.clone(),
                st.nxdomain_window_s,
            ) && n >= st.nxdomain_burst
            {
                let inside: Vec<usize> = nx
                    .iter()
                    .copied()
                    .filter(|&j| (from..=to).contains(&logs.dns[j].ts))
                    .collect();
                let resolver = logs.dns[inside[0]].resp_h;
                let qs: BTreeSet<String> = inside
                    .iter()
                    .filter_map(|&j| logs.dns[j].query.clone())
                    .collect();
                col.add(
                    device,
                    Peer::Endpoint {
                        addr: resolver,
                        port: logs.dns[inside[0]].resp_p,
                        proto: Proto::Udp,
                    },
                    ReasonKind::DnsAnomaly,
                    (0.6 + 0.02 * (n - st.nxdomain_burst) as f64).min(0.95),
                    format!(
                        "burst of failed lookups: {n} distinct names answered NXDOMAIN within {:.0} s",
                        to - from
                    ),
                    Evidence {
                        first: from,
                        last: to,
                        flows: inside.iter().map(|&j| (DNS, j)).collect(),
                        targets: qs.into_iter().collect(),
                        name: None,
                    },
                );
            }
        }
    }

    /// `dhcp_scan`: one client requesting many addresses.
    fn dhcp_rules(&self, logs: &Logs, col: &mut Collector) {
        let st = &self.settings;
        let mut dhcp: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (k, d) in logs.dhcp.iter().enumerate() {
            let client = d
                .mac
                .clone()
                .or(d.client_addr.map(|a| a.to_string()))
                .unwrap_or_default();
            dhcp.entry(client).or_default().push(k);
        }
        for (client, idx) in dhcp {
            let req: BTreeSet<IpAddr> = idx
                .iter()
                .filter_map(|&k| logs.dhcp[k].requested_addr)
                .collect();
            if req.len() >= st.dhcp_min_requests {
                let d0 = &logs.dhcp[idx[0]];
                let device = idx
                    .iter()
                    .find_map(|&k| logs.dhcp[k].client_addr.or(logs.dhcp[k].assigned_addr))
                    .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
                let server = d0
                    .server_addr
                    .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::BROADCAST));
                let ts: Vec<f64> = idx.iter().map(|&k| logs.dhcp[k].ts).collect();
                col.add(
                    device,
                    Peer::Endpoint {
                        addr: server,
                        port: 67,
                        proto: Proto::Udp,
                    },
                    ReasonKind::DhcpScan,
                    0.8,
                    format!(
                        "DHCP client {client} requested {} distinct addresses in {} exchanges",
                        req.len(),
                        idx.len()
                    ),
                    Evidence {
                        first: ts.iter().copied().fold(f64::INFINITY, f64::min),
                        last: ts.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        flows: idx.iter().map(|&k| (OTHER, k)).collect(),
                        targets: vec![server.to_string()],
                        name: None,
                    },
                );
            }
        }
    }
}

type Names = HashMap<(IpAddr, IpAddr), String>;

/// Evidence merged per (device, peer).
#[derive(Default)]
struct Collector {
    acc: HashMap<(IpAddr, Peer), Acc>,
}

impl Collector {
    fn add(
        &mut self,
        device: IpAddr,
        peer: Peer,
        kind: ReasonKind,
        strength: f64,
        detail: String,
        ev: Evidence,
    ) {
        let a = self.acc.entry((device, peer)).or_insert_with(|| Acc {
            first: f64::INFINITY,
            last: f64::NEG_INFINITY,
            ..Acc::default()
        });
        let r = a.reasons.entry(kind).or_insert((0.0, String::new(), 0));
        if strength > r.0 {
            r.0 = strength;
            r.1 = detail;
        }
        r.2 += 1;
        a.first = a.first.min(ev.first);
        a.last = a.last.max(ev.last);
        a.flows.extend(ev.flows);
        a.targets.extend(ev.targets);
        if a.name.is_none() {
            a.name = ev.name;
        }
    }

    /// Findings scoring at least `min_score`, highest first.
    fn finish(self, min_score: f64) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self
            .acc
            .into_iter()
            .map(|((device, peer), a)| {
                let mut reasons: Vec<Reason> = a
                    .reasons
                    .into_iter()
                    .map(|(kind, (strength, detail, n))| Reason {
                        kind,
                        strength,
                        detail: if n > 1 {
                            format!("{detail} (+{} more)", n - 1)
                        } else {
                            detail
                        },
                    })
                    .collect();
                reasons.sort_by(|x, y| y.strength.total_cmp(&x.strength).then(x.kind.cmp(&y.kind)));
                let score =
                    100.0 * (1.0 - reasons.iter().map(|r| 1.0 - r.strength).product::<f64>());
                let mut targets: Vec<String> = a.targets.into_iter().collect();
                if let Some(n) = &a.name
                    && !targets.contains(n)
                {
                    targets.push(n.clone());
                }
                Finding {
                    device,
                    peer,
                    peer_name: a.name,
                    score,
                    reasons,
                    first_ts: a.first,
                    last_ts: a.last,
                    flows: a.flows.len() as u64,
                    targets,
                }
            })
            .filter(|f| f.score >= min_score)
            .collect();
        findings.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.device.cmp(&b.device))
                .then(a.peer.cmp(&b.peer))
        });
        findings
    }
}

fn ep(c: &Conn) -> Peer {
    Peer::Endpoint {
        addr: c.resp_h,
        port: c.resp_p,
        proto: c.proto,
    }
}

/// Evidence of one record.
fn one(ts: f64, flow: Option<(u8, usize)>, target: String, name: Option<String>) -> Evidence {
    Evidence {
        first: ts,
        last: ts,
        flows: flow.into_iter().collect(),
        targets: vec![target],
        name,
    }
}

fn sorted<K: Ord, V>(m: HashMap<K, V>) -> Vec<(K, V)> {
    let mut v: Vec<(K, V)> = m.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The scan rules' window, at the tightest time scale that shows the scan: windows of 60 s, 600 s and
/// `scan_window_s` are tried in turn (those not longer than `scan_window_s`), and the first whose busiest
/// window holds `scan_min_targets` distinct probed keys (hosts or ports) is reported:
/// `(count, first ts, last ts, connections in it)`. A fast scan is thus reported over its burst, not over
/// an hour that also holds the device's ordinary failed connections; a slow one over the long window.
fn probe_window(
    logs: &Logs,
    idx: &[usize],
    key: impl Fn(usize) -> Option<String>,
    st: &Settings,
) -> Option<(usize, f64, f64, Vec<usize>)> {
    let scales = [60.0, 600.0, st.scan_window_s];
    for w in scales.into_iter().filter(|&w| w <= st.scan_window_s) {
        let (n, from, to) = widest_window(idx, &|i: &usize| logs.conn[*i].ts, &key, w)?;
        if n < st.scan_min_targets {
            continue;
        }
        let inside = idx
            .iter()
            .copied()
            .filter(|&i| (from..=to).contains(&logs.conn[i].ts))
            .collect();
        return Some((n, from, to, inside));
    }
    None
}

fn scan_strength(n: usize, min: usize) -> f64 {
    0.6 + 0.35 * (1.0 - min as f64 / n as f64)
}

/// The largest number of distinct keys among items within any `window_s`-long window, with that
/// window's first and last time. Items whose key is `None` are not counted. `None` when no item counts.
fn widest_window<T>(
    items: &[usize],
    ts: &impl Fn(&usize) -> f64,
    key: impl Fn(usize) -> Option<T>,
    window_s: f64,
) -> Option<(usize, f64, f64)>
where
    T: std::hash::Hash + Eq,
{
    let mut ev: Vec<(f64, T)> = items
        .iter()
        .filter_map(|i| key(*i).map(|k| (ts(i), k)))
        .collect();
    if ev.is_empty() {
        return None;
    }
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut counts: HashMap<&T, usize> = HashMap::new();
    let (mut lo, mut best) = (0, (0, 0.0, 0.0));
    for hi in 0..ev.len() {
        *counts.entry(&ev[hi].1).or_default() += 1;
        while ev[hi].0 - ev[lo].0 > window_s {
            let k = &ev[lo].1;
            if let Some(c) = counts.get_mut(k) {
                *c -= 1;
                if *c == 0 {
                    counts.remove(k);
                }
            }
            lo += 1;
        }
        if counts.len() > best.0 {
            best = (counts.len(), ev[lo].0, ev[hi].0);
        }
    }
    Some(best)
}

/// For each (device, address): a name the device used for it — the DNS query whose answers held the
/// address, else the TLS SNI or HTTP `Host` of a connection to it (joined by `uid`).
pub fn resolve_names(logs: &Logs) -> HashMap<(IpAddr, IpAddr), String> {
    let mut out = HashMap::new();
    for d in &logs.dns {
        let Some(q) = &d.query else { continue };
        for a in &d.answers {
            if let Ok(addr) = a.parse::<IpAddr>() {
                out.entry((d.orig_h, addr)).or_insert_with(|| q.clone());
            }
        }
    }
    for s in &logs.ssl {
        if let Some(n) = &s.server_name {
            out.entry((s.orig_h, s.resp_h)).or_insert_with(|| n.clone());
        }
    }
    for h in &logs.http {
        if let Some(n) = h.host.as_ref().filter(|n| n.parse::<IpAddr>().is_err()) {
            out.entry((h.orig_h, h.resp_h)).or_insert_with(|| n.clone());
        }
    }
    out
}
