//! The kernel's `struct input_event` (`include/uapi/linux/input.h`) as read from `/dev/input/eventN` or from a
//! recording of one, and the per-device [`Assembler`] that turns its key and relative-motion events into the
//! core's complete keystrokes and mouse samples.
//!
//! Layout on 64-bit Linux (native endianness, 24 bytes): `struct timeval time` (`i64` seconds, `i64`
//! microseconds), `u16 type`, `u16 code`, `i32 value`. Types used: `EV_SYN` (0; `SYN_REPORT` ends a frame,
//! `SYN_DROPPED` says the kernel's buffer overflowed), `EV_KEY` (1; value 0 = up, 1 = down, 2 = autorepeat),
//! `EV_REL` (2; `REL_X`, `REL_Y`, `REL_WHEEL`). Everything else (`EV_MSC` scan codes, `EV_LED`, absolute axes)
//! is skipped and counted.

use crate::keys;
use keyprint_core::event::{KeyEvent, KeyId, MouseButton, MouseEvent, MouseEventKind};
use std::collections::VecDeque;

/// Size of one `struct input_event` on 64-bit Linux, bytes.
pub const EVENT_SIZE: usize = 24;
/// `EV_SYN`.
pub const EV_SYN: u16 = 0;
/// `EV_KEY`.
pub const EV_KEY: u16 = 1;
/// `EV_REL`.
pub const EV_REL: u16 = 2;
/// `SYN_REPORT`.
pub const SYN_REPORT: u16 = 0;
/// `SYN_DROPPED`.
pub const SYN_DROPPED: u16 = 3;
/// `REL_X`.
pub const REL_X: u16 = 0;
/// `REL_Y`.
pub const REL_Y: u16 = 1;
/// `REL_WHEEL`.
pub const REL_WHEEL: u16 = 8;
/// `BTN_LEFT`.
pub const BTN_LEFT: u16 = 0x110;
/// `BTN_RIGHT`.
pub const BTN_RIGHT: u16 = 0x111;
/// `BTN_MIDDLE`.
pub const BTN_MIDDLE: u16 = 0x112;

/// One `struct input_event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputEvent {
    /// Kernel timestamp, µs (seconds · 10⁶ + microseconds).
    pub time_us: i64,
    /// `type` (`EV_*`).
    pub kind: u16,
    /// `code` (`KEY_*`, `REL_*`, `SYN_*`).
    pub code: u16,
    /// `value`.
    pub value: i32,
}

/// A record that cannot be an `input_event`: where and which field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: byte offset {offset}: field `{field}`: {problem}")]
pub struct EventError {
    /// File or device the bytes came from.
    pub source_name: String,
    /// Byte offset of the record.
    pub offset: u64,
    /// Field of `struct input_event`.
    pub field: &'static str,
    /// What is wrong.
    pub problem: String,
}

impl InputEvent {
    /// Encodes the event as the kernel writes it (used by recordings and tests).
    pub fn to_bytes(&self) -> [u8; EVENT_SIZE] {
        let mut b = [0u8; EVENT_SIZE];
        b[0..8].copy_from_slice(&self.time_us.div_euclid(1_000_000).to_ne_bytes());
        b[8..16].copy_from_slice(&self.time_us.rem_euclid(1_000_000).to_ne_bytes());
        b[16..18].copy_from_slice(&self.kind.to_ne_bytes());
        b[18..20].copy_from_slice(&self.code.to_ne_bytes());
        b[20..24].copy_from_slice(&self.value.to_ne_bytes());
        b
    }

    /// Decodes one record; `source_name` and `offset` locate it in errors.
    ///
    /// # Errors
    /// [`EventError`] when the microseconds are outside `0..10⁶`, the seconds are negative or overflow, or
    /// an `EV_KEY` value is not 0, 1 or 2.
    pub fn parse(
        b: &[u8; EVENT_SIZE],
        source_name: &str,
        offset: u64,
    ) -> Result<InputEvent, EventError> {
        let err = |field, problem: String| EventError {
            source_name: source_name.to_string(),
            offset,
            field,
            problem,
        };
        let word = |r: std::ops::Range<usize>| -> [u8; 8] { b[r].try_into().expect("8 bytes") };
        let sec = i64::from_ne_bytes(word(0..8));
        let usec = i64::from_ne_bytes(word(8..16));
        if !(0..1_000_000).contains(&usec) {
            return Err(err("time.tv_usec", format!("{usec} is outside 0..1000000")));
        }
        let time_us = sec
            .checked_mul(1_000_000)
            .and_then(|s| s.checked_add(usec))
            .filter(|_| sec >= 0)
            .ok_or_else(|| err("time.tv_sec", format!("{sec} is negative or overflows µs")))?;
        let kind = u16::from_ne_bytes([b[16], b[17]]);
        let code = u16::from_ne_bytes([b[18], b[19]]);
        let value = i32::from_ne_bytes([b[20], b[21], b[22], b[23]]);
        if kind == EV_KEY && !(0..=2).contains(&value) {
            return Err(err(
                "value",
                format!("EV_KEY value {value} is not 0, 1 or 2"),
            ));
        }
        Ok(InputEvent {
            time_us,
            kind,
            code,
            value,
        })
    }
}

/// Decodes a byte stream of records, keeping a partial trailing record for the next call, and counting
/// rejects (each kept with its location, at most [`Decoder::KEPT_ERRORS`]).
pub struct Decoder {
    source_name: String,
    offset: u64,
    partial: Vec<u8>,
    /// Records rejected so far.
    pub rejected: u64,
    /// The first rejected records' locations.
    pub errors: Vec<EventError>,
}

impl Decoder {
    /// Located errors kept (the count goes on).
    pub const KEPT_ERRORS: usize = 16;

    /// A decoder for the file or device `source_name`.
    pub fn new(source_name: &str) -> Self {
        Decoder {
            source_name: source_name.to_string(),
            offset: 0,
            partial: Vec::with_capacity(EVENT_SIZE),
            rejected: 0,
            errors: Vec::new(),
        }
    }

    /// Decodes `bytes` (any length) into `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<InputEvent>) {
        while !bytes.is_empty() {
            let take = (EVENT_SIZE - self.partial.len()).min(bytes.len());
            self.partial.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.partial.len() == EVENT_SIZE {
                let rec: [u8; EVENT_SIZE] = self.partial[..].try_into().expect("24 bytes");
                match InputEvent::parse(&rec, &self.source_name, self.offset) {
                    Ok(e) => out.push(e),
                    Err(e) => {
                        self.rejected += 1;
                        if self.errors.len() < Self::KEPT_ERRORS {
                            self.errors.push(e);
                        }
                    }
                }
                self.offset += EVENT_SIZE as u64;
                self.partial.clear();
            }
        }
    }

    /// Bytes of an incomplete trailing record (a recording cut short leaves some).
    pub fn trailing_bytes(&self) -> usize {
        self.partial.len()
    }
}

/// What an [`Assembler`] produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Captured {
    /// A complete keystroke (emitted in press order).
    Key(KeyEvent),
    /// A mouse sample.
    Mouse(MouseEvent),
}

/// Counters of one device's assembly (no key identities).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AssemblyCounts {
    /// Autorepeat events folded into their keystroke.
    pub repeats: u64,
    /// Key codes outside the table (not passed on).
    pub unknown_keys: u64,
    /// Releases without a press (e.g. a key held when capture started).
    pub orphan_releases: u64,
    /// Keys held longer than the stuck limit, closed at that limit.
    pub stuck_keys: u64,
    /// `SYN_DROPPED` frames (the kernel's buffer overflowed; held keys were reset).
    pub dropped_frames: u64,
    /// Events of other types or codes, skipped.
    pub skipped: u64,
}

/// Keys held longer than this are closed (a stuck key or a lost release), µs.
pub const STUCK_KEY_US: i64 = 10_000_000;

/// Turns one device's `input_event`s into keystrokes (press order) and mouse samples.
///
/// Keystrokes are emitted once released; a keystroke pressed after one still held waits for it, so the
/// edge receives them in press order (rollover keeps its order). The pointer position is the sum of
/// relative motion, clamped to a `width_px × height_px` screen.
pub struct Assembler {
    held: VecDeque<(u16, i64, Option<i64>)>,
    x_px: f64,
    y_px: f64,
    width_px: f64,
    height_px: f64,
    moved: bool,
    buttons: u8,
    pending_buttons: Vec<(MouseButton, bool)>,
    wheel: i32,
    /// Counters.
    pub counts: AssemblyCounts,
}

impl Assembler {
    /// An assembler for a screen of `width_px × height_px` (the pointer starts at its centre).
    pub fn new(width_px: f64, height_px: f64) -> Self {
        Assembler {
            held: VecDeque::new(),
            x_px: width_px / 2.0,
            y_px: height_px / 2.0,
            width_px,
            height_px,
            moved: false,
            buttons: 0,
            pending_buttons: Vec::new(),
            wheel: 0,
            counts: AssemblyCounts::default(),
        }
    }

    /// One event; completed keystrokes and mouse samples are appended to `out`.
    pub fn push(&mut self, e: &InputEvent, out: &mut Vec<Captured>) {
        self.close_stuck(e.time_us, out);
        match (e.kind, e.code) {
            (EV_KEY, c) if keys::is_button(c) => {
                let b = match c {
                    BTN_LEFT => MouseButton::Left,
                    BTN_RIGHT => MouseButton::Right,
                    BTN_MIDDLE => MouseButton::Middle,
                    _ => {
                        self.counts.skipped += 1;
                        return;
                    }
                };
                if e.value != 2 {
                    self.pending_buttons.push((b, e.value == 1));
                }
            }
            (EV_KEY, c) => self.key(c, e.value, e.time_us, out),
            (EV_REL, REL_X) => {
                self.x_px = (self.x_px + f64::from(e.value)).clamp(0.0, self.width_px);
                self.moved = true;
            }
            (EV_REL, REL_Y) => {
                self.y_px = (self.y_px + f64::from(e.value)).clamp(0.0, self.height_px);
                self.moved = true;
            }
            (EV_REL, REL_WHEEL) => self.wheel += e.value,
            (EV_SYN, SYN_REPORT) => self.frame(e.time_us, out),
            (EV_SYN, SYN_DROPPED) => {
                self.counts.dropped_frames += 1;
                self.held.clear();
                self.pending_buttons.clear();
                self.moved = false;
                self.wheel = 0;
            }
            _ => self.counts.skipped += 1,
        }
    }

    fn key(&mut self, code: u16, value: i32, t_us: i64, out: &mut Vec<Captured>) {
        if keys::w3c_code(code).is_none() {
            self.counts.unknown_keys += 1;
            return;
        }
        match value {
            1 => {
                if self.held.iter().any(|h| h.0 == code && h.2.is_none()) {
                    self.counts.repeats += 1;
                } else {
                    self.held.push_back((code, t_us, None));
                }
            }
            2 => self.counts.repeats += 1,
            _ => match self.held.iter_mut().find(|h| h.0 == code && h.2.is_none()) {
                Some(h) => h.2 = Some(t_us.max(h.1)),
                None => self.counts.orphan_releases += 1,
            },
        }
        self.drain(out);
    }

    fn drain(&mut self, out: &mut Vec<Captured>) {
        while let Some(&(code, press, Some(release))) = self.held.front() {
            self.held.pop_front();
            let id = KeyId::code(keys::w3c_code(code).expect("checked on press"));
            out.extend(KeyEvent::new(id, press, release).map(Captured::Key));
        }
    }

    fn close_stuck(&mut self, now_us: i64, out: &mut Vec<Captured>) {
        let mut closed = false;
        for h in self.held.iter_mut() {
            if h.2.is_none() && now_us - h.1 > STUCK_KEY_US {
                h.2 = Some(h.1 + STUCK_KEY_US);
                self.counts.stuck_keys += 1;
                closed = true;
            }
        }
        if closed {
            self.drain(out);
        }
    }

    fn frame(&mut self, t_us: i64, out: &mut Vec<Captured>) {
        let sample = |button, kind, x_px, y_px| {
            Captured::Mouse(MouseEvent {
                t_us,
                x_px,
                y_px,
                button,
                kind,
            })
        };
        if self.moved {
            let (button, kind) = if self.buttons & 1 != 0 {
                (MouseButton::Left, MouseEventKind::Drag)
            } else {
                (MouseButton::None, MouseEventKind::Move)
            };
            out.push(sample(button, kind, self.x_px, self.y_px));
            self.moved = false;
        }
        for (b, down) in std::mem::take(&mut self.pending_buttons) {
            let bit = match b {
                MouseButton::Left => 1,
                MouseButton::Right => 2,
                _ => 4,
            };
            if down {
                self.buttons |= bit;
            } else {
                self.buttons &= !bit;
            }
            let kind = if down {
                MouseEventKind::Press
            } else {
                MouseEventKind::Release
            };
            out.push(sample(b, kind, self.x_px, self.y_px));
        }
        if self.wheel != 0 {
            let kind = if self.wheel > 0 {
                MouseEventKind::ScrollUp
            } else {
                MouseEventKind::ScrollDown
            };
            out.push(sample(MouseButton::Wheel, kind, self.x_px, self.y_px));
            self.wheel = 0;
        }
    }

    /// Keys currently held (pressed, not yet passed on).
    pub fn keys_held(&self) -> usize {
        self.held.len()
    }
}

/// Writes keystrokes and mouse motion as a kernel `input_event` recording (each key a down and an up
/// event, each followed by `SYN_REPORT`), merged in time order. Used by tests and the replay examples.
pub fn record(keys: &[KeyEvent], rel_moves: &[(i64, i32, i32)]) -> Vec<u8> {
    let mut evs: Vec<InputEvent> = Vec::new();
    let ev = |time_us, kind, code, value| InputEvent {
        time_us,
        kind,
        code,
        value,
    };
    for k in keys {
        let Some(code) = k.key.as_code().and_then(keys::linux_key) else {
            continue;
        };
        evs.push(ev(k.press_us, EV_KEY, code, 1));
        evs.push(ev(k.press_us, EV_SYN, SYN_REPORT, 0));
        evs.push(ev(k.release_us, EV_KEY, code, 0));
        evs.push(ev(k.release_us, EV_SYN, SYN_REPORT, 0));
    }
    for &(t, dx, dy) in rel_moves {
        evs.push(ev(t, EV_REL, REL_X, dx));
        evs.push(ev(t, EV_REL, REL_Y, dy));
        evs.push(ev(t, EV_SYN, SYN_REPORT, 0));
    }
    // Stable sort keeps each key's event and its SYN_REPORT together.
    evs.sort_by_key(|e| e.time_us);
    evs.iter().flat_map(|e| e.to_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: &str, p: i64, r: i64) -> KeyEvent {
        KeyEvent::new(KeyId::code(code), p, r).unwrap()
    }

    #[test]
    fn round_trip_and_rollover_in_press_order() {
        let keys = vec![k("KeyA", 1_000, 90_000), k("KeyB", 50_000, 80_000)];
        let bytes = record(&keys, &[(60_000, 3, -2)]);
        let mut d = Decoder::new("rec");
        let mut evs = Vec::new();
        d.push(&bytes[..30], &mut evs);
        d.push(&bytes[30..], &mut evs);
        assert_eq!((d.rejected, d.trailing_bytes()), (0, 0));
        let mut a = Assembler::new(1000.0, 800.0);
        let mut out = Vec::new();
        for e in &evs {
            a.push(e, &mut out);
        }
        let got: Vec<_> = out
            .iter()
            .filter_map(|c| match c {
                Captured::Key(k) => Some(k.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(got, keys);
        assert!(
            out.iter()
                .any(|c| matches!(c, Captured::Mouse(m) if m.x_px == 503.0 && m.y_px == 398.0))
        );
    }

    #[test]
    fn bad_records_are_located_and_counted() {
        let mut good = InputEvent {
            time_us: 5,
            kind: EV_KEY,
            code: 30,
            value: 1,
        }
        .to_bytes();
        let mut bytes = good.to_vec();
        good[20..24].copy_from_slice(&7i32.to_ne_bytes());
        bytes.extend_from_slice(&good);
        bytes[8 + 24..16 + 24].copy_from_slice(&2_000_000i64.to_ne_bytes());
        let mut d = Decoder::new("event3");
        let mut out = Vec::new();
        d.push(&bytes, &mut out);
        assert_eq!((out.len(), d.rejected), (1, 1));
        assert_eq!(d.errors[0].offset, 24);
        assert_eq!(d.errors[0].field, "time.tv_usec");
        assert!(
            d.errors[0]
                .to_string()
                .starts_with("event3: byte offset 24")
        );
    }

    #[test]
    fn repeats_fold_and_stuck_keys_close() {
        let mut a = Assembler::new(100.0, 100.0);
        let mut out = Vec::new();
        let ev = |t, v| InputEvent {
            time_us: t,
            kind: EV_KEY,
            code: 30,
            value: v,
        };
        for e in [ev(0, 1), ev(500_000, 2), ev(530_000, 2), ev(600_000, 0)] {
            a.push(&e, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(a.counts.repeats, 2);
        a.push(&ev(1_000_000, 1), &mut out);
        a.push(&ev(20_000_000, 0), &mut out);
        assert_eq!((a.counts.stuck_keys, a.counts.orphan_releases), (1, 1));
        assert_eq!(out.len(), 2);
    }
}
