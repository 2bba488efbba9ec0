//! Time to detect for the **mouse engine through the service** on the Balabit Mouse Dynamics Challenge
//! (`keyprint replay-eval --balabit`): the server's own code path — enrolment policy and per-user
//! enrolment check, calibration, fusion, template updates from trusted windows, storage — called
//! in-process, as [`crate::replay_eval`] does for CMU.
//!
//! Data layout (Balabit Mouse Dynamics Challenge, Fülöp, Kovács, Kurics, Windhager-Pokol 2016; session and
//! label layout as used by Antal & Egyed-Zsigmond 2019, "Intrusion detection using mouse dynamics", IET
//! Biometrics): 10 user accounts; `training_files/userN/` holds a few long sessions of the account's owner,
//! `test_files/userN/` shorter sessions recorded on account N, and `public_labels.csv` labels part of them
//! (`is_illegal` 0 = the owner, 1 = another person on this account). Unlabelled test sessions are not used.
//!
//! Protocol:
//! * engines `mouse,injection` (mouse is the first and only per-user engine, so the issue #10 rule — a
//!   further engine enrols only from sessions with owner-like evidence on an active engine — does not
//!   apply and training sessions enrol directly); tenant `balabit`;
//! * each user is an account with one registered device (`dev-userN`, bound to that user); its training
//!   sessions, in file-name order, go through the edge ([`keyprint_edge::Edge::mouse`] → mouse action
//!   records → [`keyprint_client::SessionBatcher`], [`BATCH_RECORDS`] records per batch →
//!   [`Service::ingest`](crate::service::Service::ingest)); the first
//!   [`MOUSE_ENROLMENT_ACTIONS`](crate::MOUSE_ENROLMENT_ACTIONS) actions enrol the mouse engine and the
//!   later training actions are scored as the owner's (template updates from trusted windows stay on, as in
//!   service). Accounts enrol one after another, so each enrolment is checked against every account
//!   enrolled before it;
//! * an enrolment the service **holds** for review (its per-user enrolment check) is counted with its reason
//!   and then approved through [`Service::set_enrolment`](crate::service::Service::set_enrolment) — an
//!   admin's review, as the demo does with `POST /v1/users/{u}/enrolment approve` — right after the batch
//!   that raised it;
//! * then every labelled test session of the account, in file-name order, is replayed as one session on
//!   the account's device, each starting from the owner's cross-session state
//!   ([`Service::reset_user_view`](crate::service::Service::reset_user_view)), so no session is caught
//!   sooner because of the one before;
//! * per session, the mouse actions up to the record that raised the first alert (a record's time is its
//!   action's end; the alert's `event_us` locates it) — ANIA over alerted impostor sessions, ANGA over
//!   genuine sessions with a (false) alert; sessions without an alert are censored. False alerts per
//!   100,000 genuine actions count every alert of the genuine sessions (an alert is outstanding until
//!   trust recovers, so one session can raise several). Enrolment-hold alerts are not detections and are
//!   excluded.
//!
//! Nothing is tuned on the test sessions: the engine is the server's default (threshold 30, mouse
//! calibration on bundled excerpts of five users' *training* sessions, see [`crate::mouse_engine`]).
//!
//! The data are the challenge's public release: used here to measure, never stored or shipped.

use crate::store::EnrolmentAction;
use crate::{ServeConfig, open_service};
use keyprint_core::event::MouseEvent;
use keyprint_wire::ReasonCode;
use std::path::Path;

/// Records per ingest batch (the agent's upload batches are of this order).
pub const BATCH_RECORDS: usize = 100;

/// The tenant the evaluation uses.
pub const TENANT: &str = "balabit";

/// Outcome of one kind of test session.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MouseSessionStats {
    /// Sessions replayed.
    pub sessions: usize,
    /// Sessions with at least one alert.
    pub alerted: usize,
    /// Mean mouse actions up to the first alert, over alerted sessions (ANIA for impostor sessions, ANGA
    /// for genuine ones); 0 when none alerted.
    pub mean_actions_to_alert: f64,
    /// Mouse actions (records) in all sessions.
    pub actions: u64,
    /// Alerts in all sessions (enrolment holds excluded).
    pub alerts: usize,
    /// Sessions in which the edge cut no mouse action at all (replayed, never scorable).
    pub empty: usize,
}

impl MouseSessionStats {
    /// Share of sessions alerted, in [0, 1] (0 for no sessions).
    pub fn share(&self) -> f64 {
        self.alerted as f64 / self.sessions.max(1) as f64
    }
    /// Alerts per 100,000 mouse actions.
    pub fn per_100k(&self) -> f64 {
        self.alerts as f64 * 1e5 / self.actions.max(1) as f64
    }
    fn add(&mut self, actions: u64, first: Option<u64>, alerts: usize) {
        let n = self.alerted as f64;
        self.sessions += 1;
        self.actions += actions;
        self.alerts += alerts;
        self.empty += usize::from(actions == 0);
        if let Some(k) = first {
            self.alerted += 1;
            self.mean_actions_to_alert = (self.mean_actions_to_alert * n + k as f64) / (n + 1.0);
        }
    }
}

/// Which part of the set to replay.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BalabitOptions {
    /// Only the first N accounts by folder name (`None`: all 10).
    pub users: Option<usize>,
    /// Per account, at most this many genuine and this many impostor labelled test sessions, the first
    /// by file name (`None`: every labelled test session).
    pub per_user: Option<usize>,
}

/// Everything measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BalabitReport {
    /// Accounts (users) evaluated.
    pub users: usize,
    /// Training sessions replayed.
    pub training_sessions: usize,
    /// Mouse actions in the training sessions.
    pub training_actions: u64,
    /// Owner's training actions after the enrolment's first
    /// [`MOUSE_ENROLMENT_ACTIONS`](crate::MOUSE_ENROLMENT_ACTIONS) (scored, except the rest of the batch in
    /// which an enrolment was held).
    pub training_scored: u64,
    /// Alerts in the training sessions after enrolment (the owner's own sessions: false alerts).
    pub training_alerts: usize,
    /// Accounts whose mouse enrolment was held for review, with the service's reason; each was then
    /// approved (see the module doc).
    pub held: Vec<(String, String)>,
    /// Accounts with no active mouse template after their training sessions (their test sessions are
    /// replayed but cannot be scored).
    pub not_enrolled: Vec<String>,
    /// Per account: (user, genuine test sessions, impostor test sessions), in account order.
    pub accounts: Vec<(String, MouseSessionStats, MouseSessionStats)>,
    /// Per account, in account order: mouse reference samples the service holds after the training
    /// sessions ([`MOUSE_ENROLMENT_ACTIONS`](crate::MOUSE_ENROLMENT_ACTIONS) means no trusted training
    /// action was ever added: the template never judged an action owner-like, e.g. a low-confidence one).
    pub reference_after_training: Vec<usize>,
    /// Labelled impostor test sessions (`is_illegal` 1), all accounts.
    pub impostor: MouseSessionStats,
    /// Labelled genuine test sessions (`is_illegal` 0), all accounts.
    pub genuine: MouseSessionStats,
    /// Rows the reader rejected over all files read (e.g. `XButton` rows; see
    /// [`keyprint_datasets::balabit`]).
    pub rejected_rows: usize,
}

fn sorted_dir(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// Result of replaying one session: (mouse actions, actions up to the first alert, alerts, holds raised).
struct Replayed {
    actions: u64,
    first: Option<u64>,
    alerts: usize,
    held: Vec<String>,
}

/// Runs the protocol on the Balabit folder `root` (the folder holding `training_files/`, or its parent;
/// see [`keyprint_datasets::balabit::locate`]), storing in `dir`.
///
/// # Errors
/// When a file cannot be read or has a wrong header, no account is found, or the service fails.
pub fn run(root: &Path, dir: &Path, opts: &BalabitOptions) -> anyhow::Result<BalabitReport> {
    use keyprint_datasets::balabit as bb;
    let root = bb::locate(root);
    let labels_path = root.join("public_labels.csv");
    let labels = bb::parse_labels(
        &std::fs::read_to_string(&labels_path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", labels_path.display()))?,
        &labels_path.display().to_string(),
    )?;
    let mut users: Vec<String> = sorted_dir(&root.join("training_files"))?
        .into_iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| p.file_name().and_then(|s| s.to_str()).map(String::from))
        .collect();
    if let Some(n) = opts.users {
        users.truncate(n);
    }
    anyhow::ensure!(
        !users.is_empty(),
        "no user folders under {}",
        root.display()
    );
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.service.rate_per_key = 1e9;
    cfg.engines = vec!["mouse".into(), "injection".into()];
    let svc = open_service(&cfg)?;
    let mut r = BalabitReport {
        users: users.len(),
        ..BalabitReport::default()
    };
    let mut rejected = 0usize;
    let mut read = |path: &Path| -> anyhow::Result<Vec<MouseEvent>> {
        let s = bb::read_session(path)?;
        rejected += s.report.rejected.len();
        Ok(s.data.events)
    };
    let mut held = Vec::new();
    let mut not_enrolled = Vec::new();
    for user in &users {
        let (_, who) = svc.provision_device(TENANT, &format!("dev-{user}"), &[user])?;
        // One session through the edge and the batcher; holds are approved at once (the admin's review).
        let replay = |session: &str, events: &[MouseEvent]| -> anyhow::Result<Replayed> {
            let mut edge = keyprint_edge::Edge::new(keyprint_edge::EdgeConfig::default())?;
            let mut records = Vec::new();
            for e in events {
                edge.mouse(*e, &mut records);
            }
            edge.finish(&mut records);
            let ends: Vec<i64> = records
                .iter()
                .filter(|r| matches!(r, keyprint_edge::Record::Mouse(_)))
                .map(keyprint_edge::Record::at_us)
                .collect();
            let device = format!("dev-{user}");
            let mut b =
                keyprint_client::SessionBatcher::new(user, session, Some(&device), BATCH_RECORDS);
            let mut batches = Vec::new();
            for rec in &records {
                batches.extend(b.push(rec));
            }
            batches.extend(b.flush());
            let mut out = Replayed {
                actions: ends.len() as u64,
                first: None,
                alerts: 0,
                held: Vec::new(),
            };
            for batch in batches {
                let ack = svc.ingest(&who, &batch)?;
                for a in &ack.alerts {
                    if let Some(h) = a
                        .reasons
                        .iter()
                        .find(|x| x.code == ReasonCode::EnrolmentHeld)
                    {
                        out.held.push(h.detail.clone());
                        svc.set_enrolment(TENANT, user, Some("mouse"), EnrolmentAction::Approve)?;
                        continue;
                    }
                    out.alerts += 1;
                    if out.first.is_none() {
                        out.first = Some(ends.iter().filter(|&&t| t <= a.event_us).count() as u64);
                    }
                }
            }
            Ok(out)
        };
        for path in sorted_dir(&root.join("training_files").join(user))? {
            let session = path
                .file_name()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let events = read(&path)?;
            let (before, was_enrolled, _) = svc.enrolment_state(TENANT, user, "mouse")?;
            let x = replay(&format!("{user}-train-{session}"), &events)?;
            r.training_sessions += 1;
            r.training_actions += x.actions;
            // Actions of this session that went to the enrolment are not scored.
            let enrolling = if was_enrolled {
                0
            } else {
                (crate::MOUSE_ENROLMENT_ACTIONS.saturating_sub(before) as u64).min(x.actions)
            };
            r.training_scored += x.actions - enrolling;
            r.training_alerts += x.alerts;
            held.extend(x.held.into_iter().map(|why| (user.clone(), why)));
        }
        let (refs, enrolled, hold) = svc.enrolment_state(TENANT, user, "mouse")?;
        r.reference_after_training.push(refs);
        if !enrolled || hold.is_some() {
            not_enrolled.push(user.clone());
        }
        let (mut g, mut m) = (0usize, 0usize);
        let (mut gs, mut ms) = (MouseSessionStats::default(), MouseSessionStats::default());
        for path in sorted_dir(&root.join("test_files").join(user))? {
            let file = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
            let Some(&illegal) = labels.data.get(file) else {
                continue;
            };
            let count = if illegal { &mut m } else { &mut g };
            if opts.per_user.is_some_and(|n| *count >= n) {
                continue;
            }
            *count += 1;
            let events = read(&path)?;
            // Every test session starts from the owner's state (not after the previous test session).
            svc.reset_user_view(TENANT, user)?;
            let x = replay(file, &events)?;
            held.extend(x.held.iter().map(|why| (user.clone(), why.clone())));
            for s in if illegal {
                [&mut r.impostor, &mut ms]
            } else {
                [&mut r.genuine, &mut gs]
            } {
                s.add(x.actions, x.first, x.alerts);
            }
        }
        r.accounts.push((user.clone(), gs, ms));
    }
    r.rejected_rows = rejected;
    r.held = held;
    r.not_enrolled = not_enrolled;
    Ok(r)
}
