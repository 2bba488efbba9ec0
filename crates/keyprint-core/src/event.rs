//! The one event model: key events and mouse events, as every reader, the server and the agent produce them.
//!
//! Time is integer microseconds (µs) on a monotonic clock whose origin is arbitrary (only differences
//! matter). Key identities are W3C `KeyboardEvent.code` names (<https://www.w3.org/TR/uievents-code/>),
//! or a keyed hash of that name when the data is pseudonymised (see [`KeyId::Hashed`]).

use std::fmt;

/// Identity of a physical key.
///
/// `Code` holds a W3C `KeyboardEvent.code` value such as `"KeyA"`, `"ShiftLeft"`, `"Enter"`, `"Period"`.
/// `Hashed` holds a keyed hash (for instance the first 8 bytes of HMAC-SHA256 under a per-tenant secret) of
/// that name: detectors only compare identities for equality, so they work unchanged on hashed keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyId {
    /// A plain W3C `KeyboardEvent.code` name.
    Code(String),
    /// A pseudonymous key identity (keyed hash of the code name).
    Hashed(u64),
}

impl KeyId {
    /// A plain key identity from its W3C `KeyboardEvent.code` name.
    pub fn code(name: impl Into<String>) -> Self {
        KeyId::Code(name.into())
    }

    /// The W3C code name, or `None` for a hashed identity.
    pub fn as_code(&self) -> Option<&str> {
        match self {
            KeyId::Code(c) => Some(c),
            KeyId::Hashed(_) => None,
        }
    }

    /// True for the modifier keys (Shift, Control, Alt, Meta, CapsLock, Fn) of the W3C code set.
    /// A hashed identity is never known to be a modifier.
    pub fn is_modifier(&self) -> bool {
        matches!(
            self.as_code(),
            Some(
                "ShiftLeft"
                    | "ShiftRight"
                    | "ControlLeft"
                    | "ControlRight"
                    | "AltLeft"
                    | "AltRight"
                    | "MetaLeft"
                    | "MetaRight"
                    | "CapsLock"
                    | "Fn"
            )
        )
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyId::Code(c) => f.write_str(c),
            KeyId::Hashed(h) => write!(f, "#{h:016x}"),
        }
    }
}

/// W3C `KeyboardEvent.code` names of the letter keys, `KeyA`..`KeyZ`, in alphabetical order.
pub const LETTER_CODES: [&str; 26] = [
    "KeyA", "KeyB", "KeyC", "KeyD", "KeyE", "KeyF", "KeyG", "KeyH", "KeyI", "KeyJ", "KeyK", "KeyL",
    "KeyM", "KeyN", "KeyO", "KeyP", "KeyQ", "KeyR", "KeyS", "KeyT", "KeyU", "KeyV", "KeyW", "KeyX",
    "KeyY", "KeyZ",
];

/// W3C `KeyboardEvent.code` names of the digit-row keys, `Digit0`..`Digit9`.
pub const DIGIT_CODES: [&str; 10] = [
    "Digit0", "Digit1", "Digit2", "Digit3", "Digit4", "Digit5", "Digit6", "Digit7", "Digit8",
    "Digit9",
];

/// One keystroke: a key pressed at `press_us` and released at `release_us` (µs, monotonic clock).
///
/// Invariant expected by the feature layer: `release_us >= press_us`. Readers enforce it and report rows
/// that break it; [`KeyEvent::new`] returns `None` for such a pair.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyEvent {
    /// Which key.
    pub key: KeyId,
    /// Key-down time, µs.
    pub press_us: i64,
    /// Key-up time, µs.
    pub release_us: i64,
}

impl KeyEvent {
    /// A keystroke, or `None` when `release_us < press_us`.
    pub fn new(key: KeyId, press_us: i64, release_us: i64) -> Option<Self> {
        (release_us >= press_us).then_some(KeyEvent {
            key,
            press_us,
            release_us,
        })
    }

    /// Hold (dwell) time, µs.
    pub fn hold_us(&self) -> i64 {
        self.release_us - self.press_us
    }
}

/// Who produced a stream of events, where known. Every field is optional: a CMU row has a subject and a
/// session index but no device; a live capture has all of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Tenant (company) id.
    pub tenant: Option<String>,
    /// User (account) id.
    pub user: Option<String>,
    /// Session id.
    pub session: Option<String>,
    /// Device id.
    pub device: Option<String>,
}

/// Mouse button of a [`MouseEvent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MouseButton {
    /// No button (plain movement).
    None,
    /// Primary button.
    Left,
    /// Secondary button.
    Right,
    /// Middle button / wheel click.
    Middle,
    /// The scroll wheel (for `Scroll` events).
    Wheel,
}

/// What a [`MouseEvent`] records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MouseEventKind {
    /// Pointer moved with no button held.
    Move,
    /// Button pressed.
    Press,
    /// Button released.
    Release,
    /// Pointer moved while a button is held.
    Drag,
    /// Wheel scrolled up (away from the user).
    ScrollUp,
    /// Wheel scrolled down.
    ScrollDown,
}

/// One mouse sample: time `t_us` (µs, monotonic), pointer position `x_px`, `y_px` (screen pixels, origin
/// top-left, may be fractional in browsers), button and kind.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MouseEvent {
    /// Time, µs.
    pub t_us: i64,
    /// Horizontal position, px.
    pub x_px: f64,
    /// Vertical position, px.
    pub y_px: f64,
    /// Button involved.
    pub button: MouseButton,
    /// Kind of sample.
    pub kind: MouseEventKind,
}

/// A stream of events from one origin, ordered by time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stream<E> {
    /// Who produced it.
    pub origin: Origin,
    /// The events, sorted by time (key events by `press_us`, mouse events by `t_us`).
    pub events: Vec<E>,
}
