//! `keyprint demo`: the main job end to end, on real bundled sessions, through the HTTP API.
//!
//! Starts the server on embedded SQLite in a directory, bootstraps a tenant, and replays — through the
//! edge (`keyprint-edge`, as a device would: key events become content-free records there) and
//! `keyprint-client` (batching, one typing per batch) — the bundled CMU sessions (see
//! `demo-data/README.md`):
//!
//! 1. `alice-enrol`: subject s002, session 1 (50 typings) — automatic enrolment;
//! 2. `alice-day2`: s002 session 2 — the owner again: trust should stay high;
//! 3. `alice-takeover`: s003 session 1 typed on alice's account — trust should fall and alert;
//! 4. `alice-injected`: ten typings by alice (s002 session 3), then a USB keystroke injector plugged into
//!    her machine (a device attach record) types a DuckyScript payload from keyprint-injection's corpus,
//!    rendered by its interpreter with stock device timing ([`injection_payload`]) — the edge's on-device
//!    verdict gives reason `injection`;
//! 5. `alice-replayed`: ten typings recorded from `alice-day2`, resent verbatim — reason `replay`;
//! 6. `alice-day3`: the rest of s002 session 3 — the owner again.
//!
//! 7. `alice-desk`: five typings of alice's password (a session with owner-like keystroke evidence may extend
//!    her enrolment to the mouse), then mouse of Balabit user12 (the first 150 actions enrol alice's mouse
//!    template; the enrolment consistency check holds it, and the demo approves it as an admin would);
//! 8. `alice-desk-takeover`: mouse of Balabit user15 on alice's account.
//!
//! 9. free text on real Aalto sessions, when `KEYPRINT_DATASETS` holds [`AALTO_DIR`] (the CLI prints one
//!    line saying what it skipped otherwise; see [`aalto_dir`]): in tenant `aalto` with the free-text engine,
//!    [`FREE_TEXT_USERS`] participants enrol on their own devices, then the owner's later typing, a humanized
//!    injection in it and another participant on the owner's account (`free_text_section`).
//!
//! It prints enrolment, each session's trust trajectory, the alerts (from `GET /v1/alerts` and from the
//! JSON Lines alert sink), and time to detect: typings before the first alert per session (an ANIA sample
//! for impostor sessions, ANGA for the owner's; `keyprint_core::eval::actions_until_alarm`).

use crate::outbox::Sinks;
use crate::{CMU_DEMO, ServeConfig, cmu_subjects, start};
use anyhow::Context;
use keyprint_client::{Client, SessionBatcher};
use keyprint_core::event::{KeyEvent, MouseEvent};
use keyprint_core::keystroke::{FixedTextLayout, ms_to_us};
use keyprint_edge::{DeviceAction, DeviceRecord, Edge, EdgeConfig, Phrase, Record};
use keyprint_wire::{Alert, NewKey, ReasonCode, Role, SessionDetail, TrustState};
use std::path::Path;
use std::time::{Duration, Instant};

/// What the demo measured for one replayed session.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoSession {
    /// Session id.
    pub session: String,
    /// Who typed: `owner`, `impostor`, `injection`, `replay`.
    pub kind: &'static str,
    /// Typings sent.
    pub typings: usize,
    /// Injected keystrokes sent after the typings.
    pub payload_keys: usize,
    /// Trust after each typing.
    pub trust: Vec<f64>,
    /// Typings before the first alert (`None`: no alert).
    pub actions_to_alert: Option<usize>,
    /// Alerts raised.
    pub alerts: Vec<Alert>,
}

/// Everything the demo measured.
#[derive(Clone, Debug, PartialEq)]
pub struct DemoReport {
    /// Per session, in replay order.
    pub sessions: Vec<DemoSession>,
    /// The free-text section's sessions on real Aalto typing (tenant `aalto`; empty when skipped): the
    /// owner's later typing, a humanized injection in it, another participant on the owner's account.
    /// `typings` counts windows, `actions_to_alert` keystrokes.
    pub free_text: Vec<DemoSession>,
    /// Lines in the JSON Lines alert file after delivery.
    pub file_alerts: usize,
    /// Wall time, s.
    pub seconds: f64,
}

/// Places typings (feature vectors, ms) on one session clock: each typing starts `pause_us` after the
/// previous one's last release.
pub fn typings_to_events(
    layout: &FixedTextLayout,
    typings: &[Vec<f64>],
    start_us: i64,
    pause_us: i64,
) -> Vec<Vec<KeyEvent>> {
    let mut t = start_us;
    typings
        .iter()
        .map(|f| {
            let ev: Vec<KeyEvent> = layout
                .events_from_features(f)
                .into_iter()
                .map(|e| KeyEvent {
                    key: e.key,
                    press_us: e.press_us + t,
                    release_us: e.release_us + t,
                })
                .collect();
            let end = ev.iter().map(|e| e.release_us).max().unwrap_or(t);
            let last_press = ev.iter().map(|e| e.press_us).max().unwrap_or(t);
            t = end.max(last_press) + pause_us;
            ev
        })
        .collect()
}

/// The demo's injected payload: the first of [`INJECTION_PAYLOADS`](crate::INJECTION_PAYLOADS) (a
/// PowerShell download cradle, from keyprint-injection's corpus) rendered by keyprint-injection's DuckyScript
/// interpreter under stock USB-injector timing (1 ms holds, a keystroke every 2 ms), time 0 at attach.
///
/// # Errors
/// When the payload does not parse.
pub fn injection_payload() -> anyhow::Result<Vec<KeyEvent>> {
    use keyprint_injection::{ducky, timing};
    let script = ducky::parse(crate::INJECTION_PAYLOADS[0])
        .map_err(|e| anyhow::anyhow!("payload: {e:?}"))?;
    Ok(timing::render(&script, timing::Timing::Stock, 1))
}

/// The USB keystroke injector enumerating as a keyboard at `at_us`.
fn injector_attach(at_us: i64) -> DeviceRecord {
    DeviceRecord {
        at_us,
        action: DeviceAction::Attach,
        bus: "usb".into(),
        vendor: Some("03eb".into()),
        product: Some("2042".into()),
        synthetic: false,
    }
}

fn spark(trust: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    trust
        .iter()
        .map(|t| BARS[((t / 100.0 * 7.999) as usize).min(7)])
        .collect()
}

fn reason_code(c: keyprint_wire::ReasonCode) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn print_trust(ds: &DemoSession, detail: &SessionDetail, enrolling: usize, unit: &str) {
    let scored: Vec<f64> = ds.trust.iter().skip(enrolling).copied().collect();
    if !scored.is_empty() {
        println!(
            "    trust {}  start {:.0} → end {:.0} (min {:.0}), confidence {:.2}",
            spark(&scored),
            scored[0],
            detail.info.trust.trust,
            scored.iter().copied().fold(100.0, f64::min),
            detail.info.trust.confidence
        );
    } else {
        println!("    enrolment complete: template fitted");
    }
    for a in &ds.alerts {
        let why: Vec<String> = a
            .reasons
            .iter()
            .map(|r| format!("{} ({:.1}: {})", reason_code(r.code), r.evidence, r.detail))
            .collect();
        let unit = if ds.payload_keys > 0 {
            "injected keystroke"
        } else {
            unit
        };
        println!(
            "    ALERT #{} after {unit} {}: trust {:.1} < {:.0}; {}",
            a.id,
            ds.actions_to_alert.unwrap_or(0),
            a.trust,
            a.threshold,
            why.join("; ")
        );
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(c: &Client, path: &str) -> anyhow::Result<T> {
    let (http, base, token) = c.http();
    let r = http
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await?;
    let status = r.status();
    let body = r.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "GET {path}: {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(serde_json::from_slice(&body)?)
}

/// Registers `device` to `user` (`POST /v1/devices`, admin) and enrols it with its one-time token, as the
/// device's agent would; returns the device's client and credential.
async fn register_device(
    admin: &Client,
    url: &str,
    device: &str,
    user: &str,
    label: &str,
) -> anyhow::Result<(Client, keyprint_wire::DeviceCredential)> {
    let registration: keyprint_wire::DeviceRegistration = send_json(
        admin,
        reqwest::Method::POST,
        "/v1/devices",
        &keyprint_wire::RegisterDevice {
            device: device.into(),
            users: vec![user.into()],
            label: Some(label.into()),
        },
    )
    .await?
    .context("no registration")?;
    let cred = Client::enroll_device(url, &registration.registration_token).await?;
    Ok((Client::new(url, &cred.token), cred))
}

/// A read key for the admin's tenant (`POST /v1/keys`).
async fn read_client(admin: &Client, url: &str) -> anyhow::Result<Client> {
    let read_key: NewKey = send_json(
        admin,
        reqwest::Method::POST,
        "/v1/keys",
        &serde_json::json!({"role": "read"}),
    )
    .await?
    .context("no key")?;
    Ok(Client::new(url, &read_key.token))
}

async fn send_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
    c: &Client,
    method: reqwest::Method,
    path: &str,
    body: &B,
) -> anyhow::Result<Option<T>> {
    let (http, base, token) = c.http();
    let r = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    let status = r.status();
    let bytes = r.bytes().await?;
    anyhow::ensure!(
        status.is_success(),
        "{path}: {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(if bytes.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&bytes)?)
    })
}

/// Runs the demo in `dir` (created if needed; a database already there is reused, so use an empty one).
/// Alerts also go to `dir/alerts.jsonl`, and to `webhook` / `syslog` when given.
///
/// # Errors
/// When the server cannot start or a request fails.
pub async fn run(
    dir: &Path,
    webhook: Option<String>,
    syslog: Option<std::net::SocketAddr>,
    engines: &[String],
    aalto: Option<&Path>,
) -> anyhow::Result<DemoReport> {
    let t0 = Instant::now();
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.engines = engines.to_vec();
    if aalto.is_some() && !engines.iter().any(|e| e == "free-text") {
        // The free-text section needs the engine; the CMU sessions still go through an edge without
        // free-text windows (one fixed phrase, which a free-text comparison cannot judge).
        cfg.engines.push("free-text".into());
    }
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let alerts_file = dir.join("alerts.jsonl");
    cfg.sinks = Sinks {
        webhook,
        file: Some(alerts_file.clone()),
        syslog: syslog.map(|a| crate::outbox::SyslogTarget::Udp(a.to_string())),
        ..Sinks::default()
    };
    let server = start(&cfg).await?;
    println!(
        "keyprint demo — server on {} (SQLite at {}), engines: {}",
        server.url(),
        dir.join("keyprint.db").display(),
        server
            .service
            .engines()
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for e in server.service.engines() {
        let c = e.calibration();
        if e.name() == "free-text" {
            println!(
                "  free-text: nothing bundled — each tenant's population, normalisation and calibration are \
                 learned from its own enrolled users (population-free cold start below {} users)",
                crate::population::PopulationSettings::default().min_users
            );
        } else if c.b == 0.0 {
            println!(
                "  {} calibration: a verdict carries LLR {:+.2} (payload renderings detected vs. {} bundled human typing runs)",
                e.name(),
                c.a,
                c.genuine_n
            );
        } else {
            println!(
                "  {} calibration on bundled background people: LLR = {:.2} {:+.2}·{}, per-sample EER {:.1}% ({} genuine / {} impostor scores)",
                e.name(),
                c.a,
                c.b,
                match c.transform {
                    crate::calibration::ScoreTransform::Ln => "ln(score)",
                    crate::calibration::ScoreTransform::Identity => "score",
                },
                c.eer * 100.0,
                c.genuine_n,
                c.impostor_n
            );
        }
    }
    // Bootstrap: the first admin key is made in-process (as `keyprint serve --init-tenant` does); the
    // rest goes through the API.
    let admin_key = server.service.create_key("acme", Role::Admin)?;
    let admin = Client::new(&server.url(), &admin_key.token);
    // Capture is for registered, company-owned devices: the admin registers alice's laptop and gets a
    // one-time registration token; the laptop's agent exchanges it for its own credential.
    let (agent, device_cred) = register_device(
        &admin,
        &server.url(),
        "laptop-1",
        "alice",
        "alice's company laptop",
    )
    .await?;
    let analyst = read_client(&admin, &server.url()).await?;
    // The phrase itself stays on the devices (the edge's configuration); the server learns its id and length.
    let layout = FixedTextLayout::cmu_strong_password();
    let edge_config = EdgeConfig {
        phrase: Some(Phrase {
            id: "demo-phrase-1".into(),
            keys: layout.keys().to_vec(),
        }),
        free_text: engines.iter().any(|e| e == "free-text"),
        ..EdgeConfig::default()
    };
    let phrase = keyprint_wire::FixedTextPhrase {
        id: "demo-phrase-1".into(),
        keys: layout.keys().len() as u32,
        confirm_reset: false,
    };
    send_json::<_, serde_json::Value>(
        &admin,
        reqwest::Method::PUT,
        "/v1/tenant/fixed-text",
        &phrase,
    )
    .await?;
    println!(
        "  tenant acme: admin and read keys issued; device {:?} registered to alice and enrolled with its \
         one-time token (credential {}); fixed phrase {:?} of {} keys (the phrase stays on the devices; the \
         edge sends timing vectors only)\n",
        device_cred.device, device_cred.key_id, phrase.id, phrase.keys
    );

    let subjects = cmu_subjects(CMU_DEMO, "cmu-demo.csv")?;
    let owner = &subjects
        .iter()
        .find(|(s, _)| s == "s002")
        .context("s002")?
        .1;
    let other = &subjects
        .iter()
        .find(|(s, _)| s == "s003")
        .context("s003")?
        .1;
    let day2: Vec<Vec<f64>> = owner[50..100].to_vec();
    let payload = injection_payload()?;
    let plan: Vec<(
        &str,
        &'static str,
        String,
        Vec<Vec<f64>>,
        Option<&Vec<KeyEvent>>,
    )> = vec![
        (
            "alice-enrol",
            "owner",
            "s002 session 1".into(),
            owner[..50].to_vec(),
            None,
        ),
        (
            "alice-day2",
            "owner",
            "s002 session 2".into(),
            day2.clone(),
            None,
        ),
        (
            "alice-takeover",
            "impostor",
            "s003 session 1 typed on alice's account".into(),
            other[..30].to_vec(),
            None,
        ),
        (
            "alice-injected",
            "injection",
            format!(
                "10 typings by alice, then a USB injector types a DuckyScript payload ({} keystrokes)",
                payload.len()
            ),
            owner[100..110].to_vec(),
            Some(&payload),
        ),
        (
            "alice-replayed",
            "replay",
            "10 typings recorded from alice-day2, resent verbatim".into(),
            day2[20..30].to_vec(),
            None,
        ),
        (
            "alice-day3",
            "owner",
            "s002 session 3".into(),
            owner[110..145].to_vec(),
            None,
        ),
    ];
    let mut report = DemoReport {
        sessions: Vec::new(),
        free_text: Vec::new(),
        file_alerts: 0,
        seconds: 0.0,
    };
    let mut clock_us = 1_000_000_000i64;
    for (session, kind, what, typings, payload) in plan {
        let mut units: Vec<Vec<KeyEvent>> =
            typings_to_events(&layout, &typings, clock_us, ms_to_us(1500.0));
        let n_typings = units.len();
        let mut end = units
            .last()
            .and_then(|e| e.last())
            .map_or(clock_us, |e| e.release_us);
        let mut payload_start = None;
        if let Some(p) = payload {
            let t0 = end + 5_000_000;
            payload_start = Some(t0);
            let shifted: Vec<KeyEvent> = p
                .iter()
                .map(|e| KeyEvent {
                    key: e.key.clone(),
                    press_us: e.press_us + t0,
                    release_us: e.release_us + t0,
                })
                .collect();
            end = shifted.iter().map(|e| e.release_us).max().unwrap_or(t0);
            units.extend(shifted.chunks(10).map(<[KeyEvent]>::to_vec));
        }
        clock_us = end + 3_600_000_000;
        let mut b = SessionBatcher::new("alice", session, Some("laptop-1"), 10_000);
        let mut edge = Edge::new(edge_config.clone())?;
        let mut ds = DemoSession {
            session: session.into(),
            kind,
            typings: n_typings,
            payload_keys: payload.map_or(0, Vec::len),
            trust: Vec::new(),
            actions_to_alert: None,
            alerts: Vec::new(),
        };
        let mut enrolling = 0;
        for (i, unit) in units.iter().enumerate() {
            let mut records = Vec::new();
            if let Some(t0) = payload_start
                && i == n_typings
            {
                // The injector enumerates as a USB keyboard (the rendering's time 0) before it types.
                edge.device(injector_attach(t0), &mut records);
            }
            for e in unit {
                edge.key(e, &mut records);
            }
            if i + 1 == units.len() {
                edge.finish(&mut records);
            }
            for r in &records {
                b.push(r);
            }
            let Some(batch) = b.flush() else { continue };
            let ack = agent.send(&batch).await?;
            if ack.trust.state == TrustState::Enrolling {
                enrolling += 1;
            }
            ds.trust.push(ack.trust.trust);
            if let Some(a) = ack.alerts.first()
                && ds.actions_to_alert.is_none()
            {
                ds.actions_to_alert = Some(match (payload, payload_start) {
                    // Injected keystrokes typed up to the event that raised the alert.
                    (Some(p), Some(t0)) => {
                        p.iter().filter(|e| e.press_us + t0 <= a.event_us).count()
                    }
                    _ => i + 1,
                });
            }
            ds.alerts.extend(ack.alerts);
        }
        let detail: SessionDetail = get_json(&analyst, &format!("/v1/sessions/{session}")).await?;
        println!(
            "{session:<15} {kind:<9} {what}{}",
            if enrolling > 0 {
                format!(": {enrolling} typings used for enrolment")
            } else {
                String::new()
            }
        );
        print_trust(&ds, &detail, enrolling, "typing");
        report.sessions.push(ds);
    }
    if engines.iter().any(|e| e == "mouse") {
        // The desk session opens with five typings of alice's password: only a session with owner-like
        // keystroke evidence may extend her enrolment to another engine (a mouse-only impostor cannot).
        let vouch = typings_to_events(&layout, &owner[145..150], 1_000_000, ms_to_us(1500.0));
        mouse_sessions(&mut report, &agent, &analyst, &admin, &edge_config, &vouch).await?;
    }
    if let Some(data) = aalto {
        report.free_text = free_text_section(&server, data, clock_us).await?;
    }
    finish(report, &analyst, &alerts_file, t0, server).await
}

/// Mouse: alice's desk sessions, then another person's mouse on her account.
async fn mouse_sessions(
    report: &mut DemoReport,
    agent: &Client,
    analyst: &Client,
    admin: &Client,
    edge_config: &EdgeConfig,
    vouch: &[Vec<KeyEvent>],
) -> anyhow::Result<()> {
    // Mouse: alice's desk session (her password typed, then Balabit user12's mouse), then another Balabit
    // user's mouse alone on her account.
    let mouse_plan: Vec<(
        &str,
        &'static str,
        String,
        &[Vec<KeyEvent>],
        Vec<MouseEvent>,
    )> = vec![
        (
            "alice-desk",
            "owner",
            format!(
                "{} typings by alice, then Balabit user12 mouse (first {} actions enrol)",
                vouch.len(),
                crate::MOUSE_ENROLMENT_ACTIONS
            ),
            vouch,
            crate::balabit_events(0)?,
        ),
        (
            "alice-desk-takeover",
            "impostor",
            "Balabit user15 mouse on alice's account".into(),
            &[],
            crate::balabit_events(1)?,
        ),
    ];
    for (session, kind, what, typed, events) in mouse_plan {
        let mut b = SessionBatcher::new("alice", session, Some("laptop-1"), 25);
        let mut edge = Edge::new(edge_config.clone())?;
        let mut ds = DemoSession {
            session: session.into(),
            kind,
            typings: 0,
            payload_keys: 0,
            trust: Vec::new(),
            actions_to_alert: None,
            alerts: Vec::new(),
        };
        let (mut enrolling, mut actions, mut enrol_actions) = (0, 0u64, 0u64);
        let mut batches = Vec::new();
        let mut records: Vec<Record> = Vec::new();
        for e in typed.iter().flatten() {
            edge.key(e, &mut records);
        }
        // The keystroke records go first, in a batch of their own (the vouching evidence is in place before
        // the first mouse action arrives).
        for r in &records {
            batches.extend(b.push(r));
        }
        batches.extend(b.flush());
        records.clear();
        let shift = typed
            .iter()
            .flatten()
            .map(|e| e.release_us + 2_000_000)
            .max()
            .unwrap_or(0);
        for e in &events {
            let mut e = *e;
            e.t_us += shift;
            edge.mouse(e, &mut records);
        }
        edge.finish(&mut records);
        for r in &records {
            batches.extend(b.push(r));
        }
        batches.extend(b.flush());
        for batch in batches {
            let ack = agent.send(&batch).await?;
            actions += ack.samples;
            if ack.trust.state == TrustState::Enrolling {
                enrolling += 1;
                enrol_actions = actions;
            }
            ds.trust.push(ack.trust.trust);
            if !ack.alerts.is_empty() && ds.actions_to_alert.is_none() {
                ds.actions_to_alert = Some((actions - enrol_actions) as usize);
            }
            ds.alerts.extend(ack.alerts);
        }
        ds.typings = (actions - enrol_actions) as usize;
        let detail: SessionDetail = get_json(&analyst, &format!("/v1/sessions/{session}")).await?;
        println!(
            "{session:<15} {kind:<9} {what}: {} mouse events, {actions} actions{}",
            events.len(),
            if enrol_actions > 0 {
                format!(" ({enrol_actions} during enrolment)")
            } else {
                String::new()
            }
        );
        let held = ds.alerts.iter().any(|a| {
            a.reasons
                .iter()
                .any(|r| r.code == ReasonCode::EnrolmentHeld)
        });
        let unscored = ds.trust.len() == enrolling && !held;
        if held {
            // An enrolment hold is a review task, not a detection: print it as such.
            let why = ds
                .alerts
                .iter()
                .flat_map(|a| &a.reasons)
                .find(|r| r.code == ReasonCode::EnrolmentHeld)
                .map(|r| r.detail.clone())
                .unwrap_or_default();
            ds.alerts.retain(|a| {
                a.reasons
                    .iter()
                    .all(|r| r.code != ReasonCode::EnrolmentHeld)
            });
            ds.actions_to_alert = None;
            // Held: the mouse actions after enrolment were not scored.
            ds.typings = 0;
            print_trust(&ds, &detail, enrolling, "≤ mouse action");
            println!(
                "    enrolment held for review after action {}: {}",
                crate::MOUSE_ENROLMENT_ACTIONS,
                why
            );
            // The security team's review, done here by the demo: approve alice's mouse enrolment.
            let decided: Option<keyprint_wire::EnrolmentDecided> = send_json(
                admin,
                reqwest::Method::POST,
                "/v1/users/alice/enrolment",
                &keyprint_wire::EnrolmentDecision {
                    action: keyprint_wire::EnrolmentActionName::Approve,
                    engine: Some("mouse".into()),
                },
            )
            .await?;
            println!(
                "    admin: POST /v1/users/alice/enrolment {{\"action\": \"approve\", \"engine\": \"mouse\"}} → {} approved",
                decided.map(|d| d.engines.join(", ")).unwrap_or_default()
            );
        } else if unscored {
            println!("    not scored: no active mouse template for alice");
        } else {
            print_trust(&ds, &detail, enrolling, "≤ mouse action");
        }
        report.sessions.push(ds);
    }
    Ok(())
}

async fn finish(
    mut report: DemoReport,
    analyst: &Client,
    alerts_file: &Path,
    t0: Instant,
    server: crate::Running,
) -> anyhow::Result<DemoReport> {
    // Wait for the outbox to deliver to the file sink (every tenant's alerts).
    let want: usize = report
        .sessions
        .iter()
        .chain(&report.free_text)
        .map(|s| s.alerts.len())
        .sum();
    for _ in 0..50 {
        report.file_alerts = std::fs::read_to_string(alerts_file)
            .map(|s| s.lines().count())
            .unwrap_or(0);
        if report.file_alerts >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let api_alerts: Vec<Alert> = analyst.get_all("/v1/alerts").await?;
    println!(
        "\nalerts: {} via GET /v1/alerts, {} delivered to {} (durable outbox)",
        api_alerts.len(),
        report.file_alerts,
        alerts_file.display()
    );
    println!(
        "time to detect (actions before the first alert, as keyprint_core::eval::actions_until_alarm counts them):"
    );
    for s in &report.sessions {
        if s.session == "alice-enrol" {
            continue;
        }
        let mouse = s.session.starts_with("alice-desk");
        let label = match (s.kind, mouse) {
            ("owner", false) => "genuine typings before a false alert (ANGA sample)",
            ("owner", true) => "genuine mouse actions before a false alert (ANGA sample)",
            ("injection", _) => "injected keystrokes before the alert",
            (_, true) => "impostor mouse actions before the alert (ANIA sample, upper bound)",
            _ => "impostor typings before the alert (ANIA sample)",
        };
        let n = if s.kind == "injection" {
            s.payload_keys
        } else {
            s.typings
        };
        println!(
            "    {:<19} {label}: {}",
            s.session,
            s.actions_to_alert
                .map(|n| n.to_string())
                .unwrap_or_else(|| format!("none in {n} (censored)"))
        );
    }
    report.seconds = t0.elapsed().as_secs_f64();
    println!("done in {:.1} s", report.seconds);
    server.stop();
    Ok(report)
}

/// The Aalto folder under `KEYPRINT_DATASETS` the free-text section reads.
pub const AALTO_DIR: &str = "aalto-keystrokes-dev";

/// Aalto participants the free-text section enrols in tenant `aalto` (the owner last), each on its own
/// registered device: beyond the population's cold start of
/// [`PopulationSettings::min_users`](crate::population::PopulationSettings::min_users).
pub const FREE_TEXT_USERS: usize = 30;

/// Where the free-text section reads the Aalto sessions: `$KEYPRINT_DATASETS/aalto-keystrokes-dev`.
///
/// # Errors
/// One plain line saying what the demo skips and why (no redistributable free-text set is bundled).
pub fn aalto_dir() -> Result<std::path::PathBuf, String> {
    let skipped = "free text: skipped — the Aalto free-text sessions (owners enrolling and typing later, \
                   another person on an owner's account, a humanized injection) are public but not \
                   redistributable, and";
    let Some(root) = keyprint_datasets::datasets_root() else {
        return Err(format!(
            "{skipped} KEYPRINT_DATASETS is not set to a directory"
        ));
    };
    let dir = root.join(AALTO_DIR);
    if dir.is_dir() {
        Ok(dir)
    } else {
        Err(format!("{skipped} {} does not exist", dir.display()))
    }
}

/// Events moved so the first press is at `t_us`.
fn place(events: &[KeyEvent], t_us: i64) -> Vec<KeyEvent> {
    let t0 = events.first().map_or(0, |e| e.press_us);
    events
        .iter()
        .map(|e| KeyEvent {
            key: e.key.clone(),
            press_us: e.press_us - t0 + t_us,
            release_us: e.release_us - t0 + t_us,
        })
        .collect()
}

/// Last release (or press) of `events`, or `t_us` when empty.
fn end_of(events: &[KeyEvent], t_us: i64) -> i64 {
    events
        .iter()
        .map(|e| e.release_us.max(e.press_us))
        .max()
        .unwrap_or(t_us)
}

/// One stretch of typing in a free-text session: a sentence (ends with a context cut), or the injected
/// payload (announced by a USB attach record).
struct Stretch {
    attach_us: Option<i64>,
    keys: Vec<KeyEvent>,
    injected: bool,
}

/// Sentences cut to their first [`FREETEXT_WINDOW_KEYS`](crate::FREETEXT_WINDOW_KEYS) keys (one window
/// each, as `keyprint replay-eval --aalto` measures), placed on a session clock from `t_us` with 3 s
/// between them.
fn sentences(ss: &[Vec<KeyEvent>], t_us: &mut i64) -> Vec<Stretch> {
    ss.iter()
        .map(|s| {
            let keys = place(&s[..crate::FREETEXT_WINDOW_KEYS.min(s.len())], *t_us);
            *t_us = end_of(&keys, *t_us) + 3_000_000;
            Stretch {
                attach_us: None,
                keys,
                injected: false,
            }
        })
        .collect()
}

/// Replays `stretches` through a fresh edge (free-text windows on, no phrase) and `agent`, one batch per
/// set of records (a window, the attach, an on-device verdict); returns the session and the batches
/// answered while enrolling.
async fn free_text_session(
    agent: &Client,
    user: &str,
    device: &str,
    session: &str,
    kind: &'static str,
    stretches: &[Stretch],
) -> anyhow::Result<(DemoSession, usize)> {
    let mut edge = Edge::new(EdgeConfig {
        phrase: None,
        free_text: true,
        ..EdgeConfig::default()
    })?;
    let mut b = SessionBatcher::new(user, session, Some(device), 10_000);
    let mut ds = DemoSession {
        session: session.into(),
        kind,
        typings: 0,
        payload_keys: stretches
            .iter()
            .filter(|s| s.injected)
            .map(|s| s.keys.len())
            .sum(),
        trust: Vec::new(),
        actions_to_alert: None,
        alerts: Vec::new(),
    };
    let (mut keys, mut injected, mut enrolling) = (0usize, 0usize, 0usize);
    for st in stretches {
        let mut records = Vec::new();
        if let Some(t) = st.attach_us {
            edge.device(injector_attach(t), &mut records);
        }
        for (k, e) in st.keys.iter().enumerate() {
            edge.key(e, &mut records);
            keys += 1;
            injected += usize::from(st.injected);
            if k + 1 == st.keys.len() {
                edge.cut(&mut records);
            }
            if records.is_empty() {
                continue;
            }
            ds.typings += records
                .iter()
                .filter(|r| matches!(r, Record::FreeText(_)))
                .count();
            for r in records.drain(..) {
                b.push(&r);
            }
            let Some(batch) = b.flush() else { continue };
            let ack = agent.send(&batch).await?;
            if ack.trust.state == TrustState::Enrolling {
                enrolling += 1;
            }
            ds.trust.push(ack.trust.trust);
            if !ack.alerts.is_empty() && ds.actions_to_alert.is_none() {
                ds.actions_to_alert = Some(if ds.payload_keys > 0 { injected } else { keys });
            }
            ds.alerts.extend(ack.alerts);
        }
    }
    Ok((ds, enrolling))
}

/// The free-text section: real Aalto sessions in tenant `aalto` through the edge and the HTTP API.
/// [`FREE_TEXT_USERS`] participants (the first with 15 sentences in the reader's order) enrol, each on
/// its own registered device, from their first 10 sentences; the last of them is the owner. Then, on the
/// owner's device (disjoint sentences, as a window sent twice is taken for a replay): the owner's
/// sentences 11–13; the owner's sentence 14, a USB injector (attached 30 s before it types, past the
/// edge's attach window) typing the demo's DuckyScript payload rendered with hold and press-to-press times
/// drawn from the owner's own enrolment keystrokes, then sentence 15; and the next participant (not
/// enrolled, as in `keyprint replay-eval --aalto`) typing its sentences 11–15 on the owner's account.
async fn free_text_section(
    server: &crate::Running,
    data: &Path,
    mut clock_us: i64,
) -> anyhow::Result<Vec<DemoSession>> {
    use keyprint_injection::{ducky, timing};
    let people = crate::replay_freetext::load_people(data, Some(3 * FREE_TEXT_USERS))?;
    anyhow::ensure!(
        people.len() > FREE_TEXT_USERS,
        "{}: need {} participants with 15 sentences, found {}",
        data.display(),
        FREE_TEXT_USERS + 1,
        people.len()
    );
    let (other_id, other) = &people[FREE_TEXT_USERS];
    let people = &people[..FREE_TEXT_USERS];
    let url = server.url();
    let admin_key = server.service.create_key("aalto", Role::Admin)?;
    let admin = Client::new(&url, &admin_key.token);
    let analyst = read_client(&admin, &url).await?;
    println!(
        "\nfree text on real sessions (Aalto keystroke data, {}; tenant aalto, no phrase: the edge sends \
         summaries of {}-key windows, one per sentence):",
        data.display(),
        crate::FREETEXT_WINDOW_KEYS
    );
    let mut agents = Vec::new();
    let mut held = Vec::new();
    for (id, ss) in people {
        let (user, device) = (format!("p{id}"), format!("desk-{id}"));
        let (agent, _) =
            register_device(&admin, &url, &device, &user, &format!("{user}'s desk")).await?;
        let stretches = sentences(&ss[..10], &mut clock_us);
        let (ds, _) = free_text_session(
            &agent,
            &user,
            &device,
            &format!("{user}-enrol"),
            "owner",
            &stretches,
        )
        .await?;
        held.extend(
            ds.alerts
                .iter()
                .filter(|a| {
                    a.reasons
                        .iter()
                        .any(|r| r.code == keyprint_wire::ReasonCode::EnrolmentHeld)
                })
                .map(|_| user.clone()),
        );
        agents.push(agent);
        clock_us += 3_600_000_000;
    }
    let (owner_id, owner) = &people[FREE_TEXT_USERS - 1];
    let (user, device) = (format!("p{owner_id}"), format!("desk-{owner_id}"));
    let agent = &agents[FREE_TEXT_USERS - 1];
    println!(
        "  {FREE_TEXT_USERS} participants enrolled, each from its first 10 sentences on its own registered \
         device{}; the tenant's population is learned from them (beyond the {}-user cold start); owner {user} \
         (enrolled last)",
        if held.is_empty() {
            String::new()
        } else {
            format!(" (held for review: {})", held.join(", "))
        },
        crate::population::PopulationSettings::default().min_users
    );
    // The humanized payload: the demo's DuckyScript rendered by keyprint-injection's interpreter with
    // holds and delays drawn from the owner's own enrolment keystrokes.
    let (holds, dds) = crate::replay_freetext::owner_timing(&owner[..10]);
    let ms = |v: Vec<i64>| v.into_iter().map(|x| x as f64 / 1000.0).collect::<Vec<_>>();
    let table = timing::HumanTiming::from_samples(ms(holds), ms(dds)).context("owner timing")?;
    let script = ducky::parse(crate::INJECTION_PAYLOADS[0])
        .map_err(|e| anyhow::anyhow!("payload: {e:?}"))?;
    let payload = timing::render_with(&script, timing::Timing::Human, 7, &table);

    let mut out = Vec::new();
    // Disjoint sentences: a window sent twice is (rightly) taken for a replay.
    let owner_later = sentences(&owner[10..13], &mut clock_us);
    clock_us += 3_600_000_000;
    let mut injected = sentences(&owner[13..14], &mut clock_us);
    let attach = clock_us;
    let keys = place(&payload, attach + 30_000_000);
    clock_us = end_of(&keys, attach) + 3_000_000;
    injected.push(Stretch {
        attach_us: Some(attach),
        keys,
        injected: true,
    });
    injected.extend(sentences(&owner[14..15], &mut clock_us));
    clock_us += 3_600_000_000;
    let takeover = sentences(&other[10..15], &mut clock_us);
    let plan = [
        (
            format!("{user}-later"),
            "owner",
            format!("{user}'s sentences 11–13"),
            owner_later,
        ),
        (
            format!("{user}-injected"),
            "injection",
            format!(
                "{user}'s sentence 14, then a USB injector types the DuckyScript payload ({} keystrokes) \
                 with holds and delays drawn from {user}'s own timing, then sentence 15",
                payload.len()
            ),
            injected,
        ),
        (
            format!("{user}-takeover"),
            "impostor",
            format!(
                "p{other_id} (not enrolled) types sentences 11–15 on {user}'s account and device"
            ),
            takeover,
        ),
    ];
    for (session, kind, what, stretches) in plan {
        let (ds, enrolling) =
            free_text_session(agent, &user, &device, &session, kind, &stretches).await?;
        let detail: SessionDetail = get_json(&analyst, &format!("/v1/sessions/{session}")).await?;
        println!("{session:<15} {kind:<9} {what}: {} windows", ds.typings);
        print_trust(&ds, &detail, enrolling, "keystroke");
        if ds.alerts.is_empty() {
            println!(
                "    no alert{}",
                if kind == "owner" {
                    ""
                } else {
                    " — this one evades"
                }
            );
        }
        out.push(ds);
    }
    let api_alerts: Vec<Alert> = analyst.get_all("/v1/alerts").await?;
    println!(
        "  tenant aalto: {} alerts via GET /v1/alerts (enrolment holds included)",
        api_alerts.len()
    );
    Ok(out)
}
