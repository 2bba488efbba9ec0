//! Per-device baselines: what each device (an originator address) normally does, learned from a period
//! of normal traffic. A baseline holds sets (peers, names, registered domains, `proto/port` pairs,
//! services), connection counts per UTC hour of day, and the median and MAD of bytes per connection
//! (`orig_bytes + resp_bytes`). Departures from it are scored by [`crate::Analyzer`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use crate::beacon::{mad, median};
use crate::names::registered_domain;
use crate::record::{Logs, Proto};

/// What one device did during the learning period.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceBaseline {
    /// Connections learned from.
    pub connections: u64,
    /// First and last `ts` seen, seconds.
    pub first_ts: f64,
    /// Last `ts` seen, seconds.
    pub last_ts: f64,
    /// Responder addresses contacted.
    pub peers: BTreeSet<IpAddr>,
    /// Names looked up (DNS queries), asked for in TLS (SNI) or HTTP (`Host`).
    pub names: BTreeSet<String>,
    /// Registered domains of those names ([`registered_domain`]).
    pub domains: BTreeSet<String>,
    /// `(protocol, responder port)` pairs used.
    pub ports: BTreeSet<(Proto, u16)>,
    /// Application protocols Zeek recognised (`service`).
    pub services: BTreeSet<String>,
    /// Connections started in each UTC hour of the day (index 0–23, from `ts`).
    pub hours: [u64; 24],
    /// Median bytes per connection (`orig_bytes + resp_bytes`, unset counted as 0).
    pub bytes_median: f64,
    /// MAD of bytes per connection (unscaled).
    pub bytes_mad: f64,
}

impl DeviceBaseline {
    fn empty() -> DeviceBaseline {
        DeviceBaseline {
            connections: 0,
            first_ts: f64::INFINITY,
            last_ts: f64::NEG_INFINITY,
            peers: BTreeSet::new(),
            names: BTreeSet::new(),
            domains: BTreeSet::new(),
            ports: BTreeSet::new(),
            services: BTreeSet::new(),
            hours: [0; 24],
            bytes_median: 0.0,
            bytes_mad: 0.0,
        }
    }

    /// True when the device used this name, or another name of the same registered domain.
    pub fn knows_name(&self, name: &str) -> bool {
        self.names.contains(name) || self.domains.contains(registered_domain(name))
    }
}

/// Baselines of many devices, keyed by address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Baselines {
    /// One baseline per device.
    pub devices: BTreeMap<IpAddr, DeviceBaseline>,
}

/// UTC hour of day of a `ts` in seconds.
pub fn hour_of(ts: f64) -> usize {
    (ts.rem_euclid(86_400.0) / 3600.0) as usize % 24
}

impl Baselines {
    /// Learns one baseline per originator of `logs`.
    pub fn learn(logs: &Logs) -> Baselines {
        let mut devices: BTreeMap<IpAddr, DeviceBaseline> = BTreeMap::new();
        let mut bytes: HashMap<IpAddr, Vec<f64>> = HashMap::new();
        for c in &logs.conn {
            let b = devices
                .entry(c.orig_h)
                .or_insert_with(DeviceBaseline::empty);
            b.connections += 1;
            b.first_ts = b.first_ts.min(c.ts);
            b.last_ts = b.last_ts.max(c.ts);
            b.peers.insert(c.resp_h);
            b.ports.insert((c.proto, c.resp_p));
            if let Some(s) = &c.service {
                b.services.insert(s.clone());
            }
            b.hours[hour_of(c.ts)] += 1;
            bytes
                .entry(c.orig_h)
                .or_default()
                .push((c.orig_bytes.unwrap_or(0) + c.resp_bytes.unwrap_or(0)) as f64);
        }
        let mut add_name = |dev: IpAddr, name: &str| {
            let b = devices.entry(dev).or_insert_with(DeviceBaseline::empty);
            b.names.insert(name.to_string());
            b.domains.insert(registered_domain(name).to_string());
        };
        for d in &logs.dns {
            if let Some(q) = &d.query {
                add_name(d.orig_h, q);
            }
        }
        for s in &logs.ssl {
            if let Some(n) = &s.server_name {
                add_name(s.orig_h, n);
            }
        }
        for h in &logs.http {
            if let Some(n) = &h.host {
                add_name(h.orig_h, n);
            }
        }
        for (dev, v) in bytes {
            if let Some(b) = devices.get_mut(&dev) {
                b.bytes_median = median(&v);
                b.bytes_mad = mad(&v);
            }
        }
        Baselines { devices }
    }

    /// The baseline of one device, if it has one.
    pub fn get(&self, device: IpAddr) -> Option<&DeviceBaseline> {
        self.devices.get(&device)
    }
}
