//! Zeek log readers (no I/O: they take a file's bytes and its name): Zeek's TSV format (`#separator`,
//! `#set_separator`, `#empty_field`, `#unset_field`, `#path`, `#fields`, `#types` header lines, `\xHH`
//! escapes, `-` for unset, `(empty)` for an empty set) and Zeek's JSON format (one object a line), with or
//! without Stratosphere's label columns. `ts` is epoch seconds, or an ISO 8601 UTC time as Zeek's JSON writer
//! gives with `LogAscii::json_timestamps = JSON::TS_ISO8601`.
//!
//! What real captures do, and what this reader does about it (each repair is counted in the
//! [`ReadReport`] under the rule's name):
//! - `leading_whitespace`: a header line starts with a stray TAB or space (Stratosphere's
//!   `test10-mixed-zeek-dir/conn.log` starts with `\t#separator`); a data row with one extra, empty
//!   leading column is shifted back.
//! - `three_space_columns`: Stratosphere's labelled logs separate their last columns (`tunnel_parents`,
//!   `label`, `detailed-label`) with three spaces instead of the separator, in `#fields`, `#types` and rows
//!   (in rows only when the separator alone does not give the header's column count, so a value holding three
//!   spaces stays whole).
//! - `comment_line`: a `#` line that is no Zeek directive (e.g. btest's `### BTest baseline …`) is skipped.
//! - `header_block`: a second header block in one file (concatenated logs) replaces the first.
//!
//! Unknown columns are kept out of the way: they are listed in [`ParsedLog::unknown_columns`] and
//! otherwise ignored. A bad row is rejected with its file, 1-based line and field ([`RowIssue`]); a file
//! that is not a Zeek log at all (binary, wrong header, data before `#fields`) is a [`LogError`] with its
//! line. Nothing here panics on any input (fuzzed by `fuzz/`, tested in `tests/reader.rs`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use keyprint_datasets::{ReadReport, RowIssue};
use serde_json::{Map, Value};

use crate::record::{Conn, Dhcp, Dns, Http, Logs, Proto, Ssl};

/// The log kinds the engine reads. Other Zeek logs (`notice`, `x509`, `weird`, …) are recognised and
/// skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogKind {
    /// `conn.log`.
    Conn,
    /// `dns.log`.
    Dns,
    /// `ssl.log`.
    Ssl,
    /// `http.log`.
    Http,
    /// `dhcp.log`.
    Dhcp,
    /// Any other `#path` (or file name stem); its rows are not read.
    Other(String),
}

impl LogKind {
    /// From a Zeek `#path` value or a file name (`conn.log`, `conn.2024-01-01-00-00-00.log`,
    /// `conn.log.labeled` → [`LogKind::Conn`]).
    pub fn from_name(name: &str) -> LogKind {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let stem = base.split('.').next().unwrap_or(base);
        match stem {
            "conn" => LogKind::Conn,
            "dns" => LogKind::Dns,
            "ssl" => LogKind::Ssl,
            "http" => LogKind::Http,
            "dhcp" => LogKind::Dhcp,
            other => LogKind::Other(other.to_string()),
        }
    }

    /// Columns a TSV header of this kind must have (JSON rows missing one are rejected instead).
    fn required(&self) -> &'static [&'static str] {
        match self {
            LogKind::Conn => &[
                "ts",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "proto",
            ],
            LogKind::Dns => &["ts", "id.orig_h", "id.resp_h", "query"],
            LogKind::Ssl => &["ts", "id.orig_h", "id.resp_h", "server_name"],
            LogKind::Http => &["ts", "id.orig_h", "id.resp_h", "host"],
            LogKind::Dhcp => &["ts"],
            LogKind::Other(_) => &[],
        }
    }

    /// Columns this reader uses for this kind (the rest are "unknown", kept out of the way).
    fn known(&self) -> &'static [&'static str] {
        match self {
            LogKind::Conn => &[
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "proto",
                "service",
                "duration",
                "orig_bytes",
                "resp_bytes",
                "conn_state",
                "resp_pkts",
                "label",
                "detailed-label",
            ],
            LogKind::Dns => &[
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "query",
                "qtype_name",
                "rcode_name",
                "answers",
                "label",
                "detailed-label",
            ],
            LogKind::Ssl => &[
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "server_name",
            ],
            LogKind::Http => &[
                "ts",
                "uid",
                "id.orig_h",
                "id.orig_p",
                "id.resp_h",
                "id.resp_p",
                "host",
                "uri",
            ],
            LogKind::Dhcp => &[
                "ts",
                "client_addr",
                "server_addr",
                "mac",
                "requested_addr",
                "assigned_addr",
            ],
            LogKind::Other(_) => &[],
        }
    }
}

/// Which of Zeek's two writers produced a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Zeek's ASCII writer: header lines, one separated row a line.
    Tsv,
    /// Zeek's JSON writer (`LogAscii::use_json`): one object a line.
    Json,
}

/// One parsed log file.
#[derive(Clone, Debug)]
pub struct ParsedLog {
    /// Kind (from `#path`, else from the file name).
    pub kind: LogKind,
    /// Writer format.
    pub format: Format,
    /// The records read (only the vector of `kind` is filled).
    pub logs: Logs,
    /// Rows accepted, rejected (located) and repairs applied.
    pub report: ReadReport,
    /// Header columns (TSV) or object keys (JSON) this reader does not use, in first-seen order.
    pub unknown_columns: Vec<String>,
}

/// A file that is not a readable Zeek log. Row-level problems are not errors: they go to the report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Neither Zeek TSV nor Zeek JSON (binary data, an empty file, some other text).
    #[error("{file}:{line}: not a Zeek log: {reason}")]
    Format {
        /// File name.
        file: String,
        /// 1-based line.
        line: u64,
        /// What was found.
        reason: String,
    },
    /// A TSV header that cannot be used (fields/types disagree, a required column is missing, data before
    /// `#fields`, an unreadable `#separator`).
    #[error("{file}:{line}: bad header: {reason}")]
    Header {
        /// File name.
        file: String,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Parses one Zeek log from its bytes. `file` names it in errors and decides the kind when the file
/// has no `#path` (JSON logs). See the module documentation for the rules.
///
/// # Errors
/// [`LogError`] when the file is not a Zeek log or its header is unusable.
pub fn parse_log(file: &str, bytes: &[u8]) -> Result<ParsedLog, LogError> {
    let lines = split_lines(bytes);
    let first = lines
        .iter()
        .find(|l| !l.bytes.iter().all(|b| b.is_ascii_whitespace()));
    let Some(first) = first else {
        return Err(LogError::Format {
            file: file.into(),
            line: 1,
            reason: "empty file".into(),
        });
    };
    let head = first.bytes.trim_ascii_start();
    let format = match head.first() {
        Some(b'#') => Format::Tsv,
        Some(b'{') => Format::Json,
        _ => {
            let reason = if std::str::from_utf8(first.bytes).is_err() || first.bytes.contains(&0) {
                "binary data".to_string()
            } else {
                "neither a Zeek TSV header (#separator, #fields) nor a JSON object".to_string()
            };
            return Err(LogError::Format {
                file: file.into(),
                line: first.number,
                reason,
            });
        }
    };
    let mut out = ParsedLog {
        kind: LogKind::from_name(file),
        format,
        logs: Logs::default(),
        report: ReadReport::default(),
        unknown_columns: Vec::new(),
    };
    match format {
        Format::Tsv => parse_tsv(file, &lines, &mut out)?,
        Format::Json => parse_json(file, &lines, &mut out),
    }
    Ok(out)
}

struct Line<'a> {
    number: u64,
    bytes: &'a [u8],
    /// True for the last line when the file does not end with a newline.
    unterminated: bool,
}

fn split_lines(bytes: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut number = 0;
    while start < bytes.len() {
        number += 1;
        let (end, next, unterminated) = match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => (start + i, start + i + 1, false),
            None => (bytes.len(), bytes.len(), true),
        };
        let mut line = &bytes[start..end];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        out.push(Line {
            number,
            bytes: line,
            unterminated,
        });
        start = next;
    }
    out
}

/// A line as text, or the reason it is not text.
fn text_of<'a>(line: &Line<'a>) -> Result<&'a str, String> {
    match std::str::from_utf8(line.bytes) {
        Ok(s) if s.contains('\0') => Err("binary data (NUL byte)".into()),
        Ok(s) => Ok(s),
        Err(e) => Err(format!(
            "binary data (invalid UTF-8 at byte {})",
            e.valid_up_to()
        )),
    }
}

fn reject(
    report: &mut ReadReport,
    file: &str,
    line: &Line<'_>,
    field: Option<&str>,
    reason: String,
) {
    let reason = if line.unterminated {
        format!("{reason} (truncated last line: no end of line)")
    } else {
        reason
    };
    report.reject(file, line.number, field, reason);
}

/// Decodes Zeek's `\xHH` escapes (used for the separator, non-printable bytes and backslashes).
pub fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains("\\x") {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            let hex = std::str::from_utf8(&b[i + 2..i + 4]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

struct TsvHeader {
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    fields: Option<Vec<String>>,
    types: Option<Vec<String>>,
    index: HashMap<String, usize>,
}

impl Default for TsvHeader {
    fn default() -> Self {
        TsvHeader {
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            fields: None,
            types: None,
            index: HashMap::new(),
        }
    }
}

/// Splits a header or data line on the separator, then splits any column holding Stratosphere's
/// three-space separator. Returns the columns and whether the three-space rule fired.
fn split_columns<'a>(s: &'a str, sep: &str) -> (Vec<&'a str>, bool) {
    let mut cols = Vec::new();
    let mut fired = false;
    for c in s.split(sep) {
        if c.contains("   ") {
            fired = true;
            cols.extend(c.split("   ").map(str::trim));
        } else {
            cols.push(c);
        }
    }
    (cols, fired)
}

fn parse_tsv(file: &str, lines: &[Line<'_>], out: &mut ParsedLog) -> Result<(), LogError> {
    let mut h = TsvHeader::default();
    let mut seen_fields_block = false;
    let herr = |line: u64, reason: String| LogError::Header {
        file: file.into(),
        line,
        reason,
    };
    for line in lines {
        if line.bytes.is_empty() {
            continue;
        }
        let text = match text_of(line) {
            Ok(t) => t,
            Err(reason) => {
                if h.fields.is_none() {
                    return Err(LogError::Format {
                        file: file.into(),
                        line: line.number,
                        reason,
                    });
                }
                reject(&mut out.report, file, line, None, reason);
                continue;
            }
        };
        let trimmed = text.trim_start_matches([' ', '\t']);
        if trimmed.starts_with('#') {
            if trimmed.len() != text.len() {
                out.report.repair("leading_whitespace");
            }
            if h.fields.is_some() && trimmed.starts_with("#separator") {
                // A new header block (concatenated logs): start over.
                out.report.repair("header_block");
                h = TsvHeader::default();
            }
            if let Some(v) = trimmed.strip_prefix("#separator") {
                let v = unescape(v.trim_matches([' ', '\t']));
                if v.is_empty() {
                    return Err(herr(line.number, "empty #separator".into()));
                }
                h.sep = v.into_owned();
                continue;
            }
            let (key, value) = match trimmed.split_once(h.sep.as_str()) {
                Some((k, v)) => (k, v),
                None => (trimmed, ""),
            };
            match key {
                "#set_separator" => h.set_sep = unescape(value).into_owned(),
                "#empty_field" => h.empty = unescape(value).into_owned(),
                "#unset_field" => h.unset = unescape(value).into_owned(),
                "#path" => out.kind = LogKind::from_name(value.trim()),
                k if k.starts_with("#open") || k.starts_with("#close") => {}
                "#fields" | "#types" => {
                    let (cols, fired) = split_columns(value, &h.sep);
                    if fired {
                        out.report.repair("three_space_columns");
                    }
                    let cols: Vec<String> = cols.into_iter().map(str::to_string).collect();
                    if cols.iter().any(String::is_empty) {
                        return Err(herr(line.number, format!("empty column name in {key}")));
                    }
                    if key == "#fields" {
                        if seen_fields_block && h.fields.is_some() {
                            out.report.repair("header_block");
                        }
                        seen_fields_block = true;
                        h.index = cols
                            .iter()
                            .enumerate()
                            .map(|(i, c)| (c.clone(), i))
                            .collect();
                        for req in out.kind.required() {
                            if !h.index.contains_key(*req) {
                                return Err(herr(
                                    line.number,
                                    format!("{:?} log without the `{req}` column", out.kind),
                                ));
                            }
                        }
                        let known = out.kind.known();
                        for c in &cols {
                            if !known.contains(&c.as_str()) && !out.unknown_columns.contains(c) {
                                out.unknown_columns.push(c.clone());
                            }
                        }
                        h.fields = Some(cols);
                        h.types = None;
                    } else {
                        h.types = Some(cols);
                    }
                    if let (Some(f), Some(t)) = (&h.fields, &h.types)
                        && f.len() != t.len()
                    {
                        return Err(herr(
                            line.number,
                            format!("#fields has {} columns, #types has {}", f.len(), t.len()),
                        ));
                    }
                }
                _ if key.starts_with("#separator") => {}
                _ => out.report.repair("comment_line"),
            }
            continue;
        }
        let Some(fields) = &h.fields else {
            return Err(herr(line.number, "data row before any #fields line".into()));
        };
        if trimmed.starts_with('{') {
            reject(
                &mut out.report,
                file,
                line,
                None,
                "mixed formats: a JSON object in a TSV log".into(),
            );
            continue;
        }
        // Split on the separator; only when that does not give the header's count, try Stratosphere's
        // three-space columns (a value may hold three spaces of its own, e.g. a user agent).
        let mut cols: Vec<&str> = text.split(h.sep.as_str()).collect();
        let mut fired = false;
        if cols.len() != fields.len() {
            let (spaced, f) = split_columns(text, &h.sep);
            if spaced.len() == fields.len() || spaced.len() == fields.len() + 1 {
                cols = spaced;
                fired = f;
            }
        }
        if cols.len() == fields.len() + 1 && cols.first() == Some(&"") {
            cols.remove(0);
            out.report.repair("leading_whitespace");
        }
        if cols.len() != fields.len() {
            reject(
                &mut out.report,
                file,
                line,
                None,
                format!("{} columns, the header has {}", cols.len(), fields.len()),
            );
            continue;
        }
        if fired {
            out.report.repair("three_space_columns");
        }
        let row = TsvRow { h: &h, cols };
        build(file, line, &row, out);
    }
    if out.kind.required().is_empty() {
        return Ok(());
    }
    if h.fields.is_none() {
        let last = lines.last().map_or(1, |l| l.number);
        return Err(herr(last, "no #fields line (truncated header?)".into()));
    }
    Ok(())
}

fn parse_json(file: &str, lines: &[Line<'_>], out: &mut ParsedLog) {
    for line in lines {
        if line.bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match text_of(line) {
            Ok(t) => t,
            Err(reason) => {
                reject(&mut out.report, file, line, None, reason);
                continue;
            }
        };
        let trimmed = text.trim_start();
        if trimmed.starts_with('#') {
            reject(
                &mut out.report,
                file,
                line,
                None,
                "mixed formats: a TSV header line in a JSON log".into(),
            );
            continue;
        }
        let obj = match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                reject(
                    &mut out.report,
                    file,
                    line,
                    None,
                    "not a JSON object".into(),
                );
                continue;
            }
            Err(e) => {
                reject(&mut out.report, file, line, None, format!("bad JSON: {e}"));
                continue;
            }
        };
        let known = out.kind.known();
        if !known.is_empty() {
            for k in obj.keys() {
                if !known.contains(&k.as_str()) && !out.unknown_columns.contains(k) {
                    out.unknown_columns.push(k.clone());
                }
            }
        }
        build(file, line, &JsonRow(&obj), out);
    }
}

/// Field access shared by the TSV and JSON rows.
trait RowView {
    /// The field as text; `None` when the column is absent or unset.
    fn text(&self, f: &str) -> Option<Cow<'_, str>>;
    /// The field as a list (Zeek `set`/`vector`); `None` when absent or unset.
    fn list(&self, f: &str) -> Option<Vec<String>>;
}

struct TsvRow<'a> {
    h: &'a TsvHeader,
    cols: Vec<&'a str>,
}

impl RowView for TsvRow<'_> {
    fn text(&self, f: &str) -> Option<Cow<'_, str>> {
        let v = *self.cols.get(*self.h.index.get(f)?)?;
        if v == self.h.unset {
            return None;
        }
        if v == self.h.empty {
            return Some(Cow::Borrowed(""));
        }
        Some(unescape(v))
    }

    fn list(&self, f: &str) -> Option<Vec<String>> {
        let v = *self.cols.get(*self.h.index.get(f)?)?;
        if v == self.h.unset {
            return None;
        }
        if v == self.h.empty {
            return Some(Vec::new());
        }
        Some(
            v.split(self.h.set_sep.as_str())
                .map(|s| unescape(s).into_owned())
                .collect(),
        )
    }
}

struct JsonRow<'a>(&'a Map<String, Value>);

impl RowView for JsonRow<'_> {
    fn text(&self, f: &str) -> Option<Cow<'_, str>> {
        match self.0.get(f)? {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s.as_str())),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "T" } else { "F" })),
            other => Some(Cow::Owned(other.to_string())),
        }
    }

    fn list(&self, f: &str) -> Option<Vec<String>> {
        match self.0.get(f)? {
            Value::Null => None,
            Value::Array(a) => Some(
                a.iter()
                    .map(|v| match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
            ),
            Value::String(s) => Some(vec![s.clone()]),
            other => Some(vec![other.to_string()]),
        }
    }
}

type FieldResult<T> = Result<T, (&'static str, String)>;

fn req<'a>(r: &'a dyn RowView, f: &'static str) -> FieldResult<Cow<'a, str>> {
    r.text(f).ok_or((f, "missing or unset".to_string()))
}

fn num_f64(f: &'static str, v: &str) -> FieldResult<f64> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err((f, format!("not a number: {v:?}"))),
    }
}

fn req_ts(r: &dyn RowView) -> FieldResult<f64> {
    let v = req(r, "ts")?;
    if let Some(t) = iso8601(&v) {
        return Ok(t);
    }
    num_f64("ts", &v)
}

/// Zeek's ISO 8601 JSON timestamps (`LogAscii::json_timestamps = JSON::TS_ISO8601`), UTC only:
/// `2020-10-06T17:32:46.785668Z` → seconds since the Unix epoch.
pub fn iso8601(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let (hh, mm) = (
        t.next()?.parse::<i64>().ok()?,
        t.next()?.parse::<i64>().ok()?,
    );
    let sec: f64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || hh > 23
        || mm > 59
        || !(0.0..61.0).contains(&sec)
    {
        return None;
    }
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hh * 3600 + mm * 60) as f64 + sec)
}

fn opt_f64(r: &dyn RowView, f: &'static str) -> FieldResult<Option<f64>> {
    r.text(f).map(|v| num_f64(f, &v)).transpose()
}

fn opt_u64(r: &dyn RowView, f: &'static str) -> FieldResult<Option<u64>> {
    r.text(f)
        .map(|v| {
            v.parse::<u64>()
                .map_err(|_| (f, format!("not a count: {v:?}")))
        })
        .transpose()
}

fn addr(f: &'static str, v: &str) -> FieldResult<IpAddr> {
    v.trim()
        .parse::<IpAddr>()
        .map_err(|_| (f, format!("not an IP address: {v:?}")))
}

fn req_addr(r: &dyn RowView, f: &'static str) -> FieldResult<IpAddr> {
    addr(f, &req(r, f)?)
}

fn opt_addr(r: &dyn RowView, f: &'static str) -> FieldResult<Option<IpAddr>> {
    r.text(f).map(|v| addr(f, &v)).transpose()
}

fn port(r: &dyn RowView, f: &'static str) -> FieldResult<u16> {
    match r.text(f) {
        None => Ok(0),
        Some(v) => v
            .parse::<u16>()
            .map_err(|_| (f, format!("not a port: {v:?}"))),
    }
}

fn opt_string(r: &dyn RowView, f: &'static str) -> Option<String> {
    r.text(f).map(Cow::into_owned)
}

fn name(r: &dyn RowView, f: &'static str) -> Option<String> {
    r.text(f)
        .map(|v| v.trim_end_matches('.').to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// The fields every per-connection log shares: `ts`, `uid`, `id.orig_h`, `id.resp_h`, `id.resp_p`.
struct Ids {
    ts: f64,
    uid: String,
    orig_h: IpAddr,
    resp_h: IpAddr,
    resp_p: u16,
}

fn ids(row: &dyn RowView) -> FieldResult<Ids> {
    Ok(Ids {
        ts: req_ts(row)?,
        uid: opt_string(row, "uid").unwrap_or_default(),
        orig_h: req_addr(row, "id.orig_h")?,
        resp_h: req_addr(row, "id.resp_h")?,
        resp_p: port(row, "id.resp_p")?,
    })
}

fn build(file: &str, line: &Line<'_>, row: &dyn RowView, out: &mut ParsedLog) {
    let res: FieldResult<()> = (|| {
        match out.kind {
            LogKind::Conn => {
                let Ids {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                } = ids(row)?;
                out.logs.conn.push(Conn {
                    ts,
                    uid,
                    orig_h,
                    orig_p: port(row, "id.orig_p")?,
                    resp_h,
                    resp_p,
                    proto: Proto::parse(&req(row, "proto")?),
                    service: opt_string(row, "service").filter(|s| !s.is_empty()),
                    duration_s: opt_f64(row, "duration")?,
                    orig_bytes: opt_u64(row, "orig_bytes")?,
                    resp_bytes: opt_u64(row, "resp_bytes")?,
                    conn_state: opt_string(row, "conn_state"),
                    resp_pkts: opt_u64(row, "resp_pkts")?,
                    label: opt_string(row, "label"),
                });
            }
            LogKind::Dns => {
                let Ids {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                } = ids(row)?;
                out.logs.dns.push(Dns {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                    query: name(row, "query"),
                    qtype_name: opt_string(row, "qtype_name"),
                    rcode_name: opt_string(row, "rcode_name"),
                    answers: row
                        .list("answers")
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| a.trim_end_matches('.').to_ascii_lowercase())
                        .collect(),
                });
            }
            LogKind::Ssl => {
                let Ids {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                } = ids(row)?;
                out.logs.ssl.push(Ssl {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                    server_name: name(row, "server_name"),
                });
            }
            LogKind::Http => {
                let Ids {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                } = ids(row)?;
                out.logs.http.push(Http {
                    ts,
                    uid,
                    orig_h,
                    resp_h,
                    resp_p,
                    host: name(row, "host"),
                    uri: opt_string(row, "uri"),
                });
            }
            LogKind::Dhcp => out.logs.dhcp.push(Dhcp {
                ts: req_ts(row)?,
                client_addr: opt_addr(row, "client_addr")?,
                server_addr: opt_addr(row, "server_addr")?,
                mac: opt_string(row, "mac"),
                requested_addr: opt_addr(row, "requested_addr")?,
                assigned_addr: opt_addr(row, "assigned_addr")?,
            }),
            LogKind::Other(_) => return Ok(()),
        }
        Ok(())
    })();
    match res {
        Ok(()) => {
            if !matches!(out.kind, LogKind::Other(_)) {
                out.report.accepted += 1;
            }
        }
        Err((field, reason)) => reject(&mut out.report, file, line, Some(field), reason),
    }
}

/// Every rejected row of a report, one line each (`file:line: field `f`: reason`), at most `max` of them.
pub fn describe_rejections(issues: &[RowIssue], max: usize) -> Vec<String> {
    issues.iter().take(max).map(ToString::to_string).collect()
}
