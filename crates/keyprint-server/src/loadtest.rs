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
//!
//! **Reader mode** ([`LoadConfig::read_users`] > 0, `keyprint loadtest --reader`): before the load, a second
//! tenant (`big`) gets `read_users` users with `read_sessions` sessions between them (one small batch each,
//! in-process); the load phase then runs twice on fresh sessions — once alone, once while one HTTP client
//! loops reading tenant `big`'s whole users list and whole sessions list (every page) — and the ingest
//! p50/p99 of both runs are reported. The reader follows `next_cursor` when the answer is a page and reads a
//! plain array otherwise, so the same code measures servers from before pagination.

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
    /// Reader mode: users of the read tenant (0: no reader run).
    pub read_users: usize,
    /// Reader mode: sessions of the read tenant, spread over its users.
    pub read_sessions: usize,
}

/// The load phase measured while a reader loops on another tenant's largest lists.
#[derive(Clone, Debug, PartialEq)]
pub struct ReaderReport {
    /// Batches acknowledged during the phase.
    pub batches: u64,
    /// Median ingest latency with the reader running, ms.
    pub p50_ms: f64,
    /// 99th-percentile ingest latency with the reader running, ms.
    pub p99_ms: f64,
    /// Largest ingest latency with the reader running, ms.
    pub max_ms: f64,
    /// Complete reads of both lists (users, then sessions) the reader finished.
    pub walks: u64,
    /// Mean time of one complete read of both lists, ms.
    pub walk_ms: f64,
    /// Rows the reader got per walk (users + sessions).
    pub rows_per_walk: u64,
    /// Time to fill the read tenant, s.
    pub fill_seconds: f64,
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
    /// Reader mode: the second load phase, with the reader.
    pub reader: Option<ReaderReport>,
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
    let build = |prefix: &str, offset: i64| -> anyhow::Result<Vec<Bodies>> {
        let mut bodies = Vec::new();
        for c in 0..lc.connections {
            let u = c % lc.users.max(1);
            let s = &subjects[u % subjects.len()];
            let later = &s[50..];
            let mut b =
                SessionBatcher::new(&format!("u{u}"), &format!("{prefix}-{c}"), None, lc.batch);
            let mut out = Vec::new();
            let (mut n, mut rep, mut clock) = (0usize, offset, 1_000_000i64);
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
        Ok(bodies)
    };
    let bodies = build("load", 0)?;
    // Reader mode: fill the read tenant, and bodies for the second phase (fresh sessions, other typings).
    let fill = if lc.read_users > 0 {
        let t = Instant::now();
        fill_read_tenant(&server.service, lc.read_users, lc.read_sessions)?;
        Some(t.elapsed().as_secs_f64())
    } else {
        None
    };
    let bodies2 = if fill.is_some() {
        build("read", 1_000_000)?
    } else {
        Vec::new()
    };
    // Load phase.
    let t0 = Instant::now();
    let (mut lat, records, batches, samples) = load_phase(&url, &tokens, &bodies, lc).await?;
    let seconds = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let reader = match fill {
        None => None,
        Some(fill_seconds) => {
            let read_key = server.service.create_key(READ_TENANT, Role::Read)?;
            let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let walker = tokio::spawn(read_loop(url.clone(), read_key.token, stop.clone()));
            // Let the reader start its first walk.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let (mut lat2, _, batches2, _) = load_phase(&url, &tokens, &bodies2, lc).await?;
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let (walks, walk_ms, rows_per_walk) = walker.await??;
            lat2.sort_by(f64::total_cmp);
            Some(ReaderReport {
                batches: batches2,
                p50_ms: quantile(&lat2, 0.5),
                p99_ms: quantile(&lat2, 0.99),
                max_ms: lat2.last().copied().unwrap_or(0.0),
                walks,
                walk_ms,
                rows_per_walk,
                fill_seconds,
            })
        }
    };
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
        reader,
    })
}

/// One connection's pre-built batch bodies, each with its record count.
type Bodies = Vec<(Vec<u8>, usize)>;

/// The tenant the reader reads in reader mode.
pub const READ_TENANT: &str = "big";

/// Fills [`READ_TENANT`] with `users` users and `sessions` sessions (round-robin over the users), each one
/// batch of one device record, through the service in-process from 32 threads (group commit).
fn fill_read_tenant(
    svc: &Arc<crate::service::Service>,
    users: usize,
    sessions: usize,
) -> anyhow::Result<()> {
    fill_tenant(svc, READ_TENANT, users, sessions).map(|_| ())
}

/// Gives `tenant` `users` users and `sessions` sessions (session `i` belongs to user `i mod users`), each
/// one batch (`batch_seq` 0) of one device record, through the service in-process from 32 threads. Returns
/// the shared device's principal that posted them.
///
/// # Errors
/// When a batch is refused.
pub fn fill_tenant(
    svc: &Arc<crate::service::Service>,
    tenant: &str,
    users: usize,
    sessions: usize,
) -> anyhow::Result<crate::service::Principal> {
    // A shared device (bound to no user) may post for any user of its tenant.
    let (_, who) = svc.provision_device(tenant, "reader-fill", &[])?;
    let record: keyprint_wire::WireRecord = serde_json::from_value(serde_json::json!({
        "device": {"at_us": 1_000_000, "action": "attach", "bus": "usb"}
    }))?;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let total = sessions.max(users);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut handles = Vec::new();
        for _ in 0..32 {
            handles.push(scope.spawn(|| -> anyhow::Result<()> {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= total {
                        return Ok(());
                    }
                    let batch = IngestBatch {
                        user: format!("user-{:05}", i % users.max(1)),
                        session: format!("s-{i:06}"),
                        device: None,
                        batch_seq: 0,
                        records: vec![record.clone()],
                    };
                    svc.ingest(&who, &batch)
                        .map_err(|e| anyhow::anyhow!("filling the read tenant: {e}"))?;
                }
            }));
        }
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("fill thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(who)
}

/// Reads one whole list: pages when the server answers pages (`?limit=1000`, then `&cursor=`), a plain
/// array otherwise (servers before pagination refuse or ignore `limit`). Returns the rows read.
async fn read_list(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
) -> anyhow::Result<u64> {
    let mut rows = 0u64;
    let mut next = format!("{url}{path}?limit=1000");
    loop {
        let r = http.get(&next).bearer_auth(token).send().await?;
        let status = r.status();
        let v: serde_json::Value = r.json().await?;
        if status.as_u16() == 422 && next.ends_with("?limit=1000") {
            // No pagination on this server: the whole list is one array.
            next = format!("{url}{path}");
            continue;
        }
        anyhow::ensure!(status.is_success(), "GET {path}: {status} {v}");
        if let Some(a) = v.as_array() {
            return Ok(rows + a.len() as u64);
        }
        rows += v["items"].as_array().map_or(0, |a| a.len() as u64);
        match v["next_cursor"].as_str() {
            Some(c) => next = format!("{url}{path}?limit=1000&cursor={c}"),
            None => return Ok(rows),
        }
    }
}

/// Loops reading the read tenant's users and sessions lists until `stop`; returns (walks, mean walk ms,
/// rows per walk).
async fn read_loop(
    url: String,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> anyhow::Result<(u64, f64, u64)> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let (mut walks, mut total_ms, mut rows) = (0u64, 0f64, 0u64);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let t = Instant::now();
        rows = read_list(&http, &url, &token, "/v1/users").await?
            + read_list(&http, &url, &token, "/v1/sessions").await?;
        total_ms += t.elapsed().as_secs_f64() * 1000.0;
        walks += 1;
    }
    Ok((walks, total_ms / walks.max(1) as f64, rows))
}

/// One load phase: every connection posts its bodies in order until the deadline or `max_records`; returns
/// the latencies (ms, unsorted), records, batches and samples acknowledged.
async fn load_phase(
    url: &str,
    tokens: &[String],
    bodies: &[Bodies],
    lc: &LoadConfig,
) -> anyhow::Result<(Vec<f64>, u64, u64, u64)> {
    let deadline = Instant::now() + Duration::from_secs_f64(lc.max_seconds);
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (c, list) in bodies.iter().cloned().enumerate() {
        let http = reqwest::Client::new();
        let token = tokens[c % lc.users.max(1)].clone();
        let (url, sent) = (url.to_string(), sent.clone());
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
    Ok((lat, records, batches, samples))
}
