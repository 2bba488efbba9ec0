//! `keyprint bench injection`: keystroke-injection detection — keyprint's streaming detector against the
//! UKIP and DuckHunt rules, on attacks generated from the DuckyScript payload corpus and on every human
//! typist available (CMU subjects, Aalto participants).
//!
//! Protocol:
//! * **Attacks** — every payload of the corpus (`crates/keyprint-injection/payloads`), rendered under every
//!   timing model (`stock`, `jitter:MS` for each `--jitter-ms`, `human`) with `--seeds` seeds each; one
//!   stream per rendering, with NO device-attach time given to the detectors (as for the humans, whose data
//!   has none); the group `human+attach` repeats the humanized streams with the attach time (0) known.
//!   Detection rate, keystrokes until detection (median, p95 over detected streams) and the share
//!   detected within 3 keystrokes.
//! * **Humans** — CMU: every repetition of every subject as one 11-key stream (the file holds no time
//!   between repetitions); Aalto: every typed sentence as a fresh stream (the strictest setting: the
//!   fresh-device thresholds apply) and every participant's whole test (all sentences merged by press
//!   time) as one stream. False alarms: streams with a verdict, with the number of streams and keystrokes.
//!   Humans have no device-attach time (the data sets do not record one), so the attach rule cannot fire.
//! * **AUC at k keys** (k = 10, 30, 70): each detector's continuous score after the first k events of every
//!   attack stream vs every human stream (CMU repetitions and Aalto sentences) with at least k events,
//!   through `keyprint_core::eval::roc`.
//! * **Owner profile** (humanized attacks): for Aalto participants, the free-text model of
//!   `keyprint-freetext` is fitted on the owner's first sentences and calibrated on the next ones; genuine
//!   probes are 70-key windows of the owner's last sentences, impostor probes the first 70 keys of each
//!   humanized attack; see [`owner_protocol`].

use crate::table::{Table, progress, write_report};
use keyprint_core::eval::roc;
use keyprint_core::event::KeyEvent;
use keyprint_core::keystroke::FixedTextLayout;
use keyprint_core::stats::quantile_sorted;
use keyprint_datasets::aalto::read_aalto_dir;
use keyprint_datasets::cmu::{CmuData, read_cmu};
use keyprint_injection::detector::{
    InjectionConfig, InjectionDetector, StreamDetector, WindowCheck, run_stream,
};
use keyprint_injection::ducky::{self, Script};
use keyprint_injection::timing::{HumanTiming, Timing, render, render_with};
use keyprint_injection::{DuckHunt, Ukip};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Group name of humanized attacks whose device-attach time (0) is known to the detectors.
pub const HUMAN_ATTACH: &str = "human+attach";

/// Checkpoints (events) at which scores are compared.
pub const CHECKPOINTS: [usize; 3] = [10, 30, 70];

/// Arguments of `keyprint bench injection`.
#[derive(Clone, Debug, clap::Args)]
pub struct InjectionArgs {
    /// Data-set root (holding `cmu-dsl-strongpassword/` and `aalto-keystrokes-dev/`).
    #[arg(long, env = "KEYPRINT_DATASETS")]
    pub data: PathBuf,
    /// Folder of DuckyScript payloads (`*.txt`).
    #[arg(long, default_value = "crates/keyprint-injection/payloads")]
    pub payloads: PathBuf,
    /// Output folder for the JSON/Markdown report.
    #[arg(long, default_value = "out/injection")]
    pub out: PathBuf,
    /// Renderings (seeds) per payload and timing model.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Jitter maxima (ms) to evaluate, one `jitter:MS` model each.
    #[arg(long, value_delimiter = ',', default_value = "5,10,20,50,100")]
    pub jitter_ms: Vec<u64>,
    /// Read at most this many Aalto participants (default: all).
    #[arg(long)]
    pub max_aalto: Option<usize>,
    /// Skip the owner-profile protocol.
    #[arg(long)]
    pub no_owner: bool,
    /// Skip the humanized-injection protocol (three adversaries, humanized-timing check).
    #[arg(long)]
    pub no_humanized: bool,
    /// Only write the humanized statistics of the development split to this CSV, then exit.
    #[arg(long)]
    pub dump_humanized_dev: Option<PathBuf>,
    /// Only write the human timing table derived from CMU to this file, then exit.
    #[arg(long)]
    pub derive_timing_table: Option<PathBuf>,
}

/// The CMU-derived human timing table (`p,hold_ms,dd_ms`; see `crates/keyprint-injection/data/README.md`):
/// quantiles of every hold and every DD latency pooled over all rows, at p = 0.001, 0.01 … 0.99, 0.999.
pub fn derive_timing_table(data: &CmuData) -> String {
    let layout = FixedTextLayout::cmu_strong_password();
    let kinds = layout.feature_kinds();
    let (mut holds, mut dds) = (Vec::new(), Vec::new());
    for (_, samples) in &data.subjects {
        for s in samples {
            for (v, k) in s.features.iter().zip(&kinds) {
                match k {
                    keyprint_core::keystroke::LatencyKind::Hold => holds.push(*v),
                    keyprint_core::keystroke::LatencyKind::DownDown => dds.push(*v),
                    keyprint_core::keystroke::LatencyKind::UpDown => {}
                }
            }
        }
    }
    HumanTiming::from_samples(holds, dds)
        .map(|t| t.to_csv())
        .unwrap_or_default()
}

/// One stream to evaluate.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Group label (timing model or human data set).
    pub group: String,
    /// Device-attach time, µs, when known.
    pub attached_us: Option<i64>,
    /// The events.
    pub events: Vec<KeyEvent>,
}

/// What one detector did on one stream.
#[derive(Clone, Debug)]
struct Outcome {
    verdict: Option<(usize, String)>,
    scores: Vec<Option<f64>>,
}

/// A named detector factory.
pub type Factory = (&'static str, fn() -> Box<dyn StreamDetector>);

/// The detectors compared: keyprint (default configuration), UKIP, DuckHunt.
pub fn factories() -> Vec<Factory> {
    vec![
        ("keyprint", || {
            Box::new(InjectionDetector::new(InjectionConfig::default(), None))
        }),
        ("ukip", || Box::new(Ukip::default())),
        ("duckhunt", || Box::new(DuckHunt::default())),
    ]
}

fn evaluate(make: fn() -> Box<dyn StreamDetector>, probes: &[Probe]) -> Vec<Outcome> {
    probes
        .par_iter()
        .map(|p| {
            let mut d = make();
            let (v, scores) = run_stream(d.as_mut(), p.attached_us, &p.events, &CHECKPOINTS);
            Outcome {
                verdict: v.map(|v| (v.keystroke, v.reason.name().to_string())),
                scores,
            }
        })
        .collect()
}

/// The `*.txt` files of a payload folder, sorted by name.
///
/// # Errors
/// When the folder cannot be read.
pub fn payload_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    Ok(files)
}

/// Loads and parses every payload of a folder (sorted by file name).
///
/// # Errors
/// When the folder cannot be read or a payload has errors (each named with file and line).
pub fn load_payloads(dir: &Path) -> anyhow::Result<Vec<(String, Script)>> {
    let mut out = Vec::new();
    for f in payload_files(dir)? {
        let text = std::fs::read_to_string(&f)?;
        match ducky::parse(&text) {
            Ok(s) => out.push((
                f.file_name().unwrap_or_default().to_string_lossy().into(),
                s,
            )),
            Err(errs) => {
                let msgs: Vec<String> = errs
                    .iter()
                    .map(|e| format!("{}: {e}", f.display()))
                    .collect();
                anyhow::bail!("payload errors:\n{}", msgs.join("\n"));
            }
        }
    }
    Ok(out)
}

/// Attack streams: every payload under every timing model and seed.
pub fn attack_probes(payloads: &[(String, Script)], timings: &[Timing], seeds: u64) -> Vec<Probe> {
    let mut out = Vec::new();
    for t in timings {
        for (i, (_, s)) in payloads.iter().enumerate() {
            for seed in 0..seeds {
                out.push(Probe {
                    group: t.to_string(),
                    attached_us: None,
                    events: render(s, *t, seed * 1000 + i as u64),
                });
            }
        }
    }
    let with_attach: Vec<Probe> = out
        .iter()
        .filter(|p| p.group == Timing::Human.to_string())
        .map(|p| Probe {
            group: HUMAN_ATTACH.into(),
            attached_us: Some(0),
            events: p.events.clone(),
        })
        .collect();
    out.extend(with_attach);
    out
}

/// CMU repetitions as 11-key streams.
pub fn cmu_probes(data: &CmuData) -> Vec<Probe> {
    let layout = FixedTextLayout::cmu_strong_password();
    data.subjects
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|s| Probe {
            group: "cmu-repetitions".into(),
            attached_us: None,
            events: layout.events_from_features(&s.features),
        })
        .collect()
}

fn median_p95(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    (quantile_sorted(&v, 0.5), quantile_sorted(&v, 0.95))
}

/// One row of the attack table.
#[derive(Clone, Debug, Serialize)]
pub struct AttackRow {
    /// Detector.
    pub detector: String,
    /// Timing model.
    pub timing: String,
    /// Attack streams.
    pub streams: usize,
    /// Share detected.
    pub detection_rate: f64,
    /// Share detected within 3 keystrokes.
    pub within_3: f64,
    /// Median keystrokes until detection (detected streams).
    pub keys_median: f64,
    /// 95th percentile of keystrokes until detection (detected streams).
    pub keys_p95: f64,
    /// Verdicts per reason.
    pub reasons: BTreeMap<String, usize>,
}

/// One row of the human table.
#[derive(Clone, Debug, Serialize)]
pub struct HumanRow {
    /// Detector.
    pub detector: String,
    /// Human data set / stream kind.
    pub data: String,
    /// Streams.
    pub sessions: usize,
    /// Key events in them.
    pub keystrokes: usize,
    /// Streams with a (false) alarm.
    pub false_alarms: usize,
    /// False alarms per reason.
    pub reasons: BTreeMap<String, usize>,
}

/// One row of the AUC table.
#[derive(Clone, Debug, Serialize)]
pub struct AucRow {
    /// Detector.
    pub detector: String,
    /// Timing model of the attacks.
    pub timing: String,
    /// AUC after 10, 30, 70 events (`None` when a side has no stream that long).
    pub auc: Vec<Option<f64>>,
    /// (attack, human) streams compared at each checkpoint.
    pub counts: Vec<(usize, usize)>,
}

/// The whole report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InjectionReport {
    /// Attack table.
    pub attacks: Vec<AttackRow>,
    /// Human table.
    pub humans: Vec<HumanRow>,
    /// AUC table.
    pub auc: Vec<AucRow>,
    /// Owner-profile protocol results.
    pub owner: Vec<crate::injection::OwnerRow>,
    /// Humanized-injection protocol results.
    pub humanized: Vec<crate::humanized::HumanizedRow>,
    /// The DuckyScript 3 corpus table.
    pub corpus: Vec<crate::corpus::CorpusRow>,
    /// Constructs of [`crate::corpus::CONSTRUCTS`] the DS3 corpus exercises.
    pub constructs_covered: usize,
}

/// One row of the owner-profile table.
#[derive(Clone, Debug, Serialize)]
pub struct OwnerRow {
    /// What was scored.
    pub setting: String,
    /// Owners evaluated.
    pub owners: usize,
    /// Mean per-owner AUC at 70 keys.
    pub auc_mean: f64,
    /// Smallest per-owner AUC.
    pub auc_min: f64,
    /// AUC pooled over owners (scores are ratios to each owner's threshold).
    pub auc_pooled: f64,
    /// Genuine windows scored.
    pub genuine_windows: usize,
    /// Genuine windows with a verdict (false alarms).
    pub genuine_alarms: usize,
    /// Attack streams scored (over all owners).
    pub attack_streams: usize,
    /// Attack streams with a verdict.
    pub attack_detected: usize,
    /// Median keystrokes until detection (detected attack streams).
    pub keys_median: f64,
    /// 95th percentile of keystrokes until detection.
    pub keys_p95: f64,
}

/// `keyprint bench injection`.
///
/// # Errors
/// When data or payloads cannot be read, or an output cannot be written.
pub fn run(args: &InjectionArgs) -> anyhow::Result<()> {
    let t_all = Instant::now();
    let cmu_path = crate::cmu::locate(&args.data);
    let cmu = read_cmu(&cmu_path)?;
    eprintln!("read {}: {}", cmu_path.display(), cmu.report.summary());
    if let Some(path) = &args.derive_timing_table {
        std::fs::write(path, derive_timing_table(&cmu.data))?;
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    let payloads = load_payloads(&args.payloads)?;
    if let Some(path) = &args.dump_humanized_dev {
        let aalto = read_aalto_dir(&args.data, args.max_aalto)?;
        crate::humanized::dump_development(&aalto.data, &payloads, path)?;
        eprintln!("wrote {}", path.display());
        return Ok(());
    }
    let mut timings = vec![Timing::Stock];
    timings.extend(args.jitter_ms.iter().map(|&m| Timing::Jitter { max_ms: m }));
    timings.push(Timing::Human);
    let attacks = attack_probes(&payloads, &timings, args.seeds);
    eprintln!(
        "{} payloads × {} timing models × {} seeds = {} attack streams (+ {} humanized with the attach time known)",
        payloads.len(),
        timings.len(),
        args.seeds,
        payloads.len() * timings.len() * args.seeds as usize,
        attacks.iter().filter(|p| p.group == HUMAN_ATTACH).count()
    );
    let mut humans = cmu_probes(&cmu.data);
    let aalto = read_aalto_dir(&args.data, args.max_aalto)?;
    eprintln!(
        "read Aalto: {} participants, {}",
        aalto.data.len(),
        aalto.report.summary()
    );
    for p in &aalto.data {
        let mut merged = Vec::new();
        for s in &p.sequences {
            humans.push(Probe {
                group: "aalto-sentences".into(),
                attached_us: None,
                events: s.events.clone(),
            });
            merged.extend(s.events.iter().cloned());
        }
        merged.sort_by_key(|e| e.press_us);
        humans.push(Probe {
            group: "aalto-participants".into(),
            attached_us: None,
            events: merged,
        });
    }
    let mut report = InjectionReport::default();
    let facts = factories();
    let pb = progress(facts.len() as u64, "detectors");
    let mut attack_table = Table::new([
        "detector",
        "timing",
        "streams",
        "detected",
        "≤3 keys",
        "keys to detect (median)",
        "keys to detect (p95)",
        "reasons",
    ]);
    let mut human_table = Table::new([
        "detector",
        "human data",
        "streams",
        "keystrokes",
        "false alarms",
        "reasons",
    ]);
    let mut auc_table = Table::new([
        "detector",
        "timing",
        "AUC@10",
        "AUC@30",
        "AUC@70",
        "n (attack/human) @10/30/70",
    ]);
    for (name, make) in &facts {
        pb.set_message(name.to_string());
        let a_out = evaluate(*make, &attacks);
        let h_out = evaluate(*make, &humans);
        let groups: Vec<String> = timings
            .iter()
            .map(|t| t.to_string())
            .chain([HUMAN_ATTACH.to_string()])
            .collect();
        for g in groups {
            let idx: Vec<usize> = (0..attacks.len())
                .filter(|&i| attacks[i].group == g)
                .collect();
            let det: Vec<&Outcome> = idx
                .iter()
                .map(|&i| &a_out[i])
                .filter(|o| o.verdict.is_some())
                .collect();
            let keys: Vec<f64> = det
                .iter()
                .map(|o| o.verdict.as_ref().map_or(0.0, |v| v.0 as f64))
                .collect();
            let within3 = keys.iter().filter(|&&k| k <= 3.0).count();
            let mut reasons = BTreeMap::new();
            for o in &det {
                *reasons
                    .entry(o.verdict.as_ref().map(|v| v.1.clone()).unwrap_or_default())
                    .or_insert(0) += 1;
            }
            let (med, p95) = median_p95(keys.clone());
            let row = AttackRow {
                detector: name.to_string(),
                timing: g.clone(),
                streams: idx.len(),
                detection_rate: det.len() as f64 / idx.len().max(1) as f64,
                within_3: within3 as f64 / idx.len().max(1) as f64,
                keys_median: med,
                keys_p95: p95,
                reasons,
            };
            attack_table.push([
                row.detector.clone(),
                row.timing.clone(),
                row.streams.to_string(),
                format!("{:.1}%", 100.0 * row.detection_rate),
                format!("{:.1}%", 100.0 * row.within_3),
                format!("{:.0}", row.keys_median),
                format!("{:.0}", row.keys_p95),
                fmt_reasons(&row.reasons),
            ]);
            report.attacks.push(row);
            // AUC against every human stream long enough.
            let mut auc = Vec::new();
            let mut counts = Vec::new();
            for c in 0..CHECKPOINTS.len() {
                let imp: Vec<f64> = idx.iter().filter_map(|&i| a_out[i].scores[c]).collect();
                let gen_: Vec<f64> = (0..humans.len())
                    .filter(|&i| humans[i].group != "aalto-participants")
                    .filter_map(|i| h_out[i].scores[c])
                    .collect();
                counts.push((imp.len(), gen_.len()));
                auc.push(roc(&gen_, &imp).ok().map(|r| r.auc()));
            }
            let f = |x: Option<f64>| x.map_or("—".to_string(), |v| format!("{v:.4}"));
            auc_table.push([
                name.to_string(),
                g.clone(),
                f(auc[0]),
                f(auc[1]),
                f(auc[2]),
                counts
                    .iter()
                    .map(|(a, h)| format!("{a}/{h}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ]);
            report.auc.push(AucRow {
                detector: name.to_string(),
                timing: g,
                auc,
                counts,
            });
        }
        for group in ["cmu-repetitions", "aalto-sentences", "aalto-participants"] {
            let idx: Vec<usize> = (0..humans.len())
                .filter(|&i| humans[i].group == group)
                .collect();
            let mut reasons = BTreeMap::new();
            let mut fa = 0;
            for &i in &idx {
                if let Some((_, r)) = &h_out[i].verdict {
                    fa += 1;
                    *reasons.entry(r.clone()).or_insert(0) += 1;
                }
            }
            let row = HumanRow {
                detector: name.to_string(),
                data: group.into(),
                sessions: idx.len(),
                keystrokes: idx.iter().map(|&i| humans[i].events.len()).sum(),
                false_alarms: fa,
                reasons,
            };
            human_table.push([
                row.detector.clone(),
                row.data.clone(),
                row.sessions.to_string(),
                row.keystrokes.to_string(),
                format!(
                    "{} ({:.3}%)",
                    row.false_alarms,
                    100.0 * row.false_alarms as f64 / row.sessions.max(1) as f64
                ),
                fmt_reasons(&row.reasons),
            ]);
            report.humans.push(row);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let mut md = format!(
        "# Keystroke-injection detection\n\nPayloads: {} from `{}`; timing models: {}; {} seeds each. \
         Humans: CMU `{}` ({} repetitions as 11-key streams), Aalto `{}` ({} participants). \
         Protocol: see `crates/keyprint-bench/src/injection.rs`.\n\n",
        payloads.len(),
        args.payloads.display(),
        timings
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.seeds,
        cmu_path.display(),
        cmu.data.subjects.iter().map(|s| s.1.len()).sum::<usize>(),
        args.data.display(),
        aalto.data.len()
    );
    md.push_str(&format!("## Attacks\n\n{}\n", attack_table.to_markdown()));
    md.push_str(&format!(
        "## Humans (false alarms)\n\n{}\n",
        human_table.to_markdown()
    ));
    md.push_str(&format!(
        "## ROC AUC after k keys (attack streams vs human streams with ≥ k events)\n\n{}\n",
        auc_table.to_markdown()
    ));
    println!("{md}");
    if !args.no_owner {
        let (rows, table) = owner_protocol(&aalto.data, &payloads, args.seeds)?;
        let s = format!(
            "## Humanized attacks against the owner's free-text profile (Aalto owners, 70 keys)\n\n{}\n",
            table.to_markdown()
        );
        println!("{s}");
        md.push_str(&s);
        report.owner = rows;
    }
    let texts = crate::corpus::load_texts(&args.payloads)?;
    let ds3: Vec<bool> = texts
        .iter()
        .map(|(_, t)| crate::corpus::is_ds3(t))
        .collect();
    if !args.no_humanized {
        let (rows, table) = crate::humanized::humanized_protocol(&aalto.data, &payloads, &ds3)?;
        let s = format!(
            "## Humanized injection: three adversaries, 70 keys (Aalto test owners; development split index % 4 == 0)\n\n{}\n",
            table.to_markdown()
        );
        println!("{s}");
        md.push_str(&s);
        report.humanized = rows;
    }
    let (ctable, covered) = crate::corpus::constructs_table(&texts);
    let s = format!(
        "## DuckyScript 3 constructs in the corpus ({} DS3 payloads of {}; {covered} of {} constructs covered)\n\n{}\n",
        ds3.iter().filter(|&&d| d).count(),
        texts.len(),
        crate::corpus::CONSTRUCTS.len(),
        ctable.to_markdown()
    );
    println!("{s}");
    md.push_str(&s);
    report.constructs_covered = covered;
    let (rows, table) = crate::corpus::corpus_table(
        &texts,
        &payloads,
        args.seeds,
        &report.humans,
        &report.humanized,
    );
    let s = format!(
        "## Corpus table: DuckyScript 3 payloads, measured beside the targets\n\n{}\n",
        table.to_markdown()
    );
    println!("{s}");
    md.push_str(&s);
    report.corpus = rows;
    let total = t_all.elapsed().as_secs_f64();
    println!("total wall time: {total:.1} s");
    md.push_str(&format!("Total wall time: {total:.1} s\n"));
    write_report(&args.out, "injection", &report, &md)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn fmt_reasons(r: &BTreeMap<String, usize>) -> String {
    r.iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sentences used to fit an owner's profile.
pub const OWNER_FIT_SENTENCES: usize = 7;
/// Sentences (after the fitted ones) used to calibrate the owner's threshold.
pub const OWNER_CAL_SENTENCES: usize = 3;

/// Additive margin over the population's largest key-context score.
pub const CONTEXT_MARGIN: f64 = 0.5;
/// Window of keys scored by the owner profile (the AUC checkpoint).
pub const OWNER_WINDOW: usize = 70;

/// 70-key windows of a stream, stride 35 (none when it is shorter than 70).
pub(crate) fn windows(events: &[KeyEvent]) -> Vec<Vec<KeyEvent>> {
    if events.len() < OWNER_WINDOW {
        return Vec::new();
    }
    (0..=events.len() - OWNER_WINDOW)
        .step_by(OWNER_WINDOW / 2)
        .map(|i| events[i..i + OWNER_WINDOW].to_vec())
        .collect()
}

pub(crate) fn merged(seqs: &[keyprint_core::event::Stream<KeyEvent>]) -> Vec<KeyEvent> {
    let mut v: Vec<KeyEvent> = seqs.iter().flat_map(|s| s.events.iter().cloned()).collect();
    v.sort_by_key(|e| e.press_us);
    v
}

/// An owner's fit sequences, calibration windows and test windows.
pub(crate) fn owner_split(
    p: &keyprint_datasets::aalto::AaltoParticipant,
) -> [Vec<Vec<KeyEvent>>; 3] {
    let fit = p.sequences[..OWNER_FIT_SENTENCES]
        .iter()
        .map(|s| s.events.clone())
        .collect();
    let cal = windows(&merged(
        &p.sequences[OWNER_FIT_SENTENCES..OWNER_FIT_SENTENCES + OWNER_CAL_SENTENCES],
    ));
    let test = windows(&merged(
        &p.sequences[OWNER_FIT_SENTENCES + OWNER_CAL_SENTENCES..],
    ));
    [fit, cal, test]
}

/// The owner-profile protocol (humanized attacks).
///
/// Participants are split by index: every 4th participant (index % 4 == 0) trains keyprint-freetext's
/// population model (default fusion: plain LLR sum) and is never an owner; every other participant with at
/// least 12 sentences is an owner. Owner profile: fitted on the first [`OWNER_FIT_SENTENCES`] sentences;
/// threshold = the largest score of the 70-key windows (stride 35) of the next [`OWNER_CAL_SENTENCES`]
/// sentences plus a margin learned on the population people (enrolled and calibrated the same way: the
/// largest excess of their held-out windows over their calibration maximum, plus 1 nat). Key-context
/// threshold: the largest key-context score over the population people's 70-key windows plus
/// [`CONTEXT_MARGIN`]. Genuine probes: the 70-key windows of the remaining sentences
/// (merged by press time), each run as a fresh stream through keyprint's detector with the profile;
/// impostor probes: every humanized rendering (`--seeds` per payload) of every payload of at least 70
/// keystrokes, run whole. Score = the detector's score after 70 events. Reported: mean and minimum
/// per-owner AUC, pooled AUC, false alarms on genuine windows, and detections of the attacks (any rule,
/// whole stream).
///
/// # Errors
/// When no owner qualifies.
pub fn owner_protocol(
    aalto: &[keyprint_datasets::aalto::AaltoParticipant],
    payloads: &[(String, Script)],
    seeds: u64,
) -> anyhow::Result<(Vec<OwnerRow>, Table)> {
    use keyprint_core::detector::Template;
    use keyprint_core::detector::{Detector, Enrolment};
    use keyprint_freetext::{FreeTextConfig, FreeTextDetector, PopulationModel};
    use keyprint_injection::context::KeyContextCheck;
    use keyprint_injection::detector::OwnerProfile;
    use std::sync::Arc;

    let population: Vec<Vec<Vec<KeyEvent>>> = aalto
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 4 == 0)
        .map(|(_, p)| p.sequences.iter().map(|s| s.events.clone()).collect())
        .collect();
    let model = Arc::new(PopulationModel::train(
        &population,
        FreeTextConfig::default(),
    ));
    let det = FreeTextDetector { model };
    let owners: Vec<&keyprint_datasets::aalto::AaltoParticipant> = aalto
        .iter()
        .enumerate()
        .filter(|(i, p)| i % 4 != 0 && p.sequences.len() >= 12)
        .map(|(_, p)| p)
        .collect();
    anyhow::ensure!(
        !owners.is_empty(),
        "no Aalto participant qualifies as an owner"
    );
    let (owner_margin, excess_n) = owner_margin(aalto, &det);
    let attacks: Vec<Vec<KeyEvent>> = payloads
        .iter()
        .enumerate()
        .flat_map(|(i, (_, s))| {
            (0..seeds).map(move |seed| render(s, Timing::Human, seed * 1000 + i as u64))
        })
        .filter(|e| e.len() >= OWNER_WINDOW)
        .collect();
    // A harder humanized attacker: timing drawn from the owners' own population (the Aalto population
    // people's holds and within-sentence DDs of non-modifier keys, same table method as the CMU table;
    // built at run time, never committed: Aalto's licence is non-commercial).
    let pop_seqs: Vec<&[KeyEvent]> = population.iter().flatten().map(|s| s.as_slice()).collect();
    let aalto_timing = crate::humanized::timing_of(&pop_seqs)
        .ok_or_else(|| anyhow::anyhow!("no population timing"))?;
    let attacks_aalto: Vec<Vec<KeyEvent>> = payloads
        .iter()
        .enumerate()
        .flat_map(|(i, (_, s))| {
            let t = &aalto_timing;
            (0..seeds).map(move |seed| render_with(s, Timing::Human, seed * 1000 + i as u64, t))
        })
        .filter(|e| e.len() >= OWNER_WINDOW)
        .collect();
    let attack_sets: [(&str, &Vec<Vec<KeyEvent>>); 2] = [
        ("CMU-timed (the `human` model)", &attacks),
        ("Aalto-population-timed", &attacks_aalto),
    ];
    // Key-context check: threshold from the population people's own windows (not test data).
    let context = KeyContextCheck::new(det.model.clone());
    let pop_scores: Vec<f64> = population
        .par_iter()
        .flat_map_iter(|seqs| {
            let mut v: Vec<KeyEvent> = seqs.iter().flatten().cloned().collect();
            v.sort_by_key(|e| e.press_us);
            windows(&v)
        })
        .map(|w| context.score(&w))
        .collect();
    let context_threshold =
        pop_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max) + CONTEXT_MARGIN;
    let context = Arc::new(WindowCheck {
        template: Box::new(context),
        threshold: context_threshold,
    });
    const SETTINGS: [&str; 3] = [
        "owner profile",
        "key-context check",
        "owner profile + key-context check",
    ];
    let pb = progress(owners.len() as u64, "owners");
    struct PerOwner {
        genuine: Vec<f64>,
        genuine_alarms: usize,
        attack: Vec<f64>,
        attack_keys: Vec<usize>,
    }
    let per: Vec<Vec<PerOwner>> = owners
        .par_iter()
        .filter_map(|p| {
            pb.inc(1);
            let [fit, cal, test] = owner_split(p);
            if cal.is_empty() || test.is_empty() {
                return None;
            }
            let template = det.fit(&Enrolment::one_class(&fit)).ok()?;
            let profile = Arc::new(OwnerProfile::calibrate(template, &cal, owner_margin)?);
            Some(
                (0..SETTINGS.len() * attack_sets.len())
                    .map(|k| {
                        let (setting, attacks) =
                            (k % SETTINGS.len(), attack_sets[k / SETTINGS.len()].1);
                        let run = |events: &[KeyEvent]| {
                            let mut d = InjectionDetector::new(InjectionConfig::default(), None);
                            if setting != 1 {
                                d = d.with_owner(Shared::wrap(&profile));
                            }
                            if setting != 0 {
                                d = d.with_key_context(Shared::wrap(&context));
                            }
                            let (v, s) = run_stream(&mut d, None, events, &[OWNER_WINDOW]);
                            (v.map(|v| v.keystroke), s[0].unwrap_or(f64::NAN))
                        };
                        let g: Vec<(Option<usize>, f64)> = test.iter().map(|w| run(w)).collect();
                        let a: Vec<(Option<usize>, f64)> = attacks.iter().map(|w| run(w)).collect();
                        PerOwner {
                            genuine_alarms: g.iter().filter(|x| x.0.is_some()).count(),
                            genuine: g.into_iter().map(|x| x.1).collect(),
                            attack_keys: a.iter().filter_map(|x| x.0).collect(),
                            attack: a.into_iter().map(|x| x.1).collect(),
                        }
                    })
                    .collect(),
            )
        })
        .collect();
    pb.finish_and_clear();
    let mut table = Table::new([
        "setting",
        "owners",
        "AUC@70 mean per owner",
        "AUC@70 min",
        "AUC@70 pooled",
        "genuine windows",
        "false alarms",
        "attack streams × owners",
        "detected",
        "keys to detect (median / p95)",
    ]);
    let mut rows = Vec::new();
    for k in 0..SETTINGS.len() * attack_sets.len() {
        let (name, set) = (
            SETTINGS[k % SETTINGS.len()],
            attack_sets[k / SETTINGS.len()].0,
        );
        let per: Vec<&PerOwner> = per.iter().map(|v| &v[k]).collect();
        let aucs: Vec<f64> = per
            .iter()
            .filter_map(|o| roc(&o.genuine, &o.attack).ok().map(|r| r.auc()))
            .collect();
        let all_g: Vec<f64> = per.iter().flat_map(|o| o.genuine.iter().copied()).collect();
        let all_a: Vec<f64> = per.iter().flat_map(|o| o.attack.iter().copied()).collect();
        let row = OwnerRow {
            setting: format!("keyprint + {name}; humanized attacks {set}"),
            owners: per.len(),
            auc_mean: aucs.iter().sum::<f64>() / aucs.len().max(1) as f64,
            auc_min: aucs.iter().copied().fold(f64::INFINITY, f64::min),
            auc_pooled: roc(&all_g, &all_a).map(|r| r.auc()).unwrap_or(f64::NAN),
            genuine_windows: all_g.len(),
            genuine_alarms: per.iter().map(|o| o.genuine_alarms).sum(),
            attack_streams: all_a.len(),
            attack_detected: per.iter().map(|o| o.attack_keys.len()).sum(),
            keys_median: f64::NAN,
            keys_p95: f64::NAN,
        };
        let (keys_median, keys_p95) = median_p95(
            per.iter()
                .flat_map(|o| o.attack_keys.iter().map(|&k| k as f64))
                .collect(),
        );
        let row = OwnerRow {
            keys_median,
            keys_p95,
            ..row
        };
        table.push([
            row.setting.clone(),
            row.owners.to_string(),
            format!("{:.4}", row.auc_mean),
            format!("{:.4}", row.auc_min),
            format!("{:.4}", row.auc_pooled),
            row.genuine_windows.to_string(),
            format!(
                "{} ({:.2}%)",
                row.genuine_alarms,
                100.0 * row.genuine_alarms as f64 / row.genuine_windows.max(1) as f64
            ),
            row.attack_streams.to_string(),
            format!(
                "{} ({:.1}%)",
                row.attack_detected,
                100.0 * row.attack_detected as f64 / row.attack_streams.max(1) as f64
            ),
            format!("{:.0} / {:.0}", row.keys_median, row.keys_p95),
        ]);
        rows.push(row);
    }
    eprintln!("owner margin {owner_margin:.2} nats (max over {excess_n} population windows + 1)");
    eprintln!(
        "key-context threshold {context_threshold:.3} (max over {} population windows + {CONTEXT_MARGIN}); humanized attacks: {} CMU-timed and {} Aalto-population-timed streams of >= 70 keys",
        pop_scores.len(),
        attacks.len(),
        attacks_aalto.len()
    );
    Ok((rows, table))
}

/// A shared window check (one fitted template used by many detector instances).
struct Shared(std::sync::Arc<WindowCheck>);

impl Shared {
    fn wrap(p: &std::sync::Arc<WindowCheck>) -> WindowCheck {
        WindowCheck {
            template: Box::new(Shared(p.clone())),
            threshold: p.threshold,
        }
    }
}

impl keyprint_core::detector::Template<Vec<KeyEvent>> for Shared {
    fn score(&self, probe: &Vec<KeyEvent>) -> f64 {
        self.0.template.score(probe)
    }
}

/// The owner threshold's margin, from the population people (index % 4 == 0, never owners): each is
/// enrolled and calibrated like an owner; the margin is the largest excess of a held-out window's score over
/// that person's largest calibration score (zero false alarms on the population), plus 1 nat. Returns the
/// margin and the number of windows it was taken over.
pub(crate) fn owner_margin(
    aalto: &[keyprint_datasets::aalto::AaltoParticipant],
    det: &keyprint_freetext::FreeTextDetector,
) -> (f64, usize) {
    use keyprint_core::detector::{Detector, Enrolment};
    let excess: Vec<f64> = aalto
        .par_iter()
        .enumerate()
        .filter(|(i, p)| i % 4 == 0 && p.sequences.len() >= 12)
        .flat_map_iter(|(_, p)| {
            let [fit, cal, test] = owner_split(p);
            let t = det.fit(&Enrolment::one_class(&fit)).ok();
            let c = t
                .as_ref()
                .and_then(|t| cal.iter().map(|w| t.score(w)).reduce(f64::max));
            let v: Vec<f64> = match (t, c) {
                (Some(t), Some(c)) => test.iter().map(|w| t.score(w) - c).collect(),
                _ => Vec::new(),
            };
            v
        })
        .collect();
    (
        excess.iter().copied().fold(0.0, f64::max) + 1.0,
        excess.len(),
    )
}
