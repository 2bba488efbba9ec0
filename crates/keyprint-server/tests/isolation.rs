//! The service under faults and abuse (issue 16), storage side, through real HTTP on loopback: a reader looping
//! over one tenant's largest lists does not stall another tenant's ingest; every list is paged with a cursor
//! that returns each row once while rows are added; alert ids are per tenant without gaps; a data directory
//! has one server; idle session state is evicted and rebuilt with the same trust.

mod common;

use common::{env, raw};
use keyprint_client::{Client, SessionBatcher};
use keyprint_core::keystroke::{FixedTextLayout, ms_to_us};
use keyprint_edge::Edge;
use keyprint_server::demo::typings_to_events;
use keyprint_server::outbox::Sinks;
use keyprint_wire::{Alert, IngestAck, IngestBatch, Page, Role, SessionInfo, UserInfo};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One batch per typing of `typings`, as `common::Env::replay_on` sends them, without sending.
fn batches(
    e: &mut common::Env,
    user: &str,
    session: &str,
    typings: &[Vec<f64>],
) -> Vec<IngestBatch> {
    let layout = FixedTextLayout::cmu_strong_password();
    let events = typings_to_events(&layout, typings, e.clock_us, ms_to_us(1500.0));
    e.clock_us = events.last().unwrap().last().unwrap().release_us + 1_000_000;
    let mut b = SessionBatcher::new(user, session, None, 5_000);
    let mut edge = Edge::new(e.edge_config.clone()).unwrap();
    let mut out = Vec::new();
    for t in events {
        let mut records = Vec::new();
        for k in &t {
            edge.key(k, &mut records);
        }
        for r in &records {
            b.push(r);
        }
        out.extend(b.flush());
    }
    out
}

/// Sends batches one after another; returns each one's latency, ms.
async fn timed(device: &Client, batches: &[IngestBatch]) -> Vec<f64> {
    let mut out = Vec::new();
    for b in batches {
        let t = Instant::now();
        device.send(b).await.expect("accepted");
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

async fn key(e: &common::Env, tenant: &str, role: Role) -> Client {
    let k = e.server.service.create_key(tenant, role).unwrap();
    Client::new(&e.server.url(), &k.token)
}

/// Finding (before): `GET /v1/users` ran one query loop per user under the one storage lock that ingest
/// needs, so with 5,001 users one read took 18.4 s and an ingest of another tenant meanwhile 17.45 s. Now
/// lists read on read-only connections in a few queries per page: tenant acme's ingest latencies while a
/// reader loops over tenant big's users and sessions (2,000 and 10,000) stay within a few times those of a
/// run without the reader.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_of_one_tenant_does_not_stall_another_tenants_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(dir.path(), Sinks::default(), |_| {}).await;
    let svc = e.server.service.clone();
    tokio::task::spawn_blocking(move || {
        keyprint_server::loadtest::fill_tenant(&svc, "big", 2_000, 10_000)
    })
    .await
    .unwrap()
    .unwrap();
    let big = key(&e, "big", Role::Read).await;
    let owner = e.owner.clone();
    // Enrol alice (not timed: the enrolment check runs once).
    e.replay("alice", "enrol", &owner[..50]).await;
    let device = e.ingest.clone();
    let alone = batches(&mut e, "alice", "alone", &owner[50..100]);
    let beside = batches(&mut e, "alice", "beside", &owner[100..150]);

    let without = timed(&device, &alone).await;

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut walks = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let users: Vec<UserInfo> = big.get_all("/v1/users").await.unwrap();
                let sessions: Vec<SessionInfo> = big.get_all("/v1/sessions").await.unwrap();
                assert_eq!((users.len(), sessions.len()), (2_000, 10_000));
                walks += 1;
            }
            walks
        })
    };
    // Let the reader be inside its first walk.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let with = timed(&device, &beside).await;
    stop.store(true, Ordering::Relaxed);
    let walks = reader.await.unwrap();

    let (p50_0, max_0) = (quantile(&without, 0.5), quantile(&without, 1.0));
    let (p50_1, max_1) = (quantile(&with, 0.5), quantile(&with, 1.0));
    eprintln!(
        "ingest without reader p50 {p50_0:.1} ms max {max_0:.1} ms; with reader p50 {p50_1:.1} ms max {max_1:.1} ms; {walks} walks"
    );
    assert!(walks >= 1, "the reader finished no walk");
    // Generous: the reader competes for the CPU (2 cores), never for the writer.
    assert!(
        p50_1 <= 4.0 * p50_0 + 50.0,
        "median ingest {p50_1:.1} ms with the reader, {p50_0:.1} ms without"
    );
    assert!(
        max_1 <= 4.0 * max_0 + 500.0,
        "slowest ingest {max_1:.1} ms with the reader, {max_0:.1} ms without"
    );
}

/// Pages of one list, walked to the end with `limit` rows a page; `during` runs between pages.
async fn walk<T: serde::de::DeserializeOwned>(c: &Client, path: &str, limit: usize) -> Vec<T> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p: Page<T> = c
            .get_page(path, Some(limit), cursor.as_deref())
            .await
            .unwrap();
        assert!(p.items.len() <= limit);
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
        // Give the concurrent writer time between pages.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn once<'a>(ids: impl Iterator<Item = &'a str>, want: &[String], what: &str) {
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for id in ids {
        *seen.entry(id).or_default() += 1;
    }
    if let Some((id, n)) = seen.iter().find(|(_, n)| **n > 1) {
        panic!("{what} {id} returned {n} times");
    }
    let missing: Vec<&String> = want
        .iter()
        .filter(|w| !seen.contains_key(w.as_str()))
        .collect();
    assert!(missing.is_empty(), "{what} missing: {missing:?}");
}

/// Every list endpoint pages with `?limit=` and an opaque `?cursor=`; walking the pages while sessions, users,
/// alerts and devices are added returns every row that existed before exactly once, and no row twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pagination_returns_every_row_once_under_concurrent_inserts() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    let svc = e.server.service.clone();
    let who = tokio::task::spawn_blocking(move || {
        keyprint_server::loadtest::fill_tenant(&svc, "pg", 150, 600)
    })
    .await
    .unwrap()
    .unwrap();
    let read = key(&e, "pg", Role::Read).await;
    let ingest = key(&e, "pg", Role::Ingest).await;
    for i in 0..40 {
        let (s, v) = raw(&ingest, Method::POST, "/v1/net/findings", Some(&finding(i))).await;
        assert_eq!(s, 201, "{v}");
    }
    for i in 0..20 {
        e.server
            .service
            .provision_device("pg", &format!("dev-{i:03}"), &[])
            .unwrap();
    }
    // Writers: new sessions (of new users sorting before and after the old ones), alerts and devices.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (svc, stop, who) = (e.server.service.clone(), stop.clone(), who.clone());
        std::thread::spawn(move || {
            let record: keyprint_wire::WireRecord = serde_json::from_value(serde_json::json!({
                "device": {"at_us": 1_000_000, "action": "attach", "bus": "usb"}
            }))
            .unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                for user in [format!("a-new-{i}"), format!("zz-new-{i}")] {
                    let b = IngestBatch {
                        session: format!("new-{user}"),
                        user,
                        device: None,
                        batch_seq: 0,
                        records: vec![record.clone()],
                    };
                    svc.ingest(&who, &b).unwrap();
                }
                svc.provision_device("pg", &format!("dev-new-{i}"), &[])
                    .unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            i
        })
    };
    let finder = {
        let (ingest, stop) = (ingest.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 100;
            while !stop.load(Ordering::Relaxed) {
                let (s, _) =
                    raw(&ingest, Method::POST, "/v1/net/findings", Some(&finding(i))).await;
                assert_eq!(s, 201);
                i += 1;
            }
        })
    };
    let sessions: Vec<SessionInfo> = walk(&read, "/v1/sessions", 37).await;
    let users: Vec<UserInfo> = walk(&read, "/v1/users", 29).await;
    let alerts: Vec<Alert> = walk(&read, "/v1/alerts", 7).await;
    let devices: Vec<serde_json::Value> = walk(&read, "/v1/devices", 3).await;
    stop.store(true, Ordering::Relaxed);
    let added = writer.join().unwrap();
    finder.await.unwrap();
    assert!(added > 0, "nothing was added during the walk");

    let want: Vec<String> = (0..600).map(|i| format!("s-{i:06}")).collect();
    once(
        sessions.iter().map(|s| s.session.as_str()),
        &want,
        "session",
    );
    let want: Vec<String> = (0..150).map(|i| format!("user-{i:05}")).collect();
    once(users.iter().map(|u| u.user.as_str()), &want, "user");
    let ids: Vec<String> = alerts.iter().map(|a| a.id.to_string()).collect();
    let want: Vec<String> = (1..=40).map(|i: i64| i.to_string()).collect();
    once(ids.iter().map(String::as_str), &want, "alert");
    assert!(
        alerts.windows(2).all(|w| w[0].id < w[1].id),
        "alerts in id order"
    );
    let names: Vec<String> = devices
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = (0..20).map(|i| format!("dev-{i:03}")).collect();
    want.push("reader-fill".into());
    once(names.iter().map(String::as_str), &want, "device");
    // Sessions newest first (by start), users and devices by id.
    assert!(
        sessions
            .windows(2)
            .all(|w| w[0].started_ms >= w[1].started_ms)
    );
    assert!(users.windows(2).all(|w| w[0].user < w[1].user));
    assert!(names.windows(2).all(|w| w[0] < w[1]));
}

/// `?limit=` outside 1..=1000 or not a number, and a `?cursor=` the server did not issue for that list, are
/// `422 invalid_field` JSON errors naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_limit_or_cursor_is_a_422_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = env(dir.path(), Sinks::default(), |_| {}).await;
    let owner = e.owner.clone();
    e.replay("alice", "s1", &owner[..3]).await;
    e.replay("bob", "s2", &owner[3..6]).await;
    let users: Page<UserInfo> = e.read.get_page("/v1/users", Some(1), None).await.unwrap();
    let users_cursor = users.next_cursor.expect("a second page");
    assert_eq!(users.items.len(), 1);
    for list in ["/v1/sessions", "/v1/alerts", "/v1/users", "/v1/devices"] {
        for (q, field) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=abc", "limit"),
            ("limit=-3", "limit"),
            ("limit=2.5", "limit"),
            ("cursor=", "cursor"),
            ("cursor=zz", "cursor"),
            ("cursor=abc", "cursor"),
            ("cursor=6869", "cursor"),
        ] {
            let (s, v) = raw(&e.read, Method::GET, &format!("{list}?{q}"), None).await;
            assert_eq!(
                (s, v["code"].as_str(), v["field"].as_str()),
                (422, Some("invalid_field"), Some(field)),
                "{list}?{q}: {v}"
            );
        }
        if list != "/v1/users" {
            // Another list's cursor.
            let (s, v) = raw(
                &e.read,
                Method::GET,
                &format!("{list}?cursor={users_cursor}"),
                None,
            )
            .await;
            assert_eq!(
                (s, v["field"].as_str()),
                (422, Some("cursor")),
                "{list}: {v}"
            );
        }
        // A good page answers the page shape.
        let (s, v) = raw(&e.read, Method::GET, &format!("{list}?limit=1000"), None).await;
        assert_eq!(s, 200, "{v}");
        assert!(
            v["items"].is_array() && v.get("next_cursor").is_some(),
            "{list}: {v}"
        );
    }
    let (s, v) = raw(&e.read, Method::GET, "/v1/alerts?after=abc", None).await;
    assert_eq!((s, v["field"].as_str()), (422, Some("after")), "{v}");
}

fn finding(i: usize) -> String {
    serde_json::json!({
        "device": format!("10.0.{}.{}", i / 200, i % 200 + 1), "peer": "198.51.100.9:443",
        "score": 95.0,
        "reasons": [{"reason": "threat_intel", "strength": 0.95, "detail": "listed"}],
        "first_ts": 1700000000.5, "last_ts": 1700000010.0, "flows": 2,
        "targets": ["198.51.100.9"]
    })
    .to_string()
}

/// Finding (before): alert ids were one server-wide sequence, so a tenant saw gaps where other tenants'
/// alerts went. Now each tenant numbers its own alerts 1, 2, 3, … and `?after=` continues in that sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_ids_are_per_tenant_without_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |_| {}).await;
    let globex_ingest = key(&e, "globex", Role::Ingest).await;
    let globex_read = key(&e, "globex", Role::Read).await;
    for i in 0..6 {
        let (s, _) = raw(
            &e.service_key,
            Method::POST,
            "/v1/net/findings",
            Some(&finding(i)),
        )
        .await;
        assert_eq!(s, 201);
        for j in 0..2 {
            let (s, _) = raw(
                &globex_ingest,
                Method::POST,
                "/v1/net/findings",
                Some(&finding(10 + 2 * i + j)),
            )
            .await;
            assert_eq!(s, 201);
        }
    }
    let acme: Vec<Alert> = e.read.get_all("/v1/alerts").await.unwrap();
    let globex: Vec<Alert> = globex_read.get_all("/v1/alerts").await.unwrap();
    assert_eq!(
        acme.iter().map(|a| a.id).collect::<Vec<_>>(),
        (1..=6).collect::<Vec<_>>()
    );
    assert_eq!(
        globex.iter().map(|a| a.id).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    let after: Page<Alert> = e
        .read
        .get_page("/v1/alerts?after=4", None, None)
        .await
        .unwrap();
    assert_eq!(
        after.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![5, 6]
    );
    assert_eq!(after.next_cursor, None);
    // A page's cursor and `after` agree.
    let p: Page<Alert> = globex_read
        .get_page("/v1/alerts?after=3", Some(4), None)
        .await
        .unwrap();
    assert_eq!(
        p.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
    let p: Page<Alert> = globex_read
        .get_page("/v1/alerts", Some(100), p.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(
        p.items.iter().map(|a| a.id).collect::<Vec<_>>(),
        (8..=12).collect::<Vec<_>>()
    );
}

/// Finding: two servers could be started on one data directory. The second is refused, naming the
/// directory and the holder's pid (this process here); once the first is gone, a server starts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = keyprint_server::ServeConfig::new(dir.path().to_path_buf());
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.engines = vec!["fixed-text".into()];
    let first = keyprint_server::start(&cfg).await.expect("first starts");
    let err = keyprint_server::start(&cfg)
        .await
        .err()
        .expect("second refused")
        .to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    // The lock goes with the store, when the service's last holder (server and background tasks) is gone.
    first.stop();
    let t0 = Instant::now();
    let again = loop {
        match keyprint_server::start(&cfg).await {
            Ok(s) => break s,
            Err(e) if t0.elapsed() > Duration::from_secs(10) => panic!("never released: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    again.stop();
}

/// Idle session and user state is evicted and rebuilt from storage when the session returns, with the same
/// trust, alerts and enrolment as a server that never evicted: the same batches go to two servers, one of
/// which evicts everything idle before every batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_session_state_gives_the_same_trust() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Refit after every trusted update, so that user state is evictable after each batch too.
    let tune = |c: &mut keyprint_server::ServeConfig| c.service.refit_every = 1;
    let mut kept = env(d1.path(), Sinks::default(), tune).await;
    let evicting = env(d2.path(), Sinks::default(), tune).await;
    let (owner, other) = (kept.owner.clone(), kept.other.clone());
    let mut plan = Vec::new();
    plan.extend(batches(&mut kept, "alice", "s1", &owner[..60]));
    // The owner, then an impostor in the same session (alerts), then the owner in a new session.
    let mut mixed: Vec<Vec<f64>> = owner[60..80].to_vec();
    mixed.extend(other[..30].iter().cloned());
    plan.extend(batches(&mut kept, "alice", "s2", &mixed));
    plan.extend(batches(&mut kept, "alice", "s3", &owner[80..100]));
    let (mut evicted_sessions, mut evicted_users) = (0, 0);
    for b in &plan {
        let a: IngestAck = kept.ingest.send(b).await.unwrap();
        let ev = evicting.server.service.evict_idle(Duration::ZERO);
        evicted_sessions += ev.sessions;
        evicted_users += ev.users;
        let z: IngestAck = evicting.ingest.send(b).await.unwrap();
        assert_eq!(
            timeless(a),
            timeless(z),
            "batch {} of {}",
            b.batch_seq,
            b.session
        );
    }
    assert!(
        evicted_sessions >= plan.len() - 1,
        "{evicted_sessions} evictions"
    );
    assert!(
        evicted_users > plan.len() / 2,
        "{evicted_users} user evictions"
    );
    assert!(plan.len() > 100);
    let alerts: Vec<Alert> = evicting.read.get_all("/v1/alerts").await.unwrap();
    assert!(!alerts.is_empty(), "the impostor raised an alert");
    let a: Vec<UserInfo> = kept.read.get_all("/v1/users").await.unwrap();
    let z: Vec<UserInfo> = evicting.read.get_all("/v1/users").await.unwrap();
    assert_eq!(a, z);
}

/// An answer without its wall-clock times (alerts carry the server's clock).
fn timeless(mut a: IngestAck) -> IngestAck {
    for x in &mut a.alerts {
        x.at_ms = 0;
    }
    a
}
