//! Reader for the Balabit Mouse Dynamics Challenge data set (Fülöp, Kovács, Kurics, Windhager-Pokol 2016,
//! <https://github.com/balabit/Mouse-Dynamics-Challenge>).
//!
//! Layout: `training_files/userN/session_*` (owner's sessions), `test_files/userN/session_*` (sessions
//! recorded on account N, owner or not), `public_labels.csv` (`filename,is_illegal`, the labelled part of
//! the test sessions). A session file is CSV with header
//! `record timestamp,client timestamp,button,state,x,y`: seconds since the session start (network recorder
//! and RDP client clocks), button `NoButton|Left|Right|Middle|Scroll|XButton`, state
//! `Move|Pressed|Released|Drag|Up|Down`, screen pixels.
//!
//! Mapping onto [`MouseEvent`]: `t_us` = client timestamp × 10⁶, rounded (the client clock is the one the
//! user's hand drove; the record timestamp is checked but not used); `x_px`, `y_px` as given (the RDP
//! artefacts — repeated timestamps, jumps, 65535 off-screen coordinates — are kept here and handled by the
//! counted rules of `keyprint_mouse::segment`, so every input source meets the same rules);
//! `NoButton,Move` → `(None, Move)`; `Left|Right|Middle,Pressed|Released` → `Press|Release`;
//! `NoButton,Drag` → `Drag` with the button last pressed and not yet released; `Scroll,Up|Down` →
//! `(Wheel, ScrollUp|ScrollDown)`. Origin: `user` = the folder (`user12`), `session` = the file name.
//!
//! Rules, each reported in the [`ReadReport`]:
//! * a row with the wrong number of fields, an unparsable or non-finite number, a negative client
//!   timestamp, or an unknown `button,state` pair is **rejected** with file, line and field — this includes
//!   `XButton` rows (the event model has no extra buttons) and `Middle`/`Right` drags;
//! * `drag_button_unknown` (repair): a `Drag` row with no button held is kept as a left-button drag;
//! * `reordered` (repair): a row earlier than the previous row is kept and the session sorted by time
//!   (stable), as the generic reader does;
//! * labels: a label row that is malformed or names no test session is rejected; test sessions without a
//!   label are kept with `label: None` and counted (`unlabelled` in [`BalabitData::unlabelled`]).

use crate::report::{Loaded, ReadError, ReadReport, read_to_string};
use keyprint_core::event::{MouseButton, MouseEvent, MouseEventKind, Origin, Stream};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The header every session file starts with.
pub const HEADER: &str = "record timestamp,client timestamp,button,state,x,y";

/// One session of the challenge.
#[derive(Clone, Debug, PartialEq)]
pub struct BalabitSession {
    /// Events; `origin.user` is the account (`user12`), `origin.session` the file name.
    pub stream: Stream<MouseEvent>,
    /// For labelled test sessions: `Some(true)` when illegal (not the account's owner). `None` for training
    /// sessions and unlabelled test sessions.
    pub is_illegal: Option<bool>,
}

impl BalabitSession {
    /// The account (user folder) name.
    pub fn user(&self) -> &str {
        self.stream.origin.user.as_deref().unwrap_or("")
    }
}

/// The whole set: training and test sessions, each sorted by (user, file name).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BalabitData {
    /// Owners' training sessions.
    pub training: Vec<BalabitSession>,
    /// Test sessions, labelled or not.
    pub test: Vec<BalabitSession>,
    /// Test sessions with no public label.
    pub unlabelled: usize,
}

/// Parses one session's CSV text. `name` is used in the report; `user` and `session` fill the origin.
///
/// # Errors
/// [`ReadError::Header`] when the first line is not [`HEADER`]; row problems go to the report.
pub fn parse_session(
    text: &str,
    name: &str,
    user: &str,
    session: &str,
) -> Result<Loaded<Stream<MouseEvent>>, ReadError> {
    let mut report = ReadReport::default();
    let mut lines = text.lines();
    let head = lines.next().unwrap_or("").trim_end_matches('\r');
    if head != HEADER {
        return Err(ReadError::Header {
            path: name.into(),
            reason: format!("expected `{HEADER}`, found `{head}`"),
        });
    }
    let mut events: Vec<MouseEvent> = Vec::new();
    let mut held: Option<MouseButton> = None;
    let mut reordered = false;
    for (i, line) in lines.enumerate() {
        let line_no = i as u64 + 2;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 6 {
            report.reject(
                name,
                line_no,
                None,
                format!("expected 6 fields, found {}", f.len()),
            );
            continue;
        }
        let num = |k: usize, field: &str| -> Result<f64, (String, String)> {
            match f[k].trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err((field.into(), format!("not a finite number: {:?}", f[k]))),
            }
        };
        let row = (|| {
            num(0, "record timestamp")?;
            let t = num(1, "client timestamp")?;
            if t < 0.0 {
                return Err(("client timestamp".to_string(), format!("negative: {t}")));
            }
            let x = num(4, "x")?;
            let y = num(5, "y")?;
            use MouseButton as B;
            use MouseEventKind as K;
            let (button, kind) = match (f[2], f[3]) {
                ("NoButton", "Move") => (B::None, K::Move),
                ("NoButton", "Drag") => (held.unwrap_or(B::Left), K::Drag),
                ("Left", s @ ("Pressed" | "Released")) => (B::Left, press(s)),
                ("Right", s @ ("Pressed" | "Released")) => (B::Right, press(s)),
                ("Middle", s @ ("Pressed" | "Released")) => (B::Middle, press(s)),
                ("Scroll", "Up") => (B::Wheel, K::ScrollUp),
                ("Scroll", "Down") => (B::Wheel, K::ScrollDown),
                (b @ ("NoButton" | "Left" | "Right" | "Middle" | "Scroll"), s) => {
                    return Err((
                        "state".to_string(),
                        format!("state {s:?} is not valid with button {b:?}"),
                    ));
                }
                (b, _) => {
                    return Err((
                        "button".to_string(),
                        format!("button {b:?} has no counterpart in the event model"),
                    ));
                }
            };
            Ok(MouseEvent {
                t_us: (t * 1e6).round() as i64,
                x_px: x,
                y_px: y,
                button,
                kind,
            })
        })();
        match row {
            Ok(ev) => {
                match ev.kind {
                    MouseEventKind::Press => held = Some(ev.button),
                    MouseEventKind::Release => held = None,
                    MouseEventKind::Drag if held.is_none() => report.repair("drag_button_unknown"),
                    _ => {}
                }
                if events.last().is_some_and(|p| p.t_us > ev.t_us) {
                    reordered = true;
                    report.repair("reordered");
                }
                events.push(ev);
                report.accepted += 1;
            }
            Err((field, reason)) => report.reject(name, line_no, Some(&field), reason),
        }
    }
    if reordered {
        events.sort_by_key(|e| e.t_us);
    }
    Ok(Loaded {
        data: Stream {
            origin: Origin {
                user: Some(user.into()),
                session: Some(session.into()),
                ..Default::default()
            },
            events,
        },
        report,
    })
}

fn press(state: &str) -> MouseEventKind {
    if state == "Pressed" {
        MouseEventKind::Press
    } else {
        MouseEventKind::Release
    }
}

/// Reads one session file; the user is the parent folder's name.
///
/// # Errors
/// [`ReadError`] when the file cannot be read or its header is wrong.
pub fn read_session(path: &Path) -> Result<Loaded<Stream<MouseEvent>>, ReadError> {
    let user = path
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|s| s.to_str())
        .unwrap_or("");
    let session = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
    parse_session(
        &read_to_string(path)?,
        &path.display().to_string(),
        user,
        session,
    )
}

/// Parses `public_labels.csv` text (`filename,is_illegal` with 0/1) into file name → is_illegal.
///
/// # Errors
/// [`ReadError::Header`] on a wrong header; bad rows go to the report.
pub fn parse_labels(text: &str, name: &str) -> Result<Loaded<BTreeMap<String, bool>>, ReadError> {
    let mut report = ReadReport::default();
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    let head = lines.next().unwrap_or("").trim_end_matches('\r');
    if head != "filename,is_illegal" {
        return Err(ReadError::Header {
            path: name.into(),
            reason: format!("expected `filename,is_illegal`, found `{head}`"),
        });
    }
    for (i, line) in lines.enumerate() {
        let line_no = i as u64 + 2;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let Some((file, v)) = line.split_once(',') else {
            report.reject(name, line_no, None, "expected 2 fields");
            continue;
        };
        let v = match v.trim() {
            "0" => false,
            "1" => true,
            other => {
                report.reject(
                    name,
                    line_no,
                    Some("is_illegal"),
                    format!("expected 0 or 1, found {other:?}"),
                );
                continue;
            }
        };
        if out.contains_key(file.trim()) {
            report.reject(
                name,
                line_no,
                Some("filename"),
                format!("duplicate label for {file}"),
            );
            continue;
        }
        out.insert(file.trim().to_string(), v);
        report.accepted += 1;
    }
    Ok(Loaded { data: out, report })
}

/// The folder holding `training_files/`: `p` itself or `p/balabit-mouse`.
pub fn locate(p: &Path) -> PathBuf {
    let sub = p.join("balabit-mouse");
    if !p.join("training_files").is_dir() && sub.join("training_files").is_dir() {
        sub
    } else {
        p.to_path_buf()
    }
}

fn session_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, ReadError> {
    let io = |source| ReadError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    for u in std::fs::read_dir(dir).map_err(io)? {
        let u = u.map_err(io)?.path();
        if !u.is_dir() {
            continue;
        }
        let user = u
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string();
        for s in std::fs::read_dir(&u).map_err(io)? {
            let s = s.map_err(io)?.path();
            if s.is_file() {
                out.push((user.clone(), s));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads the whole set under `root` (see [`locate`]): every session of `training_files/` and
/// `test_files/`, with the labels of `public_labels.csv` attached to test sessions. `progress` is called
/// after each file with (files done, files total).
///
/// # Errors
/// [`ReadError`] when a folder or file cannot be read or a header is wrong.
pub fn read_balabit(
    root: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Loaded<BalabitData>, ReadError> {
    let root = locate(root);
    let labels_path = root.join("public_labels.csv");
    let labels_text = read_to_string(&labels_path)?;
    let labels = parse_labels(&labels_text, &labels_path.display().to_string())?;
    let mut report = labels.report;
    let train = session_files(&root.join("training_files"))?;
    let test = session_files(&root.join("test_files"))?;
    let total = train.len() + test.len();
    let mut data = BalabitData::default();
    let mut used = std::collections::BTreeSet::new();
    for (k, (_, path)) in train.iter().chain(&test).enumerate() {
        let s = read_session(path)?;
        report.merge(s.report);
        let is_test = k >= train.len();
        let file = s.data.origin.session.clone().unwrap_or_default();
        let is_illegal = if is_test {
            let l = labels.data.get(&file).copied();
            if l.is_some() {
                used.insert(file);
            } else {
                data.unlabelled += 1;
            }
            l
        } else {
            None
        };
        let sess = BalabitSession {
            stream: s.data,
            is_illegal,
        };
        if is_test {
            data.test.push(sess);
        } else {
            data.training.push(sess);
        }
        progress(k + 1, total);
    }
    for f in labels.data.keys() {
        if !used.contains(f) {
            let line = labels_text
                .lines()
                .position(|l| l.split(',').next().map(str::trim) == Some(f.as_str()))
                .map_or(0, |i| i as u64 + 1);
            report.reject(
                &labels_path.display().to_string(),
                line,
                Some("filename"),
                format!("label names no test session: {f}"),
            );
        }
    }
    Ok(Loaded { data, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_mapped_and_bad_rows_reported() {
        let text = "record timestamp,client timestamp,button,state,x,y\n\
0.0,0.0,NoButton,Move,10,20\n\
0.1,0.1,Left,Pressed,10,20\n\
0.2,0.2,NoButton,Drag,12,20\n\
0.3,0.3,Left,Released,12,20\n\
0.3,0.25,NoButton,Move,65535,65535\n\
0.4,0.4,XButton,Pressed,1,1\n\
0.5,0.5,Left,Drag,1,1\n\
0.6,abc,NoButton,Move,1,1\n\
0.7,0.7,NoButton,Move,1\n\
0.8,-1,NoButton,Move,1,1\n\
0.9,0.9,NoButton,Drag,5,5\n\
1.0,1.0,Scroll,Down,5,5\n";
        let out = parse_session(text, "s.csv", "user1", "session_1").unwrap();
        let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        assert_eq!(out.report.accepted, 7, "{r:#?}");
        let expect = [
            "s.csv:7: field `button`: button \"XButton\"",
            "s.csv:8: field `state`: state \"Drag\" is not valid with button \"Left\"",
            "s.csv:9: field `client timestamp`: not a finite number",
            "s.csv:10: expected 6 fields, found 5",
            "s.csv:11: field `client timestamp`: negative",
        ];
        assert_eq!(r.len(), expect.len(), "{r:#?}");
        for (got, want) in r.iter().zip(expect) {
            assert!(got.starts_with(want), "{got} !~ {want}");
        }
        assert_eq!(out.report.repaired.get("reordered"), Some(&1));
        assert_eq!(out.report.repaired.get("drag_button_unknown"), Some(&1));
        let e = &out.data.events;
        assert_eq!(e[1].kind, MouseEventKind::Press);
        assert_eq!(
            (e[2].kind, e[2].button),
            (MouseEventKind::Drag, MouseButton::Left)
        );
        // The off-screen move at 0.25 s sorted before the release at 0.3 s, kept for the mouse rules.
        assert_eq!((e[3].t_us, e[3].x_px), (250_000, 65535.0));
        assert_eq!(e[6].kind, MouseEventKind::ScrollDown);
        assert_eq!(out.data.origin.user.as_deref(), Some("user1"));
        assert!(matches!(
            parse_session("x,y\n", "s.csv", "u", "s"),
            Err(ReadError::Header { .. })
        ));
    }

    #[test]
    fn labels() {
        let out = parse_labels(
            "filename,is_illegal\ns1,0\ns2,1\ns3,2\ns1,1\nbad\n",
            "l.csv",
        )
        .unwrap();
        assert_eq!(out.data.len(), 2);
        assert!(out.data["s2"]);
        assert!(!out.data["s1"]);
        let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        assert!(r[0].starts_with("l.csv:4: field `is_illegal`"), "{r:?}");
        assert!(
            r[1].starts_with("l.csv:5: field `filename`: duplicate"),
            "{r:?}"
        );
        assert!(r[2].starts_with("l.csv:6: expected 2 fields"), "{r:?}");
    }
}
