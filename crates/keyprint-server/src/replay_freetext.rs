//! Time to detect for free text on the Aalto data (`keyprint replay-eval --aalto`): the edge's window
//! summaries of real sessions go through the free-text engine's tenant-learned templates
//! ([`crate::population`]), its humanized-timing check (`keyprint_freetext::KeyDependence`, evidence on the
//! injection channel), the service's replay rules (a window identical to, or a near-duplicate of, a stored
//! one) and the service's fusion over time ([`crate::trust`], default parameters, threshold 30), in process
//! (no HTTP or storage: those do not change scores).
//!
//! Protocol. Participants with 15 sentences, sorted by id; each sentence cut to its first
//! [`FREETEXT_WINDOW_KEYS`](crate::FREETEXT_WINDOW_KEYS) keys is one window (a cut after each sentence).
//! The tenant's people are the participants at even positions: each enrols with sentences 1–10, which
//! builds the tenant's population. The **evaluated** participants (odd positions, not in that population)
//! then enrol the same way, one after another, as new users of the tenant. Per evaluated owner: the
//! genuine session is its sentences 11–15; the impostor session on its account is sentences 11–15 of the
//! next evaluated participant. Cold start: a tenant of only `N` evaluated participants, same sessions
//! among them. Evasions (per owner): the impostor typing 1.6× slower; the impostor's windows alternating
//! with replays of the owner's enrolment windows, exact or re-timed with ±5 ms jitter on every press and
//! release; a humanized injection — the impostor's keys with hold and press-to-press times drawn from the
//! owner's own enrolment keystrokes — of one or three sentences after two of the owner's genuine windows.
//! Settings of the humanized-timing check and the near-duplicate bound were chosen on the even positions
//! (the population half), never on the evaluated owners.
//!
//! The data are non-commercial (Aalto): used here to measure, never stored or shipped.

use crate::engine::{Engine, FreeTextEngine};
use crate::population::PopulationSettings;
use crate::trust::{Crossing, Fusion, FusionParams};
use keyprint_core::detector::FeatureVector;
use keyprint_core::event::KeyEvent;
use keyprint_wire::ReasonCode;
use std::path::Path;

/// Outcome of one kind of session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionStats {
    /// Sessions run.
    pub sessions: usize,
    /// Sessions with at least one alert.
    pub alerted: usize,
    /// Sessions alerted within 150 keystrokes.
    pub alerted_150: usize,
    /// Mean keystrokes before the first alert, over alerted sessions (ANIA for impostors, ANGA for
    /// genuine sessions).
    pub mean_keys_to_alert: f64,
    /// Keystrokes in all sessions.
    pub keystrokes: u64,
    /// Alerts in all sessions (one per session at most: an alert is outstanding until trust recovers).
    pub alerts: usize,
    /// Mean trust at the end of the session.
    pub mean_final_trust: f64,
}

impl SessionStats {
    /// Share of sessions alerted.
    pub fn share(&self) -> f64 {
        self.alerted as f64 / self.sessions.max(1) as f64
    }
    /// Alerts per 100,000 keystrokes.
    pub fn per_100k(&self) -> f64 {
        self.alerts as f64 * 1e5 / self.keystrokes.max(1) as f64
    }
}

/// Everything measured.
#[derive(Clone, Debug, Default)]
pub struct FreeTextReplay {
    /// Tenant population size and evaluated owners.
    pub population: usize,
    /// Evaluated owners.
    pub owners: usize,
    /// Genuine sessions (full tenant).
    pub genuine: SessionStats,
    /// Impostor sessions (full tenant).
    pub impostor: SessionStats,
    /// Cold start: `(enrolled users, genuine, impostor)`.
    pub cold: Vec<(usize, SessionStats, SessionStats)>,
    /// Evasions: `(name, stats)`.
    pub evasions: Vec<(String, SessionStats)>,
}

/// A window: summary vector and keys.
type Window = (FeatureVector, u64);

fn window(events: &[KeyEvent]) -> Option<Window> {
    use keyprint_edge::vocab::{key_class, summarize};
    let ev = &events[..crate::FREETEXT_WINDOW_KEYS.min(events.len())];
    let v = summarize(ev, |e| {
        e.key
            .as_code()
            .map_or(keyprint_edge::vocab::CLASSES - 1, key_class)
    })?;
    Some((crate::engine::summary_vector(&v), ev.len() as u64))
}

/// An owner as the service holds it: the free-text template, the humanized-timing check and the stored
/// samples (the service's exact-replay rule compares every window with them).
struct Owner<'a> {
    template: &'a dyn keyprint_core::detector::Template<FeatureVector>,
    humanized: Option<&'a dyn keyprint_core::detector::Template<FeatureVector>>,
    stored: &'a [FeatureVector],
}

/// Runs `windows` through the owner's checks with the service's fusion, as `Service` does for a free-text
/// sample: a window identical to a stored one is a replay (`−replay_llr`, not scored); otherwise its
/// comparison score goes to the keystroke channel and the humanized-timing check's LLR to the injection
/// channel. Returns (keys to first alert, final trust, keys).
fn session(engine: &FreeTextEngine, owner: &Owner, windows: &[Window]) -> (Option<u64>, f64, u64) {
    let p = FusionParams::default();
    let replay_llr = crate::service::ServiceConfig::default().replay_llr;
    let mut f = Fusion::default();
    let (mut keys, mut first) = (0, None);
    for (v, k) in windows {
        keys += k;
        let mut crossed = Vec::new();
        // Bitwise, as the service's digests (absent entries are NaN, which `==` never matches).
        let same = |s: &FeatureVector| {
            s.len() == v.len() && s.iter().zip(v).all(|(a, b)| a.to_bits() == b.to_bits())
        };
        if owner.stored.iter().any(same) || engine.near_duplicate(owner.stored, v).is_some() {
            crossed.push(f.update(
                &p,
                ReasonCode::Replay,
                p.lambda,
                -replay_llr,
                1,
                String::new(),
            ));
        } else {
            let llr = engine.calibration().llr(owner.template.score(v));
            crossed.push(f.update(
                &p,
                ReasonCode::KeystrokeMismatch,
                engine.forgetting(),
                llr,
                *k,
                String::new(),
            ));
            if let Some(h) = owner.humanized {
                crossed.push(f.update(
                    &p,
                    ReasonCode::Injection,
                    engine.forgetting(),
                    -h.score(v),
                    *k,
                    String::new(),
                ));
            }
        }
        if crossed.contains(&Crossing::Alert) && first.is_none() {
            first = Some(keys);
        }
    }
    (first, f.trust(&p), keys)
}

fn add(s: &mut SessionStats, (first, trust, keys): (Option<u64>, f64, u64)) {
    let n = s.alerted as f64;
    s.sessions += 1;
    s.keystrokes += keys;
    s.mean_final_trust += (trust - s.mean_final_trust) / s.sessions as f64;
    if let Some(k) = first {
        s.alerted += 1;
        s.alerts += 1;
        s.alerted_150 += usize::from(k <= 150);
        s.mean_keys_to_alert = (s.mean_keys_to_alert * n + k as f64) / (n + 1.0);
    }
}

/// Events with all times scaled by `f` around the first press.
fn slowed(events: &[KeyEvent], f: f64) -> Vec<KeyEvent> {
    let t0 = events.first().map_or(0, |e| e.press_us);
    events
        .iter()
        .map(|e| {
            let mut x = e.clone();
            x.press_us = t0 + ((e.press_us - t0) as f64 * f) as i64;
            x.release_us = t0 + ((e.release_us - t0) as f64 * f) as i64;
            x
        })
        .collect()
}

/// Events with every press and release moved by up to `±max_us` (uniform, deterministic from `seed`), holds
/// kept positive: a recording replayed with jitter.
fn jitter(events: &[KeyEvent], max_us: i64, seed: u64) -> Vec<KeyEvent> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % (2 * max_us as u64 + 1)) as i64 - max_us
    };
    events
        .iter()
        .map(|e| {
            let mut y = e.clone();
            y.press_us += next();
            y.release_us = (e.release_us + next()).max(y.press_us + 1);
            y
        })
        .collect()
}

/// `owner`'s hold times and press-to-press times (at most 5 s), µs, over consecutive keystrokes of each
/// sentence.
pub(crate) fn owner_timing(owner: &[Vec<KeyEvent>]) -> (Vec<i64>, Vec<i64>) {
    let mut holds = Vec::new();
    let mut dds = Vec::new();
    for s in owner {
        for w in s.windows(2) {
            holds.push(w[0].release_us - w[0].press_us);
            let dd = w[1].press_us - w[0].press_us;
            if (0..=5_000_000).contains(&dd) {
                dds.push(dd);
            }
        }
    }
    (holds, dds)
}

/// The participants of the Aalto folder `data` (at most `max_participants` read) with at least 15
/// sentences, in the reader's order: `(participant id, the events of its first 15 sentences)`.
///
/// # Errors
/// When the folder cannot be read.
pub(crate) fn load_people(
    data: &Path,
    max_participants: Option<usize>,
) -> anyhow::Result<Vec<(u64, Vec<Vec<KeyEvent>>)>> {
    let loaded = keyprint_datasets::aalto::read_aalto_dir(data, max_participants)?;
    Ok(loaded
        .data
        .into_iter()
        .filter(|p| p.sequences.len() >= 15)
        .map(|p| {
            (
                p.id,
                p.sequences.into_iter().take(15).map(|s| s.events).collect(),
            )
        })
        .collect())
}

/// The `keys` of `events` re-timed with hold and press-to-press times drawn (deterministically, by a
/// linear congruential sequence) from `owner`'s keystrokes.
fn humanized(events: &[KeyEvent], owner: &[Vec<KeyEvent>]) -> Vec<KeyEvent> {
    let (holds, dds) = owner_timing(owner);
    if holds.is_empty() || dds.is_empty() {
        return events.to_vec();
    }
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % n
    };
    let mut t = events.first().map_or(0, |e| e.press_us);
    events
        .iter()
        .map(|e| {
            let mut x = e.clone();
            x.press_us = t;
            x.release_us = t + holds[next(holds.len())].max(1);
            t += dds[next(dds.len())].max(1);
            x
        })
        .collect()
}

/// Runs the protocol on the Aalto folder `data`. With `dev`, the halves swap: the participants at odd
/// positions are the tenant's population and those at even positions are evaluated — the development
/// protocol, the only one settings may be chosen on.
///
/// # Errors
/// When the data cannot be read or too few participants have 15 sentences.
pub fn run(
    data: &Path,
    max_participants: Option<usize>,
    dev: bool,
) -> anyhow::Result<FreeTextReplay> {
    let people: Vec<Vec<Vec<KeyEvent>>> = load_people(data, max_participants)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    anyhow::ensure!(
        people.len() >= 8,
        "need at least 8 participants with 15 sentences"
    );
    let wins: Vec<Vec<Option<Window>>> = people
        .iter()
        .map(|p| p.iter().map(|s| window(s)).collect())
        .collect();
    let ws = |i: usize, r: std::ops::Range<usize>| -> Vec<Window> {
        wins[i][r].iter().flatten().cloned().collect()
    };
    let vecs = |i: usize, r: std::ops::Range<usize>| -> Vec<FeatureVector> {
        ws(i, r).into_iter().map(|w| w.0).collect()
    };
    let (pop, eval): (Vec<usize>, Vec<usize>) =
        (0..people.len()).partition(|i| (i % 2 == 0) != dev);
    let mut out = FreeTextReplay {
        population: pop.len(),
        owners: eval.len(),
        ..FreeTextReplay::default()
    };
    let engine = FreeTextEngine::new(
        PopulationSettings::default(),
        crate::FREETEXT_ENROLMENT_WINDOWS,
    );
    for &i in &pop {
        let _ = engine.fit_for("t", &format!("p{i}"), &vecs(i, 0..10));
    }
    let mut templates = Vec::new();
    let mut checks = Vec::new();
    for &i in &eval {
        templates.push(engine.fit_for("t", &format!("p{i}"), &vecs(i, 0..10))?);
        checks.push(engine.fit_humanized(&vecs(i, 0..10)));
    }
    let names = [
        "slow impostor (1.6x times)",
        "impostor mixing in the owner's recorded windows (exact)",
        "impostor mixing in the owner's recorded keystrokes re-timed with 5 ms jitter",
        "humanized injection (owner's own timing), one window, in the owner's typing",
        "humanized injection (owner's own timing), three windows, in the owner's typing",
    ];
    let mut ev: Vec<SessionStats> = vec![SessionStats::default(); names.len()];
    for (k, &i) in eval.iter().enumerate() {
        let j = eval[(k + 1) % eval.len()];
        let stored = vecs(i, 0..10);
        let owner = Owner {
            template: templates[k].as_ref(),
            humanized: checks[k].as_deref(),
            stored: &stored,
        };
        add(&mut out.genuine, session(&engine, &owner, &ws(i, 10..15)));
        add(&mut out.impostor, session(&engine, &owner, &ws(j, 10..15)));
        let slow: Vec<Window> = people[j][10..15]
            .iter()
            .filter_map(|s| window(&slowed(s, 1.6)))
            .collect();
        add(&mut ev[0], session(&engine, &owner, &slow));
        let mix = |own: Vec<Window>| -> Vec<Window> {
            ws(j, 10..15)
                .into_iter()
                .zip(own)
                .flat_map(|(a, b)| [b, a])
                .collect()
        };
        add(&mut ev[1], session(&engine, &owner, &mix(ws(i, 0..5))));
        let jittered: Vec<Window> = people[i][..5]
            .iter()
            .enumerate()
            .filter_map(|(n, s)| window(&jitter(s, 5_000, n as u64)))
            .collect();
        add(&mut ev[2], session(&engine, &owner, &mix(jittered)));
        for (e, payload) in [(3usize, 10..11), (4, 10..13)] {
            let mut inj = ws(i, 10..12);
            inj.extend(
                people[j][payload]
                    .iter()
                    .filter_map(|s| window(&humanized(s, &people[i][..10]))),
            );
            inj.extend(ws(i, 12..15));
            add(&mut ev[e], session(&engine, &owner, &inj));
        }
    }
    out.evasions = names.iter().map(|n| n.to_string()).zip(ev).collect();
    for n in [2usize, 5, 20, 100] {
        if n > eval.len() {
            continue;
        }
        let engine = FreeTextEngine::new(
            PopulationSettings::default(),
            crate::FREETEXT_ENROLMENT_WINDOWS,
        );
        let tenant: Vec<usize> = eval[..n].to_vec();
        let ts: Vec<_> = tenant
            .iter()
            .map(|&i| engine.fit_for("cold", &format!("p{i}"), &vecs(i, 0..10)))
            .collect::<Result<_, _>>()?;
        // Templates learned before the last users joined are refitted, as the service does on refresh.
        let ts: Vec<_> = tenant
            .iter()
            .zip(ts)
            .map(|(&i, t)| {
                engine
                    .fit_for("cold", &format!("p{i}"), &vecs(i, 0..10))
                    .unwrap_or(t)
            })
            .collect();
        let (mut g, mut m) = (SessionStats::default(), SessionStats::default());
        for (k, &i) in tenant.iter().enumerate() {
            let j = tenant[(k + 1) % n];
            let stored = vecs(i, 0..10);
            let check = engine.fit_humanized(&stored);
            let owner = Owner {
                template: ts[k].as_ref(),
                humanized: check.as_deref(),
                stored: &stored,
            };
            add(&mut g, session(&engine, &owner, &ws(i, 10..15)));
            add(&mut m, session(&engine, &owner, &ws(j, 10..15)));
        }
        out.cold.push((n, g, m));
    }
    Ok(out)
}

/// Development measurements behind the humanized-timing check's settings and the summaries'
/// near-duplicate bound, on the **population half** (even positions) of the first 600 participants only:
/// `cargo test --release -p keyprint-server --lib dev_measurements -- --ignored --nocapture` (needs
/// `KEYPRINT_DATASETS`).
#[cfg(test)]
mod dev_measurements {
    use super::*;

    fn dev_people() -> Option<Vec<Vec<Vec<KeyEvent>>>> {
        let root = keyprint_datasets::datasets_root()?;
        let people = load_people(&root.join("aalto-keystrokes-dev"), Some(600)).ok()?;
        Some(people.into_iter().map(|(_, p)| p).step_by(2).collect())
    }

    fn vectors(p: &[Vec<KeyEvent>]) -> Vec<FeatureVector> {
        p.iter().filter_map(|s| window(s)).map(|w| w.0).collect()
    }

    /// The humanized-timing check the service learns from a person's 10 enrolment windows.
    fn check(p: &[Vec<KeyEvent>]) -> Option<keyprint_freetext::KeyDependence> {
        keyprint_freetext::KeyDependence::learn(
            &vectors(&p[..10]),
            &crate::engine::summary_families(),
            keyprint_freetext::KeyDependenceConfig::default(),
        )
    }

    fn describe(name: &str, xs: &[f64]) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let sd = (xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt();
        println!("{name}: n {n}, mean {m:.2}, sd {sd:.2}");
    }

    #[test]
    #[ignore]
    fn humanized_timing_check_on_development_owners() {
        let Some(people) = dev_people() else {
            eprintln!("KEYPRINT_DATASETS unset: skipped");
            return;
        };
        let (mut g, mut a) = (Vec::new(), Vec::new());
        for (k, p) in people.iter().enumerate() {
            let other = &people[(k + 1) % people.len()];
            let Some(kd) = check(p) else {
                continue;
            };
            g.extend(
                vectors(&p[10..15])
                    .iter()
                    .filter_map(|w| kd.statistic(w))
                    .map(|x| x.0),
            );
            a.extend(
                other[10..15]
                    .iter()
                    .filter_map(|s| window(&humanized(s, &p[..10])))
                    .filter_map(|w| kd.statistic(&w.0))
                    .map(|x| x.0),
            );
        }
        describe("owners' later windows, z", &g);
        describe("owner-timed humanized windows, z", &a);
        // Higher z = more human: the impostor polarity of `roc` is the negated statistic.
        let neg = |v: &[f64]| v.iter().map(|x| -x).collect::<Vec<_>>();
        let roc = keyprint_core::eval::roc(&neg(&g), &neg(&a)).expect("roc");
        println!("window AUC {:.4}, EER {:.4}", roc.auc(), roc.eer());
    }

    /// The demo's DuckyScript payload (`INJECTION_PAYLOADS[0]`, mostly punctuation and digits) rendered
    /// with each development owner's own timing, cut in 50-key windows.
    #[test]
    #[ignore]
    fn humanized_timing_check_on_the_demo_payload() {
        use keyprint_injection::{ducky, timing};
        let Some(people) = dev_people() else {
            eprintln!("KEYPRINT_DATASETS unset: skipped");
            return;
        };
        let script = ducky::parse(crate::INJECTION_PAYLOADS[0]).expect("payload");
        let (mut zs, mut llrs, mut unjudged) = (Vec::new(), Vec::new(), 0);
        for p in &people {
            let Some(kd) = check(p) else {
                continue;
            };
            let (holds, dds) = owner_timing(&p[..10]);
            let ms = |v: Vec<i64>| v.into_iter().map(|x| x as f64 / 1000.0).collect::<Vec<_>>();
            let Some(table) = timing::HumanTiming::from_samples(ms(holds), ms(dds)) else {
                continue;
            };
            let keys = timing::render_with(&script, timing::Timing::Human, 7, &table);
            for chunk in keys.chunks(crate::FREETEXT_WINDOW_KEYS) {
                let Some((w, _)) = window(chunk) else {
                    continue;
                };
                match kd.statistic(&w) {
                    Some((z, _)) => {
                        zs.push(z);
                        llrs.push(kd.llr(&w));
                    }
                    None => unjudged += 1,
                }
            }
        }
        describe("demo payload windows, z", &zs);
        describe("demo payload windows, LLR", &llrs);
        println!("unjudged windows: {unjudged}");
    }

    #[test]
    #[ignore]
    fn near_duplicate_distances_on_development_owners() {
        let Some(people) = dev_people() else {
            eprintln!("KEYPRINT_DATASETS unset: skipped");
            return;
        };
        let median = |stored: &[FeatureVector], x: &[f64]| -> f64 {
            // The rule's statistic without its bound: the smallest median distance to a stored window.
            let dim = x.len();
            let sd = crate::service::per_feature_sd(stored, dim);
            stored
                .iter()
                .filter_map(|v| {
                    let mut d: Vec<f64> = (0..dim)
                        .filter(|&f| x[f].is_finite() && v[f].is_finite() && sd[f] > 0.0)
                        .map(|f| (x[f] - v[f]).abs() / sd[f])
                        .collect();
                    (d.len() >= crate::service::NEAR_DUPLICATE_MIN_SHARED).then(|| {
                        d.sort_by(f64::total_cmp);
                        d[d.len() / 2]
                    })
                })
                .fold(f64::INFINITY, f64::min)
        };
        let mut g = Vec::new();
        let mut a = vec![Vec::new(); 4];
        for p in &people {
            let stored = vectors(&p[..10]);
            g.extend(vectors(&p[10..15]).iter().map(|w| median(&stored, w)));
            for (k, j) in [2_000i64, 5_000, 10_000, 20_000].iter().enumerate() {
                for (n, s) in p[..5].iter().enumerate() {
                    if let Some((w, _)) = window(&jitter(s, *j, n as u64 + 1)) {
                        a[k].push(median(&stored, &w));
                    }
                }
            }
        }
        g.sort_by(f64::total_cmp);
        println!(
            "genuine windows: n {}, smallest {:.3}, 0.1 % quantile {:.3}, median {:.3}",
            g.len(),
            g[0],
            g[g.len() / 1000],
            g[g.len() / 2]
        );
        for (k, j) in [2, 5, 10, 20].iter().enumerate() {
            let caught = a[k]
                .iter()
                .filter(|x| **x <= crate::service::NEAR_DUPLICATE_MEDIAN_SD)
                .count();
            a[k].sort_by(f64::total_cmp);
            println!(
                "re-timed with ±{j} ms: median {:.3}; within the bound {caught} / {}",
                a[k][a[k].len() / 2],
                a[k].len()
            );
        }
    }
}
