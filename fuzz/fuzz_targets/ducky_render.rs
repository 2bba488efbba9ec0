//! Any text: a run within small limits never panics, and what it renders is well-formed (sorted presses,
//! releases not before presses) under every timing model.
#![no_main]
use keyprint_injection::ducky::{Limits, Options, TargetOs, parse_with};
use keyprint_injection::timing::{Timing, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let opt = Options {
        seed: u64::from(sel),
        target_os: TargetOs::ALL[usize::from(sel) % TargetOs::ALL.len()],
        wait_ms: 0,
        limits: Limits {
            max_steps: 20_000,
            max_time_ms: 3_600_000,
            max_strokes: 5_000,
            max_nesting: 32,
            max_restarts: 2,
            max_expanded_bytes: 1 << 20,
        },
    };
    if let Ok(script) = parse_with(text, &opt) {
        assert!(script.keystrokes() <= opt.limits.max_strokes);
        for t in [Timing::Stock, Timing::Jitter { max_ms: 50 }, Timing::Human] {
            let ev = render(&script, t, u64::from(sel));
            assert!(ev.windows(2).all(|w| w[0].press_us <= w[1].press_us));
            assert!(ev.iter().all(|e| e.release_us >= e.press_us));
        }
    }
});
