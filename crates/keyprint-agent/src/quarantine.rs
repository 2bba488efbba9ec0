//! The quarantine gate: a newly attached keyboard is grabbed (`EVIOCGRAB`, so no other reader sees its
//! keys; [`crate::uinput`]) and its keystrokes are held here; they are passed on (through a uinput device,
//! [`KeySink`]) only once the device has typed [`Gate::new`]'s `release_after` human-like keystrokes without
//! an injection verdict. Then the sink releases the grab ([`KeySink::release`]) and the device types
//! straight to the system again (no added latency, key repeat and held modifiers work); keystrokes the grab
//! swallowed but the gate had not yet seen (pressed before the release time) are still re-emitted. A verdict
//! while holding discards everything held: the payload never reaches the system, and the device stays
//! grabbed (so even a device the `block` policy cannot de-authorize — Bluetooth, uinput — types nothing).
//!
//! Held keystrokes stay in memory only (never spooled or logged) and are bounded ([`MAX_HELD`]); a device
//! that fills the bound without earning release loses its oldest held keys (counted).

use keyprint_core::event::KeyEvent;

/// Most keystrokes held at once.
pub const MAX_HELD: usize = 256;

/// Where released keystrokes go: a uinput device on a real system ([`crate::uinput::UinputSink`]), a
/// recorder in tests.
pub trait KeySink {
    /// Re-emits one keystroke (its press now; its release may wait for the next press or [`flush`], so
    /// overlapping keystrokes — a held Shift — keep their order). Keystrokes come in press order.
    ///
    /// [`flush`]: KeySink::flush
    fn pass(&mut self, k: &KeyEvent);
    /// Emits every release still waiting (called when no input is pending, and at every flush tick).
    fn flush(&mut self) {}
    /// Source `id`'s gate opened: stop holding the device (release its grab). Returns when that happened, µs
    /// on the kernel's event clock (keystrokes pressed before it were swallowed by the grab and must still
    /// be passed), or `None` when the device was not grabbed.
    fn release(&mut self, _id: &str) -> Option<i64> {
        None
    }
}

/// The gate's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateState {
    /// Keys are held.
    Holding,
    /// The device typed like a human: keys pass straight through.
    Released,
    /// A verdict came: keys are discarded (and the device blocked by the policy).
    Blocked,
}

/// One quarantined device's gate.
pub struct Gate {
    state: GateState,
    release_after: usize,
    human_hold_us: i64,
    human: usize,
    held: std::collections::VecDeque<KeyEvent>,
    /// Keystrokes discarded (at a verdict, or over the bound).
    pub discarded: u64,
    /// Keystrokes passed on.
    pub passed: u64,
    /// When the grab was released (µs, event clock); keystrokes pressed later reach the system directly.
    released_at_us: Option<i64>,
}

impl Gate {
    /// A holding gate: released after `release_after` keystrokes held at least `human_hold_us` each
    /// (`keyprint_injection::InjectionConfig::human_hold_us`, 25 ms: shorter holds are machine-like).
    pub fn new(release_after: usize, human_hold_us: i64) -> Gate {
        Gate {
            state: GateState::Holding,
            release_after,
            human_hold_us,
            human: 0,
            held: std::collections::VecDeque::new(),
            discarded: 0,
            passed: 0,
            released_at_us: None,
        }
    }

    /// The state.
    pub fn state(&self) -> GateState {
        self.state
    }

    /// Keystrokes held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// One keystroke of source `id`, after the edge (and so the injection detector) has seen it. At release
    /// the held keystrokes are passed in order, then the sink releases the grab; afterwards only keystrokes
    /// pressed before that moment are passed (the others reached the system directly).
    pub fn key(&mut self, id: &str, k: &KeyEvent, sink: &mut dyn KeySink) {
        match self.state {
            GateState::Blocked => self.discarded += 1,
            GateState::Released => {
                if self.released_at_us.is_some_and(|t| k.press_us < t) {
                    sink.pass(k);
                    self.passed += 1;
                }
            }
            GateState::Holding => {
                if k.hold_us() >= self.human_hold_us {
                    self.human += 1;
                }
                if self.held.len() == MAX_HELD {
                    self.held.pop_front();
                    self.discarded += 1;
                }
                self.held.push_back(k.clone());
                if self.human >= self.release_after {
                    self.state = GateState::Released;
                    for k in self.held.drain(..) {
                        sink.pass(&k);
                        self.passed += 1;
                    }
                    self.released_at_us = sink.release(id);
                }
            }
        }
    }

    /// An injection verdict on this device: held keys are discarded and the gate stays shut. Returns the
    /// keystrokes discarded now.
    pub fn verdict(&mut self) -> usize {
        let n = self.held.len();
        if self.state == GateState::Holding {
            self.discarded += n as u64;
            self.held.clear();
            self.state = GateState::Blocked;
            n
        } else {
            0
        }
    }
}

/// A sink that only counts (used where no uinput device exists: keys are then never grabbed).
#[derive(Default)]
pub struct CountingSink(pub u64);

impl KeySink for CountingSink {
    fn pass(&mut self, _k: &KeyEvent) {
        self.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_core::event::KeyId;

    struct Rec(Vec<KeyEvent>);
    impl KeySink for Rec {
        fn pass(&mut self, k: &KeyEvent) {
            self.0.push(k.clone());
        }
        fn release(&mut self, _id: &str) -> Option<i64> {
            Some(900_000)
        }
    }

    fn key(t: i64, hold: i64) -> KeyEvent {
        KeyEvent::new(KeyId::code("KeyA"), t, t + hold).unwrap()
    }

    #[test]
    fn human_typing_is_released_in_order() {
        let mut g = Gate::new(3, 25_000);
        let mut sink = Rec(Vec::new());
        for i in 0..3 {
            g.key("k", &key(i * 200_000, 90_000), &mut sink);
            assert_eq!(sink.0.len(), if i < 2 { 0 } else { 3 });
        }
        // Released at 900 ms: a key pressed before was swallowed by the grab (passed), one after was not.
        g.key("k", &key(800_000, 80_000), &mut sink);
        g.key("k", &key(1_000_000, 80_000), &mut sink);
        assert_eq!(
            (g.state(), sink.0.len(), g.verdict()),
            (GateState::Released, 4, 0)
        );
        assert!(sink.0.windows(2).all(|w| w[0].press_us < w[1].press_us));
    }

    #[test]
    fn machine_typing_is_held_then_discarded() {
        let mut g = Gate::new(3, 25_000);
        let mut sink = Rec(Vec::new());
        for i in 0..5 {
            g.key("k", &key(i * 10_000, 5_000), &mut sink);
        }
        assert_eq!((g.state(), g.held()), (GateState::Holding, 5));
        assert_eq!(g.verdict(), 5);
        g.key("k", &key(100_000, 90_000), &mut sink);
        assert_eq!(
            (g.state(), sink.0.len(), g.discarded),
            (GateState::Blocked, 0, 6)
        );
    }
}
