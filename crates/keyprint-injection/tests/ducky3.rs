//! DuckyScript 3: one test per construct of the language reference (payloads written for these tests), bad
//! inputs with located errors, and resource limits.
use keyprint_injection::ducky::{Limits, Options, ScriptError, Step, TargetOs, parse, parse_with};
use keyprint_injection::keymap::char_to_key;
use keyprint_injection::timing::{FRAME_US, Timing, render};

/// The keystrokes of a payload, as text (Enter as '\n'; a non-character key as `<Code>`).
fn typed_with(src: &str, opt: &Options) -> String {
    let s = parse_with(src, opt).unwrap_or_else(|e| panic!("{e:#?}"));
    let mut out = String::new();
    for step in s.steps {
        if let Step::Stroke { keys, .. } = step {
            let code = *keys.last().unwrap();
            let shift = keys.len() == 2 && keys[0] == "ShiftLeft";
            let c = (' '..='~')
                .chain(['\n'])
                .find(|&c| char_to_key(c) == Some((code, shift)) && (keys.len() == 1 || shift));
            match c {
                Some(c) => out.push(c),
                None => out.push_str(&format!("<{}>", keys.join("+"))),
            }
        }
    }
    out
}

fn typed(src: &str) -> String {
    typed_with(src, &Options::default())
}

fn err(src: &str) -> ScriptError {
    parse(src).unwrap_err().remove(0)
}

fn err_with(src: &str, opt: &Options) -> ScriptError {
    parse_with(src, opt).unwrap_err().remove(0)
}

fn total_delay_ms(src: &str) -> u64 {
    parse(src)
        .unwrap()
        .steps
        .iter()
        .map(|s| match s {
            Step::Delay(ms) => *ms,
            _ => 0,
        })
        .sum()
}

#[test]
fn variables_and_math_operators_wrap_at_16_bits() {
    let src = "VAR $A = 40\n$A = ($A + 2)\nSTRINGLN $A\n$A = ($A - 2)\n$A = ($A * 3)\nSTRINGLN $A\n\
               $A = ($A / 7)\nSTRINGLN $A\n$A = ($A % 7)\nSTRINGLN $A\n$A = (2 ^ 10)\nSTRINGLN $A\n\
               VAR $B = 65535\n$B = ($B + 2)\nSTRINGLN $B\n$B = (0 - 1)\nSTRING $B";
    assert_eq!(typed(src), "42\n120\n17\n3\n1024\n1\n65535");
}

#[test]
fn precedence_comparison_logic_bitwise_and_shifts() {
    let cases = [
        ("2 + 3 * 4", "14"),
        ("(2 + 3) * 4", "20"),
        ("2 * 3 ^ 2", "18"),
        ("2 ^ 3 ^ 2", "512"),
        ("10 - 4 - 3", "3"),
        ("100 / 10 / 5", "2"),
        ("1 << 4 + 1", "32"),
        ("256 >> 4", "16"),
        ("12 & 10", "8"),
        ("12 | 3", "15"),
        ("8 | 1 == 1", "9"),
        ("3 > 2 && 2 > 3", "0"),
        ("3 > 2 || 2 > 3", "1"),
        ("1 || 0 && 0", "1"),
        ("!0", "1"),
        ("!(5 >= 5)", "0"),
        ("4 != 4", "0"),
        ("4 <= 3", "0"),
        ("3 < 4", "1"),
        ("TRUE + TRUE", "2"),
        ("FALSE", "0"),
        ("1 << 16", "0"),
        ("((((7))))", "7"),
    ];
    for (e, want) in cases {
        assert_eq!(typed(&format!("VAR $X = {e}\nSTRING $X")), want, "{e}");
    }
}

#[test]
fn augmented_assignment() {
    let src = "VAR $A = 5\n$A += 3\n$A *= 2\n$A -= 1\n$A /= 3\n$A %= 4\n$A <<= 3\n$A >>= 1\n$A |= 1\n$A &= 13\n$A ^= 2\nSTRING $A";
    // 5+3=8, 16, 15, 5, 1, 8, 4, 5, 5, 25
    assert_eq!(typed(src), "25");
}

#[test]
fn division_by_zero_is_a_located_runtime_error() {
    let e = err("VAR $A = 0\nSTRING x\nVAR $B = (10 / $A)");
    assert_eq!((e.line, e.column), (3, 14), "{e}");
    assert!(e.reason.contains("division by zero"));
    let e = err("VAR $A = 0\n$A %= 0");
    assert_eq!(e.line, 2);
}

#[test]
fn define_constants_are_textual_and_whole_word() {
    let src = "DEFINE #HOST example.invalid\nDEFINE WAIT 250\nDEFINE #URL https://#HOST/x\nSTRINGLN #URL\nDELAY WAIT\nSTRING WAITING #HOSTNAME";
    assert_eq!(typed(src), "https://example.invalid/x\nWAITING #HOSTNAME");
    assert_eq!(total_delay_ms(src), 250);
    // A constant used in an expression and in conditional compilation.
    let src = "DEFINE #FAST TRUE\nIF_DEFINED_TRUE #FAST\nSTRING f\nELSE_DEFINED\nSTRING s\nEND_IF_DEFINED\nIF_NOT_DEFINED_TRUE #SLOW\nSTRING n\nEND_IF_DEFINED";
    assert_eq!(typed(src), "fn");
    assert_eq!(err("DEFINE\nSTRING a").line, 1);
}

#[test]
fn if_else_if_else() {
    let f = |v: u16| {
        typed(&format!(
            "VAR $N = {v}\nIF ($N == 0) THEN\nSTRING zero\nELSE IF ($N < 10) THEN\nSTRING small\nELSE IF $N < 100\nSTRING medium\nELSE\nSTRING large\nEND_IF\nSTRING !"
        ))
    };
    assert_eq!(f(0), "zero!");
    assert_eq!(f(5), "small!");
    assert_eq!(f(50), "medium!");
    assert_eq!(f(500), "large!");
    // Nested IFs.
    let src = "VAR $A = 1\nVAR $B = 0\nIF ($A) THEN\nIF ($B) THEN\nSTRING ab\nELSE\nSTRING a\nEND_IF\nEND_IF";
    assert_eq!(typed(src), "a");
}

#[test]
fn while_loops() {
    let src = "VAR $I = 0\nWHILE ($I < 5)\nSTRING $I\n$I = ($I + 1)\nEND_WHILE\nWHILE FALSE\nSTRING never\nEND_WHILE";
    assert_eq!(typed(src), "01234");
}

#[test]
fn functions_return_values_and_are_hoisted() {
    let src = "VAR $R = 0\nFUNCTION TWICE()\n$R = ($R * 2)\nRETURN $R\nSTRING unreachable\nEND_FUNCTION\n\
               FUNCTION HELLO()\nSTRING hi\nEND_FUNCTION\n$R = 3\nHELLO()\nVAR $S = (TWICE() + 1)\nSTRING $S\n\
               IF (TWICE() == 12) THEN\nSTRING !\nEND_IF\nLATER()\nFUNCTION LATER()\nSTRING L\nEND_FUNCTION";
    assert_eq!(typed(src), "hi7!L");
    let e = err("MISSING()");
    assert!(e.reason.contains("unknown function"), "{e}");
    assert!(err("RETURN 1").reason.contains("outside a FUNCTION"));
    let e = err("FUNCTION F()\nEND_FUNCTION\nFUNCTION F()\nEND_FUNCTION");
    assert_eq!(e.line, 3);
}

#[test]
fn recursion_is_bounded_by_call_depth() {
    let e = err("FUNCTION F()\nSTRING a\nF()\nEND_FUNCTION\nF()");
    assert_eq!(e.line, 3, "{e}");
    assert!(e.reason.contains("calls nested deeper"), "{e}");
}

#[test]
fn hold_release_reset_and_inject_mod() {
    let ev = render(
        &parse("HOLD ALT\nHOLD a\nDELAY 100\nRESET\nINJECT_MOD\nGUI").unwrap(),
        Timing::Stock,
        0,
    );
    let a = ev.iter().find(|e| e.key.to_string() == "KeyA").unwrap();
    assert!(a.hold_us() >= 100_000, "{a:?}");
    assert_eq!(ev.last().unwrap().key.to_string(), "MetaLeft");
}

#[test]
fn every_key_name_and_combination() {
    for n in 1..=24 {
        assert_eq!(typed(&format!("F{n}")), format!("<F{n}>"));
    }
    let keys = [
        ("MK_VOLUP", "AudioVolumeUp"),
        ("MK_VOLDOWN", "AudioVolumeDown"),
        ("MK_MUTE", "AudioVolumeMute"),
        ("MK_NEXT", "MediaTrackNext"),
        ("MK_PREV", "MediaTrackPrevious"),
        ("MK_PP", "MediaPlayPause"),
        ("MK_STOP", "MediaStop"),
        ("POWER", "Power"),
        ("KP_5", "Numpad5"),
        ("KP_ENTER", "NumpadEnter"),
        ("BREAK", "Pause"),
        ("APP", "ContextMenu"),
        ("DEL", "Delete"),
    ];
    for (n, code) in keys {
        assert_eq!(typed(n), format!("<{code}>"), "{n}");
    }
    for (combo, want) in [
        ("WINDOWS r", "<MetaLeft+KeyR>"),
        ("COMMAND SPACE", "<MetaLeft+Space>"),
        ("CONTROL ALT DELETE", "<ControlLeft+AltLeft+Delete>"),
        ("OPTION SHIFT F12", "<AltLeft+ShiftLeft+F12>"),
        ("CTRL-SHIFT ESC", "<ControlLeft+ShiftLeft+Escape>"),
        ("GUI", "<MetaLeft>"),
        ("SHIFT", "<ShiftLeft>"),
    ] {
        assert_eq!(typed(combo), want, "{combo}");
    }
    let e = err("STRING ok\nCTRL FOO");
    assert_eq!((e.line, e.column), (2, 1));
}

#[test]
fn repeat_repeats_the_previous_statement_of_its_block() {
    assert_eq!(typed("STRING ab\nREPEAT 2"), "ababab");
    // The previous statement can be a call or a whole block.
    assert_eq!(
        typed("FUNCTION X()\nSTRING x\nEND_FUNCTION\nX()\nREPEAT 2"),
        "xxx"
    );
    assert_eq!(typed("IF TRUE THEN\nSTRING i\nEND_IF\nREPEAT 1"), "ii");
    // REPEAT inside a block sees only that block.
    let e = err("STRING a\nIF TRUE THEN\nREPEAT 2\nEND_IF");
    assert_eq!(e.line, 3);
    // A REPEAT count may be an expression.
    assert_eq!(typed("VAR $N = 3\nSTRING z\nREPEAT $N"), "zzzz");
}

#[test]
fn default_char_delay_spaces_every_later_string() {
    let ev = render(
        &parse("DEFAULT_CHAR_DELAY 40\nSTRING ab\nSTRING cd").unwrap(),
        Timing::Stock,
        0,
    );
    assert_eq!(ev[3].press_us - ev[2].press_us, 2 * FRAME_US + 40_000);
}

#[test]
fn jitter_variables_drive_the_device() {
    let s = parse("VAR $_JITTER_MAX = 60\n$_JITTER_ENABLED = TRUE\nSTRING abcdefgh\n$_JITTER_ENABLED = FALSE\nSTRING ijkl").unwrap();
    let ev = render(&s, Timing::Stock, 4);
    let gaps: Vec<i64> = ev
        .windows(2)
        .map(|w| w[1].press_us - w[0].press_us)
        .collect();
    assert!(gaps[..7].iter().any(|&g| g > 2 * FRAME_US));
    assert!(gaps[..7].iter().all(|&g| g <= 2 * FRAME_US + 60_000));
    assert!(gaps[8..].iter().all(|&g| g == 2 * FRAME_US));
}

#[test]
fn random_commands_and_integers_are_seeded() {
    let src = "RANDOM_LOWERCASE_LETTER\nRANDOM_UPPERCASE_LETTER\nRANDOM_LETTER\nRANDOM_NUMBER\nRANDOM_SPECIAL\nRANDOM_CHARACTER";
    let a = typed_with(
        src,
        &Options {
            seed: 1,
            ..Options::default()
        },
    );
    let b = typed_with(
        src,
        &Options {
            seed: 1,
            ..Options::default()
        },
    );
    assert_eq!(a, b);
    let c: Vec<char> = a.chars().collect();
    assert_eq!(c.len(), 6);
    assert!(c[0].is_ascii_lowercase() && c[1].is_ascii_uppercase() && c[2].is_ascii_alphabetic());
    assert!(c[3].is_ascii_digit() && "!@#$%^&*()".contains(c[4]));
    let many: std::collections::BTreeSet<String> = (0..20)
        .map(|seed| {
            typed_with(
                src,
                &Options {
                    seed,
                    ..Options::default()
                },
            )
        })
        .collect();
    assert!(many.len() > 10, "seeds differ");
    let src = "$_RANDOM_MIN = 20\n$_RANDOM_MAX = 25\nVAR $I = 0\nWHILE ($I < 50)\nVAR $R = $_RANDOM_INT\nIF ($R < 20 || $R > 25) THEN\nSTRING bad\nEND_IF\n$I += 1\nEND_WHILE\nSTRING ok";
    assert_eq!(typed(src), "ok");
    assert!(err("$_RANDOM_INT = 3").reason.contains("read-only"));
}

#[test]
fn target_os_and_an_os_detection_extension() {
    // Our own passive detection: hosts that do not answer lock-LED reports are Apple's; Windows asks for
    // the configuration more than twice.
    let src = "EXTENSION PASSIVE_OS_GUESS\nFUNCTION GUESS_OS()\nIF ($_RECEIVED_HOST_LOCK_LED_REPLY == FALSE) THEN\n$_OS = MACOS\nELSE IF ($_HOST_CONFIGURATION_REQUEST_COUNT > 2) THEN\n$_OS = WINDOWS\nELSE\n$_OS = LINUX\nEND_IF\nEND_FUNCTION\nEND_EXTENSION\n$_OS = 0\nGUESS_OS()\nIF ($_OS == WINDOWS) THEN\nGUI r\nELSE IF ($_OS == MACOS) THEN\nCOMMAND SPACE\nELSE\nCTRL ALT t\nEND_IF";
    let run = |os: TargetOs| {
        typed_with(
            src,
            &Options {
                target_os: os,
                ..Options::default()
            },
        )
    };
    assert_eq!(run(TargetOs::Windows), "<MetaLeft+KeyR>");
    assert_eq!(run(TargetOs::MacOs), "<MetaLeft+Space>");
    assert_eq!(run(TargetOs::Linux), "<ControlLeft+AltLeft+KeyT>");
    // Without an extension $_OS is the target.
    let src = "IF ($_OS == LINUX) THEN\nSTRING l\nELSE\nSTRING o\nEND_IF";
    assert_eq!(
        typed_with(
            src,
            &Options {
                target_os: TargetOs::Linux,
                ..Options::default()
            }
        ),
        "l"
    );
    assert_eq!(typed(src), "o");
    assert_eq!("macos".parse::<TargetOs>(), Ok(TargetOs::MacOs));
    assert!("beos".parse::<TargetOs>().is_err());
    assert!(
        err("EXTENSION X\nSTRING a")
            .reason
            .contains("END_EXTENSION")
    );
}

#[test]
fn lock_keys_state_and_restore() {
    let src = "SAVE_HOST_KEYBOARD_LOCK_STATE\nCAPSLOCK\nIF ($_CAPSLOCK_ON) THEN\nSTRING on\nEND_IF\nNUMLOCK\nRESTORE_HOST_KEYBOARD_LOCK_STATE\nIF ($_CAPSLOCK_ON == FALSE && $_NUMLOCK_ON == FALSE) THEN\nSTRING restored\nEND_IF";
    assert_eq!(
        typed(src),
        "<CapsLock>on<NumLock><CapsLock><NumLock>restored"
    );
    assert!(err("$_CAPSLOCK_ON = 1").reason.contains("read-only"));
}

#[test]
fn device_commands_type_nothing_and_waits_run_on_the_payload_clock() {
    let src = "ATTACKMODE HID STORAGE VID_05AC PID_021E\nSAVE_ATTACKMODE\nLED_R\nLED_G\nLED_OFF\nBUTTON_DEF\nSTRING pressed\nEND_BUTTON\nDISABLE_BUTTON\nENABLE_BUTTON\nHIDE_PAYLOAD\nRESTORE_PAYLOAD\nRESTORE_ATTACKMODE\nVAR $L = 1\nEXFIL $L\n$_EXFIL_MODE_ENABLED = TRUE\nSTRING a";
    assert_eq!(typed(src), "a");
    let waits = "WAIT_FOR_BUTTON_PRESS\nWAIT_FOR_CAPS_ON\nWAIT_FOR_CAPS_OFF\nWAIT_FOR_CAPS_CHANGE\nWAIT_FOR_NUM_ON\nWAIT_FOR_NUM_OFF\nWAIT_FOR_NUM_CHANGE\nWAIT_FOR_SCROLL_ON\nWAIT_FOR_SCROLL_OFF\nWAIT_FOR_SCROLL_CHANGE\nWAIT_FOR_STORAGE_ACTIVITY\nWAIT_FOR_STORAGE_INACTIVITY\nIF ($_BUTTON_PUSH_RECEIVED && $_CAPSLOCK_ON && $_NUMLOCK_ON && $_SCROLLLOCK_ON) THEN\nSTRING x\nEND_IF";
    let s = parse_with(
        waits,
        &Options {
            wait_ms: 500,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.steps.len(),
        2,
        "waits merge into one delay: {:?}",
        s.steps
    );
    assert_eq!(s.steps[0], Step::Delay(12 * 500));
    assert_eq!(typed(waits), "x");
    assert_eq!(err("ATTACKMODE FLOPPY").column, 12);
}

#[test]
fn stop_and_restart_payload() {
    assert_eq!(typed("STRING a\nSTOP_PAYLOAD\nSTRING b"), "a");
    assert_eq!(
        typed(
            "FUNCTION END()\nSTOP_PAYLOAD\nEND_FUNCTION\nSTRING a\nIF (END() == 0) THEN\nSTRING b\nEND_IF\nSTRING c"
        ),
        "a"
    );
    // RESTART_PAYLOAD runs from the top with fresh variables, at most `max_restarts` times.
    let src = "VAR $A = 1\nSTRING $A\n$A = 2\nRESTART_PAYLOAD";
    let o = Options {
        limits: Limits {
            max_restarts: 3,
            ..Limits::default()
        },
        ..Options::default()
    };
    assert_eq!(typed_with(src, &o), "1111");
}

#[test]
fn string_interpolates_only_known_variables() {
    let src = "VAR $N = 7\nSTRING n=$N env=$env:TEMP os=$_OS $N$N";
    assert_eq!(typed(src), "n=7 env=$env:TEMP os=1 77");
}

#[test]
fn bad_expressions_and_statements_are_located() {
    let cases: [(&str, (usize, usize), &str); 12] = [
        ("VAR $A = (1 + 2", (1, 10), "not closed"),
        ("VAR $A = 1 +", (1, 13), "expression expected"),
        ("VAR $A = 70000", (1, 10), "16-bit"),
        ("VAR $A = 1 ? 2", (1, 12), "unexpected"),
        ("VAR A = 1", (1, 5), "bad variable name"),
        (
            "VAR $A = 1\n$A == 2",
            (2, 1),
            "expected `$NAME = expression`",
        ),
        ("IF\nEND_IF", (1, 4), "condition expected"),
        ("WHILE (1)\nSTRING a", (1, 1), "END_WHILE"),
        ("END_WHILE", (1, 1), "without an open block"),
        ("IF TRUE\nEND_WHILE\nEND_IF", (2, 1), "needs END_IF"),
        ("ELSE", (1, 1), "without an open IF"),
        ("VAR $A = 1\nSTRING_DELAY $B", (2, 14), "$B is not declared"),
    ];
    for (src, at, why) in cases {
        let e = err(src);
        assert_eq!((e.line, e.column), at, "{src:?}: {e}");
        assert!(e.reason.contains(why), "{src:?}: {e}");
    }
}

#[test]
fn unbounded_loops_stop_at_the_step_limit_with_a_located_error() {
    let e = err("STRING start\nWHILE TRUE\nDELAY 0\nEND_WHILE");
    assert!(e.reason.contains("steps"), "{e}");
    assert!([2, 3].contains(&e.line), "{e}");
    // A loop with delays stops at the simulated-time limit first.
    let e = err("WHILE TRUE\nDELAY 60000\nEND_WHILE");
    assert!(e.reason.contains("simulated time"), "{e}");
    assert_eq!(e.line, 2);
}

/// The 104 KB script of issue 15: `REPEAT 10000` lines after a `DELAY`. Before the fix it took 2.5 GB and
/// 5.4 s; now each wait merges into one step and the run stops at a limit with a located error. (Time and
/// memory are measured by `keyprint bench injection --resources`, not here.)
#[test]
fn repeated_delay_script_fails_fast_with_a_located_error() {
    let mut src = String::from("DELAY 1\n");
    while src.len() < 104_000 {
        src.push_str("REPEAT 10000\n");
    }
    let e = err(&src);
    assert!(
        e.reason.contains("steps") || e.reason.contains("simulated time"),
        "{e}"
    );
    assert!(e.line >= 2 && e.command == "REPEAT", "{e}");
    // Within the limits the same shape stays one step.
    let s = parse("DELAY 1\nREPEAT 10000\nREPEAT 10000").unwrap();
    assert_eq!(s.steps, vec![Step::Delay(20_001)]);
    // A small step limit makes any long run fail early, at the line that ran out.
    let o = Options {
        limits: Limits {
            max_steps: 1_000,
            ..Limits::default()
        },
        ..Options::default()
    };
    let e = err_with("STRING a\nREPEAT 5000", &o);
    assert_eq!((e.line, e.command.as_str()), (2, "REPEAT"), "{e}");
}

/// N comments then N `REPEAT 1` lines: each REPEAT is rejected in O(1) (it used to scan back over every
/// earlier line, quadratic: minutes at this size).
#[test]
fn rejected_repeats_after_comments_are_linear() {
    let n = 100_000;
    let mut src = "REM c\n".repeat(n);
    src.push_str(&"REPEAT 1\n".repeat(n));
    let errs = parse(&src).unwrap_err();
    assert_eq!(errs.len(), n);
    assert_eq!((errs[0].line, errs[0].column), (n + 1, 1));
}

#[test]
fn nesting_expression_depth_and_define_expansion_are_bounded() {
    let deep = "IF TRUE\n".repeat(100_000);
    let errs = parse(&deep).unwrap_err();
    let e = errs
        .iter()
        .find(|e| e.reason.contains("nested deeper"))
        .unwrap();
    assert_eq!(e.line, 65, "{e}");
    let expr = format!("VAR $A = {}1{}", "(".repeat(50_000), ")".repeat(50_000));
    assert!(err(&expr).reason.contains("nested deeper"));
    let chain = format!("VAR $A = 1{}", " + 1".repeat(50_000));
    assert!(err(&chain).reason.contains("nested deeper"));
    let bang = format!("VAR $A = {}1", "!".repeat(50_000));
    assert!(err(&bang).reason.contains("nested deeper"));
    // Each DEFINE doubles the previous one: 2^40 bytes if unbounded.
    let mut src = String::from("DEFINE #A0 xx\n");
    for i in 1..40 {
        src.push_str(&format!("DEFINE #A{i} #A{} #A{}\n", i - 1, i - 1));
    }
    src.push_str("STRING #A39\n");
    let e = err(&src);
    assert!(e.reason.contains("DEFINE substitution"), "{e}");
}

#[test]
fn output_limit_is_a_located_error() {
    let o = Options {
        limits: Limits {
            max_strokes: 100,
            ..Limits::default()
        },
        ..Options::default()
    };
    let e = err_with("STRING 0123456789\nREPEAT 20", &o);
    assert!(e.reason.contains("more than 100 keystrokes"), "{e}");
    assert_eq!(e.line, 2);
}
