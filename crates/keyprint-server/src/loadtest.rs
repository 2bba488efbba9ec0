//! `keyprint loadtest`: a load generator on loopback, bounded in record count and time.
//!
//! Protocol:
//! 1. start a server on a fresh SQLite directory (rate limit lifted), one tenant, the CMU phrase;
//! 2. enrol `users` accounts, each from 50 typings of one bundled CMU subject (the 12 background subjects
//!    and the 2 demo subjects, round-robin), through the API;
//! 3. `connections` concurrent HTTP/1.1 clients each stream their own sessions (typings of their user's
//!    later sessions, so every batch is segmented, scored, fused and stored) in batches of `batch` records,
//!    until `max_records` records or `max_seconds` elapsed;
//! 4. report records/s (acknowledged records ÷ wall time) and the p50/p99 of the latency from sending a batch
//!    to receiving its answer, which carries the trust after scoring (ingest-to-score latency).
//!
//! Beside it, on the same batch bodies and in-process: JSON-parse-only throughput (serde into
//! `IngestBatch`) and the whole service path without HTTP (parse + validate + score + durable commit).

use crate::{CMU_BACKGROUND, CMU_DEMO, ServeConfig, cmu_subjects, start};
use keyprint_client::{Client, SessionBatcher};
use keyprint_core::keystroke::{FixedTextLayout, ms_to_us};
use keyprint_wire::{IngestBatch, Role};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Load-test settings.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Concurrent connections.
    pub connections: usize,
    /// Records per batch.
    pub batch: usize,
    /// Accounts (each enrolled before the load).
    pub users: usize,
    /// Stop after this many records.
    pub max_records: u64,
    /// Stop after this many seconds.
    pub max_seconds: f64,
}

/// Measured figures.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadReport {
    /// Events acknowledged during the load phase.
    pub records: u64,
    /// Batches acknowledged.
    pub batches: u64,
    /// Samples (typings) scored.
    pub samples: u64,
    /// Wall time of the load phase, s.
    pub seconds: f64,
    /// Events per second over HTTP.
    pub records_per_s: f64,
    /// Median ingest-to-score latency, ms.
    pub p50_ms: f64,
    /// 99th-percentile ingest-to-score latency, ms.
    pub p99_ms: f64,
    /// Largest latency, ms.
    pub max_ms: f64,
    /// In-process JSON-parse-only throughput, records/s.
    pub parse_records_per_s: f64,
    /// In-process service throughput (parse, validate, score, commit), records/s.
    pub service_records_per_s: f64,
    /// In-process scoring-only throughput (no storage): fixed-text segmentation + template scores, records/s.
    pub score_records_per_s: f64,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    keyprint_core::stats::quantile_sorted(sorted, q)
}

/// Runs the load test in `dir`.
///
/// # Errors
/// When the server cannot start or a request is refused.
pub async fn run(dir: &std::path::Path, lc: &LoadConfig) -> anyhow::Result<LoadReport> {
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.service.rate_per_key = 1e9;
    let server = start(&cfg).await?;
    let admin = server.service.create_key("load", Role::Admin)?;
    let url = server.url();
    let admin_c = Client::new(&url, &admin.token);
    let layout = FixedTextLayout::cmu_strong_password();
    let phrase = keyprint_wire::FixedTextPhrase {
        id: "load".into(),
        keys: layout.keys().len() as u32,
        confirm_reset: false,
    };
    let edge_config = keyprint_edge::EdgeConfig {
        phrase: Some(keyprint_edge::Phrase {
            id: "load".into(),
            keys: layout.keys().to_vec(),
        }),
        ..keyprint_edge::EdgeConfig::default()
    };
    let records_of = |ev: &[keyprint_core::KeyEvent]| {
        keyprint_edge::records_of_session(edge_config.clone(), ev, &[]).expect("edge config")
    };
    let (http, base, tok) = admin_c.http();
    let r = http
        .put(format!("{base}/v1/tenant/fixed-text"))
        .bearer_auth(tok)
        .json(&phrase)
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "phrase: {}", r.status());
    let mut subjects: Vec<Vec<Vec<f64>>> = cmu_subjects(CMU_BACKGROUND, "bg")?
        .into_iter()
        .chain(cmu_subjects(CMU_DEMO, "demo")?)
        .map(|(_, v)| v)
        .collect();
    subjects.retain(|s| s.len() >= 100);
    // One registered device per user (records come only from a device's own credential).
    let mut principals = std::collections::HashMap::new();
    let mut tokens = Vec::new();
    for u in 0..lc.users.max(1) {
        let user = format!("u{u}");
        let (cred, who) =
            server
                .service
                .provision_device("load", &format!("dev-{user}"), &[&user])?;
        principals.insert(user, who);
        tokens.push(cred.token);
    }
    // Enrol.
    for u in 0..lc.users {
        let device_c = Client::new(&url, &tokens[u]);
        let s = &subjects[u % subjects.len()];
        let ev = crate::demo::typings_to_events(&layout, &s[..50], 1_000_000, ms_to_us(1500.0));
        let ev: Vec<keyprint_core::KeyEvent> = ev.into_iter().flatten().collect();
        for batch in SessionBatcher::batches(
            &format!("u{u}"),
            &format!("enrol-{u}"),
            None,
            5_000,
            &records_of(&ev),
        ) {
            device_c.send(&batch).await?;
        }
    }
    // Pre-build batch bodies per connection: a long session of the user's later typings, repeated with a
    // growing clock (repeats are exact replays, so vary them by 1 µs per repetition).
    let per_conn_records = (lc.max_records as usize).div_ceil(lc.connections.max(1)) + lc.batch;
    let mut bodies: Vec<Vec<(Vec<u8>, usize)>> = Vec::new();
    for c in 0..lc.connections {
        let u = c % lc.users.max(1);
        let s = &subjects[u % subjects.len()];
        let later = &s[50..];
        let mut b = SessionBatcher::new(&format!("u{u}"), &format!("load-{c}"), None, lc.batch);
        let mut out = Vec::new();
        let (mut n, mut rep, mut clock) = (0usize, 0i64, 1_000_000i64);
        while n < per_conn_records {
            let typings: Vec<Vec<f64>> = later
                .iter()
                .map(|t| {
                    let mut t = t.clone();
                    t[0] += (rep * lc.connections as i64 + c as i64) as f64 * 0.001;
                    t
                })
                .collect();
            let ev = crate::demo::typings_to_events(&layout, &typings, clock, ms_to_us(800.0));
            clock = ev
                .last()
                .and_then(|t| t.last())
                .map_or(clock, |e| e.release_us)
                + 1_000_000;
            let ev: Vec<keyprint_core::KeyEvent> = ev.into_iter().flatten().collect();
            for r in records_of(&ev) {
                if let Some(batch) = b.push(&r) {
                    n += batch.records.len();
                    out.push((serde_json::to_vec(&batch)?, batch.records.len()));
                }
            }
            rep += 1;
        }
        bodies.push(out);
    }
    // Load phase.
    let deadline = Instant::now() + Duration::from_secs_f64(lc.max_seconds);
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (c, list) in bodies.iter().cloned().enumerate() {
        let http = reqwest::Client::new();
        let token = tokens[c % lc.users.max(1)].clone();
        let (url, sent) = (url.clone(), sent.clone());
        let max = lc.max_records;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let (mut records, mut batches, mut samples) = (0u64, 0u64, 0u64);
            for (body, n) in list {
                if Instant::now() >= deadline
                    || sent.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed) >= max
                {
                    break;
                }
                let t = Instant::now();
                let r = http
                    .post(format!("{url}/v1/records"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await?;
                let status = r.status();
                let bytes = r.bytes().await?;
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(
                    status.is_success(),
                    "connection {c}: {status} {}",
                    String::from_utf8_lossy(&bytes)
                );
                let v: serde_json::Value = serde_json::from_slice(&bytes)?;
                samples += v["samples"].as_u64().unwrap_or(0);
                records += n as u64;
                batches += 1;
            }
            Ok::<_, anyhow::Error>((lat, records, batches, samples))
        }));
    }
    let mut lat = Vec::new();
    let (mut records, mut batches, mut samples) = (0, 0, 0);
    for t in tasks {
        let (l, e, b, s) = t.await??;
        lat.extend(l);
        records += e;
        batches += b;
        samples += s;
    }
    let seconds = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let service = server.service.clone();
    server.stop();

    // In-process: parse-only and the whole service path on the same bodies (fresh sessions).
    let sample: Vec<(Vec<u8>, usize)> = bodies
        .iter()
        .flat_map(|b| b.iter().take(20).cloned())
        .collect();
    let n_ev: usize = sample.iter().map(|(_, n)| n).sum();
    let t = Instant::now();
    let mut parsed = Vec::new();
    for (b, _) in &sample {
        parsed.push(serde_json::from_slice::<IngestBatch>(b)?);
    }
    let parse_records_per_s = n_ev as f64 / t.elapsed().as_secs_f64();
    let svc = service.clone();
    let (service_records_per_s, score_records_per_s) = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        for (b, _) in &sample {
            let mut batch: IngestBatch = serde_json::from_slice(b).expect("parsed before");
            batch.session = format!("inproc-{}", batch.session);
            svc.ingest(&principals[&batch.user], &batch)
                .expect("in-process ingest");
        }
        let service = n_ev as f64 / t.elapsed().as_secs_f64();
        // Scoring only: the engine seam and the user's template, no storage.
        let engine = &svc.engines()[0];
        let settings = crate::engine::TenantSettings {
            phrase: Some(crate::engine::PhraseSetting {
                id: phrase.id.clone(),
                keys: phrase.keys as usize,
            }),
        };
        let s0 = &subjects[0];
        let template = engine.fit(&s0[..50]).expect("fit");
        let t = Instant::now();
        let mut sink = 0.0;
        for (b, _) in &sample {
            let batch: IngestBatch = serde_json::from_slice(b).expect("parsed before");
            let records: Vec<keyprint_edge::Record> = batch
                .records
                .iter()
                .filter_map(|w| keyprint_wire::convert::from_wire(w).ok())
                .collect();
            let mut es = engine.new_session(&settings).expect("phrase set");
            for o in es.push(&records) {
                if let Some(s) = o.sample {
                    sink += engine.calibration().llr(template.score(&s));
                }
            }
        }
        std::hint::black_box(sink);
        (service, n_ev as f64 / t.elapsed().as_secs_f64())
    })
    .await?;
    drop(parsed);
    Ok(LoadReport {
        records,
        batches,
        samples,
        seconds,
        records_per_s: records as f64 / seconds,
        p50_ms: quantile(&lat, 0.5),
        p99_ms: quantile(&lat, 0.99),
        max_ms: lat.last().copied().unwrap_or(0.0),
        parse_records_per_s,
        service_records_per_s,
        score_records_per_s,
    })
}
