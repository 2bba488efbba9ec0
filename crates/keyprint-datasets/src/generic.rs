//! keyprint's generic input files: key events and mouse events as JSON Lines or CSV.
//!
//! The schemas are documented in `docs/FORMATS.md`. In short, one event per line (JSONL) or row (CSV):
//!
//! * key events: `tenant?`, `user?`, `session?`, `device?`, exactly one of `key` (W3C `KeyboardEvent.code`)
//!   or `key_hash` (16 hex digits, a keyed hash of the code), `press_us`, `release_us` (integers, µs);
//! * mouse events: `tenant?`, `user?`, `session?`, `device?`, `t_us` (integer µs), `x_px`, `y_px` (numbers),
//!   `button` (`none|left|right|middle|wheel`), `kind` (`move|press|release|drag|scroll_up|scroll_down`).
//!
//! Rules, each reported in the [`ReadReport`]:
//! * a row with a missing, unknown or ill-typed field, `release_us < press_us`, a hold over 60 s, or (when
//!   read from a file) bytes that are not UTF-8, is **rejected** with its file, line and field;
//! * a CSV header with an unknown or repeated column refuses the file;
//! * an exact duplicate of an earlier row of the same stream is **rejected** (`duplicate of line N`);
//! * rows are grouped into streams by `(tenant, user, session, device)`; a row earlier than the previous row
//!   of its stream is **kept**, the stream is sorted by time (stable), and the rule `reordered` is counted.

use crate::report::{Loaded, ReadError, ReadReport, read_lines_lossless};
use keyprint_core::event::{
    KeyEvent, KeyId, MouseButton, MouseEvent, MouseEventKind, Origin, Stream,
};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

/// File syntax of a generic input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// One JSON object per line.
    JsonLines,
    /// Comma-separated values with a header row.
    Csv,
}

impl Syntax {
    /// Guesses the syntax from a file name: `.csv` is CSV, anything else JSON Lines.
    pub fn from_path(path: &Path) -> Syntax {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Syntax::Csv,
            _ => Syntax::JsonLines,
        }
    }
}

/// Longest plausible hold, µs (60 s, the server's limit too): a longer one is a lost key-up, not typing.
pub const MAX_HOLD_US: i64 = 60_000_000;

const ORIGIN_FIELDS: [&str; 4] = ["tenant", "user", "session", "device"];
const KEY_FIELDS: [&str; 4] = ["key", "key_hash", "press_us", "release_us"];
const MOUSE_FIELDS: [&str; 5] = ["t_us", "x_px", "y_px", "button", "kind"];

/// A row as field → text (CSV) or field → JSON value.
enum Row<'a> {
    Json(&'a Map<String, Value>),
    Csv(&'a HashMap<&'a str, &'a str>),
}

type FieldResult<T> = Result<T, (String, String)>;

impl Row<'_> {
    fn text(&self, field: &str) -> FieldResult<Option<String>> {
        match self {
            Row::Json(m) => match m.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(v) => Err((field.into(), format!("expected a string, found {v}"))),
            },
            Row::Csv(m) => Ok(m
                .get(field)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string())),
        }
    }
    fn required_text(&self, field: &str) -> FieldResult<String> {
        self.text(field)?
            .ok_or_else(|| (field.into(), "missing".into()))
    }
    fn int(&self, field: &str) -> FieldResult<i64> {
        match self {
            Row::Json(m) => match m.get(field) {
                None | Some(Value::Null) => Err((field.into(), "missing".into())),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .ok_or_else(|| (field.into(), format!("not an integer: {n}"))),
                Some(v) => Err((field.into(), format!("expected an integer, found {v}"))),
            },
            Row::Csv(_) => {
                let s = self.required_text(field)?;
                s.trim()
                    .parse::<i64>()
                    .map_err(|_| (field.into(), format!("not an integer: {s:?}")))
            }
        }
    }
    fn float(&self, field: &str) -> FieldResult<f64> {
        let v = match self {
            Row::Json(m) => match m.get(field) {
                None | Some(Value::Null) => return Err((field.into(), "missing".into())),
                Some(Value::Number(n)) => n.as_f64(),
                Some(v) => return Err((field.into(), format!("expected a number, found {v}"))),
            },
            Row::Csv(_) => self.required_text(field)?.trim().parse::<f64>().ok(),
        };
        match v {
            Some(x) if x.is_finite() => Ok(x),
            _ => Err((field.into(), "not a finite number".into())),
        }
    }
    fn origin(&self) -> FieldResult<Origin> {
        Ok(Origin {
            tenant: self.text("tenant")?,
            user: self.text("user")?,
            session: self.text("session")?,
            device: self.text("device")?,
        })
    }
}

fn key_from_row(row: &Row<'_>) -> FieldResult<(Origin, KeyEvent)> {
    let origin = row.origin()?;
    let key = match (row.text("key")?, row.text("key_hash")?) {
        (Some(k), None) => {
            if k.is_empty() || k.len() > 64 || !k.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err((
                    "key".into(),
                    format!("not a W3C KeyboardEvent.code name: {k:?}"),
                ));
            }
            KeyId::Code(k)
        }
        (None, Some(h)) => match (h.len(), u64::from_str_radix(&h, 16)) {
            (16, Ok(v)) => KeyId::Hashed(v),
            _ => {
                return Err((
                    "key_hash".into(),
                    format!("expected 16 hex digits, found {h:?}"),
                ));
            }
        },
        (Some(_), Some(_)) => {
            return Err(("key".into(), "give `key` or `key_hash`, not both".into()));
        }
        (None, None) => return Err(("key".into(), "missing (or `key_hash`)".into())),
    };
    let press = row.int("press_us")?;
    let release = row.int("release_us")?;
    if release.checked_sub(press).is_some_and(|h| h > MAX_HOLD_US) {
        return Err((
            "release_us".into(),
            format!(
                "hold of {} s exceeds the {} s limit",
                (release - press) / 1_000_000,
                MAX_HOLD_US / 1_000_000
            ),
        ));
    }
    let ev = KeyEvent::new(key, press, release).ok_or_else(|| {
        (
            "release_us".to_string(),
            format!("released before pressed ({release} < {press})"),
        )
    })?;
    Ok((origin, ev))
}

fn mouse_from_row(row: &Row<'_>) -> FieldResult<(Origin, MouseEvent)> {
    let origin = row.origin()?;
    let t_us = row.int("t_us")?;
    let x_px = row.float("x_px")?;
    let y_px = row.float("y_px")?;
    let b = row.required_text("button")?;
    let button = match b.as_str() {
        "none" => MouseButton::None,
        "left" => MouseButton::Left,
        "right" => MouseButton::Right,
        "middle" => MouseButton::Middle,
        "wheel" => MouseButton::Wheel,
        _ => {
            return Err((
                "button".into(),
                format!("expected none|left|right|middle|wheel, found {b:?}"),
            ));
        }
    };
    let k = row.required_text("kind")?;
    let kind = match k.as_str() {
        "move" => MouseEventKind::Move,
        "press" => MouseEventKind::Press,
        "release" => MouseEventKind::Release,
        "drag" => MouseEventKind::Drag,
        "scroll_up" => MouseEventKind::ScrollUp,
        "scroll_down" => MouseEventKind::ScrollDown,
        _ => {
            return Err((
                "kind".into(),
                format!("expected move|press|release|drag|scroll_up|scroll_down, found {k:?}"),
            ));
        }
    };
    Ok((
        origin,
        MouseEvent {
            t_us,
            x_px,
            y_px,
            button,
            kind,
        },
    ))
}

/// Something with a time and an identity for duplicate detection.
trait Timed {
    fn time(&self) -> i64;
    fn same(&self, other: &Self) -> bool;
}
impl Timed for KeyEvent {
    fn time(&self) -> i64 {
        self.press_us
    }
    fn same(&self, o: &Self) -> bool {
        self == o
    }
}
impl Timed for MouseEvent {
    fn time(&self) -> i64 {
        self.t_us
    }
    fn same(&self, o: &Self) -> bool {
        self == o
    }
}

/// Parses rows with `parse_row`, groups by origin, rejects duplicates, sorts out-of-order streams.
fn parse_generic<E: Timed + Clone>(
    text: &str,
    name: &str,
    syntax: Syntax,
    allowed: &[&str],
    parse_row: fn(&Row<'_>) -> FieldResult<(Origin, E)>,
) -> Result<Loaded<Vec<Stream<E>>>, ReadError> {
    let mut report = ReadReport::default();
    let mut streams: Vec<Stream<E>> = Vec::new();
    let mut lines_of: Vec<Vec<u64>> = Vec::new();
    let mut index: HashMap<Origin, usize> = HashMap::new();
    // Recent (time → line) per stream, for duplicate detection among rows with the same timestamp.
    let mut same_time: Vec<HashMap<i64, Vec<(usize, u64)>>> = Vec::new();
    let mut reordered = vec![false; 0];
    let mut push = |origin: Origin, ev: E, line: u64, report: &mut ReadReport| {
        let s = *index.entry(origin.clone()).or_insert_with(|| {
            streams.push(Stream {
                origin,
                events: Vec::new(),
            });
            lines_of.push(Vec::new());
            same_time.push(HashMap::new());
            reordered.push(false);
            streams.len() - 1
        });
        let stream = &mut streams[s];
        if let Some(prev) = same_time[s].get(&ev.time()) {
            if let Some((_, l)) = prev.iter().find(|(i, _)| stream.events[*i].same(&ev)) {
                report.reject(name, line, None, format!("duplicate of line {l}"));
                return;
            }
        }
        if stream.events.last().is_some_and(|p| p.time() > ev.time()) {
            reordered[s] = true;
            report.repair("reordered");
        }
        same_time[s]
            .entry(ev.time())
            .or_default()
            .push((stream.events.len(), line));
        stream.events.push(ev);
        lines_of[s].push(line);
        report.accepted += 1;
    };
    match syntax {
        Syntax::JsonLines => {
            for (i, line) in text.lines().enumerate() {
                let line_no = i as u64 + 1;
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                let value: Value = match serde_json::from_str(line) {
                    Ok(v) => v,
                    Err(e) => {
                        report.reject(name, line_no, None, format!("invalid JSON: {e}"));
                        continue;
                    }
                };
                let Value::Object(map) = value else {
                    report.reject(name, line_no, None, "expected a JSON object");
                    continue;
                };
                if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
                    report.reject(name, line_no, Some(unknown), "unknown field");
                    continue;
                }
                match parse_row(&Row::Json(&map)) {
                    Ok((o, ev)) => push(o, ev, line_no, &mut report),
                    Err((field, reason)) => report.reject(name, line_no, Some(&field), reason),
                }
            }
        }
        Syntax::Csv => {
            let mut rdr = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(text.as_bytes());
            let headers = rdr
                .headers()
                .map_err(|e| ReadError::Header {
                    path: name.into(),
                    reason: e.to_string(),
                })?
                .clone();
            if let Some(dup) = headers
                .iter()
                .enumerate()
                .find(|(i, h)| headers.iter().take(*i).any(|p| p == *h))
            {
                return Err(ReadError::Header {
                    path: name.into(),
                    reason: format!("column `{}` appears twice", dup.1),
                });
            }
            if let Some(unknown) = headers.iter().find(|h| !allowed.contains(h)) {
                return Err(ReadError::Header {
                    path: name.into(),
                    reason: format!("unknown column `{unknown}`"),
                });
            }
            for rec in rdr.records() {
                let rec = match rec {
                    Ok(r) => r,
                    Err(e) => {
                        let line = e.position().map(|p| p.line()).unwrap_or(0);
                        report.reject(name, line, None, format!("unreadable CSV row: {e}"));
                        continue;
                    }
                };
                let line_no = rec.position().map(|p| p.line()).unwrap_or(0);
                if rec.len() != headers.len() {
                    report.reject(
                        name,
                        line_no,
                        None,
                        format!("expected {} fields, found {}", headers.len(), rec.len()),
                    );
                    continue;
                }
                let map: HashMap<&str, &str> = headers.iter().zip(rec.iter()).collect();
                match parse_row(&Row::Csv(&map)) {
                    Ok((o, ev)) => push(o, ev, line_no, &mut report),
                    Err((field, reason)) => report.reject(name, line_no, Some(&field), reason),
                }
            }
        }
    }
    for (s, r) in streams.iter_mut().zip(reordered) {
        if r {
            s.events.sort_by_key(|e| e.time());
        }
    }
    Ok(Loaded {
        data: streams,
        report,
    })
}

fn allowed(extra: &[&'static str]) -> Vec<&'static str> {
    ORIGIN_FIELDS.iter().chain(extra).copied().collect()
}

/// Parses generic key-event text (see the module docs for the schema and rules).
///
/// # Errors
/// [`ReadError::Header`] for a CSV header with an unknown column; row problems go to the report.
pub fn parse_key_events(
    text: &str,
    name: &str,
    syntax: Syntax,
) -> Result<Loaded<Vec<Stream<KeyEvent>>>, ReadError> {
    parse_generic(text, name, syntax, &allowed(&KEY_FIELDS), key_from_row)
}

/// Parses generic mouse-event text (see the module docs for the schema and rules).
///
/// # Errors
/// [`ReadError::Header`] for a CSV header with an unknown column; row problems go to the report.
pub fn parse_mouse_events(
    text: &str,
    name: &str,
    syntax: Syntax,
) -> Result<Loaded<Vec<Stream<MouseEvent>>>, ReadError> {
    parse_generic(text, name, syntax, &allowed(&MOUSE_FIELDS), mouse_from_row)
}

/// Reads `path` (a line that is not valid UTF-8 is one rejected row) and parses it with `parse`, merging the two
/// reports in line order.
fn read_with<E>(
    path: &Path,
    parse: fn(&str, &str, Syntax) -> Result<Loaded<Vec<Stream<E>>>, ReadError>,
) -> Result<Loaded<Vec<Stream<E>>>, ReadError> {
    let (text, mut report) = read_lines_lossless(path)?;
    let mut out = parse(&text, &path.display().to_string(), Syntax::from_path(path))?;
    report.merge(std::mem::take(&mut out.report));
    report.rejected.sort_by_key(|r| r.line);
    out.report = report;
    Ok(out)
}

/// Reads a generic key-event file; the syntax follows the extension (`.csv`, else JSON Lines).
///
/// # Errors
/// [`ReadError`] when the file cannot be read or a CSV header is bad.
pub fn read_key_events(path: &Path) -> Result<Loaded<Vec<Stream<KeyEvent>>>, ReadError> {
    read_with(path, parse_key_events)
}

/// Reads a generic mouse-event file; the syntax follows the extension (`.csv`, else JSON Lines).
///
/// # Errors
/// [`ReadError`] when the file cannot be read or a CSV header is bad.
pub fn read_mouse_events(path: &Path) -> Result<Loaded<Vec<Stream<MouseEvent>>>, ReadError> {
    read_with(path, parse_mouse_events)
}

/// Writes key events as generic JSON Lines (one object per event, `key` or `key_hash` as the identity).
pub fn key_events_to_jsonl(stream: &Stream<KeyEvent>) -> String {
    let mut out = String::new();
    for e in &stream.events {
        let mut m = Map::new();
        for (f, v) in ORIGIN_FIELDS.iter().zip([
            &stream.origin.tenant,
            &stream.origin.user,
            &stream.origin.session,
            &stream.origin.device,
        ]) {
            if let Some(v) = v {
                m.insert((*f).into(), Value::String(v.clone()));
            }
        }
        match &e.key {
            KeyId::Code(c) => m.insert("key".into(), Value::String(c.clone())),
            KeyId::Hashed(h) => m.insert("key_hash".into(), Value::String(format!("{h:016x}"))),
        };
        m.insert("press_us".into(), e.press_us.into());
        m.insert("release_us".into(), e.release_us.into());
        out.push_str(&Value::Object(m).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_bad_rows_each_reported() {
        let text = r#"{"user":"u","key":"KeyA","press_us":10,"release_us":90}
not json
[1,2]
{"user":"u","key":"KeyB","press_us":"x","release_us":90}
{"user":"u","key":"KeyB","press_us":5,"release_us":1}
{"user":"u","kee":"KeyB","press_us":5,"release_us":9}
{"user":"u","press_us":5,"release_us":9}
{"user":"u","key":"KeyA","key_hash":"00000000000000ff","press_us":5,"release_us":9}
{"user":"u","key_hash":"xyz","press_us":5,"release_us":9}
{"user":"u","key":"Key A","press_us":5,"release_us":9}
{"user":"u","key":"KeyA","press_us":10,"release_us":90}
{"user":"u","key_hash":"00000000000000ff","press_us":5,"release_us":9}
{"user":"u","key":"KeyC","press_us":1.5,"release_us":9}
"#;
        let out = parse_key_events(text, "k.jsonl", Syntax::JsonLines).unwrap();
        let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        assert_eq!(out.report.accepted, 2, "{r:#?}");
        let expect = [
            "k.jsonl:2: invalid JSON",
            "k.jsonl:3: expected a JSON object",
            "k.jsonl:4: field `press_us`",
            "k.jsonl:5: field `release_us`: released before pressed",
            "k.jsonl:6: field `kee`: unknown field",
            "k.jsonl:7: field `key`: missing",
            "k.jsonl:8: field `key`: give",
            "k.jsonl:9: field `key_hash`",
            "k.jsonl:10: field `key`: not a W3C",
            "k.jsonl:11: duplicate of line 1",
            "k.jsonl:13: field `press_us`: not an integer",
        ];
        assert_eq!(r.len(), expect.len(), "{r:#?}");
        for (got, want) in r.iter().zip(expect) {
            assert!(got.starts_with(want), "{got} !~ {want}");
        }
        // Line 12 came after line 1 with an earlier press: kept, sorted, counted.
        assert_eq!(out.report.repaired.get("reordered"), Some(&1));
        assert_eq!(out.data[0].events[0].key, KeyId::Hashed(0xff));
    }

    #[test]
    fn csv_rows_and_streams() {
        let text = "user,session,key,press_us,release_us\nu1,s1,KeyA,0,80\nu2,s1,KeyB,5,70\nu1,s1,KeyB,100\nu1,s1,KeyC,x,1\n";
        let out = parse_key_events(text, "k.csv", Syntax::Csv).unwrap();
        assert_eq!(out.data.len(), 2);
        let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        assert!(r[0].starts_with("k.csv:4: expected 5 fields"), "{r:?}");
        assert!(r[1].starts_with("k.csv:5: field `press_us`"), "{r:?}");
        assert!(matches!(
            parse_key_events("user,bogus\n", "k.csv", Syntax::Csv),
            Err(ReadError::Header { .. })
        ));
    }

    #[test]
    fn bad_utf8_rejects_one_row_and_long_holds_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.jsonl");
        let mut bytes = br#"{"key":"KeyA","press_us":1,"release_us":2}"#.to_vec();
        bytes.extend_from_slice(
            b"\n{\"key\":\"KeyB\",\"user\":\"\xff\",\"press_us\":3,\"release_us\":4}\n",
        );
        bytes.extend_from_slice(br#"{"key":"KeyC","press_us":5,"release_us":60000006}"#);
        std::fs::write(&p, bytes).unwrap();
        let out = read_key_events(&p).unwrap();
        assert_eq!(out.report.accepted, 1);
        let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].ends_with("k.jsonl:2: not valid UTF-8"), "{r:?}");
        assert!(
            r[1].contains("k.jsonl:3: field `release_us`: hold of 60 s"),
            "{r:?}"
        );
        assert!(matches!(
            parse_key_events("user,user,key,press_us,release_us\n", "d.csv", Syntax::Csv),
            Err(ReadError::Header { .. })
        ));
    }

    #[test]
    fn mouse_rows() {
        let text = "t_us,x_px,y_px,button,kind\n0,1,2,none,move\n10,1,2,left,hover\n5,inf,2,none,move\n3,4,5,left,press\n";
        let out = parse_mouse_events(text, "m.csv", Syntax::Csv).unwrap();
        assert_eq!(out.report.accepted, 2);
        assert_eq!(out.report.rejected.len(), 2);
        assert_eq!(out.report.rejected[0].field.as_deref(), Some("kind"));
        assert_eq!(out.report.rejected[1].field.as_deref(), Some("x_px"));
        assert_eq!(out.data[0].events[0].t_us, 0);
    }

    #[test]
    fn jsonl_roundtrip() {
        let s = Stream {
            origin: Origin {
                user: Some("u".into()),
                ..Default::default()
            },
            events: vec![
                KeyEvent::new(KeyId::code("KeyA"), 1, 2).unwrap(),
                KeyEvent::new(KeyId::Hashed(7), 3, 9).unwrap(),
            ],
        };
        let out = parse_key_events(&key_events_to_jsonl(&s), "x", Syntax::JsonLines).unwrap();
        assert_eq!(out.data, vec![s]);
        assert!(out.report.rejected.is_empty());
    }
}
