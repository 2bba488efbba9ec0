//! Time to detect for free text on the Aalto data (`keyprint replay-eval --aalto`): the edge's window
//! summaries of real sessions go through the free-text engine's tenant-learned templates
//! ([`crate::population`]) and the service's fusion over time ([`crate::trust`], default parameters,
//! threshold 30), in process (no HTTP or storage: those do not change scores).
//!
//! Protocol. Participants with 15 sentences, sorted by id; each sentence cut to its first
//! [`FREETEXT_WINDOW_KEYS`](crate::FREETEXT_WINDOW_KEYS) keys is one window (a cut after each sentence).
//! The tenant's people are the participants at even positions: each enrols with sentences 1–10, which
//! builds the tenant's population. The **evaluated** participants (odd positions, not in that population)
//! then enrol the same way, one after another, as new users of the tenant. Per evaluated owner: the
//! genuine session is its sentences 11–15; the impostor session on its account is sentences 11–15 of the
//! next evaluated participant. Cold start: a tenant of only `N` evaluated participants, same sessions
//! among them. Evasions (per owner): the impostor typing 1.6× slower; the impostor's windows alternating
//! with replays of the owner's enrolment windows; a humanized injection — the impostor's keys with hold
//! and press-to-press times drawn from the owner's own enrolment keystrokes — after two of the owner's
//! genuine windows.
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
    let v = summarize(ev, |e| e.key.as_code().map_or(11, key_class))?;
    Some((crate::engine::summary_vector(&v), ev.len() as u64))
}

/// Runs `windows` through `template` with the service's fusion; returns (keys to first alert, final trust,
/// keys).
fn session(
    engine: &FreeTextEngine,
    template: &dyn keyprint_core::detector::Template<FeatureVector>,
    windows: &[Window],
) -> (Option<u64>, f64, u64) {
    let p = FusionParams::default();
    let mut f = Fusion::default();
    let (mut keys, mut first) = (0, None);
    for (v, k) in windows {
        keys += k;
        let llr = engine.calibration().llr(template.score(v));
        let c = f.update(
            &p,
            ReasonCode::KeystrokeMismatch,
            engine.forgetting(),
            llr,
            *k,
            String::new(),
        );
        if c == Crossing::Alert && first.is_none() {
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

/// Runs the protocol on the Aalto folder `data`.
///
/// # Errors
/// When the data cannot be read or too few participants have 15 sentences.
pub fn run(data: &Path, max_participants: Option<usize>) -> anyhow::Result<FreeTextReplay> {
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
    let (pop, eval): (Vec<usize>, Vec<usize>) = (0..people.len()).partition(|i| i % 2 == 0);
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
    for &i in &eval {
        templates.push(engine.fit_for("t", &format!("p{i}"), &vecs(i, 0..10))?);
    }
    let names = [
        "slow impostor (1.6x times)",
        "impostor mixing in the owner's recorded windows",
        "humanized injection (owner's own timing) in the owner's typing",
    ];
    let mut ev: Vec<SessionStats> = vec![SessionStats::default(); 3];
    for (k, &i) in eval.iter().enumerate() {
        let j = eval[(k + 1) % eval.len()];
        let t = templates[k].as_ref();
        add(&mut out.genuine, session(&engine, t, &ws(i, 10..15)));
        add(&mut out.impostor, session(&engine, t, &ws(j, 10..15)));
        let slow: Vec<Window> = people[j][10..15]
            .iter()
            .filter_map(|s| window(&slowed(s, 1.6)))
            .collect();
        add(&mut ev[0], session(&engine, t, &slow));
        let mix: Vec<Window> = ws(j, 10..15)
            .into_iter()
            .zip(ws(i, 0..5))
            .flat_map(|(a, b)| [b, a])
            .collect();
        add(&mut ev[1], session(&engine, t, &mix));
        let mut inj = ws(i, 10..12);
        inj.extend(window(&humanized(&people[j][10], &people[i][..10])));
        inj.extend(ws(i, 12..15));
        add(&mut ev[2], session(&engine, t, &inj));
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
            add(&mut g, session(&engine, ts[k].as_ref(), &ws(i, 10..15)));
            add(&mut m, session(&engine, ts[k].as_ref(), &ws(j, 10..15)));
        }
        out.cold.push((n, g, m));
    }
    Ok(out)
}
