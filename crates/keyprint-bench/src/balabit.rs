//! The Balabit Mouse Dynamics Challenge benchmark (Fülöp et al. 2016), the challenge's protocol with
//! keyprint's mouse engine.
//!
//! Protocol: every session (training and test) is segmented into actions and featurised by
//! `keyprint_mouse` (the same code the server runs). For each of the 10 accounts, the one-class model is
//! fitted on the owner's `training_files` actions; the two-class model on the owner's actions against the
//! other 9 accounts' `training_files` actions (balanced, seeded). Every labelled test session of the
//! account (816 in all, `public_labels.csv`) is scored by the account's model: the session score after `k`
//! actions is the mean of its first `k` action scores. The challenge's metric is one **global ROC AUC** over
//! all labelled test sessions (scores of all accounts pooled). Reported beside it: per-account AUC and EER,
//! the global AUC after 1, 5, 10, 20, 50 and all actions, and the continuous-authentication figures ANIA
//! (impostor actions before the first alarm) and ANGA (genuine actions before a false alarm).
//!
//! Nothing is tuned on the test labels. The alarm threshold of ANIA/ANGA is chosen by cross-validation on
//! `training_files` only (`--cv-folds K`): each account's training sessions are split into `K` folds by
//! session; for each fold, models are fitted on the other folds (background: the other accounts' other
//! folds) and scored on held-out blocks of `--cv-block` consecutive actions, the owner's blocks as genuine
//! and every other account's blocks as impostors. The threshold is the EER threshold of those scores; the
//! cross-validated AUC is reported too.
//!
//! Published: Antal & Egyed-Zsigmond (2019), random forest on per-action features, global test AUC 0.92
//! when scoring sets of actions.

use crate::plot::{Curve, write_curves};
use crate::table::{Table, progress, write_report};
use keyprint_core::detector::{Detector, Enrolment, FeatureVector};
use keyprint_core::eval::{Roc, actions_until_alarm, roc, summarize};
use keyprint_datasets::balabit::{locate, read_balabit};
use keyprint_mouse::forest::ForestParams;
use keyprint_mouse::{
    MouseForest, MouseOneClass, OneClassScore, SegmentCounts, SegmentRules, Segmenter,
    action_features, window_scores,
};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Published global AUC (Antal & Egyed-Zsigmond 2019, random forest, sets of actions).
pub const PUBLISHED_AUC: f64 = 0.92;

/// Numbers of actions at which the global AUC is reported (`usize::MAX` = all).
pub const ACTION_COUNTS: [usize; 6] = [1, 5, 10, 20, 50, usize::MAX];

/// Arguments of `keyprint bench balabit`.
#[derive(Clone, Debug, clap::Args)]
pub struct BalabitArgs {
    /// The Balabit folder (holding `training_files/`), or a folder holding `balabit-mouse/`.
    #[arg(long, env = "KEYPRINT_DATASETS")]
    pub data: PathBuf,
    /// Output folder for the JSON/Markdown tables and the plots.
    #[arg(long, default_value = "out/balabit")]
    pub out: PathBuf,
    /// Trees of the two-class random forest.
    #[arg(long, default_value_t = 100)]
    pub trees: usize,
    /// Minimum samples per leaf of the forest.
    #[arg(long, default_value_t = 1)]
    pub min_leaf: usize,
    /// Features tried per split (0 = ⌈√d⌉).
    #[arg(long, default_value_t = 0)]
    pub mtry: usize,
    /// Seed of every random choice (negative sampling, bootstrap, feature sampling).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Cross-validation folds over training sessions, for the alarm threshold (0 = no CV, threshold 0.5).
    #[arg(long, default_value_t = 3)]
    pub cv_folds: usize,
    /// Actions per held-out block in cross-validation; also the sliding window of the alarm rule.
    #[arg(long, default_value_t = 20)]
    pub cv_block: usize,
    /// Stop after cross-validation (tuning mode: prints training-only figures, never touches test labels).
    #[arg(long)]
    pub cv_only: bool,
    /// One-class score: `rank`, `tail`, `density` or `copula` (see `keyprint_mouse::OneClassScore`).
    #[arg(long, default_value = "copula", value_parser = ["rank", "tail", "density", "copula"])]
    pub one_class: String,
    /// Minimum samples per action (segmentation rule `too_short`).
    #[arg(long, default_value_t = 4)]
    pub min_points: usize,
}

/// One model's results.
#[derive(Clone, Debug, Serialize)]
pub struct ModelResult {
    /// Model name.
    pub model: String,
    /// One-class or two-class.
    pub kind: String,
    /// Global AUC over all labelled test sessions, all actions.
    pub global_auc: f64,
    /// Global EER, all actions.
    pub global_eer: f64,
    /// Published global AUC for this kind of model, where there is one.
    pub published_auc: Option<f64>,
    /// Global AUC by number of actions seen: (`"1"`, …, `"all"`, AUC).
    pub auc_by_actions: Vec<(String, f64)>,
    /// Mean and sd of per-account AUC.
    pub account_auc_mean: f64,
    /// SD of per-account AUC.
    pub account_auc_sd: f64,
    /// Mean per-account EER.
    pub account_eer_mean: f64,
    /// Cross-validated AUC on training_files blocks (None without CV).
    pub cv_auc: Option<f64>,
    /// Alarm threshold used for ANIA/ANGA (EER threshold of the CV scores, or 0.5).
    pub threshold: f64,
    /// ANIA: mean impostor actions before the first alarm, over illegal sessions that raised one.
    pub ania: f64,
    /// Share of illegal sessions that raised an alarm.
    pub impostor_sessions_detected: f64,
    /// ANGA: mean genuine actions before a false alarm, over legal sessions that raised one.
    pub anga: f64,
    /// Share of legal sessions with no false alarm.
    pub genuine_sessions_never_alarmed: f64,
    /// Mean actions per illegal session (context for ANIA).
    pub mean_actions_impostor_session: f64,
    /// Mean actions per legal session (context for ANGA).
    pub mean_actions_genuine_session: f64,
    /// Wall time of fitting and scoring, seconds.
    pub seconds: f64,
}

/// One account's results.
#[derive(Clone, Debug, Serialize)]
pub struct AccountResult {
    /// Account (`user12`).
    pub account: String,
    /// Training actions of the owner.
    pub training_actions: usize,
    /// Labelled legal test sessions.
    pub genuine_sessions: usize,
    /// Labelled illegal test sessions.
    pub impostor_sessions: usize,
    /// (model, AUC, EER); NaN when the account has only one class of labelled session.
    pub models: Vec<(String, f64, f64)>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct BalabitReport {
    /// Data folder.
    pub data: String,
    /// Reader summary.
    pub read: String,
    /// Clean-up and segmentation rule counts over the training and labelled test sessions.
    pub segmentation: Vec<(String, u64)>,
    /// Per-model results.
    pub models: Vec<ModelResult>,
    /// Per-account results.
    pub accounts: Vec<AccountResult>,
    /// Seed.
    pub seed: u64,
    /// Forest trees.
    pub trees: usize,
    /// Total wall time, seconds.
    pub wall_seconds: f64,
}

/// A session as actions' feature vectors.
struct Sess {
    user: usize,
    /// Session index within the account's training sessions (for CV folds).
    index: usize,
    actions: Vec<FeatureVector>,
    is_illegal: Option<bool>,
}

fn label_k(k: usize) -> String {
    if k == usize::MAX {
        "all".into()
    } else {
        k.to_string()
    }
}

fn mean_first(scores: &[f64], k: usize) -> f64 {
    let n = scores.len().min(k);
    scores[..n].iter().sum::<f64>() / n as f64
}

/// The two models of the benchmark.
fn models(args: &BalabitArgs) -> Vec<(Box<dyn Detector<FeatureVector>>, &'static str)> {
    vec![
        (
            Box::new(MouseOneClass {
                score: match args.one_class.as_str() {
                    "rank" => OneClassScore::Rank,
                    "density" => OneClassScore::Density,
                    "tail" => OneClassScore::Tail,
                    _ => OneClassScore::Copula,
                },
                ..Default::default()
            }),
            "one-class",
        ),
        (
            Box::new(MouseForest {
                params: ForestParams {
                    n_trees: args.trees,
                    mtry: args.mtry,
                    min_samples_leaf: args.min_leaf,
                    seed: args.seed,
                    ..Default::default()
                },
            }),
            "two-class",
        ),
    ]
}

/// Fits `det` for `user` on `train` (owner's and others' sessions passing `keep`) and returns the per-action
/// scores of each probe session.
fn fit_and_score(
    det: &dyn Detector<FeatureVector>,
    user: usize,
    n_users: usize,
    train: &[Sess],
    keep: &dyn Fn(&Sess) -> bool,
    probes: &[&[FeatureVector]],
) -> anyhow::Result<Vec<Vec<f64>>> {
    let genuine: Vec<FeatureVector> = train
        .iter()
        .filter(|s| s.user == user && keep(s))
        .flat_map(|s| s.actions.iter().cloned())
        .collect();
    let background: Vec<Vec<FeatureVector>> = if det.uses_background() {
        (0..n_users)
            .filter(|&u| u != user)
            .map(|u| {
                train
                    .iter()
                    .filter(|s| s.user == u && keep(s))
                    .flat_map(|s| s.actions.iter().cloned())
                    .collect()
            })
            .collect()
    } else {
        Vec::new()
    };
    let t = det.fit(&Enrolment {
        genuine: &genuine,
        background: &background,
    })?;
    Ok(probes
        .iter()
        .map(|p| p.iter().map(|a| t.score(a)).collect())
        .collect())
}

/// Cross-validation on training sessions: returns (AUC, EER threshold) of block scores.
fn cross_validate(
    det: &dyn Detector<FeatureVector>,
    train: &[Sess],
    n_users: usize,
    folds: usize,
    block: usize,
) -> anyhow::Result<(f64, f64)> {
    let blocks_of = |s: &Sess| -> Vec<Vec<FeatureVector>> {
        s.actions
            .chunks(block.max(1))
            .filter(|c| c.len() == block.max(1))
            .map(|c| c.to_vec())
            .collect()
    };
    let jobs: Vec<(usize, usize)> = (0..folds)
        .flat_map(|f| (0..n_users).map(move |u| (f, u)))
        .collect();
    let parts: Vec<(Vec<f64>, Vec<f64>)> = jobs
        .par_iter()
        .map(|&(f, u)| {
            let held: Vec<(bool, Vec<FeatureVector>)> = train
                .iter()
                .filter(|s| s.index % folds == f)
                .flat_map(|s| blocks_of(s).into_iter().map(move |b| (s.user == u, b)))
                .collect();
            let probes: Vec<&[FeatureVector]> = held.iter().map(|(_, b)| b.as_slice()).collect();
            let scores = fit_and_score(det, u, n_users, train, &|s| s.index % folds != f, &probes)?;
            let (mut g, mut m) = (Vec::new(), Vec::new());
            for ((own, _), sc) in held.iter().zip(scores) {
                let s = mean_first(&sc, usize::MAX);
                if *own { g.push(s) } else { m.push(s) }
            }
            Ok((g, m))
        })
        .collect::<anyhow::Result<_>>()?;
    let g: Vec<f64> = parts.iter().flat_map(|p| p.0.iter().copied()).collect();
    let m: Vec<f64> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
    let r = roc(&g, &m)?;
    Ok((r.auc(), eer_threshold(&r)))
}

/// The threshold of the operating point nearest the EER.
fn eer_threshold(r: &Roc) -> f64 {
    r.points
        .iter()
        .filter(|p| p.threshold.is_finite())
        .min_by(|a, b| (a.fmr - a.fnmr).abs().total_cmp(&(b.fmr - b.fnmr).abs()))
        .map_or(0.5, |p| p.threshold)
}

/// `keyprint bench balabit`.
///
/// # Errors
/// When the data cannot be read, a model cannot be fitted, or an output cannot be written.
pub fn run(args: &BalabitArgs) -> anyhow::Result<BalabitReport> {
    let t_all = Instant::now();
    let root = locate(&args.data);
    let pb = progress(0, "reading");
    let loaded = read_balabit(&root, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })?;
    pb.finish_and_clear();
    eprintln!("read {}: {}", root.display(), loaded.report.summary());
    for r in loaded.report.rejected.iter().take(20) {
        eprintln!("  rejected {r}");
    }
    let data = loaded.data;
    let users: Vec<String> = data
        .training
        .iter()
        .map(|s| s.user().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let uid = |u: &str| users.iter().position(|x| x == u);
    // Segment and featurise every session once.
    let pb = progress((data.training.len() + data.test.len()) as u64, "segmenting");
    let rules = SegmentRules {
        min_points: args.min_points,
        ..Default::default()
    };
    let seg = |s: &keyprint_datasets::balabit::BalabitSession| {
        let (acts, c) = Segmenter::segment(&s.stream.events, rules);
        pb.inc(1);
        (acts.iter().map(action_features).collect::<Vec<_>>(), c)
    };
    let mut counts = SegmentCounts::default();
    let mut per_user_index: BTreeMap<usize, usize> = BTreeMap::new();
    let mut train = Vec::new();
    for (s, (actions, c)) in data
        .training
        .iter()
        .zip(data.training.par_iter().map(seg).collect::<Vec<_>>())
    {
        counts.merge(&c);
        let Some(user) = uid(s.user()) else { continue };
        let idx = per_user_index.entry(user).or_default();
        train.push(Sess {
            user,
            index: *idx,
            actions,
            is_illegal: None,
        });
        *idx += 1;
    }
    let labelled: Vec<_> = data
        .test
        .iter()
        .filter(|s| s.is_illegal.is_some())
        .collect();
    let mut test = Vec::new();
    let mut skipped_unknown_account = 0;
    for (s, (actions, c)) in labelled
        .iter()
        .zip(labelled.par_iter().map(|s| seg(s)).collect::<Vec<_>>())
    {
        counts.merge(&c);
        match uid(s.user()) {
            Some(user) => test.push(Sess {
                user,
                index: 0,
                actions,
                is_illegal: s.is_illegal,
            }),
            None => skipped_unknown_account += 1,
        }
    }
    pb.finish_and_clear();
    anyhow::ensure!(
        skipped_unknown_account == 0,
        "{skipped_unknown_account} labelled test sessions belong to no training account"
    );
    let empty = test.iter().filter(|s| s.actions.is_empty()).count();
    anyhow::ensure!(empty == 0, "{empty} labelled test sessions have no action");
    eprintln!(
        "segmented: {} training actions, {} labelled test sessions ({} actions)",
        train.iter().map(|s| s.actions.len()).sum::<usize>(),
        test.len(),
        test.iter().map(|s| s.actions.len()).sum::<usize>()
    );
    let n_users = users.len();
    let mut model_results = Vec::new();
    let mut per_account: Vec<AccountResult> = (0..n_users)
        .map(|u| AccountResult {
            account: users[u].clone(),
            training_actions: train
                .iter()
                .filter(|s| s.user == u)
                .map(|s| s.actions.len())
                .sum(),
            genuine_sessions: test
                .iter()
                .filter(|s| s.user == u && s.is_illegal == Some(false))
                .count(),
            impostor_sessions: test
                .iter()
                .filter(|s| s.user == u && s.is_illegal == Some(true))
                .count(),
            models: Vec::new(),
        })
        .collect();
    let mut curves: Vec<(String, Roc)> = Vec::new();
    let mut md_models = Table::new([
        "model",
        "global AUC (all actions)",
        "published AUC",
        "global EER",
        "per-account AUC mean (sd)",
        "per-account EER mean",
        "CV AUC (training)",
        "time (s)",
    ]);
    let mut md_k = Table::new(
        ["model".to_string()]
            .into_iter()
            .chain(ACTION_COUNTS.iter().map(|&k| format!("k={}", label_k(k)))),
    );
    let mut md_ca = Table::new([
        "model",
        "threshold (CV)",
        "ANIA",
        "illegal sessions detected",
        "ANGA",
        "legal sessions never alarmed",
    ]);
    for (det, kind) in models(args) {
        let t0 = Instant::now();
        let (cv_auc, threshold) = if args.cv_folds >= 2 {
            eprintln!(
                "{}: {}-fold cross-validation on training_files",
                det.name(),
                args.cv_folds
            );
            let (a, t) =
                cross_validate(det.as_ref(), &train, n_users, args.cv_folds, args.cv_block)?;
            eprintln!("{}: CV AUC {a:.4}, EER threshold {t:.4}", det.name());
            (Some(a), t)
        } else {
            (None, 0.5)
        };
        if args.cv_only {
            continue;
        }
        let pb = progress(n_users as u64, det.name());
        let scores: Vec<Vec<(usize, Vec<f64>)>> = (0..n_users)
            .into_par_iter()
            .map(|u| {
                let mine: Vec<usize> = (0..test.len()).filter(|&i| test[i].user == u).collect();
                let probes: Vec<&[FeatureVector]> =
                    mine.iter().map(|&i| test[i].actions.as_slice()).collect();
                let sc = fit_and_score(det.as_ref(), u, n_users, &train, &|_| true, &probes)?;
                pb.inc(1);
                Ok(mine.into_iter().zip(sc).collect())
            })
            .collect::<anyhow::Result<_>>()?;
        pb.finish_and_clear();
        let seconds = t0.elapsed().as_secs_f64();
        let mut action_scores: Vec<Vec<f64>> = vec![Vec::new(); test.len()];
        for (i, s) in scores.into_iter().flatten() {
            action_scores[i] = s;
        }
        let split = |k: usize, only: Option<usize>| -> (Vec<f64>, Vec<f64>) {
            let (mut g, mut m) = (Vec::new(), Vec::new());
            for (s, a) in test.iter().zip(&action_scores) {
                if only.is_some_and(|u| u != s.user) {
                    continue;
                }
                let v = mean_first(a, k);
                if s.is_illegal == Some(true) {
                    m.push(v)
                } else {
                    g.push(v)
                }
            }
            (g, m)
        };
        let mut auc_by = Vec::new();
        for &k in &ACTION_COUNTS {
            let (g, m) = split(k, None);
            auc_by.push((label_k(k), roc(&g, &m)?.auc()));
        }
        let (g, m) = split(usize::MAX, None);
        let global = roc(&g, &m)?;
        let mut acc_auc = Vec::new();
        let mut acc_eer = Vec::new();
        for (u, acc) in per_account.iter_mut().enumerate() {
            let (g, m) = split(usize::MAX, Some(u));
            let (a, e) = match roc(&g, &m) {
                Ok(r) => {
                    acc_auc.push(r.auc());
                    acc_eer.push(r.eer());
                    (r.auc(), r.eer())
                }
                Err(_) => (f64::NAN, f64::NAN),
            };
            acc.models.push((kind.to_string(), a, e));
        }
        // Continuous authentication: after each action, alarm when the mean of the last `w` action scores
        // reaches the threshold; decisions start once `w` actions are seen (or at a shorter session's end).
        let w = args.cv_block.max(1);
        let (mut ania, mut anga) = (Vec::new(), Vec::new());
        let (mut n_imp, mut n_gen) = (0usize, 0usize);
        let (mut len_imp, mut len_gen) = (0usize, 0usize);
        for (s, a) in test.iter().zip(&action_scores) {
            let ws = window_scores(a, w);
            let rejected: Vec<bool> = ws
                .iter()
                .enumerate()
                .map(|(i, &r)| (i + 1 >= w || i + 1 == a.len()) && r >= threshold)
                .collect();
            let first = actions_until_alarm(&rejected);
            if s.is_illegal == Some(true) {
                n_imp += 1;
                len_imp += a.len();
                ania.extend(first.map(|x| x as f64));
            } else {
                n_gen += 1;
                len_gen += a.len();
                anga.extend(first.map(|x| x as f64));
            }
        }
        let acc_sum = summarize(&acc_auc);
        let r = ModelResult {
            model: det.name().to_string(),
            kind: kind.to_string(),
            global_auc: global.auc(),
            global_eer: global.eer(),
            published_auc: (kind == "two-class").then_some(PUBLISHED_AUC),
            auc_by_actions: auc_by,
            account_auc_mean: acc_sum.mean,
            account_auc_sd: acc_sum.sd,
            account_eer_mean: summarize(&acc_eer).mean,
            cv_auc,
            threshold,
            ania: summarize(&ania).mean,
            impostor_sessions_detected: ania.len() as f64 / n_imp.max(1) as f64,
            anga: summarize(&anga).mean,
            genuine_sessions_never_alarmed: 1.0 - anga.len() as f64 / n_gen.max(1) as f64,
            mean_actions_impostor_session: len_imp as f64 / n_imp.max(1) as f64,
            mean_actions_genuine_session: len_gen as f64 / n_gen.max(1) as f64,
            seconds,
        };
        let name = format!("{} ({kind})", r.model);
        md_models.push([
            name.clone(),
            format!("{:.4}", r.global_auc),
            r.published_auc.map_or("—".into(), |p| format!("{p:.2}")),
            format!("{:.4}", r.global_eer),
            format!("{:.4} ({:.4})", r.account_auc_mean, r.account_auc_sd),
            format!("{:.4}", r.account_eer_mean),
            r.cv_auc.map_or("—".into(), |a| format!("{a:.4}")),
            format!("{:.1}", r.seconds),
        ]);
        md_k.push(
            [name.clone()]
                .into_iter()
                .chain(r.auc_by_actions.iter().map(|(_, a)| format!("{a:.4}"))),
        );
        md_ca.push([
            name.clone(),
            format!("{:.4}", r.threshold),
            format!("{:.1} (of {:.1})", r.ania, r.mean_actions_impostor_session),
            format!("{:.1}%", 100.0 * r.impostor_sessions_detected),
            format!("{:.1} (of {:.1})", r.anga, r.mean_actions_genuine_session),
            format!("{:.1}%", 100.0 * r.genuine_sessions_never_alarmed),
        ]);
        curves.push((format!("{name} AUC {:.3}", r.global_auc), global));
        model_results.push(r);
    }
    let mut md_acc = Table::new(
        ["account", "training actions", "legal", "illegal"]
            .into_iter()
            .map(String::from)
            .chain(
                model_results
                    .iter()
                    .flat_map(|m| [format!("AUC {}", m.kind), format!("EER {}", m.kind)]),
            ),
    );
    for a in &per_account {
        md_acc.push(
            [
                a.account.clone(),
                a.training_actions.to_string(),
                a.genuine_sessions.to_string(),
                a.impostor_sessions.to_string(),
            ]
            .into_iter()
            .chain(
                a.models
                    .iter()
                    .flat_map(|(_, auc, eer)| [format!("{auc:.4}"), format!("{eer:.4}")]),
            ),
        );
    }
    let mut md_seg = Table::new(["rule", "count"]);
    for (k, v) in counts.pairs() {
        md_seg.push([k, v.to_string()]);
    }
    let wall = t_all.elapsed().as_secs_f64();
    let md = format!(
        "# Balabit Mouse Dynamics Challenge\n\nData: `{}` — {}. Protocol: per account, fit on `training_files` \
         (two-class: owner vs the other 9 accounts' training actions, balanced); score the {} labelled test \
         sessions; session score = mean of its action scores; one global ROC over all sessions (the \
         challenge's metric). Seed {}, {} trees. Alarm threshold for ANIA/ANGA from {}-fold CV on \
         training_files (blocks of {} actions); never tuned on test labels.\n\n## Global results\n\n{}\n\
         ## Global AUC by number of actions seen\n\n{}\n## Continuous authentication (alarm when the mean of \
         the last {} action scores ≥ threshold, from the {}th action or a shorter session's end)\n\n{}\n## Per account (all actions)\n\n{}\n## Clean-up and segmentation rules \
         (training and labelled test sessions)\n\n{}\nTotal wall time: {:.1} s\n",
        root.display(),
        loaded.report.summary(),
        test.len(),
        args.seed,
        args.trees,
        args.cv_folds,
        args.cv_block,
        md_models.to_markdown(),
        md_k.to_markdown(),
        args.cv_block,
        args.cv_block,
        md_ca.to_markdown(),
        md_acc.to_markdown(),
        md_seg.to_markdown(),
        wall
    );
    println!("{md}");
    let report = BalabitReport {
        data: root.display().to_string(),
        read: loaded.report.summary(),
        segmentation: counts.pairs(),
        models: model_results,
        accounts: per_account,
        seed: args.seed,
        trees: args.trees,
        wall_seconds: wall,
    };
    let cv: Vec<Curve<'_>> = curves
        .iter()
        .map(|(l, r)| Curve {
            label: l.clone(),
            roc: r,
        })
        .collect();
    write_curves(&args.out, "balabit", "Balabit, global, all actions", &cv)?;
    write_report(&args.out, "balabit", &report, &md)?;
    eprintln!("wrote {}", args.out.display());
    Ok(report)
}
