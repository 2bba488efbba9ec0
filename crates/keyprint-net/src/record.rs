//! Zeek log records, as the engine sees them: one struct per log kind (`conn`, `dns`, `ssl`, `http`,
//! `dhcp`), holding only the fields the engine uses. Times are Zeek's `ts` (seconds since the Unix epoch,
//! or since capture start in some public captures), durations are seconds, byte counts are payload bytes
//! as Zeek counts them (`orig_bytes`, `resp_bytes`).

use std::net::IpAddr;

/// Transport protocol of a connection (Zeek's `proto` enum).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (Zeek puts the ICMP type in `id.orig_p` and the code in `id.resp_p`).
    Icmp,
    /// Anything else Zeek reports (`unknown_transport`).
    Other,
}

impl Proto {
    /// Parses Zeek's `proto` value (`tcp`, `udp`, `icmp`; anything else is [`Proto::Other`]).
    pub fn parse(s: &str) -> Proto {
        match s {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            "icmp" => Proto::Icmp,
            _ => Proto::Other,
        }
    }

    /// Zeek's name for the protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Other => "other",
        }
    }
}

/// One `conn.log` row: a connection (or connection attempt) from `orig_h` to `resp_h`.
#[derive(Clone, Debug, PartialEq)]
pub struct Conn {
    /// Start time, seconds (Zeek `ts`).
    pub ts: f64,
    /// Zeek's connection id (`uid`), joins `dns`, `ssl`, `http` rows of the same connection.
    pub uid: String,
    /// Originator address (`id.orig_h`): the device.
    pub orig_h: IpAddr,
    /// Originator port (`id.orig_p`).
    pub orig_p: u16,
    /// Responder address (`id.resp_h`): the peer.
    pub resp_h: IpAddr,
    /// Responder port (`id.resp_p`; the ICMP code for ICMP).
    pub resp_p: u16,
    /// Transport protocol.
    pub proto: Proto,
    /// Application protocol Zeek recognised (`service`), if any.
    pub service: Option<String>,
    /// Duration, seconds; unset for single-packet attempts.
    pub duration_s: Option<f64>,
    /// Payload bytes sent by the originator.
    pub orig_bytes: Option<u64>,
    /// Payload bytes sent by the responder.
    pub resp_bytes: Option<u64>,
    /// Zeek's connection state (`S0`, `SF`, `REJ`, …).
    pub conn_state: Option<String>,
    /// Packets sent by the responder.
    pub resp_pkts: Option<u64>,
    /// Stratosphere label (`label` column of labelled captures), when present.
    pub label: Option<String>,
}

impl Conn {
    /// True when the attempt exchanged no payload and did not complete normally: Zeek states `S0`, `REJ`,
    /// `RSTOS0`, `RSTRH`, `SH`, `SHR`, `OTH` without reply packets, or any state with zero payload bytes in
    /// both directions; for ICMP, a request without reply bytes. A port scanner's probes look like this; most ordinary connections do not.
    pub fn is_probe(&self) -> bool {
        if self.proto == Proto::Icmp {
            // An echo (or timestamp, mask) request that got no payload back.
            return self.resp_bytes.unwrap_or(0) == 0;
        }
        let no_payload = self.orig_bytes.unwrap_or(0) == 0 && self.resp_bytes.unwrap_or(0) == 0;
        match self.conn_state.as_deref() {
            Some("S0" | "REJ" | "RSTOS0" | "RSTRH" | "SH" | "SHR") => true,
            Some("OTH") => self.resp_pkts.unwrap_or(0) == 0 || no_payload,
            _ => no_payload,
        }
    }
}

/// One `dns.log` row: a query by `orig_h` to the resolver `resp_h`, with its answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Dns {
    /// Query time, seconds.
    pub ts: f64,
    /// Connection id.
    pub uid: String,
    /// The device asking.
    pub orig_h: IpAddr,
    /// The resolver.
    pub resp_h: IpAddr,
    /// Resolver port (53 for DNS, 5353 for mDNS, 5355 for LLMNR).
    pub resp_p: u16,
    /// The queried name, lower-cased, without a trailing dot.
    pub query: Option<String>,
    /// Query type name (`A`, `AAAA`, `TXT`, …).
    pub qtype_name: Option<String>,
    /// Response code name (`NOERROR`, `NXDOMAIN`, …); unset when no reply was seen.
    pub rcode_name: Option<String>,
    /// Answers: addresses and names (CNAME, PTR, …), as Zeek lists them.
    pub answers: Vec<String>,
}

impl Dns {
    /// True when the resolver said the name does not exist.
    pub fn is_nxdomain(&self) -> bool {
        self.rcode_name.as_deref() == Some("NXDOMAIN")
    }
}

/// One `ssl.log` row: a TLS handshake, with the server name the client asked for (SNI).
#[derive(Clone, Debug, PartialEq)]
pub struct Ssl {
    /// Handshake time, seconds.
    pub ts: f64,
    /// Connection id (joins `conn.log`).
    pub uid: String,
    /// Client.
    pub orig_h: IpAddr,
    /// Server.
    pub resp_h: IpAddr,
    /// Server port.
    pub resp_p: u16,
    /// SNI (`server_name`), lower-cased.
    pub server_name: Option<String>,
}

/// One `http.log` row: a request with its `Host` header and URI.
#[derive(Clone, Debug, PartialEq)]
pub struct Http {
    /// Request time, seconds.
    pub ts: f64,
    /// Connection id (joins `conn.log`).
    pub uid: String,
    /// Client.
    pub orig_h: IpAddr,
    /// Server.
    pub resp_h: IpAddr,
    /// Server port.
    pub resp_p: u16,
    /// `Host` header, lower-cased.
    pub host: Option<String>,
    /// Request URI.
    pub uri: Option<String>,
}

/// One `dhcp.log` row (Zeek ≥ 2.6 layout): a DHCP exchange of one client.
#[derive(Clone, Debug, PartialEq)]
pub struct Dhcp {
    /// Time, seconds.
    pub ts: f64,
    /// The client's address, when it had one.
    pub client_addr: Option<IpAddr>,
    /// The DHCP server.
    pub server_addr: Option<IpAddr>,
    /// The client's hardware address.
    pub mac: Option<String>,
    /// The address the client asked for.
    pub requested_addr: Option<IpAddr>,
    /// The address the server gave.
    pub assigned_addr: Option<IpAddr>,
}

/// All records of one or more log folders, by kind. Order within a kind is input order (not sorted).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Logs {
    /// `conn.log` rows.
    pub conn: Vec<Conn>,
    /// `dns.log` rows.
    pub dns: Vec<Dns>,
    /// `ssl.log` rows.
    pub ssl: Vec<Ssl>,
    /// `http.log` rows.
    pub http: Vec<Http>,
    /// `dhcp.log` rows.
    pub dhcp: Vec<Dhcp>,
}

impl Logs {
    /// Appends every record of `other`.
    pub fn extend(&mut self, other: Logs) {
        self.conn.extend(other.conn);
        self.dns.extend(other.dns);
        self.ssl.extend(other.ssl);
        self.http.extend(other.http);
        self.dhcp.extend(other.dhcp);
    }

    /// Total number of records.
    pub fn len(&self) -> usize {
        self.conn.len() + self.dns.len() + self.ssl.len() + self.http.len() + self.dhcp.len()
    }

    /// True when there is no record at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps only records with `ts` in `[from, to)`.
    pub fn retain_time(&mut self, from: f64, to: f64) {
        let keep = |t: f64| t >= from && t < to;
        self.conn.retain(|r| keep(r.ts));
        self.dns.retain(|r| keep(r.ts));
        self.ssl.retain(|r| keep(r.ts));
        self.http.retain(|r| keep(r.ts));
        self.dhcp.retain(|r| keep(r.ts));
    }

    /// The earliest and latest `ts` over all records, or `None` when empty.
    pub fn time_span(&self) -> Option<(f64, f64)> {
        let ts = self
            .conn
            .iter()
            .map(|r| r.ts)
            .chain(self.dns.iter().map(|r| r.ts))
            .chain(self.ssl.iter().map(|r| r.ts))
            .chain(self.http.iter().map(|r| r.ts))
            .chain(self.dhcp.iter().map(|r| r.ts));
        ts.fold(None, |acc, t| match acc {
            None => Some((t, t)),
            Some((a, b)) => Some((a.min(t), b.max(t))),
        })
    }
}
