//! Issue 10 through real HTTP: registered devices and their credentials, per-user trust, and each evasion an
//! adversarial pass found — session splitting, pre-emption of a device's batch numbers, lockout by key id,
//! enrolment from an unregistered device or with another user's typing, a mouse-only impostor filling the
//! mouse enrolment. (Replay with small jitter: `http.rs`, `replay_with_jitter_is_caught_and_not_learned`.)
mod common;

use common::{device_client, env, raw};
use keyprint_client::{Client, SessionBatcher};
use keyprint_edge::{ActionKind, MouseActionRecord, Record};
use keyprint_server::outbox::Sinks;
use keyprint_wire::{Alert, IngestAck, ReasonCode};
use reqwest::Method;

fn alerts(acks: &[IngestAck]) -> Vec<Alert> {
    acks.iter().flat_map(|a| a.alerts.clone()).collect()
}

fn batch_json(user: &str, session: &str, device: Option<&str>, seq: u64) -> String {
    serde_json::json!({"user": user, "session": session, "device": device, "batch_seq": seq, "records": []})
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_registered_devices_credential_posts_records_and_only_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    // Tenant keys never post records, whatever their role.
    for c in [&e.service_key, &e.admin, &e.read] {
        let (s, v) = raw(
            c,
            Method::POST,
            "/v1/records",
            Some(&batch_json("alice", "s", None, 0)),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (403, Some("forbidden")), "{v}");
    }
    // The device's own credential: its id or none; its bound users only.
    let (s, v) = raw(
        &e.ingest,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "s", Some("laptop-1"), 0)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = raw(
        &e.ingest,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "s2", Some("laptop-2"), 0)),
    )
    .await;
    assert_eq!((s, v["field"].as_str()), (403, Some("device")), "{v}");
    let (s, v) = raw(
        &e.ingest,
        Method::POST,
        "/v1/records",
        Some(&batch_json("carol", "s3", None, 0)),
    )
    .await;
    assert_eq!((s, v["field"].as_str()), (403, Some("user")), "{v}");
    // Device and browser credentials cannot be made through /v1/keys.
    let (s, v) = raw(
        &e.admin,
        Method::POST,
        "/v1/keys",
        Some(r#"{"role":"device"}"#),
    )
    .await;
    assert_eq!((s, v["field"].as_str()), (422, Some("role")), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_is_one_time_and_credentials_are_listed_rotated_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    let url = e.server.url();
    let reg: keyprint_wire::DeviceRegistration = e
        .admin
        .post_json(
            "/v1/devices",
            &serde_json::json!({"device": "kiosk-7", "users": ["alice"], "label": "front desk"}),
        )
        .await
        .unwrap();
    // Before the exchange the device is pending; the token works once.
    let (s, v) = raw(&e.read, Method::GET, "/v1/devices/kiosk-7", None).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("pending")), "{v}");
    let cred = Client::enroll_device(&url, &reg.registration_token)
        .await
        .unwrap();
    assert_eq!(cred.device, "kiosk-7");
    let again = Client::enroll_device(&url, &reg.registration_token).await;
    assert!(
        matches!(
            &again,
            Err(keyprint_client::SendError::Refused { status: 401, .. })
        ),
        "{again:?}"
    );
    let forged = format!(
        "{}x",
        &reg.registration_token[..reg.registration_token.len() - 1]
    );
    assert!(Client::enroll_device(&url, &forged).await.is_err());
    // The same id again: 409.
    let (s, v) = raw(
        &e.admin,
        Method::POST,
        "/v1/devices",
        Some(r#"{"device":"kiosk-7"}"#),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (409, Some("already_exists")),
        "{v}"
    );
    let dev = Client::new(&url, &cred.token);
    let (s, _) = raw(
        &dev,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "k1", None, 0)),
    )
    .await;
    assert_eq!(s, 200);
    // Listed, never with a secret.
    let (s, v) = raw(&e.read, Method::GET, "/v1/devices", None).await;
    let v = common::rows(v);
    assert_eq!(s, 200);
    let listed = v.to_string();
    assert!(listed.contains("kiosk-7") && listed.contains(&cred.key_id));
    assert!(!listed.contains(&cred.token), "secret listed");
    // A device may rotate itself, not another; the old credential stops at once.
    let (s, _) = raw(&dev, Method::POST, "/v1/devices/laptop-1/rotate", None).await;
    assert_eq!(s, 403);
    let rotated: keyprint_wire::DeviceCredential = dev
        .post_json("/v1/devices/kiosk-7/rotate", &serde_json::json!({}))
        .await
        .unwrap();
    let (s, _) = raw(
        &dev,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "k1", None, 1)),
    )
    .await;
    assert_eq!(s, 401, "rotated-out credential still works");
    let dev2 = Client::new(&url, &rotated.token);
    let (s, v) = raw(
        &dev2,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "k1", None, 1)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // Revocation stops every credential of the device.
    let (s, v) = raw(&e.admin, Method::DELETE, "/v1/devices/kiosk-7", None).await;
    assert_eq!((s, v["state"].as_str()), (200, Some("revoked")), "{v}");
    assert!(
        v["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["revoked_ms"].is_i64())
    );
    let (s, _) = raw(
        &dev2,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "k1", None, 2)),
    )
    .await;
    assert_eq!(s, 401);
}

/// Another credential used to send empty batches ahead of a device's `batch_seq`, so the device's real data
/// was answered `duplicate` and dropped. A session now belongs to the device that opened it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_credential_cannot_preempt_a_devices_batches() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    let (s, _) = raw(
        &e.ingest,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "work", None, 0)),
    )
    .await;
    assert_eq!(s, 200);
    let intruder = device_client(&e.admin, "laptop-9", &["alice"]).await;
    for seq in 1..6 {
        let (s, v) = raw(
            &intruder,
            Method::POST,
            "/v1/records",
            Some(&batch_json("alice", "work", None, seq)),
        )
        .await;
        assert_eq!((s, v["field"].as_str()), (403, Some("session")), "{v}");
    }
    let (s, v) = raw(
        &e.ingest,
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "work", None, 1)),
    )
    .await;
    assert_eq!((s, v["duplicate"].as_bool()), (200, Some(false)), "{v}");
}

/// Key ids are public (part of every token). A stream of wrong secrets for a key id must not lock the real
/// credential out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secrets_for_a_key_id_do_not_lock_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    let reg: keyprint_wire::DeviceRegistration = e
        .admin
        .post_json(
            "/v1/devices",
            &serde_json::json!({"device": "laptop-5", "users": ["alice"]}),
        )
        .await
        .unwrap();
    let cred = Client::enroll_device(&e.server.url(), &reg.registration_token)
        .await
        .unwrap();
    let mut codes = std::collections::BTreeMap::new();
    for i in 0..300 {
        let wrong = Client::new(&e.server.url(), &format!("kp_{}_{:032x}", cred.key_id, i));
        let (s, _) = raw(
            &wrong,
            Method::POST,
            "/v1/records",
            Some(&batch_json("alice", "lock", None, 0)),
        )
        .await;
        *codes.entry(s).or_insert(0) += 1;
    }
    assert_eq!(codes, [(401u16, 300)].into_iter().collect(), "{codes:?}");
    // The real credential, never used before (so not in any cache), works at once.
    let (s, v) = raw(
        &Client::new(&e.server.url(), &cred.token),
        Method::POST,
        "/v1/records",
        Some(&batch_json("alice", "lock", None, 0)),
    )
    .await;
    assert_eq!(s, 200, "{v}");
}

/// The same impostor typings spread over 1, 5 and 50 sessions raise the same alert at the same typing:
/// trust is per user, across sessions (each split runs on a fresh server with the same enrolment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn splitting_an_impostor_into_sessions_raises_the_same_alert() {
    let mut table = Vec::new();
    for sessions in [1usize, 5, 50] {
        let dir = tempfile::tempdir().unwrap();
        let mut e = env(dir.path(), Sinks::default(), |_| {}).await;
        let (owner, other) = (e.owner.clone(), e.other.clone());
        e.replay("alice", "enrol", &owner[..50]).await;
        e.replay("alice", "day2", &owner[50..60]).await;
        let typings = &other[..50];
        let per = typings.len() / sessions;
        let mut first: Option<(usize, Alert)> = None;
        let mut n_alerts = 0;
        for (k, chunk) in typings.chunks(per).enumerate() {
            let acks = e.replay("alice", &format!("split-{k}"), chunk).await;
            for (j, a) in acks.iter().enumerate() {
                for al in &a.alerts {
                    n_alerts += 1;
                    if first.is_none() {
                        first = Some((k * per + j + 1, al.clone()));
                    }
                }
            }
        }
        let (at, alert) = first.unwrap_or_else(|| panic!("{sessions} sessions: no alert"));
        assert_eq!(alert.reasons[0].code, ReasonCode::KeystrokeMismatch);
        table.push((sessions, at, n_alerts));
    }
    println!("sessions | impostor typings to the first alert | alerts");
    for (s, at, n) in &table {
        println!("{s:>8} | {at:>35} | {n}");
    }
    assert!(
        table.iter().all(|(_, at, _)| *at == table[0].1),
        "time to detect differs with the split: {table:?}"
    );
    assert!(table[0].1 <= 15, "{table:?}");
    // Sessions long enough to cross on their own alert on their own (the per-session view); never more
    // than one alert per session and crossing.
    assert!(
        table.iter().all(|(s, _, n)| *n >= 1 && *n <= s + 2),
        "{table:?}"
    );
}

/// A DuckyScript payload with a new session every 2 keys: the device's edge sees one keystroke stream (a
/// session is the server's notion) and its verdict lands in whichever session is current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injection_split_into_two_key_sessions_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    let payload = keyprint_server::demo::injection_payload().unwrap();
    let mut edge = keyprint_edge::Edge::new(e.edge_config.clone()).unwrap();
    let t0 = 50_000_000;
    let mut all = Vec::new();
    let mut typed = 0;
    for (k, chunk) in payload.chunks(2).take(20).enumerate() {
        let mut records = Vec::new();
        for key in chunk {
            let key = keyprint_core::KeyEvent {
                key: key.key.clone(),
                press_us: key.press_us + t0,
                release_us: key.release_us + t0,
            };
            edge.key(&key, &mut records);
        }
        let mut b = SessionBatcher::new("alice", &format!("ducky-{k}"), None, 100);
        for r in &records {
            b.push(r);
        }
        if let Some(batch) = b.flush() {
            let ack = e.ingest.send(&batch).await.unwrap();
            if typed == 0 && !ack.alerts.is_empty() {
                typed = (k + 1) * 2;
            }
            all.push(ack);
        }
    }
    let a = alerts(&all);
    assert!(!a.is_empty(), "no alert for the split payload");
    assert_eq!(a[0].reasons[0].code, ReasonCode::Injection);
    assert!(typed <= 4, "alerted after {typed} keys");
}

/// Enrolment only from a device registered to the user; another person's typing that resembles an enrolled
/// user is held for review, alerts, and is neither scored nor extended until an admin decides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_needs_the_users_device_and_another_persons_typing_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(dir.path(), Sinks::default(), |_| {}).await;
    let owner = e.owner.clone();
    // Bob: a CMU subject of the bundled background set (120 typings).
    let other = keyprint_server::cmu_subjects(keyprint_server::CMU_BACKGROUND, "bg")
        .unwrap()
        .into_iter()
        .map(|(_, t)| t)
        .find(|t| t.len() >= 120)
        .unwrap();
    // A shared device (no users) may send for alice, but never enrols her.
    let shared = device_client(&e.admin, "shared-1", &[]).await;
    e.replay_on(&shared, "alice", "shared-enrol", &owner[100..150])
        .await;
    let samples = |e: &common::Env, user: &str| {
        e.server
            .service
            .with_store(|s| s.reference("acme", user, "fixed-text").unwrap())
    };
    assert_eq!(
        samples(&e, "alice").samples.len(),
        0,
        "enrolled from a shared device"
    );
    // Bob enrols with his own typing on his laptop.
    let bobs = device_client(&e.admin, "laptop-bob", &["bob"]).await;
    e.replay_on(&bobs, "bob", "bob-enrol", &other[50..100])
        .await;
    let other = &other[..120];
    assert!(samples(&e, "bob").enrolled);
    // Bob then types on alice's new laptop before she ever does: the enrolment is held.
    let poison: Vec<Vec<f64>> = other[..50].to_vec();
    let acks = e.replay("alice", "poisoned", &poison).await;
    let held_alerts: Vec<Alert> = alerts(&acks)
        .into_iter()
        .filter(|a| {
            a.reasons
                .iter()
                .any(|r| r.code == ReasonCode::EnrolmentHeld)
        })
        .collect();
    assert_eq!(held_alerts.len(), 1, "{acks:?}");
    println!("held: {}", held_alerts[0].reasons[0].detail);
    assert!(
        held_alerts[0].reasons[0].detail.contains("\"bob\""),
        "{:?}",
        held_alerts[0]
    );
    let (s, users) = raw(&e.read, Method::GET, "/v1/users", None).await;
    let users = common::rows(users);
    assert_eq!(s, 200);
    let alice = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user"] == "alice")
        .unwrap()
        .clone();
    assert!(alice["engines"][0]["held"].is_string(), "{alice}");
    // While held, alice's sessions are not scored on that engine.
    let acks = e.replay("alice", "while-held", &owner[..5]).await;
    assert!(acks.iter().all(|a| a.trust.reasons.is_empty()), "{acks:?}");
    // Reset: samples gone, alert history kept; alice then enrols with her own typing.
    let (s, v) = raw(
        &e.admin,
        Method::POST,
        "/v1/users/alice/enrolment",
        Some(r#"{"action":"reset"}"#),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(samples(&e, "alice").samples.len(), 0);
    let (_, al) = raw(&e.read, Method::GET, "/v1/alerts?user=alice", None).await;
    let al = common::rows(al);
    assert!(!al.as_array().unwrap().is_empty(), "alert history lost");
    e.replay("alice", "enrol", &owner[5..55]).await;
    let r = samples(&e, "alice");
    assert!(r.enrolled && r.held.is_none(), "{:?}", r.held);
    // Approve on a user without a hold changes nothing harmful; an unknown engine is a 422.
    let (s, v) = raw(
        &e.admin,
        Method::POST,
        "/v1/users/alice/enrolment",
        Some(r#"{"action":"approve","engine":"retina"}"#),
    )
    .await;
    assert_eq!((s, v["field"].as_str()), (422, Some("engine")), "{v}");
}

fn mouse_records(t0: i64, n: usize, seed: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::Mouse(MouseActionRecord {
                at_us: t0 + i as i64 * 400_000,
                kind: ActionKind::PointClick,
                features: (0..keyprint_mouse::N_FEATURES)
                    .map(|f| 0.5 + f as f64 + ((seed * 1_000 + i) as f64 * 0.618_034).fract())
                    .collect(),
            })
        })
        .collect()
}

/// A user enrolled on keystrokes: a session with only mouse actions (someone else at the mouse) must not
/// fill the user's mouse enrolment; mouse actions in a session vouched for by the owner's typing do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mouse_only_impostor_cannot_fill_the_mouse_enrolment() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(dir.path(), Sinks::default(), |_| {}).await;
    let owner = e.owner.clone();
    e.replay("alice", "enrol", &owner[..50]).await;
    let mouse_samples = |e: &common::Env| {
        e.server
            .service
            .with_store(|s| s.reference("acme", "alice", "mouse").unwrap().samples.len())
    };
    let mut b = SessionBatcher::new("alice", "mouse-only", None, 50);
    for r in mouse_records(e.clock_us, 200, 1) {
        if let Some(batch) = b.push(&r) {
            e.ingest.send(&batch).await.unwrap();
        }
    }
    if let Some(batch) = b.flush() {
        e.ingest.send(&batch).await.unwrap();
    }
    e.clock_us += 200 * 400_000 + 1_000_000;
    assert_eq!(
        mouse_samples(&e),
        0,
        "mouse-only session filled the mouse enrolment"
    );
    // The owner types (owner-like evidence in this session), then uses the mouse: that enrols.
    let acks = e.replay("alice", "owner-day", &owner[50..56]).await;
    assert!(acks.iter().all(|a| a.alerts.is_empty()));
    let mut b = SessionBatcher::new("alice", "owner-day", None, 50);
    let mut seq = acks.len() as u64;
    for r in mouse_records(e.clock_us, 60, 2) {
        if let Some(mut batch) = b.push(&r) {
            batch.batch_seq = seq;
            seq += 1;
            e.ingest.send(&batch).await.unwrap();
        }
    }
    assert!(
        mouse_samples(&e) > 0,
        "owner-vouched mouse actions not enrolled"
    );
}

/// Changing the fixed phrase discards every fixed-text enrolment: it is refused unless confirmed, and the
/// refusal says how many enrolments it would reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_phrase_asks_for_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(dir.path(), Sinks::default(), |_| {}).await;
    let owner = e.owner.clone();
    e.replay("alice", "enrol", &owner[..50]).await;
    let (s, v) = raw(
        &e.admin,
        Method::PUT,
        "/v1/tenant/fixed-text",
        Some(r#"{"id":"pw-2027","keys":12}"#),
    )
    .await;
    assert_eq!(
        (s, v["code"].as_str(), v["field"].as_str()),
        (409, Some("confirmation_required"), Some("confirm_reset")),
        "{v}"
    );
    assert!(v["reason"].as_str().unwrap().contains("1 user"), "{v}");
    let kept = e
        .server
        .service
        .with_store(|s| s.reference("acme", "alice", "fixed-text").unwrap());
    assert!(kept.enrolled, "a refused change reset the enrolment");
    // The same phrase again is no change; a confirmed change resets.
    let (s, _) = raw(
        &e.admin,
        Method::PUT,
        "/v1/tenant/fixed-text",
        Some(r#"{"id":"cmu-phrase","keys":11}"#),
    )
    .await;
    assert_eq!(s, 204);
    let (s, v) = raw(
        &e.admin,
        Method::PUT,
        "/v1/tenant/fixed-text",
        Some(r#"{"id":"pw-2027","keys":12,"confirm_reset":true}"#),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let after = e
        .server
        .service
        .with_store(|s| s.reference("acme", "alice", "fixed-text").unwrap());
    assert!(after.samples.is_empty() && !after.enrolled);
}
