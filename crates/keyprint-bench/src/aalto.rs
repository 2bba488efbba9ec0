//! The Aalto free-text benchmark under the TypeNet protocol (Acien, Morales, Monaco, Vera-Rodriguez &
//! Fierrez, "TypeNet: Deep Learning Keystroke Biometrics", IEEE T-BIOM 2021), on the Aalto 136M
//! Keystrokes data (Dhakal et al., CHI 2018; non-commercial licence).
//!
//! Protocol, per evaluated subject (15 sequences = typed sentences, each cut to its first `L` keys):
//! enrol on its first `G` sequences (of sequences 1–10); genuine probes are its last 5 sequences (11–15);
//! impostor probes are sequence 11 of every other evaluated subject. The subject's ROC gives its EER; the
//! table reports the mean over subjects, for `G ∈ {1,2,5,10}` × `L ∈ {30,50,100}`.
//!
//! Population split: participants (sorted by id) at even positions form the **population** — they train
//! the background statistics and the score fusion — and those at odd positions are **evaluated**; the two
//! sets are disjoint, and no evaluated subject's data is used for training or tuning. The fusion weights
//! for each `(G, L)` are learned on the population by running the same protocol among population people
//! (impostors: sequence 11 of 40 other population people). With `--dev` the population itself is split
//! in two (even/odd positions within it), for tuning without touching the evaluated subjects.
//!
//! Model ([`keyprint_freetext`]): per-feature likelihood ratios against the population statistics plus an
//! LDA embedding learned on the population sequences (cut to L), fused by logistic regression learned on
//! the population, then adaptive S-norm against a cohort of population people (`--cohort`, `--cohort-top`).
//!
//! The event-based model is run twice: on plain key identities and on key identities replaced by their
//! keyed hash (HMAC-SHA256, [`keyprint_core::pseudonym::KeyHasher`]), population model included. A third
//! run, `summary`, is what the server verifies: each sequence cut to L keys becomes the edge's
//! content-free window summary (`keyprint_edge::vocab`), compared by `keyprint_freetext::summary` (population
//! statistics from the same population half, T-norm against `--cohort` population people) — the cost of
//! privacy, side by side.

use crate::plot::{Curve, write_curves};
use crate::table::{Table, progress, write_report};
use keyprint_core::eval::{Roc, average_rocs, roc, summarize};
use keyprint_core::event::KeyEvent;
use keyprint_datasets::aalto::{locate, read_aalto_dir};
use keyprint_freetext::embed::Embedding;
use keyprint_freetext::model::{Cohort, FAMILY_NAMES, Probe};

use keyprint_core::pseudonym::KeyHasher;
use keyprint_freetext::{FreeTextConfig, PopulationModel};
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// TypeNet's published desktop EERs at L = 50 (Acien et al. 2021), by G.
pub const TYPENET_L50: [(usize, f64); 4] = [(1, 0.054), (2, 0.036), (5, 0.022), (10, 0.016)];

/// Arguments of `keyprint bench aalto`.
#[derive(Clone, Debug, clap::Args)]
pub struct AaltoArgs {
    /// Folder of `<ID>_keystrokes.txt` files, or a folder holding `aalto-keystrokes-dev/keystroke-samples`.
    #[arg(long, env = "KEYPRINT_DATASETS")]
    pub data: PathBuf,
    /// Output folder for the JSON/Markdown tables and the plots.
    #[arg(long, default_value = "out/aalto")]
    pub out: PathBuf,
    /// Use only the first N participants (by id) — for quick runs.
    #[arg(long)]
    pub subjects: Option<usize>,
    /// Enrolment sizes G (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,2,5,10")]
    pub enrol: Vec<usize>,
    /// Sequence lengths L in keys (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "30,50,100")]
    pub keys: Vec<usize>,
    /// Development mode: evaluate inside the population (half of it trains, the other half is scored);
    /// the evaluated subjects are not used at all. For tuning.
    #[arg(long)]
    pub dev: bool,
    /// Skip the hashed-identities run.
    #[arg(long)]
    pub no_hashed: bool,
    /// Longest DD latency (ms) treated as a digraph.
    #[arg(long, default_value_t = FreeTextConfig::default().max_latency_ms)]
    pub max_latency_ms: f64,
    /// Clip of each feature's log-likelihood ratio.
    #[arg(long, default_value_t = 2.0)]
    pub llr_clip: f64,
    /// Shrinkage pseudo-count of feature variances toward their family's.
    #[arg(long, default_value_t = FreeTextConfig::default().shrinkage)]
    pub shrinkage: f64,
    /// Score every probe observation independently instead of jointly per feature.
    #[arg(long)]
    pub per_observation: bool,
    /// Raw features of the learned LDA embedding (0: no embedding).
    #[arg(long, default_value_t = 250)]
    pub emb_features: usize,
    /// Dimensions kept by the LDA embedding.
    #[arg(long, default_value_t = 25)]
    pub emb_dim: usize,
    /// Score-normalisation cohort size (population people, at most all of them; 0 or 1: none).
    #[arg(long, default_value_t = 300)]
    pub cohort: usize,
    /// Adaptive normalisation: use only the K cohort scores closest to genuine (0: all).
    #[arg(long, default_value_t = 100)]
    pub cohort_top: usize,
    /// T-norm only, instead of S-norm (T-norm and Z-norm averaged).
    #[arg(long)]
    pub tnorm_only: bool,
    /// Skip the event-based model (plain and hashed identities); run only the content-free summaries.
    #[arg(long)]
    pub summaries_only: bool,
    /// Skip the content-free summary model.
    #[arg(long)]
    pub no_summaries: bool,
    /// LLR clip of the summary model.
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().llr_clip)]
    pub summary_clip: f64,
    /// LDA embedding dimensions of the summary model (0: per-entry comparison only).
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().emb_dim)]
    pub summary_emb_dim: usize,
    /// Weight of the summary embedding's score.
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().emb_weight)]
    pub summary_emb_weight: f64,
    /// Cosine scoring in the summary embedding.
    #[arg(long)]
    pub summary_cosine: bool,
    /// Class entries of the summary model relative to their family's all-keys entry.
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().relative)]
    pub summary_relative: bool,
    /// Student-t degrees of freedom of the summary model's per-entry likelihoods (0: Gaussian).
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().t_dof)]
    pub summary_t_dof: f64,
    /// Length normalisation in the summary embedding (0 none, 1 before the LDA, 2 after it).
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().emb_norm)]
    pub summary_emb_norm: u8,
    /// Ridge of the summary LDA.
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().emb_ridge)]
    pub summary_emb_ridge: f64,
    /// Weight of the summary model's second embedding (relative entries; 0: none).
    #[arg(long, default_value_t = keyprint_freetext::SummaryConfig::default().emb2_weight)]
    pub summary_emb2_weight: f64,
    /// Z-norm windows per cohort person (sequences 11 onward; 5 gave 4.52 % against 4.49 % with 1).
    #[arg(long, default_value_t = 1)]
    pub summary_znorm_windows: usize,
    /// Sequences of each population person the summary model trains on (first N of 15; default all:
    /// development EER at G=5, L=50 4.81 % with 10, 4.71 % with 15).
    #[arg(long, default_value_t = 15)]
    pub summary_train_seqs: usize,
    /// Also train the summary model on later L-key crops of each population sequence longer than L + this
    /// many keys (0: not; default 5: development EER 4.71 → 4.49 %; 2 and 10 gave 4.52 and 4.56 %).
    #[arg(long, default_value_t = 5)]
    pub summary_train_tail: usize,
    /// Number of such later crops per sequence (evenly spread, the last ending at the sequence's end;
    /// 2 and 4 gave 4.55 and 4.64 % against 4.49 % with 1).
    #[arg(long, default_value_t = 1)]
    pub summary_train_crops: usize,
    /// Score normalisation of the summary model: `none`, `t` (T-norm), `z` (Z-norm) or `s` (S-norm).
    #[arg(long, default_value = "s")]
    pub summary_norm: String,
    /// Adaptive normalisation of the summary model: only the K lowest cohort scores (0: all).
    #[arg(long, default_value_t = 20)]
    pub summary_top: usize,
    /// How participants (sorted by id) are split into population and evaluated halves: `parity` (even
    /// positions = population, odd = evaluated; the split the model was tuned on, inside its population
    /// half with `--dev`) or `halves` (lower half of ids = population, upper half = evaluated; never tuned on).
    #[arg(long, default_value = "parity")]
    pub split: String,
    /// Train on only N of the population participants, spread evenly over the population half (default:
    /// all); the evaluated participants stay the same. Measures how EER depends on the population's size
    /// (TypeNet's network learned from ~68,000 people; this set has 1,137).
    #[arg(long)]
    pub population: Option<usize>,
}

/// Score-normalisation settings.
struct Norm {
    cohort: usize,
    top: usize,
    snorm: bool,
}

/// One cell of the G × L table.
#[derive(Clone, Debug, Serialize)]
pub struct AaltoResult {
    /// `"plain"` or `"hashed"` key identities.
    pub identities: String,
    /// Enrolment sequences.
    pub g: usize,
    /// Keys per sequence.
    pub l: usize,
    /// Mean per-subject EER.
    pub eer_mean: f64,
    /// SD of per-subject EER.
    pub eer_sd: f64,
    /// TypeNet's published EER for this cell, where there is one.
    pub published_eer: Option<f64>,
    /// Mean per-subject AUC.
    pub auc_mean: f64,
    /// Mean per-subject FNMR at FMR = 1 %.
    pub fnmr_at_fmr1_mean: f64,
    /// Subjects evaluated.
    pub subjects: usize,
    /// Impostor probes per subject.
    pub impostors_per_subject: usize,
    /// Mean keys per probe actually available (sequences can be shorter than L).
    pub mean_probe_keys: f64,
    /// Learned fusion: intercept and one weight per family.
    pub fusion_bias: f64,
    /// Fusion weights by family name.
    pub fusion_weights: Vec<(String, f64)>,
    /// Seconds spent on this cell (enrol + score).
    pub seconds: f64,
}

/// Everything written to `aalto.json`.
#[derive(Clone, Debug, Serialize)]
pub struct AaltoReport {
    /// Population (training) participant ids.
    pub population_ids: Vec<u64>,
    /// Evaluated participant ids.
    pub evaluated_ids: Vec<u64>,
    /// Development mode?
    pub dev: bool,
    /// Reader summary.
    pub read_summary: String,
    /// Results.
    pub results: Vec<AaltoResult>,
    /// Total wall time, seconds.
    pub wall_seconds: f64,
}

type Person = Vec<Vec<KeyEvent>>;

fn cut(s: &[KeyEvent], l: usize) -> &[KeyEvent] {
    &s[..l.min(s.len())]
}

struct Cell {
    result: AaltoResult,
    curve: Roc,
}

impl Cell {
    /// One cell from its subjects' ROCs (one per evaluated subject, `n − 1` impostors each).
    fn of(
        identities: &str,
        (g, l): (usize, usize),
        rocs: &[Roc],
        mean_probe_keys: f64,
        (fusion_bias, fusion_weights): (f64, Vec<(String, f64)>),
        seconds: f64,
    ) -> Cell {
        let n = rocs.len();
        let mean_of = |f: &dyn Fn(&Roc) -> f64| summarize(&rocs.iter().map(f).collect::<Vec<_>>());
        let eer = mean_of(&Roc::eer);
        Cell {
            result: AaltoResult {
                identities: identities.to_string(),
                g,
                l,
                eer_mean: eer.mean,
                eer_sd: eer.sd,
                published_eer: TYPENET_L50
                    .iter()
                    .find(|(pg, _)| *pg == g && l == 50)
                    .map(|x| x.1),
                auc_mean: mean_of(&Roc::auc).mean,
                fnmr_at_fmr1_mean: mean_of(&|r| r.fnmr_at_fmr(0.01)).mean,
                subjects: n,
                impostors_per_subject: n.saturating_sub(1),
                mean_probe_keys,
                fusion_bias,
                fusion_weights,
                seconds,
            },
            curve: average_rocs(rocs).expect("subjects"),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_variant(
    identities: &str,
    population: &[Person],
    evaluated: &[Person],
    config: &FreeTextConfig,
    emb: (usize, usize),
    norm: &Norm,
    gs: &[usize],
    ls: &[usize],
    pb: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Cell>> {
    let t0 = Instant::now();
    let base = PopulationModel::train(population, config.clone());
    eprintln!(
        "[{identities}] population model: {} keys, {} features, {:.1} s",
        base.vocabulary_len(),
        base.features.len(),
        t0.elapsed().as_secs_f64()
    );
    let mut cells = Vec::new();
    for &l in ls {
        // The embedding is learned on population sequences cut to L keys, like the probes.
        let embedding = (emb.0 > 0 && emb.1 > 0)
            .then(|| Embedding::train(&base, population, l, emb.0, emb.1))
            .flatten();
        let stats = Arc::new(base.clone().with_embedding(embedding));
        // Probe observations depend on the population vocabulary only, not on the fusion.
        let probes: Vec<Vec<Probe>> = evaluated
            .par_iter()
            .map(|p| p[10..15].iter().map(|s| stats.probe(cut(s, l))).collect())
            .collect();
        let mean_probe_keys = evaluated
            .iter()
            .flat_map(|p| p[10..15].iter().map(|s| s.len().min(l) as f64))
            .sum::<f64>()
            / (evaluated.len() * 5) as f64;
        for &g in gs {
            pb.set_message(format!("{identities} G={g} L={l}"));
            let t = Instant::now();
            let fusion = stats.fit_fusion(population, g, l);
            let model = Arc::new((*stats).clone().with_fusion(fusion.clone()));
            let n = evaluated.len();
            // T-norm cohort: population people enrolled like the owners.
            let cohort = Cohort::new(
                population
                    .iter()
                    .take(norm.cohort)
                    .map(|p| {
                        let e: Vec<&[KeyEvent]> = p[..g].iter().map(|s| cut(s, l)).collect();
                        model.enrol(&e)
                    })
                    .collect(),
                if norm.snorm {
                    population
                        .iter()
                        .take(norm.cohort)
                        .map(|p| model.probe(cut(&p[10], l)))
                        .collect()
                } else {
                    Vec::new()
                },
                norm.top,
            );
            let norms: Vec<Vec<(f64, f64)>> = probes
                .par_iter()
                .map(|qs| qs.iter().map(|o| cohort.t_stats(o)).collect())
                .collect();
            let rocs: Vec<Roc> = (0..n)
                .into_par_iter()
                .map(|i| {
                    let enrol: Vec<&[KeyEvent]> =
                        evaluated[i][..g].iter().map(|s| cut(s, l)).collect();
                    let prof = model.enrol(&enrol);
                    let z = cohort.z_stats(&prof);
                    let tn = |s: f64, t: (f64, f64)| {
                        if norm.cohort >= 2 {
                            Cohort::normalize_with(s, t, z)
                        } else {
                            s
                        }
                    };
                    let genuine: Vec<f64> = probes[i]
                        .iter()
                        .zip(&norms[i])
                        .map(|(o, &z)| tn(prof.score_probe(o), z))
                        .collect();
                    let imp: Vec<f64> = (0..n)
                        .filter(|&j| j != i)
                        .map(|j| tn(prof.score_probe(&probes[j][0]), norms[j][0]))
                        .collect();
                    pb.inc(1);
                    roc(&genuine, &imp)
                })
                .collect::<Result<_, _>>()?;
            cells.push(Cell::of(
                identities,
                (g, l),
                &rocs,
                mean_probe_keys,
                (
                    fusion.bias,
                    FAMILY_NAMES
                        .iter()
                        .zip(fusion.weights)
                        .map(|(n, w)| (n.to_string(), w))
                        .collect(),
                ),
                t.elapsed().as_secs_f64(),
            ));
        }
    }
    Ok(cells)
}

/// The content-free run: sequences cut to L keys → edge summaries → summary model, T-norm.
fn enrol_windows(p: &[Vec<f64>], g: usize) -> Vec<&[f64]> {
    p[..g].iter().map(Vec::as_slice).collect()
}

fn run_summary_variant(
    population: &[Person],
    evaluated: &[Person],
    args: &AaltoArgs,
    pb: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Cell>> {
    use keyprint_edge::vocab::{SUMMARY_DIM, key_class, summarize as summarize_window};
    use keyprint_freetext::summary::{SummaryCohort, SummaryConfig, SummaryPopulation};
    let summary_of = |s: &[KeyEvent]| -> Vec<f64> {
        summarize_window(s, |e| {
            e.key
                .as_code()
                .map_or(keyprint_edge::vocab::CLASSES - 1, key_class)
        })
        .map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
        .unwrap_or_else(|| vec![f64::NAN; SUMMARY_DIM])
    };
    let mut cells = Vec::new();
    for &l in &args.keys {
        let summ = |ppl: &[Person]| -> Vec<Vec<Vec<f64>>> {
            ppl.par_iter()
                .map(|p| p.iter().map(|s| summary_of(cut(s, l))).collect())
                .collect()
        };
        let pop = summ(population);
        let ev = summ(evaluated);
        let cfg = SummaryConfig {
            llr_clip: args.summary_clip,
            emb_dim: args.summary_emb_dim,
            emb_weight: args.summary_emb_weight,
            emb_cosine: args.summary_cosine,
            relative: args.summary_relative,
            t_dof: args.summary_t_dof,
            emb_norm: args.summary_emb_norm,
            emb_ridge: args.summary_emb_ridge,
            emb2_weight: args.summary_emb2_weight,
            ..SummaryConfig::default()
        };
        // Population statistics from population people's windows (all 15 sequences by default, plus a
        // later L-key crop of each longer sequence: more within-person variation for the LDA; population
        // people only, never an evaluated one).
        let nseq = args.summary_train_seqs.clamp(1, 15);
        let train: Vec<Vec<Vec<f64>>> = population
            .par_iter()
            .zip(&pop)
            .map(|(p, v)| {
                let mut t = v[..nseq].to_vec();
                if args.summary_train_tail > 0 {
                    for s in &p[..nseq] {
                        if s.len() > l + args.summary_train_tail {
                            let k = args.summary_train_crops.max(1);
                            for c in 1..=k {
                                let off = (s.len() - l) * c / k;
                                t.push(summary_of(&s[off..off + l]));
                            }
                        }
                    }
                }
                t
            })
            .collect();
        let model = Arc::new(SummaryPopulation::train(&train, cfg));
        eprintln!(
            "[summary] L={l}: {} of {} entries usable",
            model.usable(),
            model.dim()
        );
        let mean_probe_keys = evaluated
            .iter()
            .flat_map(|p| p[10..15].iter().map(|s| s.len().min(l) as f64))
            .sum::<f64>()
            / (evaluated.len() * 5) as f64;
        for &g in &args.enrol {
            pb.set_message(format!("summary G={g} L={l}"));
            let t = Instant::now();
            let take = if args.cohort >= 2 { args.cohort } else { 0 };
            let (use_t, use_z) = match args.summary_norm.as_str() {
                "t" => (true, false),
                "z" => (false, true),
                "s" => (true, true),
                _ => (false, false),
            };
            let cohort = SummaryCohort::with_windows(
                pop.iter()
                    .take(if use_t { take } else { 0 })
                    .map(|p| model.enrol(&enrol_windows(p, g)))
                    .collect(),
                pop.iter()
                    .take(if use_z { take } else { 0 })
                    .flat_map(|p| p[10..10 + args.summary_znorm_windows.clamp(1, 5)].to_vec())
                    .collect(),
                args.summary_top,
            );
            let n = ev.len();
            // T-norm statistics per probe (sequences 11–15), once: they do not depend on the owner.
            let tstats: Vec<Vec<Option<(f64, f64)>>> = ev
                .par_iter()
                .map(|p| p[10..15].iter().map(|v| cohort.t_stats(v)).collect())
                .collect();
            let rocs: Vec<Roc> = (0..n)
                .into_par_iter()
                .map(|i| {
                    let prof = model.enrol(&enrol_windows(&ev[i], g));
                    let z = cohort.z_stats(&prof);
                    let sc = |j: usize, k: usize| {
                        SummaryCohort::s_normalize(prof.score(&ev[j][10 + k]), tstats[j][k], z)
                    };
                    let genuine: Vec<f64> = (0..5).map(|k| sc(i, k)).collect();
                    let imp: Vec<f64> = (0..n).filter(|&j| j != i).map(|j| sc(j, 0)).collect();
                    pb.inc(1);
                    roc(&genuine, &imp)
                })
                .collect::<Result<_, _>>()?;
            cells.push(Cell::of(
                "summary",
                (g, l),
                &rocs,
                mean_probe_keys,
                (0.0, Vec::new()),
                t.elapsed().as_secs_f64(),
            ));
        }
    }
    Ok(cells)
}

fn pct(x: f64) -> String {
    format!("{:.2}%", 100.0 * x)
}

/// `keyprint bench aalto`.
///
/// # Errors
/// When the data cannot be read, too few participants remain, or an output cannot be written.
pub fn run(args: &AaltoArgs) -> anyhow::Result<()> {
    let t_all = Instant::now();
    let dir = locate(&args.data);
    let loaded = read_aalto_dir(&dir, args.subjects)?;
    eprintln!("read {}: {}", dir.display(), loaded.report.summary());
    for r in loaded.report.rejected.iter().take(10) {
        eprintln!("  rejected {r}");
    }
    let mut ids = Vec::new();
    let mut people: Vec<Person> = Vec::new();
    let mut short = 0;
    for p in loaded.data {
        if p.sequences.len() < 15 {
            short += 1;
            continue;
        }
        ids.push(p.id);
        people.push(p.sequences.into_iter().take(15).map(|s| s.events).collect());
    }
    if short > 0 {
        eprintln!("excluded {short} participants with fewer than 15 sequences");
    }
    // Population = even positions, evaluated = odd positions (by id order); or lower/upper halves.
    let half = people.len() / 2;
    let (mut pop_idx, mut eval_idx): (Vec<usize>, Vec<usize>) = match args.split.as_str() {
        "parity" => (0..people.len()).partition(|i| i % 2 == 0),
        "halves" => (0..people.len()).partition(|&i| i < half),
        s => anyhow::bail!("--split {s:?}: expected parity or halves"),
    };
    if args.dev {
        let inner = pop_idx.clone();
        pop_idx = inner.iter().copied().step_by(2).collect();
        eval_idx = inner.iter().copied().skip(1).step_by(2).collect();
    }
    if let Some(n) = args.population {
        anyhow::ensure!(n >= 2, "--population {n}: need at least 2");
        let all = pop_idx.len();
        if n < all {
            pop_idx = (0..n).map(|k| pop_idx[k * all / n]).collect();
        }
    }
    anyhow::ensure!(
        pop_idx.len() >= 2 && eval_idx.len() >= 2,
        "need at least 4 participants with 15 sequences"
    );
    let population_ids: Vec<u64> = pop_idx.iter().map(|&i| ids[i]).collect();
    let evaluated_ids: Vec<u64> = eval_idx.iter().map(|&i| ids[i]).collect();
    let split = format!(
        "split {}{}: {} population participants (ids {}…) train the background statistics and \
         the fusion; {} evaluated participants (ids {}…) are scored only",
        args.split,
        if args.dev {
            " (DEV: inside the population)"
        } else {
            ""
        },
        population_ids.len(),
        population_ids
            .iter()
            .take(5)
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        evaluated_ids.len(),
        evaluated_ids
            .iter()
            .take(5)
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    println!("{split}");
    let config = FreeTextConfig {
        max_latency_ms: args.max_latency_ms,
        llr_clip: args.llr_clip,
        shrinkage: args.shrinkage,
        aggregate: !args.per_observation,
        ..FreeTextConfig::default()
    };
    let pick = |idx: &[usize], ppl: &[Person]| -> Vec<Person> {
        idx.iter().map(|&i| ppl[i].clone()).collect()
    };
    let mut variants = vec![("plain", people)];
    if !args.no_hashed && !args.summaries_only {
        let h = KeyHasher::new(b"keyprint-bench-aalto-secret");
        let hashed: Vec<Person> = variants[0]
            .1
            .par_iter()
            .map(|p| p.iter().map(|s| h.hash_events(s)).collect())
            .collect();
        variants.push(("hashed", hashed));
    }
    let n_runs = if args.summaries_only {
        0
    } else {
        variants.len()
    } + usize::from(!args.no_summaries);
    let steps = (n_runs * args.enrol.len() * args.keys.len() * eval_idx.len()) as u64;
    let pb = progress(steps, "aalto");
    let mut cells = Vec::new();
    if !args.no_summaries {
        cells.extend(run_summary_variant(
            &pick(&pop_idx, &variants[0].1),
            &pick(&eval_idx, &variants[0].1),
            args,
            &pb,
        )?);
    }
    let mut names: Vec<&str> = Vec::new();
    if !args.summaries_only {
        names.extend(variants.iter().map(|v| v.0));
    }
    if !args.no_summaries {
        names.push("summary");
    }
    for (name, ppl) in variants.iter().filter(|_| !args.summaries_only) {
        let population = pick(&pop_idx, ppl);
        let evaluated = pick(&eval_idx, ppl);
        cells.extend(run_variant(
            name,
            &population,
            &evaluated,
            &config,
            (args.emb_features, args.emb_dim),
            &Norm {
                cohort: args.cohort,
                top: args.cohort_top,
                snorm: !args.tnorm_only,
            },
            &args.enrol,
            &args.keys,
            &pb,
        )?);
    }
    pb.finish_and_clear();
    let wall = t_all.elapsed().as_secs_f64();

    let mut md = format!(
        "# Aalto free-text benchmark (TypeNet protocol)\n\nData: `{}` — {}. Protocol (Acien et al. 2021): per \
         evaluated subject, enrol on its first G of sequences 1–10 cut to L keys; genuine = its sequences 11–15; \
         impostors = sequence 11 of each other evaluated subject; mean per-subject EER (interpolated). Model: \
         keyprint-freetext per-feature LLR against a population model + LDA embedding ({} features → {} dims), \
         logistic-regression fusion learned on the population, adaptive S-norm (cohort {} population people, top {}{}). \
         {split}.\n\n",
        dir.display(),
        loaded.report.summary(),
        args.emb_features,
        args.emb_dim,
        args.cohort.min(pop_idx.len()),
        args.cohort_top,
        if args.tnorm_only { ", T-norm only" } else { "" },
    );
    for name in &names {
        let mut t = Table::new(
            ["G \\ L"]
                .into_iter()
                .map(String::from)
                .chain(args.keys.iter().map(|l| format!("L={l}")))
                .chain(std::iter::once("TypeNet L=50 (published)".to_string())),
        );
        for &g in &args.enrol {
            let mut row = vec![format!("G={g}")];
            for &l in &args.keys {
                let c = cells
                    .iter()
                    .find(|c| c.result.identities == *name && c.result.g == g && c.result.l == l)
                    .expect("cell");
                row.push(format!(
                    "{} (sd {})",
                    pct(c.result.eer_mean),
                    pct(c.result.eer_sd)
                ));
            }
            row.push(
                TYPENET_L50
                    .iter()
                    .find(|(pg, _)| *pg == g)
                    .map(|x| pct(x.1))
                    .unwrap_or_else(|| "—".into()),
            );
            t.push(row);
        }
        let title = if *name == "summary" {
            "Mean per-subject EER, content-free window summaries (what the server sees)".to_string()
        } else {
            format!("Mean per-subject EER, event model, {name} key identities")
        };
        println!("\n{title}\n\n{}", t.to_markdown());
        md.push_str(&format!("## {title}\n\n{}\n", t.to_markdown()));
    }
    let mut detail = Table::new([
        "identities",
        "G",
        "L",
        "EER mean",
        "EER sd",
        "TypeNet",
        "AUC",
        "FNMR@FMR=1%",
        "subjects",
        "impostors/subject",
        "mean probe keys",
        "time (s)",
    ]);
    for c in &cells {
        let r = &c.result;
        detail.push([
            r.identities.clone(),
            r.g.to_string(),
            r.l.to_string(),
            pct(r.eer_mean),
            pct(r.eer_sd),
            r.published_eer.map(pct).unwrap_or_else(|| "—".into()),
            format!("{:.4}", r.auc_mean),
            pct(r.fnmr_at_fmr1_mean),
            r.subjects.to_string(),
            r.impostors_per_subject.to_string(),
            format!("{:.1}", r.mean_probe_keys),
            format!("{:.1}", r.seconds),
        ]);
    }
    md.push_str(&format!("## All cells\n\n{}\n", detail.to_markdown()));
    println!("total wall time: {wall:.1} s");
    md.push_str(&format!("Total wall time: {wall:.1} s\n"));
    for name in &names {
        for &l in &args.keys {
            let curves: Vec<Curve<'_>> = cells
                .iter()
                .filter(|c| c.result.identities == *name && c.result.l == l)
                .map(|c| Curve {
                    label: format!("G={} ({})", c.result.g, pct(c.result.eer_mean)),
                    roc: &c.curve,
                })
                .collect();
            write_curves(
                &args.out,
                &format!("aalto-{name}-l{l}"),
                &format!("Aalto free text, {name} keys, L={l}: mean per-subject curve"),
                &curves,
            )?;
        }
    }
    let report = AaltoReport {
        population_ids,
        evaluated_ids,
        dev: args.dev,
        read_summary: loaded.report.summary(),
        results: cells.into_iter().map(|c| c.result).collect(),
        wall_seconds: wall,
    };
    write_report(
        &args.out,
        &format!(
            "aalto{}{}",
            if args.split == "parity" {
                ""
            } else {
                "-halves"
            },
            if args.dev { "-dev" } else { "" }
        ),
        &report,
        &md,
    )?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
