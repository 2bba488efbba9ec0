//! Lines → statements: `DEFINE` substitution, commands, blocks and located errors, in one linear pass.

use super::expr::{BinOp, Expr, parse_expr, vars};
use super::{Limits, MAX_DELAY_MS, MAX_REPEAT, ScriptError};
use crate::keymap::{SHIFT, char_to_key, key_name_code, modifier_code};
use std::collections::{HashMap, HashSet};

/// Internal variables: (name, writable by the payload).
pub(crate) const INTERNAL: &[(&str, bool)] = &[
    ("$_JITTER_ENABLED", true),
    ("$_JITTER_MAX", true),
    ("$_RANDOM_MIN", true),
    ("$_RANDOM_MAX", true),
    ("$_RANDOM_INT", false),
    ("$_RANDOM_SEED", false),
    ("$_OS", true),
    ("$_HOST_CONFIGURATION_REQUEST_COUNT", false),
    ("$_RECEIVED_HOST_LOCK_LED_REPLY", false),
    ("$_CAPSLOCK_ON", false),
    ("$_NUMLOCK_ON", false),
    ("$_SCROLLLOCK_ON", false),
    ("$_SAVED_CAPSLOCK_ON", false),
    ("$_SAVED_NUMLOCK_ON", false),
    ("$_SAVED_SCROLLLOCK_ON", false),
    ("$_BUTTON_ENABLED", true),
    ("$_BUTTON_USER_DEFINED", false),
    ("$_BUTTON_PUSH_RECEIVED", true),
    ("$_BUTTON_TIMEOUT", true),
    ("$_SYSTEM_LEDS_ENABLED", true),
    ("$_STORAGE_LEDS_ENABLED", true),
    ("$_LED_SHOW_CAPS", true),
    ("$_LED_SHOW_NUM", true),
    ("$_LED_SHOW_SCROLL", true),
    ("$_LED_CONTINUOUS_SHOW_STORAGE_ACTIVITY", true),
    ("$_EXFIL_MODE_ENABLED", true),
    ("$_STORAGE_ACTIVITY_TIMEOUT", true),
];

fn internal(name: &str) -> Option<bool> {
    INTERNAL.iter().find(|(n, _)| *n == name).map(|(_, w)| *w)
}

/// A numeric argument: a literal (legacy DuckyScript 1 range) or an expression (16-bit).
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    Lit(u64),
    Expr(Expr),
}

/// A piece of `STRING` text.
#[derive(Clone, Debug)]
pub(crate) enum Piece {
    Text(String),
    Var(String),
}

/// A lock key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lock {
    Caps,
    Num,
    Scroll,
}

/// What a `WAIT_FOR_*` waits for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    Button,
    /// `Some(state)` waits for on/off; `None` for a change.
    Lock(Lock, Option<bool>),
    Storage,
}

/// A statement.
#[derive(Clone, Debug)]
pub(crate) enum Stmt {
    Type {
        pieces: Vec<Piece>,
        newline: bool,
    },
    Keys(Vec<&'static str>),
    Delay(Arg),
    DefaultDelay(Arg),
    StringDelay(Arg),
    DefaultStringDelay(Arg),
    Hold(&'static str),
    Release(&'static str),
    Reset,
    Assign {
        var: String,
        op: Option<BinOp>,
        expr: Expr,
    },
    If {
        arms: Vec<(Expr, Vec<Node>)>,
        otherwise: Vec<Node>,
    },
    While {
        cond: Expr,
        body: Vec<Node>,
    },
    Call(String),
    Return(Option<Expr>),
    Repeat {
        target: usize,
        count: Arg,
    },
    Random(&'static str),
    Wait(Wait),
    SaveLocks,
    RestoreLocks,
    ButtonDef,
    Button(bool),
    Stop,
    Restart,
    Block(Vec<Node>),
    NoOp,
}

/// A located statement.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) word: String,
    pub(crate) stmt: Stmt,
}

/// A parsed payload: its top-level statements and its functions (global, hoisted).
#[derive(Clone, Debug, Default)]
pub struct Program {
    pub(crate) body: Vec<Node>,
    pub(crate) functions: HashMap<String, Vec<Node>>,
    pub(crate) button: Option<Vec<Node>>,
}

impl Program {
    /// Number of top-level statements (comments and blank lines excluded).
    pub fn statements(&self) -> usize {
        self.body.len()
    }
}

enum Kind {
    Root,
    If {
        arms: Vec<(Expr, Vec<Node>)>,
        cond: Option<Expr>,
    },
    While(Expr),
    Function(String),
    Extension,
    Button,
    IfDefined {
        cond: Expr,
        first: Option<Vec<Node>>,
    },
}

struct Frame {
    kind: Kind,
    line: usize,
    col: usize,
    word: String,
    nodes: Vec<Node>,
    /// Index in `nodes` of the last statement `REPEAT` can repeat.
    last: Option<usize>,
}

impl Kind {
    fn end(&self) -> &'static str {
        match self {
            Kind::Root => "",
            Kind::If { .. } => "END_IF",
            Kind::While(_) => "END_WHILE",
            Kind::Function(_) => "END_FUNCTION",
            Kind::Extension => "END_EXTENSION",
            Kind::Button => "END_BUTTON",
            Kind::IfDefined { .. } => "END_IF_DEFINED",
        }
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Replaces whole-word `DEFINE` names (letters, digits, `_`, `#`; not after `$`) in one pass.
fn substitute(line: &str, defines: &HashMap<String, String>) -> String {
    if defines.is_empty() {
        return line.to_string();
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '#';
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    let mut prev: Option<char> = None;
    while let Some(c) = rest.chars().next() {
        if word(c) {
            let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
            let tok = &rest[..end];
            match defines.get(tok) {
                Some(v) if prev != Some('$') => out.push_str(v),
                _ => out.push_str(tok),
            }
            prev = tok.chars().last();
            rest = &rest[end..];
        } else {
            out.push(c);
            prev = Some(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

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

/// Character sets of the `RANDOM_*` commands.
fn random_set(word: &str) -> Option<&'static str> {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
    const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const LETTER: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    const NUMBER: &str = "0123456789";
    const SPECIAL: &str = "!@#$%^&*()";
    const CHARACTER: &str =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()";
    Some(match word {
        "RANDOM_LOWERCASE_LETTER" => LOWER,
        "RANDOM_UPPERCASE_LETTER" => UPPER,
        "RANDOM_LETTER" => LETTER,
        "RANDOM_NUMBER" => NUMBER,
        "RANDOM_SPECIAL" => SPECIAL,
        "RANDOM_CHARACTER" => CHARACTER,
        _ => return None,
    })
}

fn wait(word: &str) -> Option<Wait> {
    let lock = |l: Lock, s: &str| match s {
        "ON" => Some(Wait::Lock(l, Some(true))),
        "OFF" => Some(Wait::Lock(l, Some(false))),
        "CHANGE" => Some(Wait::Lock(l, None)),
        _ => None,
    };
    let rest = word.strip_prefix("WAIT_FOR_")?;
    match rest {
        "BUTTON_PRESS" => Some(Wait::Button),
        "STORAGE_ACTIVITY" | "STORAGE_INACTIVITY" => Some(Wait::Storage),
        _ => {
            let (k, s) = rest.split_once('_')?;
            match k {
                "CAPS" => lock(Lock::Caps, s),
                "NUM" => lock(Lock::Num, s),
                "SCROLL" => lock(Lock::Scroll, s),
                _ => None,
            }
        }
    }
}

struct Parser<'a> {
    limits: &'a Limits,
    errors: Vec<ScriptError>,
    defines: HashMap<String, String>,
    declared: HashSet<String>,
    functions: HashMap<String, Vec<Node>>,
    button: Option<Vec<Node>>,
    calls: Vec<(String, usize, usize)>,
    stack: Vec<Frame>,
    line: usize,
}

impl Parser<'_> {
    fn err(&mut self, col: usize, command: &str, reason: impl Into<String>) {
        self.errors.push(ScriptError {
            line: self.line,
            column: col,
            command: command.to_string(),
            reason: reason.into(),
        });
    }

    fn top(&mut self) -> &mut Frame {
        self.stack.last_mut().expect("root frame")
    }

    fn push(&mut self, col: usize, word: &str, stmt: Stmt) {
        let repeatable = !matches!(stmt, Stmt::Repeat { .. } | Stmt::NoOp);
        let line = self.line;
        let f = self.top();
        f.nodes.push(Node {
            line,
            col,
            word: word.to_string(),
            stmt,
        });
        if repeatable {
            f.last = Some(f.nodes.len() - 1);
        }
    }

    /// Checks an expression's variables and records its calls.
    fn check_expr(&mut self, e: &Expr, word: &str) {
        let mut vs = Vec::new();
        vars(e, &mut vs);
        for (v, col) in vs {
            if !self.declared.contains(&v) && internal(&v).is_none() {
                self.err(
                    col,
                    word,
                    format!("variable {v} is not declared (VAR {v} = …)"),
                );
            }
        }
        walk_calls(e, &mut |name, col| {
            self.calls.push((name.to_string(), self.line, col));
        });
    }

    fn expr(&mut self, text: &str, col: usize, word: &str) -> Option<Expr> {
        match parse_expr(text, col, self.limits.max_nesting) {
            Ok(e) => {
                self.check_expr(&e, word);
                Some(e)
            }
            Err((c, r)) => {
                self.err(c, word, r);
                None
            }
        }
    }

    fn arg(&mut self, text: &str, col: usize, word: &str, max: u64) -> Option<Arg> {
        let t = text.trim();
        if t.is_empty() {
            self.err(col, word, "missing number");
            return None;
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            return match t.parse::<u64>() {
                Ok(v) if v <= max => Some(Arg::Lit(v)),
                _ => {
                    self.err(col, word, format!("{t} exceeds the limit {max}"));
                    None
                }
            };
        }
        if t.starts_with('-') {
            self.err(col, word, format!("not a non-negative integer: {t:?}"));
            return None;
        }
        self.expr(text, col, word).map(Arg::Expr)
    }

    /// Text of `STRING`: typable characters, `$VAR` pieces for declared and internal variables.
    fn pieces(&mut self, text: &str, col: usize, word: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut lit = String::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '$' {
                let end = (i + 1..chars.len())
                    .find(|&j| !(chars[j].is_ascii_alphanumeric() || chars[j] == '_'))
                    .unwrap_or(chars.len());
                let name: String = chars[i..end].iter().collect();
                if end > i + 1 && (self.declared.contains(&name) || internal(&name).is_some()) {
                    if !lit.is_empty() {
                        out.push(Piece::Text(std::mem::take(&mut lit)));
                    }
                    out.push(Piece::Var(name));
                    i = end;
                    continue;
                }
            }
            if char_to_key(c).is_none() {
                self.err(
                    col + i,
                    word,
                    format!("{c:?} cannot be typed on a US keyboard"),
                );
            }
            lit.push(c);
            i += 1;
        }
        if !lit.is_empty() {
            out.push(Piece::Text(lit));
        }
        out
    }

    fn open(&mut self, kind: Kind, col: usize, word: &str) -> bool {
        if self.stack.len() > self.limits.max_nesting {
            self.err(
                col,
                word,
                format!("blocks nested deeper than {}", self.limits.max_nesting),
            );
            return false;
        }
        let line = self.line;
        self.stack.push(Frame {
            kind,
            line,
            col,
            word: word.to_string(),
            nodes: Vec::new(),
            last: None,
        });
        true
    }

    /// Closes the innermost block if it is `want`; returns its frame.
    fn close(&mut self, end: &str, col: usize) -> Option<Frame> {
        if self.stack.len() > 1 && self.top().kind.end() == end {
            self.stack.pop()
        } else {
            let open = self.top().kind.end();
            let why = if open.is_empty() {
                format!("{end} without an open block")
            } else {
                format!("{end} while the innermost open block needs {open}")
            };
            self.err(col, end, why);
            None
        }
    }

    fn line(&mut self, line: &str) {
        let col = line.chars().take_while(|c| c.is_whitespace()).count() + 1;
        let body = line.trim_start();
        let (word, arg) = match body.split_once(' ') {
            Some((w, a)) => (w, a),
            None => (body.trim_end(), ""),
        };
        let acol = col + word.chars().count() + 1;
        let argt = arg.trim();
        let none = |p: &mut Self, what: &str| {
            if !argt.is_empty() {
                p.err(acol, word, format!("{what} takes no argument"));
            }
        };
        match word {
            "REM" => {}
            "END_REM" | "END_STRING" | "END_STRINGLN" => {
                self.err(col, word, "block end without a block")
            }
            "STRING" | "STRINGLN" => {
                let pieces = self.pieces(arg, acol, word);
                self.push(
                    col,
                    word,
                    Stmt::Type {
                        pieces,
                        newline: word == "STRINGLN",
                    },
                );
            }
            "DELAY"
            | "DEFAULT_DELAY"
            | "DEFAULTDELAY"
            | "STRING_DELAY"
            | "STRINGDELAY"
            | "DEFAULT_STRING_DELAY"
            | "DEFAULTCHARDELAY"
            | "DEFAULT_CHAR_DELAY" => {
                if let Some(a) = self.arg(arg, acol, word, MAX_DELAY_MS) {
                    let s = match word {
                        "DELAY" => Stmt::Delay(a),
                        "DEFAULT_DELAY" | "DEFAULTDELAY" => Stmt::DefaultDelay(a),
                        "STRING_DELAY" | "STRINGDELAY" => Stmt::StringDelay(a),
                        _ => Stmt::DefaultStringDelay(a),
                    };
                    self.push(col, word, s);
                }
            }
            "REPEAT" | "REPLAY" => {
                let count = self.arg(arg, acol, word, MAX_REPEAT);
                match (self.top().last, count) {
                    (None, _) => self.err(col, word, "REPEAT with no previous command"),
                    (Some(target), Some(count)) => {
                        self.push(col, word, Stmt::Repeat { target, count })
                    }
                    _ => {}
                }
            }
            "HOLD" | "RELEASE" => {
                if argt.is_empty() || argt.contains(char::is_whitespace) {
                    self.err(acol, word, "expected exactly one key");
                    return;
                }
                match key_token(argt) {
                    Ok((extra, code)) if extra.is_empty() => {
                        let s = if word == "HOLD" {
                            Stmt::Hold(code)
                        } else {
                            Stmt::Release(code)
                        };
                        self.push(col, word, s);
                    }
                    Ok(_) => self.err(
                        acol,
                        word,
                        format!("{argt:?} needs Shift; HOLD the base key instead"),
                    ),
                    Err(r) => self.err(acol, word, r),
                }
            }
            "RESET" => {
                none(self, word);
                self.push(col, word, Stmt::Reset);
            }
            "VAR" => {
                let Some((name, value)) = arg.split_once('=') else {
                    self.err(acol, word, "expected `VAR $NAME = expression`");
                    return;
                };
                let name = name.trim();
                if !name.starts_with('$') || !is_ident(&name[1..]) {
                    self.err(acol, word, format!("bad variable name {name:?}"));
                    return;
                }
                if internal(name) == Some(false) {
                    self.err(acol, word, format!("{name} is read-only"));
                    return;
                }
                let vcol = acol + arg.find('=').unwrap_or(0) + 1;
                if let Some(e) = self.expr(value, vcol, word) {
                    self.declared.insert(name.to_string());
                    self.push(
                        col,
                        word,
                        Stmt::Assign {
                            var: name.to_string(),
                            op: None,
                            expr: e,
                        },
                    );
                }
            }
            w if w.starts_with('$') => self.assign(body, col),
            "DEFINE" => {
                // Handled before substitution; here only a malformed one arrives.
                self.err(acol, word, "expected `DEFINE NAME value`");
            }
            "IF" => {
                let c = self.cond(arg, acol, word, true);
                self.open(
                    Kind::If {
                        arms: Vec::new(),
                        cond: Some(c),
                    },
                    col,
                    word,
                );
            }
            "ELSE" => {
                let is_if = matches!(self.top().kind, Kind::If { cond: Some(_), .. });
                if !is_if {
                    self.err(col, word, "ELSE without an open IF (or after ELSE)");
                    return;
                }
                let new_cond = if let Some(rest) = argt.strip_prefix("IF") {
                    let rcol = acol + arg.find("IF").unwrap_or(0) + 2;
                    Some(self.cond(rest, rcol, "ELSE IF", true))
                } else {
                    none(self, word);
                    None
                };
                let f = self.top();
                let nodes = std::mem::take(&mut f.nodes);
                f.last = None;
                if let Kind::If { arms, cond } = &mut f.kind {
                    let c = cond.take().expect("checked");
                    arms.push((c, nodes));
                    *cond = new_cond;
                }
            }
            "END_IF" => {
                none(self, word);
                if let Some(f) = self.close("END_IF", col)
                    && let Kind::If { mut arms, cond } = f.kind
                {
                    let otherwise = match cond {
                        Some(c) => {
                            arms.push((c, f.nodes));
                            Vec::new()
                        }
                        None => f.nodes,
                    };
                    self.line = f.line;
                    self.push(f.col, &f.word, Stmt::If { arms, otherwise });
                }
            }
            "WHILE" => {
                let c = self.cond(arg, acol, word, false);
                self.open(Kind::While(c), col, word);
            }
            "END_WHILE" => {
                none(self, word);
                if let Some(f) = self.close("END_WHILE", col)
                    && let Kind::While(cond) = f.kind
                {
                    self.line = f.line;
                    self.push(
                        f.col,
                        &f.word,
                        Stmt::While {
                            cond,
                            body: f.nodes,
                        },
                    );
                }
            }
            "FUNCTION" => {
                let name = argt.strip_suffix("()").unwrap_or("");
                if !is_ident(name) {
                    self.err(acol, word, "expected `FUNCTION NAME()`");
                }
                self.open(Kind::Function(name.to_string()), col, word);
            }
            "END_FUNCTION" => {
                none(self, word);
                if let Some(f) = self.close("END_FUNCTION", col)
                    && let Kind::Function(name) = f.kind
                    && !name.is_empty()
                {
                    match self.functions.entry(name) {
                        std::collections::hash_map::Entry::Occupied(o) => {
                            let name = o.key().clone();
                            self.line = f.line;
                            self.err(f.col, &f.word, format!("function {name} defined twice"));
                        }
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(f.nodes);
                        }
                    }
                }
            }
            "RETURN" => {
                let e = if argt.is_empty() {
                    None
                } else {
                    self.expr(arg, acol, word)
                };
                if !self
                    .stack
                    .iter()
                    .any(|f| matches!(f.kind, Kind::Function(_)))
                {
                    self.err(col, word, "RETURN outside a FUNCTION");
                }
                self.push(col, word, Stmt::Return(e));
            }
            "EXTENSION" => {
                if argt.is_empty() {
                    self.err(acol, word, "expected `EXTENSION NAME`");
                }
                self.open(Kind::Extension, col, word);
            }
            "END_EXTENSION" => {
                none(self, word);
                if let Some(f) = self.close("END_EXTENSION", col) {
                    self.line = f.line;
                    self.push(f.col, &f.word, Stmt::Block(f.nodes));
                }
            }
            "BUTTON_DEF" => {
                none(self, word);
                self.open(Kind::Button, col, word);
            }
            "END_BUTTON" => {
                none(self, word);
                if let Some(f) = self.close("END_BUTTON", col) {
                    self.line = f.line;
                    if self.button.is_some() {
                        self.err(f.col, &f.word, "BUTTON_DEF defined twice");
                    }
                    self.button = Some(f.nodes);
                    self.push(f.col, &f.word, Stmt::ButtonDef);
                }
            }
            "IF_DEFINED_TRUE" | "IF_NOT_DEFINED_TRUE" => {
                // After substitution a defined constant reads as its value; an undefined `#NAME` stays.
                let defined = !argt.is_empty()
                    && !argt.starts_with('#')
                    && parse_expr(argt, acol, self.limits.max_nesting)
                        .map(|e| e != Expr::Num(0))
                        .unwrap_or(true);
                let truth = defined == (word == "IF_DEFINED_TRUE");
                self.open(
                    Kind::IfDefined {
                        cond: Expr::Num(u16::from(truth)),
                        first: None,
                    },
                    col,
                    word,
                );
            }
            "ELSE_DEFINED" => {
                none(self, word);
                let f = self.top();
                match &mut f.kind {
                    Kind::IfDefined { first, .. } if first.is_none() => {
                        *first = Some(std::mem::take(&mut f.nodes));
                        f.last = None;
                    }
                    _ => self.err(col, word, "ELSE_DEFINED without an open IF_DEFINED_TRUE"),
                }
            }
            "END_IF_DEFINED" => {
                none(self, word);
                if let Some(f) = self.close("END_IF_DEFINED", col)
                    && let Kind::IfDefined { cond, first } = f.kind
                {
                    let (then, otherwise) = match first {
                        Some(t) => (t, f.nodes),
                        None => (f.nodes, Vec::new()),
                    };
                    self.line = f.line;
                    self.push(
                        f.col,
                        &f.word,
                        Stmt::If {
                            arms: vec![(cond, then)],
                            otherwise,
                        },
                    );
                }
            }
            "SAVE_HOST_KEYBOARD_LOCK_STATE" => {
                none(self, word);
                self.push(col, word, Stmt::SaveLocks);
            }
            "RESTORE_HOST_KEYBOARD_LOCK_STATE" => {
                none(self, word);
                self.push(col, word, Stmt::RestoreLocks);
            }
            "DISABLE_BUTTON" | "ENABLE_BUTTON" => {
                none(self, word);
                self.push(col, word, Stmt::Button(word == "ENABLE_BUTTON"));
            }
            "STOP_PAYLOAD" => {
                none(self, word);
                self.push(col, word, Stmt::Stop);
            }
            "RESTART_PAYLOAD" => {
                none(self, word);
                self.push(col, word, Stmt::Restart);
            }
            "ATTACKMODE" => {
                let ok = argt.split_whitespace().all(|t| {
                    matches!(t, "HID" | "STORAGE" | "SERIAL" | "OFF")
                        || ["VID_", "PID_", "MAN_", "PROD_", "SERIAL_"]
                            .iter()
                            .any(|p| t.starts_with(p))
                });
                if argt.is_empty() || !ok {
                    self.err(
                        acol,
                        word,
                        "expected HID, STORAGE, SERIAL or OFF (and VID_/PID_/MAN_/PROD_/SERIAL_ options)",
                    );
                } else {
                    self.push(col, word, Stmt::NoOp);
                }
            }
            "SAVE_ATTACKMODE" | "RESTORE_ATTACKMODE" | "LED_R" | "LED_G" | "LED_OFF" | "LED_ON"
            | "HIDE_PAYLOAD" | "RESTORE_PAYLOAD" | "INJECT_MOD" => {
                none(self, word);
                self.push(col, word, Stmt::NoOp);
            }
            "EXFIL" => {
                if !(argt.starts_with('$') && self.declared.contains(argt)) {
                    self.err(acol, word, "expected a declared variable: EXFIL $NAME");
                } else {
                    self.push(col, word, Stmt::NoOp);
                }
            }
            w if random_set(w).is_some() => {
                none(self, word);
                self.push(col, word, Stmt::Random(random_set(w).expect("checked")));
            }
            w if wait(w).is_some() => {
                none(self, word);
                self.push(col, word, Stmt::Wait(wait(w).expect("checked")));
            }
            w if w.ends_with("()") && is_ident(&w[..w.len() - 2]) => {
                none(self, word);
                let name = w[..w.len() - 2].to_string();
                self.calls.push((name.clone(), self.line, col));
                self.push(col, word, Stmt::Call(name));
            }
            w if is_key_word(w) => match combo(body.trim_end()) {
                Ok(keys) => self.push(col, word, Stmt::Keys(keys)),
                Err(r) => self.err(col, word, r),
            },
            _ => self.err(col, word, "unknown command"),
        }
    }

    /// A condition (`( … )` or bare, optional trailing `THEN` when `then`).
    fn cond(&mut self, text: &str, col: usize, word: &str, then: bool) -> Expr {
        let mut t = text.trim_end();
        if then && let Some(s) = t.strip_suffix("THEN") {
            t = s;
        }
        if t.trim().is_empty() {
            self.err(col, word, "condition expected");
            return Expr::Num(0);
        }
        self.expr(t, col, word).unwrap_or(Expr::Num(0))
    }

    fn assign(&mut self, body: &str, col: usize) {
        let name_end = body[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(body.len(), |i| i + 1);
        let name = &body[..name_end];
        let rest = body[name_end..].trim_start();
        let ocol = col + body.len() - rest.len();
        let (op, value) = if let Some(v) = rest.strip_prefix("<<=").or(rest.strip_prefix(">>=")) {
            (BinOp::augmented(&rest[..3]), v)
        } else if rest.len() >= 2
            && let Some(op) = BinOp::augmented(&rest[..2])
        {
            (Some(op), &rest[2..])
        } else if let Some(v) = rest.strip_prefix('=').filter(|v| !v.starts_with('=')) {
            (None, v)
        } else {
            self.err(col, name, "expected `$NAME = expression` (or +=, -=, …)");
            return;
        };
        if name.len() < 2 {
            self.err(col, name, "bad variable name");
            return;
        }
        match internal(name) {
            Some(false) => {
                self.err(col, name, format!("{name} is read-only"));
                return;
            }
            None if !self.declared.contains(name) => {
                self.err(
                    col,
                    name,
                    format!("variable {name} is not declared (VAR {name} = …)"),
                );
                return;
            }
            _ => {}
        }
        let vcol = ocol + (rest.len() - value.len());
        if let Some(e) = self.expr(value, vcol, name) {
            self.push(
                col,
                name,
                Stmt::Assign {
                    var: name.to_string(),
                    op,
                    expr: e,
                },
            );
        }
    }
}

fn walk_calls(e: &Expr, f: &mut dyn FnMut(&str, usize)) {
    match e {
        Expr::Call { name, col } => f(name, *col),
        Expr::Not(x) => walk_calls(x, f),
        Expr::Bin { a, b, .. } => {
            walk_calls(a, f);
            walk_calls(b, f);
        }
        Expr::Num(_) | Expr::Var { .. } => {}
    }
}

/// An open text block: (word, end marker, line, column, body lines with their numbers) — `REM_BLOCK`,
/// `STRING`, `STRINGLN`.
type TextBlock = (
    &'static str,
    &'static str,
    usize,
    usize,
    Vec<(usize, String)>,
);

/// Parses a payload into a [`Program`] (no execution). Linear in the text; `DEFINE` expansion beyond
/// [`Limits::max_expanded_bytes`] and blocks nested beyond [`Limits::max_nesting`] stop parsing with a
/// located error.
///
/// # Errors
/// Every [`ScriptError`] found, sorted by line and column.
pub fn parse_program(source: &str, limits: &Limits) -> Result<Program, Vec<ScriptError>> {
    let mut p = Parser {
        limits,
        errors: Vec::new(),
        defines: HashMap::new(),
        declared: HashSet::new(),
        functions: HashMap::new(),
        button: None,
        calls: Vec::new(),
        stack: vec![Frame {
            kind: Kind::Root,
            line: 0,
            col: 1,
            word: String::new(),
            nodes: Vec::new(),
            last: None,
        }],
        line: 0,
    };
    let mut expanded = 0usize;
    let mut block: Option<TextBlock> = None;
    for (i, raw) in source.lines().enumerate() {
        let raw = raw.trim_end_matches('\r');
        p.line = i + 1;
        if let Some((word, end, _, _, body)) = &mut block {
            if raw.trim() == *end {
                let (word, _, line, col, body) = block.take().expect("open");
                if word == "REM_BLOCK" {
                    continue;
                }
                let newline = word == "STRINGLN";
                let mut pieces = Vec::new();
                for (ln, text) in body {
                    p.line = ln;
                    let tcol = 1;
                    pieces.extend(p.pieces(&text, tcol, word));
                    if newline {
                        pieces.push(Piece::Text("\n".into()));
                    }
                }
                p.line = line;
                p.push(
                    col,
                    word,
                    Stmt::Type {
                        pieces,
                        newline: false,
                    },
                );
                continue;
            }
            if *word != "REM_BLOCK" {
                let s = substitute(raw.trim_start(), &p.defines);
                expanded += s.len();
                body.push((i + 1, s));
                if expanded > limits.max_expanded_bytes {
                    break;
                }
            }
            continue;
        }
        let trimmed = raw.trim_start();
        if trimmed.trim().is_empty() {
            continue;
        }
        let col = raw.len() - trimmed.len() + 1;
        let first = trimmed.split_whitespace().next().unwrap_or("");
        if first == "REM" {
            continue;
        }
        if first == "DEFINE" {
            let rest = trimmed["DEFINE".len()..].trim_start();
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let name_ok = {
                let n = name.strip_prefix('#').unwrap_or(name);
                is_ident(n)
            };
            if !name_ok {
                p.err(col + 7, "DEFINE", format!("bad constant name {name:?}"));
                continue;
            }
            let v = substitute(value, &p.defines);
            expanded += v.len();
            if expanded > limits.max_expanded_bytes {
                break;
            }
            p.defines.insert(name.to_string(), v);
            continue;
        }
        let line = substitute(raw, &p.defines);
        expanded += line.len();
        if expanded > limits.max_expanded_bytes {
            break;
        }
        let body = line.trim();
        match body {
            "REM_BLOCK" => block = Some(("REM_BLOCK", "END_REM", i + 1, col, Vec::new())),
            "STRING" => block = Some(("STRING", "END_STRING", i + 1, col, Vec::new())),
            "STRINGLN" => block = Some(("STRINGLN", "END_STRINGLN", i + 1, col, Vec::new())),
            _ => {
                let depth = p.stack.len();
                p.line(&line);
                if p.stack.len() > depth && p.stack.len() > limits.max_nesting + 1 {
                    break;
                }
                if p.stack.len() == depth
                    && p.errors
                        .last()
                        .is_some_and(|e| e.reason.starts_with("blocks nested"))
                {
                    break;
                }
            }
        }
    }
    if expanded > limits.max_expanded_bytes {
        p.err(
            1,
            "DEFINE",
            format!(
                "the payload expands to more than {} bytes after DEFINE substitution",
                limits.max_expanded_bytes
            ),
        );
    } else if let Some((word, end, line, col, _)) = block {
        p.line = line;
        p.err(col, word, format!("block not closed by {end}"));
    }
    while p.stack.len() > 1 {
        let f = p.stack.pop().expect("non-root");
        p.line = f.line;
        let end = f.kind.end();
        p.err(f.col, &f.word, format!("block not closed by {end}"));
    }
    for (name, line, col) in std::mem::take(&mut p.calls) {
        if !p.functions.contains_key(&name) {
            p.errors.push(ScriptError {
                line,
                column: col,
                command: format!("{name}()"),
                reason: format!("unknown function {name}"),
            });
        }
    }
    if !p.errors.is_empty() {
        p.errors.sort_by_key(|e| (e.line, e.column));
        return Err(p.errors);
    }
    let root = p.stack.pop().expect("root");
    Ok(Program {
        body: root.nodes,
        functions: p.functions,
        button: p.button,
    })
}
