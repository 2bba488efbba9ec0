//! Reader for the Aalto "136M Keystrokes" data set (Dhakal, Feit, Kristensson & Oulasvirta, CHI 2018;
//! <https://userinterfaces.aalto.fi/136Mkeystrokes>). **Licence: non-commercial research use with
//! attribution** — the data may be read by benchmarks and tests, never bundled in the product.
//!
//! # Format
//! One file per participant, `<ID>_keystrokes.txt`: tab-separated, header
//! `PARTICIPANT_ID TEST_SECTION_ID SENTENCE USER_INPUT KEYSTROKE_ID PRESS_TIME RELEASE_TIME LETTER KEYCODE`,
//! one row per keystroke. Times are epoch **milliseconds** (converted here to µs: `× 1000`); `KEYCODE` is
//! the browser's legacy JavaScript `keyCode`, mapped to a W3C `KeyboardEvent.code` name by
//! [`keycode_to_code`]. Each `(PARTICIPANT_ID, TEST_SECTION_ID)` — one typed sentence — becomes one
//! [`Stream<KeyEvent>`] with `origin.user = PARTICIPANT_ID` and `origin.session = TEST_SECTION_ID`, in order
//! of first appearance in the file. `SENTENCE`, `USER_INPUT` and `LETTER` (the typed text) are not kept.
//!
//! # Rules (each reported in the [`ReadReport`])
//! Rejected rows (file, line and field named):
//! 1. a row without exactly 9 tab-separated fields;
//! 2. `PARTICIPANT_ID`, `TEST_SECTION_ID`, `PRESS_TIME`, `RELEASE_TIME` or `KEYCODE` that is not a
//!    non-negative decimal integer (e.g. `1.471968e+12`, a time that lost its precision);
//! 3. `PARTICIPANT_ID` different from the one in the file name `<ID>_keystrokes.txt`;
//! 4. impossible times: `PRESS_TIME` or `RELEASE_TIME` outside [2000-01-01, 2100-01-01) as epoch ms;
//!    `RELEASE_TIME < PRESS_TIME`; a hold longer than [`MAX_HOLD_MS`] (a lost key-up);
//! 5. an exact duplicate (same press, release and key) of an earlier row of the same sentence
//!    (`duplicate of line N`).
//!
//! Repairs (row kept, rule counted):
//! * `reordered` — a row pressed earlier than the previous row of its sentence: the sentence is sorted by
//!   press time (stable) and the rule is counted once per such row. (`KEYSTROKE_ID` order is ignored: it
//!   often disagrees with the press times.)
//! * `unmapped_keycode` — a `KEYCODE` with no W3C equivalent in [`keycode_to_code`] becomes the W3C code
//!   `"Unidentified"`;
//! * `invalid_utf8` — a line that is not valid UTF-8 (a few files hold Latin-1 bytes in the text columns)
//!   is decoded with U+FFFD replacement characters; the numeric columns are unaffected.
//!
//! A file whose first line is not the header is a [`ReadError::Header`]. Empty lines are skipped.

use crate::report::{Loaded, ReadError, ReadReport};
use keyprint_core::event::{KeyEvent, KeyId, Origin, Stream};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The header line of every Aalto keystroke file (tab-separated).
pub const HEADER: [&str; 9] = [
    "PARTICIPANT_ID",
    "TEST_SECTION_ID",
    "SENTENCE",
    "USER_INPUT",
    "KEYSTROKE_ID",
    "PRESS_TIME",
    "RELEASE_TIME",
    "LETTER",
    "KEYCODE",
];

/// Longest plausible hold, ms. Longer holds (84 rows of the 1,137-participant set) are lost key-ups.
pub const MAX_HOLD_MS: i64 = 10_000;

/// Earliest plausible epoch time, ms (2000-01-01T00:00:00Z).
pub const MIN_EPOCH_MS: i64 = 946_684_800_000;
/// Latest plausible epoch time (exclusive), ms (2100-01-01T00:00:00Z).
pub const MAX_EPOCH_MS: i64 = 4_102_444_800_000;

/// Maps a legacy JavaScript `keyCode` (as browsers report it for a US-QWERTY layout) to a W3C
/// `KeyboardEvent.code` name (<https://www.w3.org/TR/uievents-code/>), or `None` when it has no equivalent.
///
/// The table (keyCode → code):
///
/// | keyCode | code | keyCode | code |
/// |---|---|---|---|
/// | 8 | Backspace | 9 | Tab |
/// | 12 | NumpadEqual (Clear) | 13 | Enter |
/// | 16 | ShiftLeft ¹ | 17 | ControlLeft ¹ |
/// | 18 | AltLeft ¹ | 19 | Pause |
/// | 20 | CapsLock | 27 | Escape |
/// | 32 | Space | 33 / 34 | PageUp / PageDown |
/// | 35 / 36 | End / Home | 37–40 | ArrowLeft, ArrowUp, ArrowRight, ArrowDown |
/// | 45 / 46 | Insert / Delete | 48–57 | Digit0–Digit9 |
/// | 59 | Semicolon (Firefox) | 61 | Equal (Firefox) |
/// | 65–90 | KeyA–KeyZ | 91 / 92 | MetaLeft / MetaRight |
/// | 93 | ContextMenu | 96–105 | Numpad0–Numpad9 |
/// | 106 | NumpadMultiply | 107 | NumpadAdd |
/// | 109 | NumpadSubtract | 110 | NumpadDecimal |
/// | 111 | NumpadDivide | 112–123 | F1–F12 |
/// | 144 | NumLock | 145 | ScrollLock |
/// | 173 | Minus (Firefox) | 186 | Semicolon |
/// | 187 | Equal | 188 | Comma |
/// | 189 | Minus | 190 | Period |
/// | 191 | Slash | 192 | Backquote |
/// | 193 | IntlRo | 219 | BracketLeft |
/// | 220 | Backslash | 221 | BracketRight |
/// | 222 | Quote | 226 | IntlBackslash |
///
/// ¹ `keyCode` does not tell left from right modifiers; both map to the left one.
///
/// `keyCode` names the layout's character, not the physical key: on AZERTY the key typing `a` (physical
/// `KeyQ`) reports 65 → `KeyA`. Detectors only compare key identities for equality, so a consistent
/// per-layout mapping is all they need.
pub fn keycode_to_code(keycode: u32) -> Option<&'static str> {
    use keyprint_core::event::DIGIT_CODES as DIGITS;
    use keyprint_core::event::LETTER_CODES as LETTERS;
    const NUMPAD: [&str; 10] = [
        "Numpad0", "Numpad1", "Numpad2", "Numpad3", "Numpad4", "Numpad5", "Numpad6", "Numpad7",
        "Numpad8", "Numpad9",
    ];
    const FN: [&str; 12] = [
        "F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8", "F9", "F10", "F11", "F12",
    ];
    Some(match keycode {
        8 => "Backspace",
        9 => "Tab",
        12 => "NumpadEqual",
        13 => "Enter",
        16 => "ShiftLeft",
        17 => "ControlLeft",
        18 => "AltLeft",
        19 => "Pause",
        20 => "CapsLock",
        27 => "Escape",
        32 => "Space",
        33 => "PageUp",
        34 => "PageDown",
        35 => "End",
        36 => "Home",
        37 => "ArrowLeft",
        38 => "ArrowUp",
        39 => "ArrowRight",
        40 => "ArrowDown",
        45 => "Insert",
        46 => "Delete",
        48..=57 => DIGITS[(keycode - 48) as usize],
        59 => "Semicolon",
        61 => "Equal",
        65..=90 => LETTERS[(keycode - 65) as usize],
        91 => "MetaLeft",
        92 => "MetaRight",
        93 => "ContextMenu",
        96..=105 => NUMPAD[(keycode - 96) as usize],
        106 => "NumpadMultiply",
        107 => "NumpadAdd",
        109 => "NumpadSubtract",
        110 => "NumpadDecimal",
        111 => "NumpadDivide",
        112..=123 => FN[(keycode - 112) as usize],
        144 => "NumLock",
        145 => "ScrollLock",
        173 => "Minus",
        186 => "Semicolon",
        187 => "Equal",
        188 => "Comma",
        189 => "Minus",
        190 => "Period",
        191 => "Slash",
        192 => "Backquote",
        193 => "IntlRo",
        219 => "BracketLeft",
        220 => "Backslash",
        221 => "BracketRight",
        222 => "Quote",
        226 => "IntlBackslash",
        _ => return None,
    })
}

/// One participant's typed sentences.
#[derive(Clone, Debug, PartialEq)]
pub struct AaltoParticipant {
    /// `PARTICIPANT_ID`.
    pub id: u64,
    /// One stream per test section (sentence), in file order; events sorted by press time, µs.
    pub sequences: Vec<Stream<KeyEvent>>,
}

/// The participant id in a file name `<ID>_keystrokes.txt`.
pub fn participant_of_file(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_suffix("_keystrokes.txt")?
        .parse()
        .ok()
}

fn parse_uint(s: &str, field: &'static str) -> Result<i64, (&'static str, String)> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err((field, format!("not a non-negative integer: {s:?}")));
    }
    s.parse::<i64>()
        .map_err(|_| (field, format!("not a non-negative integer: {s:?}")))
}

struct Row {
    participant: i64,
    section: i64,
    press_ms: i64,
    release_ms: i64,
    keycode: i64,
}

fn parse_row(
    fields: &[&str],
    expect_participant: Option<u64>,
) -> Result<Row, (&'static str, String)> {
    let participant = parse_uint(fields[0], "PARTICIPANT_ID")?;
    if let Some(p) = expect_participant
        && participant as u64 != p
    {
        return Err((
            "PARTICIPANT_ID",
            format!("{participant} differs from the file's participant {p}"),
        ));
    }
    let section = parse_uint(fields[1], "TEST_SECTION_ID")?;
    let press_ms = parse_uint(fields[5], "PRESS_TIME")?;
    let release_ms = parse_uint(fields[6], "RELEASE_TIME")?;
    let keycode = parse_uint(fields[8], "KEYCODE")?;
    for (t, f) in [(press_ms, "PRESS_TIME"), (release_ms, "RELEASE_TIME")] {
        if !(MIN_EPOCH_MS..MAX_EPOCH_MS).contains(&t) {
            return Err((
                f,
                format!("implausible epoch time {t} ms (not in 2000..2100)"),
            ));
        }
    }
    if release_ms < press_ms {
        return Err((
            "RELEASE_TIME",
            format!("released before pressed ({release_ms} < {press_ms})"),
        ));
    }
    if release_ms - press_ms > MAX_HOLD_MS {
        return Err((
            "RELEASE_TIME",
            format!(
                "hold of {} ms exceeds {MAX_HOLD_MS} ms (lost key-up)",
                release_ms - press_ms
            ),
        ));
    }
    Ok(Row {
        participant,
        section,
        press_ms,
        release_ms,
        keycode,
    })
}

/// Parses the bytes of one Aalto keystroke file (see the module docs for the rules). `name` is used in
/// reported issues; when it looks like `<ID>_keystrokes.txt`, rows of another participant are rejected.
///
/// # Errors
/// [`ReadError::Header`] when the first line is not the Aalto header.
pub fn parse_aalto(bytes: &[u8], name: &str) -> Result<Loaded<Vec<Stream<KeyEvent>>>, ReadError> {
    let expect_participant = participant_of_file(Path::new(name));
    let mut report = ReadReport::default();
    let mut lines = bytes.split(|&b| b == b'\n');
    let header = lines.next().unwrap_or_default();
    let header = String::from_utf8_lossy(header);
    let header_fields: Vec<&str> = header.trim_end_matches('\r').split('\t').collect();
    if header_fields != HEADER {
        return Err(ReadError::Header {
            path: name.to_string(),
            reason: format!("expected `{}`", HEADER.join("\\t")),
        });
    }
    let mut streams: Vec<Stream<KeyEvent>> = Vec::new();
    let mut index: HashMap<(i64, i64), usize> = HashMap::new();
    // Per stream: (press, release, keycode) → first line, for duplicate detection.
    let mut seen: Vec<HashMap<(i64, i64, i64), u64>> = Vec::new();
    let mut reordered: Vec<bool> = Vec::new();
    for (i, raw) in lines.enumerate() {
        let line_no = i as u64 + 2;
        let text = String::from_utf8_lossy(raw);
        let line = text.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != HEADER.len() {
            report.reject(
                name,
                line_no,
                None,
                format!("expected {} fields, found {}", HEADER.len(), fields.len()),
            );
            continue;
        }
        let row = match parse_row(&fields, expect_participant) {
            Ok(r) => r,
            Err((field, reason)) => {
                report.reject(name, line_no, Some(field), reason);
                continue;
            }
        };
        let s = *index
            .entry((row.participant, row.section))
            .or_insert_with(|| {
                streams.push(Stream {
                    origin: Origin {
                        user: Some(row.participant.to_string()),
                        session: Some(row.section.to_string()),
                        ..Default::default()
                    },
                    events: Vec::new(),
                });
                seen.push(HashMap::new());
                reordered.push(false);
                streams.len() - 1
            });
        if let Some(first) = seen[s].get(&(row.press_ms, row.release_ms, row.keycode)) {
            report.reject(name, line_no, None, format!("duplicate of line {first}"));
            continue;
        }
        seen[s].insert((row.press_ms, row.release_ms, row.keycode), line_no);
        if matches!(text, std::borrow::Cow::Owned(_)) {
            report.repair("invalid_utf8");
        }
        let code = match u32::try_from(row.keycode).ok().and_then(keycode_to_code) {
            Some(c) => c,
            None => {
                report.repair("unmapped_keycode");
                "Unidentified"
            }
        };
        let stream = &mut streams[s];
        let press_us = row.press_ms * 1000;
        if stream.events.last().is_some_and(|p| p.press_us > press_us) {
            reordered[s] = true;
            report.repair("reordered");
        }
        stream.events.push(KeyEvent {
            key: KeyId::code(code),
            press_us,
            release_us: row.release_ms * 1000,
        });
        report.accepted += 1;
    }
    for (s, r) in streams.iter_mut().zip(reordered) {
        if r {
            s.events.sort_by_key(|e| e.press_us);
        }
    }
    Ok(Loaded {
        data: streams,
        report,
    })
}

/// Reads one `<ID>_keystrokes.txt` file.
///
/// # Errors
/// [`ReadError::Io`] when it cannot be read, [`ReadError::Header`] on a wrong header.
pub fn read_aalto_file(path: &Path) -> Result<Loaded<Vec<Stream<KeyEvent>>>, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_aalto(&bytes, &path.display().to_string())
}

/// Finds the folder of `<ID>_keystrokes.txt` files under `p`: `p` itself, `p/keystroke-samples`,
/// `p/aalto-keystrokes-dev/keystroke-samples` or `p/aalto-keystrokes/keystroke-samples`.
pub fn locate(p: &Path) -> PathBuf {
    for c in [
        p.join("keystroke-samples"),
        p.join("aalto-keystrokes-dev/keystroke-samples"),
        p.join("aalto-keystrokes/keystroke-samples"),
    ] {
        if c.is_dir() {
            return c;
        }
    }
    p.to_path_buf()
}

/// Reads every `<ID>_keystrokes.txt` file of a folder (see [`locate`]), in increasing participant id,
/// keeping at most `max_participants` files when given. A participant's sequences are its streams in file
/// order. A file that cannot be read or has a wrong header is recorded as a rejected line 0 of that file
/// and skipped; files not named `<ID>_keystrokes.txt` are ignored.
///
/// # Errors
/// [`ReadError::Io`] when the folder cannot be listed.
pub fn read_aalto_dir(
    dir: &Path,
    max_participants: Option<usize>,
) -> Result<Loaded<Vec<AaltoParticipant>>, ReadError> {
    let dir = locate(dir);
    let io = |source| ReadError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files: Vec<(u64, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if let Some(id) = participant_of_file(&path) {
            files.push((id, path));
        }
    }
    files.sort();
    files.truncate(max_participants.unwrap_or(usize::MAX));
    let mut report = ReadReport::default();
    let mut data = Vec::with_capacity(files.len());
    for (id, path) in files {
        match read_aalto_file(&path) {
            Ok(l) => {
                report.merge(l.report);
                data.push(AaltoParticipant {
                    id,
                    sequences: l.data,
                });
            }
            Err(e) => report.reject(&path.display().to_string(), 0, None, e.to_string()),
        }
    }
    Ok(Loaded { data, report })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> String {
        HEADER.join("\t")
    }
    fn row(p: &str, s: &str, press: &str, release: &str, kc: &str) -> String {
        format!("{p}\t{s}\tHi.\tHi.\t1\t{press}\t{release}\th\t{kc}")
    }
    const T: i64 = 1_471_948_496_904;

    #[test]
    fn every_bad_row_rule_is_reported() {
        let t = |d: i64| (T + d).to_string();
        let lines = [
            head(),
            row("7", "1", &t(0), &t(80), "72"),             // 2 ok
            "7\t1\ttoo\tfew".to_string(),                   // 3 field count
            row("x7", "1", &t(0), &t(80), "72"),            // 4 participant not int
            row("8", "1", &t(0), &t(80), "72"),             // 5 other participant
            row("7", "s", &t(0), &t(80), "72"),             // 6 section not int
            row("7", "1", "1.471968e+12", &t(80), "72"),    // 7 press not int
            row("7", "1", &t(0), "-5", "72"),               // 8 release not int
            row("7", "1", &t(0), &t(80), "K"),              // 9 keycode not int
            row("7", "1", "12345", "12400", "72"),          // 10 implausible epoch
            row("7", "1", &t(200), &t(100), "72"),          // 11 release < press
            row("7", "1", &t(300), &t(300 + 10_001), "16"), // 12 lost key-up
            row("7", "1", &t(0), &t(80), "72"),             // 13 duplicate of 2
            row("7", "1", &t(500), &t(580), "999"),         // 14 unmapped keycode: kept
            row("7", "1", &t(100), &t(150), "73"),          // 15 out of order: kept
            row("7", "2", &t(900), &t(950), "32"),          // 16 second sentence
            String::new(),                                  // empty: skipped
        ];
        let text = lines.join("\n");
        let out = parse_aalto(text.as_bytes(), "dir/7_keystrokes.txt").unwrap();
        let r: Vec<String> = out.report.rejected.iter().map(|r| r.to_string()).collect();
        let expect = [
            "dir/7_keystrokes.txt:3: expected 9 fields, found 4",
            "dir/7_keystrokes.txt:4: field `PARTICIPANT_ID`: not a non-negative integer",
            "dir/7_keystrokes.txt:5: field `PARTICIPANT_ID`: 8 differs",
            "dir/7_keystrokes.txt:6: field `TEST_SECTION_ID`",
            "dir/7_keystrokes.txt:7: field `PRESS_TIME`",
            "dir/7_keystrokes.txt:8: field `RELEASE_TIME`: not a non-negative",
            "dir/7_keystrokes.txt:9: field `KEYCODE`",
            "dir/7_keystrokes.txt:10: field `PRESS_TIME`: implausible epoch",
            "dir/7_keystrokes.txt:11: field `RELEASE_TIME`: released before pressed",
            "dir/7_keystrokes.txt:12: field `RELEASE_TIME`: hold of 10001 ms",
            "dir/7_keystrokes.txt:13: duplicate of line 2",
        ];
        assert_eq!(r.len(), expect.len(), "{r:#?}");
        for (got, want) in r.iter().zip(expect) {
            assert!(got.starts_with(want), "{got} !~ {want}");
        }
        assert_eq!(out.report.accepted, 4);
        assert_eq!(out.report.repaired.get("reordered"), Some(&1));
        assert_eq!(out.report.repaired.get("unmapped_keycode"), Some(&1));
        assert_eq!(out.data.len(), 2);
        let s = &out.data[0];
        assert_eq!(s.origin.user.as_deref(), Some("7"));
        assert_eq!(s.origin.session.as_deref(), Some("1"));
        let keys: Vec<String> = s.events.iter().map(|e| e.key.to_string()).collect();
        assert_eq!(keys, ["KeyH", "KeyI", "Unidentified"]);
        assert_eq!(s.events[0].press_us, T * 1000);
        assert_eq!(s.events[0].release_us, (T + 80) * 1000);
        assert!(s.events.windows(2).all(|w| w[0].press_us <= w[1].press_us));
        assert_eq!(out.data[1].events[0].key, KeyId::code("Space"));
    }

    #[test]
    fn invalid_utf8_is_repaired_and_counted() {
        let mut bytes = head().into_bytes();
        bytes.extend_from_slice(b"\n7\t1\tca\xe7a\tca\xe7a\t1\t");
        bytes.extend_from_slice(format!("{T}\t{}\t", T + 90).as_bytes());
        bytes.extend_from_slice(b"\xe7\t67\r\n");
        let out = parse_aalto(&bytes, "7_keystrokes.txt").unwrap();
        assert_eq!(out.report.accepted, 1, "{:?}", out.report.rejected);
        assert_eq!(out.report.repaired.get("invalid_utf8"), Some(&1));
        assert_eq!(out.data[0].events[0].key, KeyId::code("KeyC"));
    }

    #[test]
    fn bad_header_is_an_error() {
        assert!(matches!(
            parse_aalto(b"a\tb\n", "x"),
            Err(ReadError::Header { .. })
        ));
    }

    #[test]
    fn keycode_table() {
        assert_eq!(keycode_to_code(65), Some("KeyA"));
        assert_eq!(keycode_to_code(90), Some("KeyZ"));
        assert_eq!(keycode_to_code(48), Some("Digit0"));
        assert_eq!(keycode_to_code(105), Some("Numpad9"));
        assert_eq!(keycode_to_code(123), Some("F12"));
        assert_eq!(keycode_to_code(190), Some("Period"));
        assert_eq!(keycode_to_code(0), None);
        assert_eq!(keycode_to_code(163), None);
        // Every mapped name is a plain W3C-style identifier.
        for k in 0..=255 {
            if let Some(c) = keycode_to_code(k) {
                assert!(c.chars().all(|c| c.is_ascii_alphanumeric()), "{c}");
            }
        }
    }
}
