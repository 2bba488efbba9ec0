//! A DuckyScript 3 interpreter (Hak5 USB Rubber Ducky), with legacy DuckyScript 1: a payload's text becomes a
//! [`Script`], the list of device-level [`Step`]s one run of the payload performs, which
//! [`render`](crate::timing::render) turns into timed [`KeyEvent`](keyprint_core::KeyEvent)s.
//!
//! Pipeline: text → [`parse`](fn@parse_program) (lines → statements, `DEFINE` substitution, block structure,
//! every error with its line and column) → `run` (executes the statements on a simulated device and host,
//! bounded by [`Limits`]) → [`Script`]. [`parse`] and [`parse_with`] do both.
//!
//! The language (names case-sensitive, as on the device; sources: Hak5, docs.hak5.org "DuckyScript Quick
//! Reference", "Operators", "Variables", "Randomization", "Jitter", "Lock Keys", "Extensions", and the
//! DuckyScript 1.0 README):
//!
//! | construct | effect here |
//! |---|---|
//! | `REM text`, `REM_BLOCK` … `END_REM` | comment |
//! | `STRING text`, `STRINGLN text` | types `text` (US layout), `STRINGLN` then Enter; `$VAR` of a declared or internal variable types its value |
//! | `STRING` / `STRINGLN` alone … `END_STRING` / `END_STRINGLN` | block: each line with leading blanks removed; `STRINGLN` ends each with Enter |
//! | `DELAY n` | waits `n` ms (`n` a literal up to [`MAX_DELAY_MS`] or an expression) |
//! | `DEFAULT_DELAY n`, `DEFAULTDELAY n` | waits `n` ms after every later command |
//! | `STRING_DELAY n`, `STRINGDELAY n` | `n` ms between the keystrokes of the **next** `STRING`/`STRINGLN` |
//! | `DEFAULT_CHAR_DELAY n`, `DEFAULT_STRING_DELAY n`, `DEFAULTCHARDELAY n` | the same for every later one |
//! | `REPEAT n` (`REPLAY n`) | runs the previous command of the same block `n` more times |
//! | key names and combos (`GUI r`, `CTRL-ALT DELETE`, `F1`–`F24`, `MK_VOLUP`, `POWER`, `MENU`, …) | one HID report |
//! | `HOLD key`, `RELEASE key`, `INJECT_MOD` + modifier line, `RESET` | keys kept down / released |
//! | `VAR $X = expr`, `$X = expr`, `$X += expr` (`-= *= /= %= ^= &= \|= <<= >>=`) | 16-bit unsigned variables (0–65535, arithmetic wraps); must be declared by `VAR` before use |
//! | `DEFINE #NAME text`, `DEFINE NAME text` | textual constant: later whole-word occurrences are replaced |
//! | expressions | `TRUE`, `FALSE`, decimal literals, `$VARS`, `NAME()` calls, OS constants, `( )`, operators below |
//! | `IF (c) THEN` … `ELSE IF (c) THEN` … `ELSE` … `END_IF` | conditional (`THEN` optional) |
//! | `WHILE (c)` … `END_WHILE` | loop (bounded by [`Limits::max_steps`]) |
//! | `FUNCTION NAME()` … `END_FUNCTION`, `NAME()`, `RETURN [expr]` | functions (global, no arguments; a call is also an expression) |
//! | `EXTENSION NAME` … `END_EXTENSION` | an extension's statements and functions, run in place |
//! | `IF_DEFINED_TRUE #X` / `IF_NOT_DEFINED_TRUE #X` … `ELSE_DEFINED` … `END_IF_DEFINED` | conditional compilation |
//! | `$_JITTER_ENABLED`, `$_JITTER_MAX` | device jitter: a random `0..=MAX` ms wait after each keystroke |
//! | `RANDOM_LOWERCASE_LETTER`, `RANDOM_UPPERCASE_LETTER`, `RANDOM_LETTER`, `RANDOM_NUMBER`, `RANDOM_SPECIAL`, `RANDOM_CHARACTER` | one random keystroke (seeded) |
//! | `$_RANDOM_INT` in `[$_RANDOM_MIN, $_RANDOM_MAX]` (default 0–9), `$_RANDOM_SEED` | seeded random integers |
//! | `$_OS` and the constants `WINDOWS MACOS LINUX CHROMEOS ANDROID IOS` | the simulated target OS ([`TargetOs`]) |
//! | `$_HOST_CONFIGURATION_REQUEST_COUNT`, `$_RECEIVED_HOST_LOCK_LED_REPLY` | the simulated host's USB behaviour (for OS-detection extensions) |
//! | `$_CAPSLOCK_ON`, `$_NUMLOCK_ON`, `$_SCROLLLOCK_ON`, `SAVE_HOST_KEYBOARD_LOCK_STATE`, `RESTORE_HOST_KEYBOARD_LOCK_STATE` | host lock state: lock keys typed by the payload toggle it; restoring types the lock keys that differ |
//! | `WAIT_FOR_BUTTON_PRESS`, `WAIT_FOR_CAPS_ON/OFF/CHANGE` (and `NUM`, `SCROLL`), `WAIT_FOR_STORAGE_ACTIVITY/INACTIVITY` | the simulated user/host answers after [`Options::wait_ms`] on the payload's clock; nothing typed |
//! | `BUTTON_DEF` … `END_BUTTON`, `DISABLE_BUTTON`, `ENABLE_BUTTON` | button handler (the simulated user presses the button only when a `WAIT_FOR_BUTTON_PRESS` waits) |
//! | `ATTACKMODE …`, `SAVE_/RESTORE_ATTACKMODE`, `LED_R`, `LED_G`, `LED_OFF`, `HIDE_PAYLOAD`, `RESTORE_PAYLOAD`, `EXFIL $V` | device configuration: nothing typed |
//! | `STOP_PAYLOAD`, `RESTART_PAYLOAD` | ends the run / runs it again from the top (variables reset), at most [`Limits::max_restarts`] times |
//!
//! Operator precedence, loosest first (Hak5 documents the operators and asks for parentheses; we use C's
//! order for the rest, with `^` as Hak5's exponent, right-associative): `||`, `&&`, `|`, `&`, `== !=`,
//! `< <= > >=`, `<< >>`, `+ -`, `* / %`, `^`, unary `!`. Comparisons and logic give 1 (`TRUE`) or 0.
//! Division or modulus by zero is a located run-time error.
//!
//! Errors: [`ScriptError`] names the 1-based line and column and the command; parsing reports every error it
//! finds; a run-time error (division by zero, a limit exceeded) stops the run and is reported alone.
//! Resources: parsing is linear in the text (each `REPEAT` is resolved in O(1); `DEFINE` expansion is capped
//! by [`Limits::max_expanded_bytes`]); running is bounded by [`Limits`] (steps, simulated time, keystrokes,
//! nesting and call depth), and consecutive waits are merged into one [`Step::Delay`], so memory is linear in
//! the keystrokes produced.

mod expr;
mod parse;
mod run;

use std::fmt;
use std::str::FromStr;

pub use parse::{Program, parse_program};

/// Largest literal `DELAY`/`DEFAULT_DELAY`/`STRING_DELAY` accepted, ms (one hour).
pub const MAX_DELAY_MS: u64 = 3_600_000;
/// Largest `REPEAT` count accepted.
pub const MAX_REPEAT: u64 = 10_000;
/// Default largest number of keystrokes a run may produce ([`Limits::max_strokes`]).
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
    /// Wait, ms (consecutive waits are merged into one).
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

/// A payload run: its device steps in order.
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

/// A problem in a payload, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters, after `DEFINE` substitution) of the command or token at fault.
    pub column: usize,
    /// The command word (or the line) that failed.
    pub command: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: `{}`: {}",
            self.line, self.column, self.command, self.reason
        )
    }
}

impl std::error::Error for ScriptError {}

/// The operating system of the simulated target host (`--target-os`): the value of `$_OS` before any
/// extension changes it, and the USB behaviour an OS-detection extension observes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetOs {
    /// Microsoft Windows (the default).
    #[default]
    Windows,
    /// Apple macOS.
    MacOs,
    /// Linux.
    Linux,
    /// ChromeOS.
    ChromeOs,
    /// Android.
    Android,
    /// Apple iOS / iPadOS.
    Ios,
}

impl TargetOs {
    /// Every target, in constant order.
    pub const ALL: [TargetOs; 6] = [
        TargetOs::Windows,
        TargetOs::MacOs,
        TargetOs::Linux,
        TargetOs::ChromeOs,
        TargetOs::Android,
        TargetOs::Ios,
    ];

    /// The DuckyScript constant name (`WINDOWS`, `MACOS`, …).
    pub fn name(self) -> &'static str {
        match self {
            TargetOs::Windows => "WINDOWS",
            TargetOs::MacOs => "MACOS",
            TargetOs::Linux => "LINUX",
            TargetOs::ChromeOs => "CHROMEOS",
            TargetOs::Android => "ANDROID",
            TargetOs::Ios => "IOS",
        }
    }

    /// The constant's value in expressions (1–6, our numbering; 0 means unknown).
    pub fn value(self) -> u16 {
        TargetOs::ALL.iter().position(|&o| o == self).unwrap_or(0) as u16 + 1
    }

    /// The simulated host's `(configuration requests, lock-LED reply)` when the device enumerates: our model
    /// of the passive signals OS-detection extensions read (Windows asks for the configuration more than
    /// once and answers lock-LED reports; macOS and iOS do not answer them). An assumption, not a measurement.
    pub fn host_signals(self) -> (u16, bool) {
        match self {
            TargetOs::Windows => (3, true),
            TargetOs::MacOs => (1, false),
            TargetOs::Linux => (1, true),
            TargetOs::ChromeOs => (2, true),
            TargetOs::Android => (2, false),
            TargetOs::Ios => (1, false),
        }
    }
}

impl fmt::Display for TargetOs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name().to_ascii_lowercase())
    }
}

impl FromStr for TargetOs {
    type Err = String;
    /// `windows`, `macos`, `linux`, `chromeos`, `android` or `ios` (case-insensitive).
    fn from_str(s: &str) -> Result<Self, String> {
        TargetOs::ALL
            .into_iter()
            .find(|o| o.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("expected windows, macos, linux, chromeos, android or ios, found {s:?}")
            })
    }
}

/// Resource limits of one run; exceeding one is a located [`ScriptError`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Statements executed (each `REPEAT` round and loop iteration counts) plus expression nodes evaluated.
    pub max_steps: u64,
    /// Simulated payload time (waits, default and per-character delays, 2 ms per keystroke), ms.
    pub max_time_ms: u64,
    /// Keystrokes produced.
    pub max_strokes: usize,
    /// Block nesting depth (parse) and function call depth (run).
    pub max_nesting: usize,
    /// `RESTART_PAYLOAD` rounds before the simulation stops (the device would loop forever).
    pub max_restarts: usize,
    /// Bytes of source after `DEFINE` substitution.
    pub max_expanded_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: 2_000_000,
            max_time_ms: 24 * 3_600_000,
            max_strokes: MAX_STROKES,
            max_nesting: 64,
            max_restarts: 2,
            max_expanded_bytes: 16 << 20,
        }
    }
}

/// Settings of a simulated run.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Options {
    /// Seed of the payload's random draws (`RANDOM_*`, `$_RANDOM_INT`).
    pub seed: u64,
    /// The simulated target host.
    pub target_os: TargetOs,
    /// Simulated wait of every `WAIT_FOR_*` command, ms (0 = the default, 1000).
    pub wait_ms: u64,
    /// Resource limits.
    pub limits: Limits,
}

/// Parses and runs a payload with default [`Options`] (seed 0, Windows target).
///
/// # Errors
/// Every parse [`ScriptError`] (unknown commands, bad arguments or expressions, untypable characters,
/// unclosed or stray blocks, `REPEAT` with nothing to repeat, undeclared variables), in line order; or the one
/// run-time error that stopped the run (division by zero, a [`Limits`] exceeded).
pub fn parse(source: &str) -> Result<Script, Vec<ScriptError>> {
    parse_with(source, &Options::default())
}

/// [`parse`] with explicit [`Options`].
///
/// # Errors
/// As [`parse`].
pub fn parse_with(source: &str, options: &Options) -> Result<Script, Vec<ScriptError>> {
    let program = parse_program(source, &options.limits)?;
    run::run(&program, options).map_err(|e| vec![e])
}
