//! `keyprint replay-eval`: time to detect, measured by replaying the whole CMU benchmark through the service.
//!
//! Protocol (fixed text, the server's own code path — enrolment policy, calibration, fusion, template
//! updates, storage — called in-process, one batch per session):
//! * subjects: every CMU subject **except** the 12 background subjects whose excerpt calibrates the
//!   engine (so no subject is both calibration and test data);
//! * each subject is an account: session 1 (50 typings) enrols it automatically; sessions 2–8 are then
//!   replayed in order as the owner's sessions (genuine; trusted windows may update the template);
//! * afterwards, the first `impostor_typings` typings of session 1 of every other test subject are
//!   replayed as one session each on the account (impostor), each on the account owner's registered device
//!   and each starting from the owner's cross-session state (`Service::reset_user_view`), so no impostor is
//!   caught sooner because of the one before;
//! * enrolments held for review (`Service::enrolment_state`) are counted: accounts enrol one after another,
//!   so each enrolment is checked against every account enrolled before it;
//! * per session, the number of typings up to the event that raised the first alert
//!   (`keyprint_core::eval::actions_until_alarm` semantics; the alert's `event_us` locates it) — ANIA for
//!   impostor sessions, ANGA for genuine ones; sessions without an alert are counted as censored.

use crate::{CMU_BACKGROUND, ServeConfig, cmu_subjects, open_service};
use keyprint_core::keystroke::{FixedTextLayout, ms_to_us};
use keyprint_wire::IngestBatch;
use std::path::Path;

/// Measured time to detect.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayReport {
    /// Test subjects (accounts).
    pub subjects: usize,
    /// Impostor sessions replayed.
    pub impostor_sessions: usize,
    /// Impostor sessions that raised an alert.
    pub impostor_alerted: usize,
    /// Mean typings before the alert over alerted impostor sessions (ANIA).
    pub ania: f64,
    /// Genuine sessions replayed.
    pub genuine_sessions: usize,
    /// Genuine sessions with a (false) alert.
    pub genuine_alerted: usize,
    /// Mean typings before the false alert over genuine sessions that had one (ANGA).
    pub anga: f64,
    /// Genuine typings replayed in total (for the false-alert rate per typing).
    pub genuine_typings: usize,
    /// Accounts whose fixed-text enrolment was held for review (inconsistent, or accepted by an account
    /// enrolled before it): a false hold costs an admin a review, and a held account is not scored.
    pub held: Vec<(String, String)>,
}

/// Runs the protocol on the CMU file at `cmu_csv`, storing in `dir`.
///
/// # Errors
/// When the file cannot be read or the service fails.
pub fn run(
    cmu_csv: &Path,
    dir: &Path,
    impostor_typings: usize,
    engines: &[String],
) -> anyhow::Result<ReplayReport> {
    let text = std::fs::read_to_string(cmu_csv)?;
    let background: Vec<String> = cmu_subjects(CMU_BACKGROUND, "bg")?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let loaded = keyprint_datasets::cmu::parse_cmu(&text, &cmu_csv.display().to_string())?;
    let subjects: Vec<(String, Vec<(u32, Vec<f64>)>)> = loaded
        .data
        .subjects
        .into_iter()
        .filter(|(s, _)| !background.contains(s))
        .map(|(s, v)| (s, v.into_iter().map(|x| (x.session, x.features)).collect()))
        .collect();
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.service.rate_per_key = 1e9;
    cfg.engines = engines.to_vec();
    let svc = open_service(&cfg)?;
    let layout = FixedTextLayout::cmu_strong_password();
    let edge_config = keyprint_edge::EdgeConfig {
        phrase: Some(keyprint_edge::Phrase {
            id: "cmu".into(),
            keys: layout.keys().to_vec(),
        }),
        free_text: engines.iter().any(|e| e == "free-text"),
        ..keyprint_edge::EdgeConfig::default()
    };
    let tenant = "eval";
    svc.set_phrase(
        tenant,
        &keyprint_wire::FixedTextPhrase {
            id: "cmu".into(),
            keys: layout.keys().len() as u32,
            confirm_reset: false,
        },
    )?;
    let devices: std::cell::RefCell<std::collections::HashMap<String, crate::service::Principal>> =
        Default::default();
    // One session: all typings in one batch; returns typings up to the first alert.
    let replay =
        |user: &str, session: &str, typings: &[Vec<f64>]| -> anyhow::Result<Option<usize>> {
            let units =
                crate::demo::typings_to_events(&layout, typings, 1_000_000, ms_to_us(1500.0));
            // A record's time is the press of its last key (docs/EDGE.md): typings up to the alert's record.
            let ends: Vec<i64> = units
                .iter()
                .map(|u| u.iter().map(|e| e.press_us).max().unwrap_or(0))
                .collect();
            let events: Vec<keyprint_core::KeyEvent> = units.into_iter().flatten().collect();
            let records = keyprint_edge::records_of_session(edge_config.clone(), &events, &[])?
                .iter()
                .map(keyprint_wire::convert::to_wire)
                .collect();
            // Every session of an account is typed on the account owner's registered device (someone
            // else at the owner's keyboard, in the impostor sessions).
            let who = match devices.borrow().get(user) {
                Some(p) => p.clone(),
                None => {
                    svc.provision_device(tenant, &format!("dev-{user}"), &[user])?
                        .1
                }
            };
            devices.borrow_mut().insert(user.to_string(), who.clone());
            let ack = svc.ingest(
                &who,
                &IngestBatch {
                    user: user.into(),
                    session: session.into(),
                    device: None,
                    batch_seq: 0,
                    records,
                },
            )?;
            Ok(ack
                .alerts
                .first()
                .map(|a| ends.iter().filter(|&&t| t <= a.event_us).count()))
        };
    let mut r = ReplayReport {
        subjects: subjects.len(),
        impostor_sessions: 0,
        impostor_alerted: 0,
        ania: 0.0,
        genuine_sessions: 0,
        genuine_alerted: 0,
        anga: 0.0,
        genuine_typings: 0,
        held: Vec::new(),
    };
    let (mut ania_sum, mut anga_sum) = (0usize, 0usize);
    for (owner, samples) in &subjects {
        let by_session = |s: u32| -> Vec<Vec<f64>> {
            samples
                .iter()
                .filter(|(x, _)| *x == s)
                .map(|(_, f)| f.clone())
                .collect()
        };
        replay(owner, &format!("{owner}-s1"), &by_session(1))?;
        if let (_, _, Some(why)) = svc.enrolment_state(tenant, owner, "fixed-text")? {
            r.held.push((owner.clone(), why));
        }
        for s in 2..=8 {
            let t = by_session(s);
            if t.is_empty() {
                continue;
            }
            r.genuine_sessions += 1;
            r.genuine_typings += t.len();
            if let Some(n) = replay(owner, &format!("{owner}-s{s}"), &t)? {
                r.genuine_alerted += 1;
                anga_sum += n;
            }
        }
        for (other, o) in &subjects {
            if other == owner {
                continue;
            }
            let t: Vec<Vec<f64>> = o
                .iter()
                .filter(|(x, _)| *x == 1)
                .take(impostor_typings)
                .map(|(_, f)| f.clone())
                .collect();
            r.impostor_sessions += 1;
            // Every impostor session starts from the owner's state (not after the previous impostor).
            svc.reset_user_view(tenant, owner)?;
            if let Some(n) = replay(owner, &format!("{owner}-by-{other}"), &t)? {
                r.impostor_alerted += 1;
                ania_sum += n;
            }
        }
    }
    r.ania = ania_sum as f64 / r.impostor_alerted.max(1) as f64;
    r.anga = anga_sum as f64 / r.genuine_alerted.max(1) as f64;
    Ok(r)
}
