//! The DuckyScript 3 corpus table of `keyprint bench injection`: which language constructs the payload
//! corpus exercises, and for the DuckyScript 3 payloads the share that simulates (on every target OS) and
//! is detected under each timing model, beside the targets of issue 15.

use crate::humanized::{HumanizedRow, pct};
use crate::injection::HumanRow;
use crate::table::Table;
use keyprint_injection::detector::{InjectionConfig, InjectionDetector, run_stream};
use keyprint_injection::ducky::{Options, Script, TargetOs, parse_with};
use keyprint_injection::timing::{Timing, render};
use serde::Serialize;
use std::path::Path;

/// A corpus construct: its name and whether a (trimmed) payload line shows it.
pub type Construct = (&'static str, fn(&str) -> bool);

fn expr_line(l: &str) -> bool {
    l.starts_with('$')
        || l.starts_with("VAR ")
        || l.starts_with("IF ")
        || l.starts_with("ELSE IF")
        || l.starts_with("WHILE ")
}

/// The constructs of the DuckyScript 3 reference that the corpus table checks.
pub const CONSTRUCTS: [Construct; 40] = [
    ("REM", |l| l.starts_with("REM ")),
    ("REM_BLOCK … END_REM", |l| l == "REM_BLOCK"),
    ("STRING", |l| l.starts_with("STRING ")),
    ("STRINGLN", |l| l.starts_with("STRINGLN ")),
    ("STRING … END_STRING", |l| l == "STRING"),
    ("STRINGLN … END_STRINGLN", |l| l == "STRINGLN"),
    ("DELAY", |l| l.starts_with("DELAY ")),
    ("DEFAULT_DELAY / DEFAULTDELAY", |l| {
        l.starts_with("DEFAULT_DELAY ") || l.starts_with("DEFAULTDELAY ")
    }),
    ("STRING_DELAY / DEFAULT_CHAR_DELAY", |l| {
        [
            "STRING_DELAY ",
            "STRINGDELAY ",
            "DEFAULT_STRING_DELAY ",
            "DEFAULTCHARDELAY ",
            "DEFAULT_CHAR_DELAY ",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    }),
    ("REPEAT", |l| {
        l.starts_with("REPEAT ") || l.starts_with("REPLAY ")
    }),
    ("VAR", |l| l.starts_with("VAR ")),
    ("DEFINE", |l| l.starts_with("DEFINE ")),
    ("arithmetic + - * / % ^", |l| {
        expr_line(l)
            && [" + ", " - ", " * ", " / ", " % ", " ^ "]
                .iter()
                .any(|o| l.contains(o))
    }),
    ("comparison == != < > <= >=", |l| {
        expr_line(l)
            && ["==", "!=", "<=", ">=", " < ", " > "]
                .iter()
                .any(|o| l.contains(o))
    }),
    ("logical && ||", |l| {
        expr_line(l) && (l.contains("&&") || l.contains("||"))
    }),
    ("bitwise & | << >>", |l| {
        expr_line(l) && ["<<", ">>", " & ", " | "].iter().any(|o| l.contains(o))
    }),
    ("IF … END_IF", |l| l.starts_with("IF ")),
    ("ELSE IF", |l| l.starts_with("ELSE IF")),
    ("ELSE", |l| l == "ELSE"),
    ("WHILE … END_WHILE", |l| l.starts_with("WHILE ")),
    ("FUNCTION … END_FUNCTION, calls", |l| {
        l.starts_with("FUNCTION ")
    }),
    ("RETURN", |l| l.starts_with("RETURN")),
    ("EXTENSION … END_EXTENSION", |l| {
        l.starts_with("EXTENSION ")
    }),
    ("IF_DEFINED_TRUE … END_IF_DEFINED", |l| {
        l.starts_with("IF_DEFINED_TRUE") || l.starts_with("IF_NOT_DEFINED_TRUE")
    }),
    ("HOLD / RELEASE", |l| {
        l.starts_with("HOLD ") || l.starts_with("RELEASE ")
    }),
    ("modifier combos", |l| {
        [
            "GUI ", "WINDOWS ", "COMMAND ", "CTRL", "CONTROL ", "ALT ", "OPTION ", "SHIFT ",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    }),
    ("F13–F24", |l| {
        (13..=24).any(|n| l == format!("F{n}") || l.ends_with(&format!(" F{n}")))
    }),
    ("media / system keys", |l| {
        l.starts_with("MK_") || l == "POWER"
    }),
    ("$_JITTER_ENABLED / $_JITTER_MAX", |l| {
        l.contains("$_JITTER_")
    }),
    ("RANDOM_* commands", |l| l.starts_with("RANDOM_")),
    ("$_RANDOM_INT, $_RANDOM_MIN/MAX", |l| {
        l.contains("$_RANDOM_")
    }),
    ("$_OS and OS constants", |l| l.contains("$_OS")),
    ("host signals for OS detection", |l| {
        l.contains("$_HOST_CONFIGURATION_REQUEST_COUNT")
            || l.contains("$_RECEIVED_HOST_LOCK_LED_REPLY")
    }),
    (
        "lock keys ($_CAPSLOCK_ON, SAVE/RESTORE_HOST_KEYBOARD_LOCK_STATE)",
        |l| l.contains("LOCK_ON") || l.contains("HOST_KEYBOARD_LOCK_STATE"),
    ),
    ("LED_R / LED_G / LED_OFF", |l| l.starts_with("LED_")),
    ("BUTTON_DEF … END_BUTTON", |l| l == "BUTTON_DEF"),
    ("WAIT_FOR_*", |l| l.starts_with("WAIT_FOR_")),
    ("ATTACKMODE", |l| l.starts_with("ATTACKMODE")),
    ("STOP_PAYLOAD", |l| l == "STOP_PAYLOAD"),
    ("RESTART_PAYLOAD", |l| l == "RESTART_PAYLOAD"),
];

/// Commands that only DuckyScript 3 has (beyond `STRINGLN` and jitter, which our legacy payloads use too):
/// a payload with one is in the DS3 corpus.
pub fn is_ds3(text: &str) -> bool {
    const DS3: [&str; 16] = [
        "VAR ",
        "DEFINE ",
        "IF ",
        "WHILE ",
        "FUNCTION ",
        "EXTENSION ",
        "RANDOM_",
        "WAIT_FOR_",
        "BUTTON_DEF",
        "IF_DEFINED_TRUE",
        "STOP_PAYLOAD",
        "RESTART_PAYLOAD",
        "$_OS",
        "$_RANDOM",
        "HOST_KEYBOARD_LOCK_STATE",
        "MK_",
    ];
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("REM"))
        .any(|l| {
            DS3.iter()
                .any(|k| l.starts_with(k) || l.contains(&format!(" {k}")))
        })
}

/// Every `*.txt` payload's file name and text, sorted by name (the order of
/// [`load_payloads`](crate::injection::load_payloads)).
///
/// # Errors
/// When the folder or a file cannot be read.
pub fn load_texts(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    crate::injection::payload_files(dir)?
        .into_iter()
        .map(|f| {
            let t = std::fs::read_to_string(&f)?;
            Ok((
                f.file_name().unwrap_or_default().to_string_lossy().into(),
                t,
            ))
        })
        .collect()
}

/// The constructs table: payloads (all / DS3) whose lines show each construct; and how many constructs
/// the DS3 corpus covers.
pub fn constructs_table(texts: &[(String, String)]) -> (Table, usize) {
    let mut t = Table::new([
        "construct",
        "payloads using it (all)",
        "DS3 payloads using it",
    ]);
    let mut covered = 0;
    for (name, shows) in CONSTRUCTS {
        let uses = |text: &str| text.lines().map(str::trim).any(shows);
        let all = texts.iter().filter(|(_, x)| uses(x)).count();
        let ds3 = texts.iter().filter(|(_, x)| is_ds3(x) && uses(x)).count();
        covered += usize::from(ds3 > 0);
        t.push([name.to_string(), all.to_string(), ds3.to_string()]);
    }
    (t, covered)
}

/// One row of the corpus table.
#[derive(Clone, Debug, Serialize)]
pub struct CorpusRow {
    /// Timing model / adversary.
    pub timing: String,
    /// What was measured.
    pub measured: String,
    /// The target.
    pub target: String,
}

/// Stock and jitter rows: every DS3 payload rendered with `seeds` seeds on the Windows target, keyprint's
/// default detector (rules only, no attach time): detected and detected within 3 keystrokes.
pub fn rule_rows(payloads: &[(String, Script)], ds3: &[bool], seeds: u64) -> Vec<CorpusRow> {
    let models = [
        Timing::Stock,
        Timing::Jitter { max_ms: 20 },
        Timing::Jitter { max_ms: 50 },
        Timing::Jitter { max_ms: 100 },
    ];
    models
        .iter()
        .map(|&t| {
            let (mut n, mut det, mut within3) = (0, 0, 0);
            for (i, (_, s)) in payloads.iter().enumerate().filter(|(i, _)| ds3[*i]) {
                for seed in 0..seeds {
                    let ev = render(s, t, seed * 1000 + i as u64);
                    let mut d = InjectionDetector::new(InjectionConfig::default(), None);
                    let (v, _) = run_stream(&mut d, None, &ev, &[]);
                    n += 1;
                    det += usize::from(v.is_some());
                    within3 += usize::from(v.is_some_and(|v| v.keystroke <= 3));
                }
            }
            CorpusRow {
                timing: t.to_string(),
                measured: format!(
                    "detected {}; within ≤ 3 keys {}",
                    pct(det, n),
                    pct(within3, n)
                ),
                target: "100 % within ≤ 3 keys".into(),
            }
        })
        .collect()
}

/// The corpus table: simulation, rule rows, humanized rows (the humanized-timing check alone and with the
/// owner profile) and human false alarms, measured beside the targets.
pub fn corpus_table(
    texts: &[(String, String)],
    payloads: &[(String, Script)],
    seeds: u64,
    humans: &[HumanRow],
    humanized: &[HumanizedRow],
) -> (Vec<CorpusRow>, Table) {
    let ds3: Vec<bool> = texts.iter().map(|(_, t)| is_ds3(t)).collect();
    let n_ds3 = ds3.iter().filter(|&&d| d).count();
    let simulated = texts
        .iter()
        .filter(|(_, t)| is_ds3(t))
        .filter(|(_, t)| {
            TargetOs::ALL.iter().all(|&os| {
                parse_with(
                    t,
                    &Options {
                        target_os: os,
                        ..Options::default()
                    },
                )
                .is_ok_and(|s| s.keystrokes() > 0)
            })
        })
        .count();
    let mut rows = vec![CorpusRow {
        timing: "—".into(),
        measured: format!(
            "DS3 payloads that simulate on all {} target OSes: {}",
            TargetOs::ALL.len(),
            pct(simulated, n_ds3)
        ),
        target: "100 %".into(),
    }];
    rows.extend(rule_rows(payloads, &ds3, seeds));
    for r in humanized {
        rows.push(CorpusRow {
            timing: format!("humanized ({}), {}", r.adversary, r.setting),
            measured: format!(
                "AUC@70 {:.4}; false alarms on genuine 70-key windows {}; DS3 payloads detected at 70 keys {}",
                r.auc_pooled,
                pct(r.genuine_alarms, r.genuine_windows),
                pct(r.ds3_detected, r.ds3_attacks)
            ),
            target: "AUC ≥ 0.99".into(),
        });
    }
    let keyprint: Vec<&HumanRow> = humans.iter().filter(|h| h.detector == "keyprint").collect();
    rows.push(CorpusRow {
        timing: "humans (rules)".into(),
        measured: keyprint
            .iter()
            .map(|h| format!("{} {} / {} streams", h.data, h.false_alarms, h.sessions))
            .collect::<Vec<_>>()
            .join("; "),
        target: "0 false alarms".into(),
    });
    let mut t = Table::new(["timing model", "measured", "target"]);
    for r in &rows {
        t.push([r.timing.clone(), r.measured.clone(), r.target.clone()]);
    }
    (rows, t)
}
