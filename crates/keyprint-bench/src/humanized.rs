//! The humanized-injection protocol and the DuckyScript 3 corpus table of `keyprint bench injection`.
//!
//! **Humanized attacks** — three adversaries type every corpus payload with human-like timing through the
//! `human` device model (`keyprint_injection::timing::Timing::Human`: every hold and press-to-press
//! interval drawn independently from a table):
//! * `uniform` — holds uniform in [`UNIFORM_HOLD_MS`], intervals uniform in [`UNIFORM_DD_MS`];
//! * `population` — the Aalto population people's holds and within-sentence intervals (typed keys);
//! * `owner` — the owner's own holds and intervals, from the sentences the owner enrolled with.
//!
//! Split (Aalto participants by index): index % 4 == 0 is the **development** split — it trains the
//! population model (key-context means), supplies the `population` adversary's table, and sets both
//! thresholds (humanized-timing check: its largest 70-key window score + [`HUMANIZED_MARGIN`]; owner profile:
//! as in [`owner_protocol`](crate::injection::owner_protocol)); the humanized check's statistics and signs
//! were chosen looking at this split only. Every other participant with ≥ 12 sentences is a **test owner**:
//! profile fitted on sentences 1–7, calibrated on 8–10, genuine probes = the 70-key windows (stride 35) of
//! the remaining sentences; attack probes = the first 70 keystrokes of each payload of ≥ 70 keystrokes,
//! rendered once per owner and adversary (seed = owner index). Scores are the window checks' margins
//! `score − threshold` after 70 keys (what `InjectionDetector` compares at its 70th keystroke; the timing
//! rules never fire on these streams), summed when checks are combined; a probe is detected when any
//! margin is > 0. AUC per adversary pooled over owners and mean per owner, false alarms on genuine windows.

use crate::injection::{OWNER_WINDOW, merged, owner_margin, owner_split, windows};
use crate::table::{Table, progress};
use keyprint_core::detector::{Detector, Enrolment, Template};
use keyprint_core::eval::roc;
use keyprint_core::event::KeyEvent;
use keyprint_datasets::aalto::AaltoParticipant;
use keyprint_freetext::{FreeTextConfig, FreeTextDetector, PopulationModel};
use keyprint_injection::context::KeyContextCheck;
use keyprint_injection::ducky::Script;
use keyprint_injection::humanized::HumanizedCheck;
use keyprint_injection::timing::{HumanTiming, Timing, render_with};
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

/// Hold range of the `uniform` adversary, ms.
pub const UNIFORM_HOLD_MS: (f64, f64) = (60.0, 140.0);
/// Press-to-press range of the `uniform` adversary, ms.
pub const UNIFORM_DD_MS: (f64, f64) = (80.0, 350.0);
/// Margin over the development split's largest humanized score (the check's units: a standard normal
/// under independent timing).
pub const HUMANIZED_MARGIN: f64 = 0.5;

/// The adversaries, in report order.
pub const ADVERSARIES: [&str; 3] = ["uniform", "population", "owner"];
/// The window checks compared, in report order.
pub const SETTINGS: [&str; 3] = [
    "humanized-timing check",
    "owner profile",
    "humanized-timing + owner profile",
];

/// A table whose hold and DD quantiles are uniform over the given ranges (ms).
pub fn uniform_timing(hold: (f64, f64), dd: (f64, f64)) -> HumanTiming {
    let p = HumanTiming::table_probabilities();
    let lin = |(lo, hi): (f64, f64)| p.iter().map(|&q| lo + (hi - lo) * q).collect::<Vec<f64>>();
    HumanTiming {
        hold_ms: lin(hold),
        dd_ms: lin(dd),
        p,
    }
}

/// Holds and within-sequence DDs (ms) of the typed (non-modifier) keys of some sequences, as a table.
pub fn timing_of(seqs: &[&[KeyEvent]]) -> Option<HumanTiming> {
    let (mut holds, mut dds) = (Vec::new(), Vec::new());
    for seq in seqs {
        let typed: Vec<&KeyEvent> = seq.iter().filter(|e| !e.key.is_modifier()).collect();
        holds.extend(typed.iter().map(|e| e.hold_us() as f64 / 1000.0));
        dds.extend(
            typed
                .windows(2)
                .map(|w| (w[1].press_us - w[0].press_us) as f64 / 1000.0),
        );
    }
    HumanTiming::from_samples(holds, dds)
}

/// The development split (index % 4 == 0), its sequences, and the population model trained on them.
#[allow(clippy::type_complexity)]
fn development(
    aalto: &[AaltoParticipant],
) -> (
    Vec<&AaltoParticipant>,
    Vec<Vec<Vec<KeyEvent>>>,
    Arc<PopulationModel>,
) {
    let dev: Vec<&AaltoParticipant> = aalto.iter().step_by(4).collect();
    let population: Vec<Vec<Vec<KeyEvent>>> = dev
        .iter()
        .map(|p| p.sequences.iter().map(|s| s.events.clone()).collect())
        .collect();
    let model = Arc::new(PopulationModel::train(
        &population,
        FreeTextConfig::default(),
    ));
    (dev, population, model)
}

/// One row of the humanized table.
#[derive(Clone, Debug, Serialize)]
pub struct HumanizedRow {
    /// Adversary.
    pub adversary: String,
    /// Window checks.
    pub setting: String,
    /// Owners.
    pub owners: usize,
    /// AUC at 70 keys pooled over owners.
    pub auc_pooled: f64,
    /// Mean per-owner AUC.
    pub auc_mean: f64,
    /// Smallest per-owner AUC.
    pub auc_min: f64,
    /// Genuine 70-key windows.
    pub genuine_windows: usize,
    /// Genuine windows over a threshold.
    pub genuine_alarms: usize,
    /// Attack probes.
    pub attacks: usize,
    /// Attack probes over a threshold.
    pub detected: usize,
    /// Attack probes from DuckyScript 3 payloads.
    pub ds3_attacks: usize,
    /// Those detected.
    pub ds3_detected: usize,
    /// Humanized-timing check at the development split's 99th percentile: (genuine windows over it,
    /// attack probes over it).
    pub at_dev_p99: (usize, usize),
}

/// Margins `(humanized, owner)` of one probe.
type Margins = (f64, f64);

struct PerOwner {
    genuine: Vec<Margins>,
    /// Per adversary: (margins, is a DS3 payload).
    attacks: Vec<Vec<(Margins, bool)>>,
}

fn combine(m: Margins, setting: usize) -> f64 {
    match setting {
        0 => m.0,
        1 => m.1,
        _ => m.0 + m.1,
    }
}

fn fired(m: Margins, setting: usize) -> bool {
    match setting {
        0 => m.0 > 0.0,
        1 => m.1 > 0.0,
        _ => m.0 > 0.0 || m.1 > 0.0,
    }
}

/// Runs the humanized protocol (see the module docs). `ds3[i]` marks payload `i` as DuckyScript 3.
///
/// # Errors
/// When no owner qualifies or a timing table cannot be built.
pub fn humanized_protocol(
    aalto: &[AaltoParticipant],
    payloads: &[(String, Script)],
    ds3: &[bool],
) -> anyhow::Result<(Vec<HumanizedRow>, Table)> {
    let (dev, population, model) = development(aalto);
    let det = FreeTextDetector {
        model: model.clone(),
    };
    let check = HumanizedCheck::new(KeyContextCheck::new(model));
    let dev_scores: Vec<f64> = dev
        .par_iter()
        .flat_map_iter(|p| windows(&merged(&p.sequences)))
        .map(|w| check.score(&w))
        .collect();
    let h_threshold =
        dev_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max) + HUMANIZED_MARGIN;
    // A second operating point: the development split's 99th percentile (1 % false alarms there).
    let mut sorted = dev_scores.clone();
    sorted.sort_by(f64::total_cmp);
    let h_p99 = keyprint_core::stats::quantile_sorted(&sorted, 0.99);
    let p99_offset = h_p99 - h_threshold;
    let (o_margin, _) = owner_margin(aalto, &det);
    let uniform = uniform_timing(UNIFORM_HOLD_MS, UNIFORM_DD_MS);
    let pop_seqs: Vec<&[KeyEvent]> = population.iter().flatten().map(|s| s.as_slice()).collect();
    let pop_timing = timing_of(&pop_seqs).ok_or_else(|| anyhow::anyhow!("no population timing"))?;
    let long: Vec<usize> = (0..payloads.len())
        .filter(|&i| payloads[i].1.keystrokes() >= OWNER_WINDOW)
        .collect();
    let owners: Vec<(usize, &AaltoParticipant)> = aalto
        .iter()
        .enumerate()
        .filter(|(i, p)| i % 4 != 0 && p.sequences.len() >= 12)
        .collect();
    anyhow::ensure!(
        !owners.is_empty(),
        "no Aalto participant qualifies as an owner"
    );
    let pb = progress(owners.len() as u64, "humanized owners");
    let per: Vec<PerOwner> = owners
        .par_iter()
        .filter_map(|(idx, p)| {
            pb.inc(1);
            let [fit, cal, test] = owner_split(p);
            if cal.is_empty() || test.is_empty() {
                return None;
            }
            let template = det.fit(&Enrolment::one_class(&fit)).ok()?;
            let cal_max = cal
                .iter()
                .map(|w| template.score(w))
                .filter(|s| s.is_finite())
                .reduce(f64::max)?;
            let o_threshold = cal_max + o_margin;
            let fit_refs: Vec<&[KeyEvent]> = fit.iter().map(|s| s.as_slice()).collect();
            let own = timing_of(&fit_refs)?;
            let margins = |w: &[KeyEvent]| {
                let w = w.to_vec();
                (
                    check.score(&w) - h_threshold,
                    template.score(&w) - o_threshold,
                )
            };
            let genuine = test.iter().map(|w| margins(w)).collect();
            let attacks = [&uniform, &pop_timing, &own]
                .iter()
                .map(|table| {
                    long.iter()
                        .map(|&i| {
                            let ev = render_with(&payloads[i].1, Timing::Human, *idx as u64, table);
                            (margins(&ev[..OWNER_WINDOW]), ds3[i])
                        })
                        .collect()
                })
                .collect();
            Some(PerOwner { genuine, attacks })
        })
        .collect();
    pb.finish_and_clear();
    let mut table = Table::new([
        "adversary",
        "window checks",
        "owners",
        "AUC@70 pooled",
        "AUC@70 mean per owner (min)",
        "false alarms on genuine 70-key windows",
        "attacks detected at 70 keys",
        "DS3 payloads detected",
        "humanized check at dev 99th pct: false alarms / detected",
    ]);
    let mut rows = Vec::new();
    for (a, adversary) in ADVERSARIES.iter().enumerate() {
        for (s, setting) in SETTINGS.iter().enumerate() {
            let g: Vec<Vec<f64>> = per
                .iter()
                .map(|o| o.genuine.iter().map(|&m| combine(m, s)).collect())
                .collect();
            let x: Vec<Vec<f64>> = per
                .iter()
                .map(|o| o.attacks[a].iter().map(|&(m, _)| combine(m, s)).collect())
                .collect();
            let aucs: Vec<f64> = g
                .iter()
                .zip(&x)
                .filter_map(|(g, x)| roc(g, x).ok().map(|r| r.auc()))
                .collect();
            let all_g: Vec<f64> = g.concat();
            let all_x: Vec<f64> = x.concat();
            let attacks: Vec<&(Margins, bool)> = per.iter().flat_map(|o| &o.attacks[a]).collect();
            let row = HumanizedRow {
                adversary: adversary.to_string(),
                setting: setting.to_string(),
                owners: per.len(),
                auc_pooled: roc(&all_g, &all_x).map(|r| r.auc()).unwrap_or(f64::NAN),
                auc_mean: aucs.iter().sum::<f64>() / aucs.len().max(1) as f64,
                auc_min: aucs.iter().copied().fold(f64::INFINITY, f64::min),
                genuine_windows: all_g.len(),
                genuine_alarms: per
                    .iter()
                    .flat_map(|o| &o.genuine)
                    .filter(|&&m| fired(m, s))
                    .count(),
                attacks: attacks.len(),
                detected: attacks.iter().filter(|(m, _)| fired(*m, s)).count(),
                ds3_attacks: attacks.iter().filter(|(_, d)| *d).count(),
                ds3_detected: attacks.iter().filter(|(m, d)| *d && fired(*m, s)).count(),
                at_dev_p99: (
                    per.iter()
                        .flat_map(|o| &o.genuine)
                        .filter(|m| m.0 > p99_offset)
                        .count(),
                    attacks.iter().filter(|(m, _)| m.0 > p99_offset).count(),
                ),
            };
            table.push([
                row.adversary.clone(),
                row.setting.clone(),
                row.owners.to_string(),
                format!("{:.4}", row.auc_pooled),
                format!("{:.4} ({:.3})", row.auc_mean, row.auc_min),
                format!(
                    "{} / {} ({:.2}%)",
                    row.genuine_alarms,
                    row.genuine_windows,
                    100.0 * row.genuine_alarms as f64 / row.genuine_windows.max(1) as f64
                ),
                pct(row.detected, row.attacks),
                pct(row.ds3_detected, row.ds3_attacks),
                if s == 0 {
                    format!(
                        "{} / {}",
                        pct(row.at_dev_p99.0, row.genuine_windows),
                        pct(row.at_dev_p99.1, row.attacks)
                    )
                } else {
                    "—".into()
                },
            ]);
            rows.push(row);
        }
    }
    eprintln!(
        "humanized threshold {h_threshold:.3} (max over {} development windows + {HUMANIZED_MARGIN}; 99th percentile {h_p99:.3}); owner margin {o_margin:.2}; {} payloads of >= {OWNER_WINDOW} keystrokes",
        dev_scores.len(),
        long.len()
    );
    Ok((rows, table))
}

/// Writes the humanized statistics of the development split (index % 4 == 0) as CSV — genuine 70-key
/// windows and the first 70 keystrokes of every payload of ≥ 70 keystrokes under each adversary (the
/// `owner` adversary from that person's own first 7 sentences) — for choosing statistics without touching
/// the test owners.
///
/// # Errors
/// When the file cannot be written.
pub fn dump_development(
    aalto: &[AaltoParticipant],
    payloads: &[(String, Script)],
    path: &std::path::Path,
) -> anyhow::Result<()> {
    let (dev, population, model) = development(aalto);
    let check = HumanizedCheck::new(KeyContextCheck::new(model));
    let uniform = uniform_timing(UNIFORM_HOLD_MS, UNIFORM_DD_MS);
    let pop_seqs: Vec<&[KeyEvent]> = population.iter().flatten().map(|s| s.as_slice()).collect();
    let pop_timing = timing_of(&pop_seqs).ok_or_else(|| anyhow::anyhow!("no population timing"))?;
    let long: Vec<usize> = (0..payloads.len())
        .filter(|&i| payloads[i].1.keystrokes() >= OWNER_WINDOW)
        .collect();
    let line = |label: &str, w: &[KeyEvent]| {
        let s = check.statistics(w);
        let fam: Vec<String> = s.families.iter().map(|z| format!("{z:.4}")).collect();
        format!(
            "{label},{:.4},{:.4},{:.4},{:.4},{:.4},{:.4},{}\n",
            s.z_dd,
            s.z_hold,
            s.z_ac_dd,
            s.z_ac_hold,
            s.z_hold_flight,
            s.z_ac2_dd,
            fam.join(",")
        )
    };
    let rows: Vec<String> = dev
        .par_iter()
        .enumerate()
        .flat_map_iter(|(k, p)| {
            let mut out: Vec<String> = windows(&merged(&p.sequences))
                .iter()
                .map(|w| line("human", w))
                .collect();
            if p.sequences.len() >= 12 {
                let fit: Vec<&[KeyEvent]> = p.sequences[..7]
                    .iter()
                    .map(|s| s.events.as_slice())
                    .collect();
                let own = timing_of(&fit);
                for (name, t) in [
                    ("uniform", Some(&uniform)),
                    ("population", Some(&pop_timing)),
                    ("owner", own.as_ref()),
                ] {
                    let Some(t) = t else { continue };
                    for &i in &long {
                        let ev = render_with(&payloads[i].1, Timing::Human, k as u64 * 7919 + 1, t);
                        out.push(line(name, &ev[..OWNER_WINDOW]));
                    }
                }
            }
            out
        })
        .collect();
    let mut csv = String::from(
        "label,z_dd,z_hold,z_ac_dd,z_ac_hold,z_hold_flight,z_ac2_dd,f0,f1,f2,f3,f4,f5,f6,f7,f8,f9,f10\n",
    );
    csv.extend(rows);
    std::fs::write(path, csv)?;
    Ok(())
}

/// `k / n (p %)`.
pub fn pct(k: usize, n: usize) -> String {
    format!("{k} / {n} ({:.1}%)", 100.0 * k as f64 / n.max(1) as f64)
}
