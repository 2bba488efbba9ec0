//! Threat intelligence: indicators from Zeek Intel framework files and plain blocklists, and their
//! matching against addresses and names (no I/O: callers pass each file's text and a name for it).
//!
//! - **Zeek Intel files** (the Intel framework's input format): TAB-separated, a
//!   `#fields indicator indicator_type meta.source …` line, then one indicator a line. Types read:
//!   `Intel::ADDR`, `Intel::SUBNET`, `Intel::DOMAIN`, `Intel::URL`; other types (`Intel::EMAIL`,
//!   `Intel::FILE_HASH`, …) are counted under `unsupported_type` and skipped. A `meta.whitelist` column
//!   set to `T` (Zeek's `policy/frameworks/intel/whitelist`) makes the indicator an exception that
//!   suppresses matches. As in Zeek, a `DOMAIN` indicator matches that exact name only.
//! - **Plain blocklists** (e.g. maltrail's `trails/static/…` files): one domain or address (or CIDR
//!   subnet) a line, `#` comments and blank lines ignored; `http://host/path` lines are URL indicators,
//!   `http://host` and `addr:port` lines their host (the port is ignored, counted as `port_ignored`). A domain matches itself and its subdomains,
//!   as maltrail uses them. The indicator's source is the list's name.
//!
//! Names are compared lower-case without a trailing dot.

use std::collections::HashMap;
use std::net::IpAddr;

use keyprint_datasets::ReadReport;

/// The kind of an indicator (Zeek's `indicator_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndicatorType {
    /// One address.
    Addr,
    /// A CIDR subnet.
    Subnet,
    /// A domain name.
    Domain,
    /// A URL without scheme (`host/path`), matched against HTTP `Host` + URI.
    Url,
}

impl IndicatorType {
    /// Zeek's name (`Intel::ADDR`, …).
    pub fn zeek_name(self) -> &'static str {
        match self {
            IndicatorType::Addr => "Intel::ADDR",
            IndicatorType::Subnet => "Intel::SUBNET",
            IndicatorType::Domain => "Intel::DOMAIN",
            IndicatorType::Url => "Intel::URL",
        }
    }
}

/// One indicator with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Indicator {
    /// The indicator as listed (lower-cased for names).
    pub value: String,
    /// Its kind.
    pub kind: IndicatorType,
    /// `meta.source` of a Zeek Intel file, or the blocklist's name.
    pub source: String,
    /// `meta.desc`, when given.
    pub desc: Option<String>,
    /// True when subdomains of a `Domain` indicator match too (plain blocklists).
    pub subdomains: bool,
}

/// A whole intel file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntelError {
    /// A Zeek Intel file whose `#fields` line lacks a required column.
    #[error("{file}:{line}: bad Zeek Intel header: {reason}")]
    Header {
        /// The file's name.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Not text.
    #[error("{file}: not a text file (invalid UTF-8 at byte {offset})")]
    Binary {
        /// The file's name.
        file: String,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
}

/// A set of indicators and exceptions, indexed for matching.
#[derive(Clone, Debug, Default)]
pub struct IntelSet {
    addrs: HashMap<IpAddr, Indicator>,
    subnets: Vec<(IpAddr, u8, Indicator)>,
    domains: HashMap<String, Indicator>,
    urls: HashMap<String, Indicator>,
    allowed: HashMap<String, ()>,
}

/// Normalises a name: lower case, no trailing dot, no surrounding space.
pub fn normalize_name(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn parse_subnet(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = s.split_once('/')?;
    let addr: IpAddr = a.parse().ok()?;
    let prefix: u8 = p.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((addr, prefix))
}

fn in_subnet(a: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn looks_like_domain(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

impl IntelSet {
    /// An empty set.
    pub fn new() -> IntelSet {
        IntelSet::default()
    }

    /// Number of indicators (exceptions not counted).
    pub fn len(&self) -> usize {
        self.addrs.len() + self.subnets.len() + self.domains.len() + self.urls.len()
    }

    /// True when there is no indicator.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a file, deciding its format: a Zeek Intel file when a line starts with `#fields`, else a
    /// plain blocklist whose indicators are attributed to `name`.
    ///
    /// # Errors
    /// [`IntelError`] for binary data or a Zeek Intel header without `indicator`, `indicator_type` or
    /// `meta.source`.
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<ReadReport, IntelError> {
        let text = std::str::from_utf8(bytes).map_err(|e| IntelError::Binary {
            file: name.into(),
            offset: e.valid_up_to(),
        })?;
        if text.lines().any(|l| l.trim_start().starts_with("#fields")) {
            self.add_zeek(name, text)
        } else {
            Ok(self.add_blocklist(name, text))
        }
    }

    /// Adds a Zeek Intel framework file. Rows with an unknown type are counted (`unsupported_type`),
    /// rows with too few columns or an unparsable address are rejected with their line.
    ///
    /// # Errors
    /// [`IntelError::Header`] when data comes before `#fields` or a required column is missing.
    pub fn add_zeek(&mut self, name: &str, text: &str) -> Result<ReadReport, IntelError> {
        let mut report = ReadReport::default();
        let mut cols: Option<HashMap<&str, usize>> = None;
        for (i, raw) in text.lines().enumerate() {
            let line = i as u64 + 1;
            let l = raw.trim_start_matches([' ', '\t']);
            if l.trim().is_empty() {
                continue;
            }
            if let Some(rest) = l.strip_prefix("#fields") {
                let map: HashMap<&str, usize> = rest
                    .split('\t')
                    .filter(|c| !c.is_empty())
                    .enumerate()
                    .map(|(i, c)| (c.trim(), i))
                    .collect();
                for req in ["indicator", "indicator_type", "meta.source"] {
                    if !map.contains_key(req) {
                        return Err(IntelError::Header {
                            file: name.into(),
                            line,
                            reason: format!("no `{req}` column"),
                        });
                    }
                }
                cols = Some(map);
                continue;
            }
            if l.starts_with('#') {
                continue;
            }
            let Some(c) = &cols else {
                return Err(IntelError::Header {
                    file: name.into(),
                    line,
                    reason: "indicator before the #fields line".into(),
                });
            };
            let vals: Vec<&str> = raw.split('\t').collect();
            let get = |k: &str| {
                c.get(k)
                    .and_then(|&i| vals.get(i))
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty() && *v != "-")
            };
            let (Some(value), Some(kind), Some(source)) =
                (get("indicator"), get("indicator_type"), get("meta.source"))
            else {
                report.reject(name, line, None, format!("{} columns, too few", vals.len()));
                continue;
            };
            let kind = match kind {
                "Intel::ADDR" => IndicatorType::Addr,
                "Intel::SUBNET" => IndicatorType::Subnet,
                "Intel::DOMAIN" => IndicatorType::Domain,
                "Intel::URL" => IndicatorType::Url,
                _ => {
                    report.repair("unsupported_type");
                    continue;
                }
            };
            let ind = Indicator {
                value: value.to_string(),
                kind,
                source: source.to_string(),
                desc: get("meta.desc").map(str::to_string),
                subdomains: false,
            };
            if get("meta.whitelist") == Some("T") {
                self.allowed.insert(normalize_name(value), ());
                report.repair("whitelisted");
                report.accepted += 1;
                continue;
            }
            match self.insert(ind) {
                Ok(()) => report.accepted += 1,
                Err(reason) => report.reject(name, line, Some("indicator"), reason),
            }
        }
        if cols.is_none() {
            return Err(IntelError::Header {
                file: name.into(),
                line: 1,
                reason: "no #fields line".into(),
            });
        }
        Ok(report)
    }

    /// Adds a plain blocklist: one domain, address or CIDR subnet a line; `#` starts a comment. Lines
    /// that are none of these are rejected with their line number.
    pub fn add_blocklist(&mut self, name: &str, text: &str) -> ReadReport {
        let mut report = ReadReport::default();
        for (i, raw) in text.lines().enumerate() {
            let l = raw.split('#').next().unwrap_or("").trim();
            if l.is_empty() {
                continue;
            }
            // maltrail also lists `http://host/path` URLs and `addr:port` trails: a URL with a path is
            // a URL indicator; a bare `http://host` or `addr:port` is its host (the port is ignored).
            let no_scheme = l
                .strip_prefix("http://")
                .or_else(|| l.strip_prefix("https://"));
            if let Some(rest) = no_scheme
                && rest.trim_end_matches('/').contains('/')
            {
                let ind = Indicator {
                    value: rest.to_string(),
                    kind: IndicatorType::Url,
                    source: name.to_string(),
                    desc: None,
                    subdomains: false,
                };
                match self.insert(ind) {
                    Ok(()) => report.accepted += 1,
                    Err(reason) => report.reject(name, i as u64 + 1, None, reason),
                }
                continue;
            }
            let mut l = no_scheme.unwrap_or(l).trim_end_matches('/');
            if let Some((host, port)) = l.rsplit_once(':')
                && host.parse::<std::net::Ipv4Addr>().is_ok()
                && port.parse::<u16>().is_ok()
            {
                l = host;
                report.repair("port_ignored");
            }
            let (kind, value) = if l.parse::<IpAddr>().is_ok() {
                (IndicatorType::Addr, l.to_string())
            } else if parse_subnet(l).is_some() {
                (IndicatorType::Subnet, l.to_string())
            } else if looks_like_domain(l) {
                (IndicatorType::Domain, normalize_name(l))
            } else {
                report.reject(
                    name,
                    i as u64 + 1,
                    None,
                    format!("not a domain or address: {l:?}"),
                );
                continue;
            };
            let ind = Indicator {
                value,
                kind,
                source: name.to_string(),
                desc: None,
                subdomains: true,
            };
            match self.insert(ind) {
                Ok(()) => report.accepted += 1,
                Err(reason) => report.reject(name, i as u64 + 1, None, reason),
            }
        }
        report
    }

    fn insert(&mut self, ind: Indicator) -> Result<(), String> {
        match ind.kind {
            IndicatorType::Addr => {
                let a: IpAddr = ind
                    .value
                    .parse()
                    .map_err(|_| format!("not an address: {:?}", ind.value))?;
                self.addrs.insert(a, ind);
            }
            IndicatorType::Subnet => {
                let (a, p) =
                    parse_subnet(&ind.value).ok_or(format!("not a subnet: {:?}", ind.value))?;
                self.subnets.push((a, p, ind));
            }
            IndicatorType::Domain => {
                let key = normalize_name(&ind.value);
                self.domains.insert(key, ind);
            }
            IndicatorType::Url => {
                let v = ind.value.trim();
                let v = v
                    .strip_prefix("http://")
                    .or_else(|| v.strip_prefix("https://"))
                    .unwrap_or(v);
                self.urls.insert(v.to_ascii_lowercase(), ind);
            }
        }
        Ok(())
    }

    /// The indicator an address matches (exact `ADDR` first, then the first `SUBNET` holding it).
    pub fn match_addr(&self, a: IpAddr) -> Option<&Indicator> {
        if self.allowed.contains_key(&a.to_string()) {
            return None;
        }
        self.addrs.get(&a).or_else(|| {
            self.subnets
                .iter()
                .find(|(n, p, _)| in_subnet(a, *n, *p))
                .map(|(_, _, i)| i)
        })
    }

    /// The indicator a name matches: exactly, or (for blocklist entries) as a subdomain. Exceptions win.
    /// A text that parses as an address is matched as an address.
    pub fn match_name(&self, name: &str) -> Option<&Indicator> {
        if let Ok(a) = name.trim().parse::<IpAddr>() {
            return self.match_addr(a);
        }
        let n = normalize_name(name);
        if self.allowed.contains_key(&n) {
            return None;
        }
        if let Some(i) = self.domains.get(&n) {
            return Some(i);
        }
        let mut rest = n.as_str();
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(i) = self.domains.get(parent).filter(|i| i.subdomains) {
                return Some(i);
            }
            rest = parent;
        }
        None
    }

    /// The indicator an HTTP request matches as a URL (`host` + `uri`, prefix match of the indicator).
    pub fn match_url(&self, host: &str, uri: &str) -> Option<&Indicator> {
        if self.urls.is_empty() {
            return None;
        }
        let full = format!("{}{}", normalize_name(host), uri).to_ascii_lowercase();
        self.urls
            .iter()
            .filter(|(u, _)| full.starts_with(u.as_str()))
            .max_by_key(|(u, _)| u.len())
            .map(|(_, i)| i)
    }
}
