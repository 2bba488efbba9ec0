//! Property tests for the generic readers: arbitrary input never panics, and every non-blank line is either
//! accepted or rejected — nothing is lost without a trace.

use keyprint_datasets::generic::{Syntax, parse_key_events, parse_mouse_events};
use proptest::prelude::*;

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        // Well-formed key rows with random times (some release before press, some duplicates).
        (
            0i64..5,
            0i64..5,
            prop_oneof![Just("KeyA"), Just("KeyB"), Just("Key A")]
        )
            .prop_map(|(p, r, k)| format!(
                r#"{{"user":"u","key":"{k}","press_us":{p},"release_us":{r}}}"#
            )),
        // Mouse-shaped rows in a key file.
        Just(r#"{"t_us":1,"x_px":2,"y_px":3,"button":"left","kind":"press"}"#.to_string()),
        // Arbitrary printable garbage.
        "[ -~]{0,40}",
    ]
}

proptest! {
    #[test]
    fn jsonl_accounting_is_complete(lines in proptest::collection::vec(line(), 0..40)) {
        let text = lines.join("\n");
        let out = parse_key_events(&text, "p.jsonl", Syntax::JsonLines).unwrap();
        let non_blank = lines.iter().filter(|l| !l.trim().is_empty()).count() as u64;
        prop_assert_eq!(out.report.accepted + out.report.rejected.len() as u64, non_blank);
        let events: usize = out.data.iter().map(|s| s.events.len()).sum();
        prop_assert_eq!(events as u64, out.report.accepted);
        for s in &out.data {
            prop_assert!(s.events.windows(2).all(|w| w[0].press_us <= w[1].press_us));
            prop_assert!(s.events.iter().all(|e| e.release_us >= e.press_us));
        }
        for r in &out.report.rejected {
            prop_assert!(r.line >= 1 && r.line as usize <= lines.len());
        }
    }

    #[test]
    fn csv_never_panics(body in "[ -~\n]{0,300}") {
        let text = format!("t_us,x_px,y_px,button,kind\n{body}");
        let out = parse_mouse_events(&text, "p.csv", Syntax::Csv).unwrap();
        let events: usize = out.data.iter().map(|s| s.events.len()).sum();
        prop_assert_eq!(events as u64, out.report.accepted);
        let _ = parse_key_events(&body, "q.csv", Syntax::Csv);
    }
}
