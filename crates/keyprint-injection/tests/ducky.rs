//! The DuckyScript interpreter on every supported command and on malformed scripts.
use keyprint_core::event::KeyEvent;
use keyprint_injection::ducky::{MAX_STROKES, Step, parse};
use keyprint_injection::timing::{FRAME_US, HumanTiming, Timing, render};

fn codes(ev: &[KeyEvent]) -> Vec<String> {
    ev.iter().map(|e| e.key.to_string()).collect()
}

fn strokes(src: &str) -> Vec<Vec<&'static str>> {
    parse(src)
        .unwrap()
        .steps
        .into_iter()
        .filter_map(|s| match s {
            Step::Stroke { keys, .. } => Some(keys),
            _ => None,
        })
        .collect()
}

#[test]
fn string_types_us_layout_with_shift_events() {
    let ev = render(&parse("STRING aB!").unwrap(), Timing::Stock, 0);
    assert_eq!(
        codes(&ev),
        ["KeyA", "ShiftLeft", "KeyB", "ShiftLeft", "Digit1"]
    );
    // Stock: one-frame holds, a keystroke every two frames, Shift in the same report as its key.
    assert_eq!((ev[0].press_us, ev[0].release_us), (0, FRAME_US));
    assert_eq!(ev[1].press_us, 2 * FRAME_US);
    assert_eq!(
        (ev[1].press_us, ev[1].release_us),
        (ev[2].press_us, ev[2].release_us)
    );
}

#[test]
fn stringln_adds_enter_and_blocks_work() {
    assert_eq!(strokes("STRINGLN a"), vec![vec!["KeyA"], vec!["Enter"]]);
    let s = strokes("STRINGLN\n  a\n b\nEND_STRINGLN\nSTRING\n  c\n  d\nEND_STRING");
    assert_eq!(
        s,
        vec![
            vec!["KeyA"],
            vec!["Enter"],
            vec!["KeyB"],
            vec!["Enter"],
            vec!["KeyC"],
            vec!["KeyD"]
        ]
    );
    // A STRING argument keeps inner and trailing blanks.
    assert_eq!(strokes("STRING a  b").len(), 4);
}

#[test]
fn rem_and_rem_block_type_nothing() {
    assert!(strokes("REM hello\nREM_BLOCK\nSTRING not typed\nEND_REM").is_empty());
}

#[test]
fn delays_shift_time() {
    let ev = render(
        &parse("STRING a\nDELAY 500\nSTRING b").unwrap(),
        Timing::Stock,
        0,
    );
    assert_eq!(ev[1].press_us - ev[0].press_us, 2 * FRAME_US + 500_000);
    for dd in ["DEFAULT_DELAY 100", "DEFAULTDELAY 100"] {
        let ev = render(
            &parse(&format!("{dd}\nSTRING a\nSTRING b")).unwrap(),
            Timing::Stock,
            0,
        );
        assert_eq!(
            ev[1].press_us - ev[0].press_us,
            2 * FRAME_US + 100_000,
            "{dd}"
        );
    }
}

#[test]
fn string_delay_applies_to_next_string_only_default_to_all() {
    for sd in ["STRING_DELAY 30", "STRINGDELAY 30"] {
        let ev = render(
            &parse(&format!("{sd}\nSTRING ab\nSTRING cd")).unwrap(),
            Timing::Stock,
            0,
        );
        assert_eq!(
            ev[1].press_us - ev[0].press_us,
            2 * FRAME_US + 30_000,
            "{sd}"
        );
        assert_eq!(ev[3].press_us - ev[2].press_us, 2 * FRAME_US, "{sd}");
    }
    for sd in ["DEFAULT_STRING_DELAY 30", "DEFAULTCHARDELAY 30"] {
        let ev = render(
            &parse(&format!("{sd}\nSTRING ab\nSTRING cd")).unwrap(),
            Timing::Stock,
            0,
        );
        assert_eq!(
            ev[3].press_us - ev[2].press_us,
            2 * FRAME_US + 30_000,
            "{sd}"
        );
    }
}

#[test]
fn repeat_runs_previous_command() {
    assert_eq!(strokes("TAB\nREPEAT 3").len(), 4);
    assert_eq!(strokes("STRING ab\nREM x\nREPLAY 2").len(), 6);
    let ev = render(
        &parse("DEFAULT_DELAY 10\nENTER\nREPEAT 2").unwrap(),
        Timing::Stock,
        0,
    );
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[2].press_us - ev[1].press_us, 2 * FRAME_US + 10_000);
}

#[test]
fn key_names_and_combos() {
    assert_eq!(strokes("GUI r"), vec![vec!["MetaLeft", "KeyR"]]);
    assert_eq!(strokes("GUI R"), vec![vec!["MetaLeft", "KeyR"]]);
    assert_eq!(
        strokes("CTRL ALT DELETE"),
        vec![vec!["ControlLeft", "AltLeft", "Delete"]]
    );
    assert_eq!(
        strokes("CTRL-SHIFT ESC"),
        vec![vec!["ControlLeft", "ShiftLeft", "Escape"]]
    );
    assert_eq!(strokes("ALT F4"), vec![vec!["AltLeft", "F4"]]);
    assert_eq!(strokes("GUI"), vec![vec!["MetaLeft"]]);
    assert_eq!(strokes("COMMAND SPACE"), vec![vec!["MetaLeft", "Space"]]);
    let names = [
        ("ENTER", "Enter"),
        ("ESC", "Escape"),
        ("ESCAPE", "Escape"),
        ("TAB", "Tab"),
        ("SPACE", "Space"),
        ("BACKSPACE", "Backspace"),
        ("DELETE", "Delete"),
        ("INSERT", "Insert"),
        ("HOME", "Home"),
        ("END", "End"),
        ("PAGEUP", "PageUp"),
        ("PAGEDOWN", "PageDown"),
        ("UP", "ArrowUp"),
        ("DOWNARROW", "ArrowDown"),
        ("LEFT", "ArrowLeft"),
        ("RIGHTARROW", "ArrowRight"),
        ("CAPSLOCK", "CapsLock"),
        ("NUMLOCK", "NumLock"),
        ("SCROLLLOCK", "ScrollLock"),
        ("PRINTSCREEN", "PrintScreen"),
        ("PAUSE", "Pause"),
        ("MENU", "ContextMenu"),
        ("APP", "ContextMenu"),
        ("F1", "F1"),
        ("F12", "F12"),
    ];
    for (n, c) in names {
        assert_eq!(strokes(n), vec![vec![c]], "{n}");
    }
    // A combo is one report: every key down and up together under the stock model.
    let ev = render(&parse("CTRL ALT DELETE").unwrap(), Timing::Stock, 0);
    assert!(
        ev.iter()
            .all(|e| e.press_us == 0 && e.release_us == FRAME_US)
    );
}

#[test]
fn hold_and_release() {
    let ev = render(
        &parse("HOLD SHIFT\nDOWN\nDOWN\nRELEASE SHIFT\nHOLD a").unwrap(),
        Timing::Stock,
        0,
    );
    let shift = ev
        .iter()
        .find(|e| e.key.to_string() == "ShiftLeft")
        .unwrap();
    let downs: Vec<&KeyEvent> = ev
        .iter()
        .filter(|e| e.key.to_string() == "ArrowDown")
        .collect();
    assert_eq!(downs.len(), 2);
    assert!(shift.press_us < downs[0].press_us && shift.release_us > downs[1].release_us);
    // A key still held at the end is released.
    assert!(ev.iter().any(|e| e.key.to_string() == "KeyA"));
}

#[test]
fn jitter_from_payload_and_model() {
    let gaps = |ev: &[KeyEvent]| -> Vec<i64> {
        ev.windows(2)
            .map(|w| w[1].press_us - w[0].press_us)
            .collect()
    };
    let s = parse("$_JITTER_ENABLED = TRUE\n$_JITTER_MAX = 30\nSTRING abcdefghijklmnop").unwrap();
    let g = gaps(&render(&s, Timing::Stock, 3));
    assert!(
        g.iter()
            .all(|&x| (2 * FRAME_US..=2 * FRAME_US + 30_000).contains(&x))
    );
    assert!(g.iter().any(|&x| x != g[0]), "jitter varies the gaps");
    // VAR form and switching off.
    let s = parse("VAR $_JITTER_ENABLED = TRUE\n$_JITTER_ENABLED = FALSE\nSTRING abcd").unwrap();
    assert!(
        gaps(&render(&s, Timing::Stock, 3))
            .iter()
            .all(|&x| x == 2 * FRAME_US)
    );
    // The jitter model forces it, holds stay one frame, and a seed reproduces the stream.
    let s = parse("STRING abcdefghijklmnop").unwrap();
    let a = render(&s, Timing::Jitter { max_ms: 20 }, 9);
    assert_eq!(a, render(&s, Timing::Jitter { max_ms: 20 }, 9));
    assert!(a.iter().all(|e| e.hold_us() == FRAME_US));
    assert!(gaps(&a).iter().all(|&x| x <= 2 * FRAME_US + 20_000));
}

#[test]
fn human_model_samples_within_the_cmu_table() {
    let t = HumanTiming::cmu();
    let s = parse("STRING The quick brown fox jumps over the lazy dog").unwrap();
    let ev = render(&s, Timing::Human, 1);
    let (hmin, hmax) = (
        t.hold_ms[0] * 1000.0,
        t.hold_ms[t.hold_ms.len() - 1] * 1000.0,
    );
    for e in ev.iter().filter(|e| !e.key.is_modifier()) {
        assert!(
            (hmin - 1.0..=hmax + 1.0).contains(&(e.hold_us() as f64)),
            "{e:?}"
        );
    }
    // Shift goes down before its key and up after it.
    let shift = &ev[0];
    assert_eq!(shift.key.to_string(), "ShiftLeft");
    assert!(shift.press_us < ev[1].press_us && shift.release_us > ev[1].release_us);
    assert_ne!(ev, render(&s, Timing::Human, 2), "seeds differ");
}

#[test]
fn timing_parses() {
    assert_eq!("stock".parse::<Timing>(), Ok(Timing::Stock));
    assert_eq!(
        "jitter:20".parse::<Timing>(),
        Ok(Timing::Jitter { max_ms: 20 })
    );
    assert_eq!("human".parse::<Timing>(), Ok(Timing::Human));
    assert!("jitter:".parse::<Timing>().is_err());
    assert!("fast".parse::<Timing>().is_err());
}

#[test]
fn malformed_scripts_report_every_error_with_its_line_and_column() {
    let src = "STRING ok\nFOO bar\nDELAY soon\nSTRING café\nREPEAT -1\nGUI r x\nIF $x == 1\nHOLD\n$_JITTER_MAX = lots\n$foo = 1\nDEFAULT_DELAY\nEND_STRING\nSTRING\nunclosed";
    let errs = parse(src).unwrap_err();
    let at: Vec<(usize, usize)> = errs.iter().map(|e| (e.line, e.column)).collect();
    assert_eq!(
        at,
        vec![
            (2, 1),
            (3, 7),
            (4, 11),
            (5, 8),
            (6, 1),
            (7, 1),
            (7, 4),
            (8, 6),
            (9, 16),
            (10, 1),
            (11, 15),
            (12, 1),
            (13, 1)
        ],
        "{errs:#?}"
    );
    assert_eq!(errs[0].command, "FOO");
    assert!(errs[0].reason.contains("unknown command"));
    assert!(errs[2].reason.contains("US keyboard"));
    assert!(errs[5].reason.contains("not closed by END_IF"));
    assert!(errs[6].reason.contains("$x is not declared"));
    assert!(errs[12].reason.contains("not closed"));
    assert!(errs[0].to_string().starts_with("line 2, column 1: `FOO`"));
}

#[test]
fn repeat_needs_a_command_and_limits_hold() {
    let e = parse("REM nothing yet\nREPEAT 3").unwrap_err();
    assert_eq!(e[0].line, 2);
    assert!(parse("REPEAT 100000").is_err());
    assert!(parse("DELAY 99999999999").is_err());
    let huge = "STRING aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nREPEAT 10000";
    let e = parse(huge).unwrap_err();
    assert!(e[0].reason.contains(&MAX_STROKES.to_string()), "{e:?}");
}

#[test]
fn device_config_commands_are_no_ops() {
    assert!(strokes("ATTACKMODE HID STORAGE\nLED_R\nLED_G\nLED_OFF").is_empty());
}

#[test]
fn payload_corpus_parses_and_covers_the_commands() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("payloads");
    let mut all = String::new();
    let mut n = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|x| x == "txt") {
            let text = std::fs::read_to_string(&p).unwrap();
            let s = parse(&text).unwrap_or_else(|e| panic!("{}: {e:?}", p.display()));
            assert!(s.keystrokes() > 0, "{}", p.display());
            all.push_str(&text);
            n += 1;
        }
    }
    assert!(n >= 30, "{n} payloads");
    for cmd in [
        "STRING ",
        "STRINGLN ",
        "DELAY ",
        "DEFAULT_DELAY ",
        "DEFAULTDELAY ",
        "STRING_DELAY ",
        "STRINGDELAY ",
        "DEFAULT_STRING_DELAY",
        "REPEAT ",
        "REM ",
        "REM_BLOCK",
        "GUI r",
        "CTRL ALT DELETE",
        "CTRL SHIFT ESC",
        "ALT F4",
        "ENTER",
        "$_JITTER_ENABLED",
        "$_JITTER_MAX",
        "HOLD ",
        "RELEASE ",
        "END_STRINGLN",
        "END_STRING\n",
        "TAB",
        "DOWNARROW",
    ] {
        assert!(all.contains(cmd), "corpus lacks {cmd:?}");
    }
}
