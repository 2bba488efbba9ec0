//! Any text: parsing never panics, every error is located (line ≥ 1 within the text, column ≥ 1).
#![no_main]
use keyprint_injection::ducky::{Limits, parse_program};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limits = Limits {
        max_expanded_bytes: 1 << 20,
        ..Limits::default()
    };
    if let Err(errs) = parse_program(text, &limits) {
        let lines = text.lines().count().max(1);
        for e in errs {
            assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{e:?}");
        }
    }
});
