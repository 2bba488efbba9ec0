//! A DuckyScript interpreter (the commonly used subset of DuckyScript 1.0 and 3.0, Hak5 USB Rubber Ducky):
//! a payload's text becomes a [`Script`], a list of device-level [`Step`]s that
//! [`render`](crate::timing::render) turns into timed [`KeyEvent`](keyprint_core::KeyEvent)s.
//!
//! Supported (names case-sensitive as in DuckyScript, arguments after one space):
//!
//! | command | effect |
//! |---|---|
//! | `REM text`, `REM_BLOCK` … `END_REM` | comment |
//! | `STRING text` | types `text` (US layout; capitals and shifted symbols with Shift) |
//! | `STRINGLN text` | types `text` then Enter |
//! | `STRING` / `STRINGLN` alone … `END_STRING` / `END_STRINGLN` | block: each line, leading blanks removed; `STRING` joins lines, `STRINGLN` ends each with Enter |
//! | `DELAY ms` | waits `ms` milliseconds |
//! | `DEFAULT_DELAY ms`, `DEFAULTDELAY ms` | waits `ms` after every later command |
//! | `STRING_DELAY ms`, `STRINGDELAY ms` | adds `ms` between the keystrokes of the **next** `STRING`/`STRINGLN` only |
//! | `DEFAULT_STRING_DELAY ms`, `DEFAULTCHARDELAY ms` | the same for every later `STRING` |
//! | `REPEAT n` (`REPLAY n`) | runs the previous command `n` more times |
//! | key names: `ENTER`, `ESC`, `TAB`, `SPACE`, `BACKSPACE`, `DELETE`, arrows, `F1`–`F24`, … | taps the key |
//! | combos: `GUI r`, `CTRL ALT DELETE`, `CTRL-SHIFT ESC`, `ALT F4`, `SHIFT`, … | modifiers and key in one report |
//! | `HOLD key`, `RELEASE key` | presses a key (or modifier) and keeps it down until `RELEASE` (or the end) |
//! | `$_JITTER_ENABLED = TRUE/FALSE`, `$_JITTER_MAX = ms` (optionally after `VAR`) | DuckyScript 3 random inter-key delay in `0..=ms` (default 20) |
//! | `ATTACKMODE …`, `LED_R`, `LED_G`, `LED_OFF` | device configuration: no keystrokes |
//!
//! Anything else (variables, `IF`/`WHILE`, `FUNCTION`, `DEFINE`, `WAIT_FOR_BUTTON_PRESS`, unknown words,
//! characters a US keyboard cannot type, bad numbers) is a [`ScriptError`] naming its 1-based line; the
//! parser reports every error, not just the first. Sources: Hak5 DuckyScript 1.0 README and the DuckyScript 3
//! documentation (docs.hak5.org, "DuckyScript quick reference", "Jitter").

use crate::keymap::{SHIFT, char_to_key, key_name_code, modifier_code};
use std::fmt;

/// Largest `DELAY`/`DEFAULT_DELAY`/`STRING_DELAY` accepted, ms (one hour).
pub const MAX_DELAY_MS: u64 = 3_600_000;
/// Largest `REPEAT` count accepted.
pub const MAX_REPEAT: u64 = 10_000;
/// Largest number of keystrokes a script may expand to.
pub const MAX_STROKES: usize = 1_000_000;
/// `$_JITTER_MAX` when a payload enables jitter without setting it, ms (DuckyScript 3 default).
pub const DEFAULT_JITTER_MAX_MS: u64 = 20;

/// One device-level action.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Keys pressed in one HID report and released in the next (modifiers first, the main key last).
    /// `extra_delay_ms` is added after the keystroke (`STRING_DELAY`).
    Stroke {
        /// W3C codes, modifiers first.
        keys: Vec<&'static str>,
        /// Extra wait after this keystroke, ms.
        extra_delay_ms: u64,
    },
    /// Wait, ms.
    Delay(u64),
    /// Press a key and keep it down.
    Hold(&'static str),
    /// Release a held key.
    Release(&'static str),
    /// Turn DuckyScript 3 jitter on or off.
    Jitter(bool),
    /// Set `$_JITTER_MAX`, ms.
    JitterMax(u64),
}

/// A parsed payload: its steps in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Device actions, in order.
    pub steps: Vec<Step>,
}

impl Script {
    /// Number of keystrokes (non-modifier and modifier keys, each counted once per press) the script types.
    pub fn keystrokes(&self) -> usize {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Stroke { keys, .. } => keys.len(),
                Step::Hold(_) => 1,
                _ => 0,
            })
            .sum()
    }
}

/// A problem in a payload, at a 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// The command word (or the line) that failed.
    pub command: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: `{}`: {}", self.line, self.command, self.reason)
    }
}

impl std::error::Error for ScriptError {}

/// A parsed command, before expansion.
#[derive(Clone, Debug)]
enum Cmd {
    Text { text: String, newline: bool },
    Keys(Vec<&'static str>),
    Delay(u64),
    DefaultDelay(u64),
    StringDelay(u64),
    DefaultStringDelay(u64),
    Repeat(u64),
    Hold(&'static str),
    Release(&'static str),
    Jitter(bool),
    JitterMax(u64),
    NoOp,
}

fn number(arg: &str, max: u64) -> Result<u64, String> {
    let a = arg.trim();
    if a.is_empty() {
        return Err("missing number".into());
    }
    match a.parse::<u64>() {
        Ok(v) if v <= max => Ok(v),
        Ok(v) => Err(format!("{v} exceeds the limit {max}")),
        Err(_) => Err(format!("not a non-negative integer: {a:?}")),
    }
}

/// The W3C code of a key token in a combo or `HOLD`: a modifier, a key name, or one character.
fn key_token(tok: &str) -> Result<(Vec<&'static str>, &'static str), String> {
    if let Some(m) = modifier_code(tok) {
        return Ok((Vec::new(), m));
    }
    if let Some(k) = key_name_code(tok) {
        return Ok((Vec::new(), k));
    }
    let mut chars = tok.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        // In combos a letter names the key (`GUI r` = `GUI R`); a shifted symbol adds Shift.
        let c = c.to_ascii_lowercase();
        if let Some((code, shift)) = char_to_key(c) {
            return Ok((if shift { vec![SHIFT] } else { Vec::new() }, code));
        }
    }
    Err(format!("unknown key {tok:?}"))
}

/// Splits a combo line into tokens: whitespace, and `-` between modifier names (`CTRL-ALT`).
fn combo_tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in line.split_whitespace() {
        let parts: Vec<&str> = w.split('-').collect();
        if parts.len() > 1
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| modifier_code(p).is_some())
            && !parts[parts.len() - 1].is_empty()
        {
            out.extend(parts.iter().map(|p| p.to_string()));
        } else {
            out.push(w.to_string());
        }
    }
    out
}

fn combo(line: &str) -> Result<Vec<&'static str>, String> {
    let toks = combo_tokens(line);
    let mut keys: Vec<&'static str> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let last = i + 1 == toks.len();
        if !last && modifier_code(t).is_none() {
            return Err(format!(
                "{t:?} is not a modifier; only the last key of a combo may be a plain key"
            ));
        }
        let (extra, code) = key_token(t)?;
        for k in extra.into_iter().chain([code]) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

fn is_key_word(word: &str) -> bool {
    modifier_code(word).is_some()
        || key_name_code(word).is_some()
        || combo_tokens(word)
            .first()
            .is_some_and(|t| modifier_code(t).is_some())
}

fn check_text(text: &str) -> Result<(), String> {
    match text.chars().find(|&c| char_to_key(c).is_none()) {
        Some(c) => Err(format!("{c:?} cannot be typed on a US keyboard")),
        None => Ok(()),
    }
}

fn variable(line: &str) -> Result<Cmd, String> {
    let body = line.strip_prefix("VAR ").unwrap_or(line).trim();
    let (name, value) = body
        .split_once('=')
        .ok_or_else(|| "expected `$NAME = value`".to_string())?;
    let (name, value) = (name.trim(), value.trim());
    match name {
        "$_JITTER_ENABLED" => match value.to_ascii_uppercase().as_str() {
            "TRUE" | "1" => Ok(Cmd::Jitter(true)),
            "FALSE" | "0" => Ok(Cmd::Jitter(false)),
            _ => Err(format!("expected TRUE or FALSE, found {value:?}")),
        },
        "$_JITTER_MAX" => Ok(Cmd::JitterMax(number(value, MAX_DELAY_MS)?)),
        _ => Err(format!(
            "variable {name} is not supported (only $_JITTER_ENABLED and $_JITTER_MAX)"
        )),
    }
}

/// Parses and expands a DuckyScript payload.
///
/// # Errors
/// Every [`ScriptError`] found (unknown or unsupported commands, bad arguments, untypable characters,
/// unterminated blocks, `REPEAT` with nothing to repeat, or an expansion beyond [`MAX_STROKES`]), in line order.
pub fn parse(source: &str) -> Result<Script, Vec<ScriptError>> {
    let mut errors = Vec::new();
    let mut cmds: Vec<(usize, Cmd)> = Vec::new();
    let lines: Vec<&str> = source.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let raw = lines[i].trim_end_matches('\r');
        i += 1;
        let line = raw.trim_start();
        if line.trim().is_empty() {
            continue;
        }
        let (word, arg) = match line.split_once(' ') {
            Some((w, a)) => (w, a),
            None => (line.trim_end(), ""),
        };
        let err = |errors: &mut Vec<ScriptError>, command: &str, reason: String| {
            errors.push(ScriptError {
                line: line_no,
                command: command.to_string(),
                reason,
            })
        };
        // Blocks.
        if matches!(word, "REM_BLOCK" | "STRING" | "STRINGLN") && arg.trim().is_empty() {
            let end = match word {
                "REM_BLOCK" => "END_REM",
                "STRING" => "END_STRING",
                _ => "END_STRINGLN",
            };
            let mut body = Vec::new();
            let mut closed = false;
            while i < lines.len() {
                let l = lines[i].trim_end_matches('\r');
                i += 1;
                if l.trim() == end {
                    closed = true;
                    break;
                }
                body.push((i, l.trim_start().to_string()));
            }
            if !closed {
                err(&mut errors, word, format!("block not closed by {end}"));
                continue;
            }
            if word == "REM_BLOCK" {
                continue;
            }
            let newline = word == "STRINGLN";
            let mut text = String::new();
            for (ln, l) in &body {
                if let Err(r) = check_text(l) {
                    errors.push(ScriptError {
                        line: *ln,
                        command: word.to_string(),
                        reason: r,
                    });
                }
                text.push_str(l);
                if newline {
                    text.push('\n');
                }
            }
            cmds.push((
                line_no,
                Cmd::Text {
                    text,
                    newline: false,
                },
            ));
            continue;
        }
        let parsed: Result<Cmd, String> = match word {
            "REM" => Ok(Cmd::NoOp),
            "END_REM" | "END_STRING" | "END_STRINGLN" => Err("block end without a block".into()),
            "STRING" | "STRINGLN" => check_text(arg).map(|_| Cmd::Text {
                text: arg.to_string(),
                newline: word == "STRINGLN",
            }),
            "DELAY" => number(arg, MAX_DELAY_MS).map(Cmd::Delay),
            "DEFAULT_DELAY" | "DEFAULTDELAY" => number(arg, MAX_DELAY_MS).map(Cmd::DefaultDelay),
            "STRING_DELAY" | "STRINGDELAY" => number(arg, MAX_DELAY_MS).map(Cmd::StringDelay),
            "DEFAULT_STRING_DELAY" | "DEFAULTCHARDELAY" | "DEFAULT_CHAR_DELAY" => {
                number(arg, MAX_DELAY_MS).map(Cmd::DefaultStringDelay)
            }
            "REPEAT" | "REPLAY" => number(arg, MAX_REPEAT).map(Cmd::Repeat),
            "HOLD" | "RELEASE" => {
                let a = arg.trim();
                if a.is_empty() || a.contains(char::is_whitespace) {
                    Err("expected exactly one key".into())
                } else {
                    key_token(a).and_then(|(extra, code)| {
                        if extra.is_empty() {
                            Ok(if word == "HOLD" {
                                Cmd::Hold(code)
                            } else {
                                Cmd::Release(code)
                            })
                        } else {
                            Err(format!("{a:?} needs Shift; HOLD the base key instead"))
                        }
                    })
                }
            }
            "ATTACKMODE" | "LED_R" | "LED_G" | "LED_OFF" | "LED_ON" => Ok(Cmd::NoOp),
            "VAR" if arg.trim_start().starts_with('$') => variable(line),
            w if w.starts_with('$') => variable(line),
            "IF"
            | "ELSE"
            | "END_IF"
            | "WHILE"
            | "END_WHILE"
            | "FUNCTION"
            | "END_FUNCTION"
            | "DEFINE"
            | "VAR"
            | "RETURN"
            | "WAIT_FOR_BUTTON_PRESS"
            | "BUTTON_DEF"
            | "END_BUTTON"
            | "EXFIL"
            | "RANDOM_LOWERCASE_LETTER"
            | "RANDOM_CHARACTER"
            | "SAVE_HOST_KEYBOARD_LOCK_STATE" => {
                Err("DuckyScript 3 construct not supported".into())
            }
            w if is_key_word(w) => combo(line.trim_end()).map(Cmd::Keys),
            _ => Err("unknown command".into()),
        };
        match parsed {
            Ok(c) => {
                if let (Cmd::Repeat(_), None) =
                    (&c, cmds.iter().rev().find(|(_, c)| !matches!(c, Cmd::NoOp)))
                {
                    err(&mut errors, word, "REPEAT with no previous command".into());
                } else {
                    cmds.push((line_no, c));
                }
            }
            Err(r) => err(&mut errors, word, r),
        }
    }
    if !errors.is_empty() {
        errors.sort_by_key(|e| e.line);
        return Err(errors);
    }
    expand(&cmds)
}

struct Expander {
    steps: Vec<Step>,
    default_delay_ms: u64,
    next_string_delay_ms: Option<u64>,
    default_string_delay_ms: u64,
    strokes: usize,
}

impl Expander {
    fn stroke(&mut self, keys: Vec<&'static str>, extra_delay_ms: u64) {
        self.strokes += keys.len();
        self.steps.push(Step::Stroke {
            keys,
            extra_delay_ms,
        });
    }

    /// Runs one command; returns true when it is a command `REPEAT` can repeat.
    fn run(&mut self, cmd: &Cmd) -> bool {
        let content = match cmd {
            Cmd::Text { text, newline } => {
                let d = self
                    .next_string_delay_ms
                    .take()
                    .unwrap_or(self.default_string_delay_ms);
                for c in text.chars() {
                    let (code, shift) = char_to_key(c).expect("checked while parsing");
                    let keys = if shift { vec![SHIFT, code] } else { vec![code] };
                    self.stroke(keys, d);
                }
                if *newline {
                    self.stroke(vec!["Enter"], 0);
                }
                true
            }
            Cmd::Keys(keys) => {
                self.stroke(keys.clone(), 0);
                true
            }
            Cmd::Delay(ms) => {
                self.steps.push(Step::Delay(*ms));
                true
            }
            Cmd::Hold(k) => {
                self.strokes += 1;
                self.steps.push(Step::Hold(k));
                true
            }
            Cmd::Release(k) => {
                self.steps.push(Step::Release(k));
                true
            }
            Cmd::DefaultDelay(ms) => {
                self.default_delay_ms = *ms;
                false
            }
            Cmd::StringDelay(ms) => {
                self.next_string_delay_ms = Some(*ms);
                false
            }
            Cmd::DefaultStringDelay(ms) => {
                self.default_string_delay_ms = *ms;
                false
            }
            Cmd::Jitter(on) => {
                self.steps.push(Step::Jitter(*on));
                false
            }
            Cmd::JitterMax(ms) => {
                self.steps.push(Step::JitterMax(*ms));
                false
            }
            Cmd::Repeat(_) | Cmd::NoOp => false,
        };
        if content && self.default_delay_ms > 0 {
            self.steps.push(Step::Delay(self.default_delay_ms));
        }
        content
    }
}

fn expand(cmds: &[(usize, Cmd)]) -> Result<Script, Vec<ScriptError>> {
    let mut ex = Expander {
        steps: Vec::new(),
        default_delay_ms: 0,
        next_string_delay_ms: None,
        default_string_delay_ms: 0,
        strokes: 0,
    };
    let mut last: Option<&Cmd> = None;
    for (line, cmd) in cmds {
        if let Cmd::Repeat(n) = cmd {
            let prev = last.expect("checked while parsing");
            for _ in 0..*n {
                ex.run(prev);
                if ex.strokes > MAX_STROKES {
                    break;
                }
            }
        } else if !matches!(cmd, Cmd::NoOp) {
            ex.run(cmd);
            last = Some(cmd);
        }
        if ex.strokes > MAX_STROKES {
            return Err(vec![ScriptError {
                line: *line,
                command: "REPEAT".into(),
                reason: format!("payload expands to more than {MAX_STROKES} keystrokes"),
            }]);
        }
    }
    Ok(Script { steps: ex.steps })
}
