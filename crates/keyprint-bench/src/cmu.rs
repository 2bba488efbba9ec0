//! The CMU fixed-text benchmark (Killourhy & Maxion, DSN 2009), exactly as the paper runs it, plus the
//! enrolment-size curve and the background-population mode.
//!
//! Protocol, per subject (51): enrol on its first `N` repetitions (paper: `N` = 200, sessions 1–4); genuine
//! probes are its last 200 repetitions (sessions 5–8); impostor probes are the first 5 repetitions of each
//! other subject (250). The subject's ROC gives its EER and zero-miss false-alarm rate; the table reports the
//! mean and standard deviation over subjects.
//!
//! Background mode: subjects are split into `K` disjoint folds (subject index mod `K`). For a subject in fold
//! `f`, the background population is the enrolment data of every subject outside `f`, and the impostors are
//! the other subjects of fold `f` only — so no test impostor is ever seen in training.

use crate::plot::{Curve, write_curves};
use crate::table::{Table, progress, write_report};
use keyprint_core::detector::{Detector, Enrolment, FeatureVector};
use keyprint_core::detectors::{KeyprintBackground, KeyprintOneClass, killourhy_maxion};
use keyprint_core::eval::{Roc, Summary, average_rocs, roc, summarize};
use keyprint_core::keystroke::FixedTextLayout;
use keyprint_datasets::cmu::{CmuData, read_cmu};
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Published zero-miss false-alarm rates (Killourhy & Maxion 2009, Table 2), by detector name.
const PUBLISHED_ZM: [(&str, f64); 4] = [
    ("nn-mahalanobis", 0.468),
    ("mahalanobis", 0.482),
    ("svm-one-class", 0.504),
    ("manhattan-scaled", 0.601),
];

/// Arguments of `keyprint bench cmu`.
#[derive(Clone, Debug, clap::Args)]
pub struct CmuArgs {
    /// `DSL-StrongPasswordData.csv`, or a folder holding it (directly or under `cmu-dsl-strongpassword/`).
    #[arg(long, env = "KEYPRINT_DATASETS")]
    pub data: PathBuf,
    /// Output folder for the JSON/Markdown tables and the plots.
    #[arg(long, default_value = "out/cmu")]
    pub out: PathBuf,
    /// Enrolment repetitions per subject. Several values (comma-separated) give the enrolment-size curve.
    #[arg(long, value_delimiter = ',', default_value = "200")]
    pub train_reps: Vec<usize>,
    /// Background-population mode: other subjects' enrolment data as negatives, subjects in disjoint folds.
    #[arg(long)]
    pub background: bool,
    /// Number of subject folds in background mode.
    #[arg(long, default_value_t = 3)]
    pub folds: usize,
    /// Only run detectors whose name contains one of these (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Development protocol, used to choose keyprint's own settings without touching the test data: enrol on
    /// reps 1–min(N,100), genuine probes reps 101–200, impostor probes reps 6–10 of the other subjects.
    #[arg(long)]
    pub dev: bool,
}

/// One configuration of the protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Enrolment repetitions per subject (the paper: 200).
    pub train_reps: usize,
    /// Background-population mode.
    pub background: bool,
    /// Subject folds in background mode.
    pub folds: usize,
    /// Development protocol instead of the paper's (see [`CmuArgs::dev`]).
    pub dev: bool,
}

impl Setup {
    /// The paper's protocol: 200 enrolment reps, one-class.
    pub fn paper() -> Self {
        Setup {
            train_reps: 200,
            background: false,
            folds: 3,
            dev: false,
        }
    }
}

/// Per-detector result of one run.
#[derive(Clone, Debug, Serialize)]
pub struct DetectorResult {
    /// Detector name.
    pub detector: String,
    /// Enrolment repetitions.
    pub train_reps: usize,
    /// Background mode?
    pub background: bool,
    /// Mean per-subject EER.
    pub eer_mean: f64,
    /// SD of per-subject EER.
    pub eer_sd: f64,
    /// Published mean EER, where the paper has one.
    pub published_eer: Option<f64>,
    /// Mean per-subject zero-miss false-alarm rate (FNMR at FMR = 0).
    pub zero_miss_far_mean: f64,
    /// Published zero-miss false-alarm rate, where the paper has one.
    pub published_zero_miss_far: Option<f64>,
    /// Mean per-subject FMR at FNMR = 5 %.
    pub fmr_at_fnmr5_mean: f64,
    /// Mean per-subject AUC.
    pub auc_mean: f64,
    /// Subjects evaluated.
    pub subjects: usize,
    /// Wall time of fitting and scoring, seconds.
    pub seconds: f64,
    /// Per-subject EERs, in file order.
    pub per_subject_eer: Vec<f64>,
}

/// Finds the CMU file under `p`.
pub fn locate(p: &Path) -> PathBuf {
    for c in [
        p.to_path_buf(),
        p.join("DSL-StrongPasswordData.csv"),
        p.join("cmu-dsl-strongpassword/DSL-StrongPasswordData.csv"),
    ] {
        if c.is_file() {
            return c;
        }
    }
    p.to_path_buf()
}

/// The detectors of a run: K&M's set and keyprint's; in background mode keyprint's background detector too.
pub fn detectors(background: bool) -> Vec<(Box<dyn Detector<FeatureVector>>, Option<f64>)> {
    let mut v: Vec<(Box<dyn Detector<FeatureVector>>, Option<f64>)> = killourhy_maxion()
        .into_iter()
        .map(|(d, e)| (d, Some(e)))
        .collect();
    let layout = FixedTextLayout::cmu_strong_password();
    v.push((Box::new(KeyprintOneClass::for_layout(&layout)), None));
    if background {
        v.push((Box::new(KeyprintBackground::for_layout(&layout)), None));
    }
    v
}

struct SubjectSplit {
    enrol: Vec<FeatureVector>,
    genuine: Vec<FeatureVector>,
    impostor: Vec<FeatureVector>,
    background: Vec<Vec<FeatureVector>>,
}

/// Builds every subject's enrolment, genuine and impostor probes (and background) under the protocol.
fn splits(data: &CmuData, setup: Setup) -> Vec<SubjectSplit> {
    let feats = |i: usize| -> Vec<FeatureVector> {
        data.subjects[i]
            .1
            .iter()
            .map(|s| s.features.clone())
            .collect()
    };
    let n = data.subjects.len();
    let fold = |i: usize| {
        if setup.background {
            i % setup.folds.max(2)
        } else {
            0
        }
    };
    // (enrolment end, genuine range, impostor range) in repetitions.
    let (enrol_max, genuine, impostor) = if setup.dev {
        (100, 100..200, 5..10)
    } else {
        (200, 200..400, 0..5)
    };
    let take = |v: &[FeatureVector], r: std::ops::Range<usize>| {
        v[r.start.min(v.len())..r.end.min(v.len())].to_vec()
    };
    (0..n)
        .map(|i| {
            let all = feats(i);
            let enrol = take(&all, 0..setup.train_reps.min(enrol_max));
            let mut impostors = Vec::new();
            let mut bg = Vec::new();
            for j in (0..n).filter(|&j| j != i) {
                let other = feats(j);
                if fold(j) == fold(i) {
                    impostors.extend(take(&other, impostor.clone()));
                } else {
                    bg.push(take(&other, 0..setup.train_reps.min(enrol_max)));
                }
            }
            SubjectSplit {
                enrol,
                genuine: take(&all, genuine.clone()),
                impostor: impostors,
                background: if setup.background { bg } else { Vec::new() },
            }
        })
        .collect()
}

/// Runs one detector over every subject; returns the per-subject ROCs.
fn run_detector(
    det: &dyn Detector<FeatureVector>,
    sp: &[SubjectSplit],
) -> anyhow::Result<Vec<Roc>> {
    sp.par_iter()
        .map(|s| {
            let e = Enrolment {
                genuine: &s.enrol,
                background: &s.background,
            };
            let t = det.fit(&e)?;
            let g: Vec<f64> = s.genuine.iter().map(|x| t.score(x)).collect();
            let m: Vec<f64> = s.impostor.iter().map(|x| t.score(x)).collect();
            Ok(roc(&g, &m)?)
        })
        .collect()
}

/// Runs the benchmark for one enrolment size and mode, returns rows and per-detector mean curves.
pub fn evaluate(
    data: &CmuData,
    setup: Setup,
    only: &[String],
) -> anyhow::Result<Vec<(DetectorResult, Roc)>> {
    let Setup {
        train_reps,
        background,
        ..
    } = setup;
    let sp = splits(data, setup);
    let dets: Vec<_> = detectors(background)
        .into_iter()
        .filter(|(d, _)| only.is_empty() || only.iter().any(|o| d.name().contains(o.as_str())))
        .collect();
    let pb = progress(dets.len() as u64, &format!("N={train_reps}"));
    let mut out = Vec::new();
    for (det, published) in dets {
        pb.set_message(det.name().to_string());
        let t0 = Instant::now();
        let rocs = run_detector(det.as_ref(), &sp)?;
        let seconds = t0.elapsed().as_secs_f64();
        let eers: Vec<f64> = rocs.iter().map(Roc::eer).collect();
        let Summary { mean, sd, n } = summarize(&eers);
        let zm = summarize(&rocs.iter().map(Roc::fnmr_at_zero_fmr).collect::<Vec<_>>()).mean;
        let f5 = summarize(&rocs.iter().map(|r| r.fmr_at_fnmr(0.05)).collect::<Vec<_>>()).mean;
        let auc = summarize(&rocs.iter().map(Roc::auc).collect::<Vec<_>>()).mean;
        let name = det.name().to_string();
        let is_paper_protocol = setup == Setup::paper();
        out.push((
            DetectorResult {
                published_zero_miss_far: PUBLISHED_ZM
                    .iter()
                    .find(|(d, _)| *d == name)
                    .map(|x| x.1)
                    .filter(|_| is_paper_protocol),
                detector: name,
                train_reps,
                background,
                eer_mean: mean,
                eer_sd: sd,
                published_eer: published.filter(|_| is_paper_protocol),
                zero_miss_far_mean: zm,
                fmr_at_fnmr5_mean: f5,
                auc_mean: auc,
                subjects: n,
                seconds,
                per_subject_eer: eers,
            },
            average_rocs(&rocs).ok_or_else(|| anyhow::anyhow!("no subject to evaluate"))?,
        ));
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(out)
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "—".into())
}

/// Checks the arguments against the protocol and the data before anything runs.
///
/// # Errors
/// An enrolment size outside 1..=200 (1..=100 with `--dev`), fewer than 2 folds in background mode, a
/// `--only` filter that matches no detector, or data too small for the protocol (every subject needs 400
/// repetitions; at least 2 subjects, and 2 per fold in background mode).
pub fn validate(args: &CmuArgs, data: &CmuData) -> anyhow::Result<()> {
    let max = if args.dev { 100 } else { 200 };
    if let Some(n) = args.train_reps.iter().find(|n| **n == 0 || **n > max) {
        anyhow::bail!("--train-reps {n}: the protocol enrols on 1 to {max} repetitions");
    }
    if args.background && args.folds < 2 {
        anyhow::bail!(
            "--folds {}: background mode needs at least 2 subject folds",
            args.folds
        );
    }
    if !args.only.is_empty()
        && !detectors(args.background)
            .iter()
            .any(|(d, _)| args.only.iter().any(|o| d.name().contains(o.as_str())))
    {
        anyhow::bail!("--only {}: matches no detector", args.only.join(","));
    }
    let min_subjects = if args.background { 2 * args.folds } else { 2 };
    if data.subjects.len() < min_subjects {
        anyhow::bail!(
            "the data holds {} subjects; this protocol needs at least {min_subjects}",
            data.subjects.len()
        );
    }
    if let Some((s, v)) = data.subjects.iter().find(|(_, v)| v.len() < 400) {
        anyhow::bail!(
            "subject {s} has {} repetitions; the protocol needs 400 (8 sessions of 50)",
            v.len()
        );
    }
    Ok(())
}

/// `keyprint bench cmu`.
///
/// # Errors
/// When the data cannot be read or an output cannot be written.
pub fn run(args: &CmuArgs) -> anyhow::Result<()> {
    let path = locate(&args.data);
    let loaded = read_cmu(&path)?;
    eprintln!("read {}: {}", path.display(), loaded.report.summary());
    for r in loaded.report.rejected.iter().take(20) {
        eprintln!("  rejected {r}");
    }
    let data = loaded.data;
    validate(args, &data)?;
    let t_all = Instant::now();
    let mut results = Vec::new();
    let mut md = String::new();
    md.push_str(&format!(
        "# CMU keystroke benchmark\n\nData: `{}` ({} subjects). Protocol: {}{}; mean (sd) of per-subject EER (interpolated).\n\n",
        path.display(),
        data.subjects.len(),
        if args.dev {
            "DEVELOPMENT protocol (enrolment sessions only) — enrol on reps 1..min(N,100), genuine = reps 101-200, impostors = reps 6-10 of each other subject"
        } else {
            "Killourhy & Maxion 2009 — enrol on the first N reps, genuine = last 200 reps, impostors = first 5 reps of each other subject"
        },
        if args.background {
            format!("; background mode: {} subject folds, background = enrolment data of subjects outside the fold, impostors = subjects of the same fold", args.folds)
        } else {
            String::new()
        }
    ));
    for &n in &args.train_reps {
        let setup = Setup {
            train_reps: n,
            background: args.background,
            folds: args.folds,
            dev: args.dev,
        };
        let rows = evaluate(&data, setup, &args.only)?;
        let mut table = Table::new([
            "detector",
            "N",
            "EER mean (sd)",
            "published EER",
            "zero-miss FAR",
            "published ZM-FAR",
            "FMR@FNMR=5%",
            "AUC",
            "time (s)",
        ]);
        for (r, _) in &rows {
            table.push([
                r.detector.clone(),
                n.to_string(),
                format!("{:.4} ({:.4})", r.eer_mean, r.eer_sd),
                opt(r.published_eer),
                format!("{:.4}", r.zero_miss_far_mean),
                opt(r.published_zero_miss_far),
                format!("{:.4}", r.fmr_at_fnmr5_mean),
                format!("{:.4}", r.auc_mean),
                format!("{:.2}", r.seconds),
            ]);
        }
        let best = if args.background {
            "Best published with background data on this protocol: 0.035 (Deep Belief Net, Deng & Zhong 2013); GMM-UBM 0.055."
        } else {
            "Best published one-class results on this protocol: 0.084 (nearest neighbour, combined distance; Zhong, Deng & Jain 2012); 0.087 (GMM)."
        };
        println!("\n{}\n{best}\n", table.to_markdown());
        md.push_str(&format!(
            "## N = {n} enrolment reps{}\n\n{}\n",
            if args.background {
                ", background mode"
            } else {
                ""
            },
            table.to_markdown()
        ));
        md.push_str(&format!("{best}\n\n"));
        let curves: Vec<Curve<'_>> = rows
            .iter()
            .map(|(r, c)| Curve {
                label: format!("{} ({:.3})", r.detector, r.eer_mean),
                roc: c,
            })
            .collect();
        let stem = format!(
            "cmu-n{n}{}",
            if args.background { "-background" } else { "" }
        );
        write_curves(
            &args.out,
            &stem,
            &format!("CMU, N={n}: mean per-subject curve"),
            &curves,
        )?;
        results.extend(rows.into_iter().map(|(r, _)| r));
    }
    if args.train_reps.len() > 1 {
        let mut curve = Table::new(
            ["detector"]
                .into_iter()
                .map(String::from)
                .chain(args.train_reps.iter().map(|n| format!("N={n}"))),
        );
        let names: Vec<String> = results
            .iter()
            .map(|r| r.detector.clone())
            .filter(|n| !n.is_empty())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        for name in names {
            let mut row = vec![name.clone()];
            for &n in &args.train_reps {
                row.push(
                    results
                        .iter()
                        .find(|r| r.detector == name && r.train_reps == n)
                        .map(|r| format!("{:.4}", r.eer_mean))
                        .unwrap_or_default(),
                );
            }
            curve.push(row);
        }
        println!("Mean EER by enrolment size:\n\n{}", curve.to_markdown());
        md.push_str(&format!(
            "## Mean EER by enrolment size\n\n{}\n",
            curve.to_markdown()
        ));
    }
    let total = t_all.elapsed().as_secs_f64();
    println!("total wall time: {total:.1} s");
    md.push_str(&format!("Total wall time: {total:.1} s\n"));
    let stem = format!(
        "cmu{}{}{}",
        if args.dev { "-dev" } else { "" },
        if args.background { "-background" } else { "" },
        if args.train_reps.len() > 1 {
            "-enrolment-curve"
        } else {
            ""
        }
    );
    write_report(&args.out, &stem, &results, &md)?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
