//! The serde boundary of keyprint-net: the JSON shapes of findings (`keyprint net scan --json`,
//! `keyprint net watch`, `POST /v1/net/findings`) and of baseline files (`keyprint net learn`). Core
//! types do not derive `Serialize`; these mirror structs do, and convert both ways.
//!
//! A finding line:
//! `{"device":"10.0.0.7","peer":"198.51.100.9:443","peer_name":"hosting-global-it-ss.com","score":95.0,
//!   "reasons":[{"reason":"threat_intel","strength":0.95,"detail":"…"}],"first_ts":…,"last_ts":…,
//!   "flows":2,"targets":["198.51.100.9","hosting-global-it-ss.com"]}`

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::analyze::Finding;
use crate::baseline::{Baselines, DeviceBaseline};
use crate::record::Proto;

/// One finding as JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FindingJson {
    /// Device address.
    pub device: String,
    /// Peer (`addr:port`, `[v6]:port`, a name, `*:port/proto` for a horizontal scan, `addr:*`).
    pub peer: String,
    /// Name of the peer, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_name: Option<String>,
    /// Score 0–100, higher = more suspicious.
    pub score: f64,
    /// Named reasons, strongest first.
    pub reasons: Vec<ReasonJson>,
    /// First evidence time, seconds (Zeek `ts`).
    pub first_ts: f64,
    /// Last evidence time, seconds.
    pub last_ts: f64,
    /// Log records behind the finding.
    pub flows: u64,
    /// Hosts or names covered.
    pub targets: Vec<String>,
}

/// One reason as JSON.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReasonJson {
    /// `threat_intel`, `beaconing`, `port_scan`, `dns_anomaly`, `dhcp_scan`, `new_destination`,
    /// `new_port`, `unusual_hour`, `volume`.
    pub reason: String,
    /// Strength in `[0, 1)`.
    pub strength: f64,
    /// What the rule saw.
    pub detail: String,
}

impl From<&Finding> for FindingJson {
    fn from(f: &Finding) -> Self {
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        FindingJson {
            device: f.device.to_string(),
            peer: f.peer.to_string(),
            peer_name: f.peer_name.clone(),
            score: round(f.score),
            reasons: f
                .reasons
                .iter()
                .map(|r| ReasonJson {
                    reason: r.kind.name().to_string(),
                    strength: round(r.strength),
                    detail: r.detail.clone(),
                })
                .collect(),
            first_ts: f.first_ts,
            last_ts: f.last_ts,
            flows: f.flows,
            targets: f.targets.clone(),
        }
    }
}

/// A baseline file: format version and one entry per device address.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaselineFile {
    /// Format version (1).
    pub version: u32,
    /// Per-device baselines, keyed by address text.
    pub devices: BTreeMap<String, DeviceBaselineJson>,
}

/// One device's baseline as JSON (fields as in [`DeviceBaseline`]; ports as `"tcp/443"`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceBaselineJson {
    /// Connections learned from.
    pub connections: u64,
    /// First `ts`, seconds.
    pub first_ts: f64,
    /// Last `ts`, seconds.
    pub last_ts: f64,
    /// Peer addresses.
    pub peers: Vec<String>,
    /// Names.
    pub names: Vec<String>,
    /// Registered domains.
    pub domains: Vec<String>,
    /// `proto/port` pairs, e.g. `tcp/443`.
    pub ports: Vec<String>,
    /// Services.
    pub services: Vec<String>,
    /// Connections per UTC hour (24 values).
    pub hours: Vec<u64>,
    /// Median bytes per connection.
    pub bytes_median: f64,
    /// MAD of bytes per connection.
    pub bytes_mad: f64,
}

/// A baseline file that cannot be turned back into baselines.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// Not the JSON shape.
    #[error("baseline: {0}")]
    Json(#[from] serde_json::Error),
    /// A value that does not parse, named by device and field.
    #[error("baseline: device {device}: field `{field}`: {reason}")]
    Field {
        /// Device key.
        device: String,
        /// Field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl From<&Baselines> for BaselineFile {
    fn from(b: &Baselines) -> Self {
        let devices = b
            .devices
            .iter()
            .map(|(a, d)| {
                (
                    a.to_string(),
                    DeviceBaselineJson {
                        connections: d.connections,
                        first_ts: if d.first_ts.is_finite() {
                            d.first_ts
                        } else {
                            0.0
                        },
                        last_ts: if d.last_ts.is_finite() {
                            d.last_ts
                        } else {
                            0.0
                        },
                        peers: d.peers.iter().map(ToString::to_string).collect(),
                        names: d.names.iter().cloned().collect(),
                        domains: d.domains.iter().cloned().collect(),
                        ports: d
                            .ports
                            .iter()
                            .map(|(p, n)| format!("{}/{n}", p.as_str()))
                            .collect(),
                        services: d.services.iter().cloned().collect(),
                        hours: d.hours.to_vec(),
                        bytes_median: if d.bytes_median.is_finite() {
                            d.bytes_median
                        } else {
                            0.0
                        },
                        bytes_mad: if d.bytes_mad.is_finite() {
                            d.bytes_mad
                        } else {
                            0.0
                        },
                    },
                )
            })
            .collect();
        BaselineFile {
            version: 1,
            devices,
        }
    }
}

impl BaselineFile {
    /// Parses a baseline file's text.
    ///
    /// # Errors
    /// [`BaselineError`] for bad JSON, an unknown version or a bad value.
    pub fn parse(text: &str) -> Result<Baselines, BaselineError> {
        let f: BaselineFile = serde_json::from_str(text)?;
        f.into_baselines()
    }

    /// Converts back to core baselines.
    ///
    /// # Errors
    /// [`BaselineError::Field`] naming the device and field of a bad value.
    pub fn into_baselines(self) -> Result<Baselines, BaselineError> {
        if self.version != 1 {
            return Err(BaselineError::Field {
                device: "-".into(),
                field: "version",
                reason: format!("unsupported version {}", self.version),
            });
        }
        let mut out = Baselines::default();
        for (dev, d) in self.devices {
            let bad = |field: &'static str, reason: String| BaselineError::Field {
                device: dev.clone(),
                field,
                reason,
            };
            let addr: IpAddr = dev
                .parse()
                .map_err(|_| bad("device", "not an IP address".into()))?;
            let mut peers = std::collections::BTreeSet::new();
            for p in &d.peers {
                peers.insert(p.parse().map_err(|_| bad("peers", format!("{p:?}")))?);
            }
            let mut ports = std::collections::BTreeSet::new();
            for p in &d.ports {
                let (proto, port) = p
                    .split_once('/')
                    .and_then(|(a, b)| Some((Proto::parse(a), b.parse::<u16>().ok()?)))
                    .ok_or_else(|| bad("ports", format!("{p:?} is not proto/port")))?;
                ports.insert((proto, port));
            }
            let hours: [u64; 24] = d
                .hours
                .clone()
                .try_into()
                .map_err(|_| bad("hours", format!("{} values, need 24", d.hours.len())))?;
            out.devices.insert(
                addr,
                DeviceBaseline {
                    connections: d.connections,
                    first_ts: d.first_ts,
                    last_ts: d.last_ts,
                    peers,
                    names: d.names.into_iter().collect(),
                    domains: d.domains.into_iter().collect(),
                    ports,
                    services: d.services.into_iter().collect(),
                    hours,
                    bytes_median: d.bytes_median,
                    bytes_mad: d.bytes_mad,
                },
            );
        }
        Ok(out)
    }
}
