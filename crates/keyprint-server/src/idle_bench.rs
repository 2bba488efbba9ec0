//! `keyprint loadtest --idle-sessions N`: what idle per-session state costs in memory, and what evicting it
//! gives back.
//!
//! Protocol (in-process, no HTTP): open a service on a fresh SQLite directory; read the resident set size
//! (`VmRSS` of `/proc/self/status`); create `N` sessions of `N / 10` users, each one batch of one device
//! record ([`crate::loadtest::fill_tenant`]); read RSS; evict every session and user state idle for at least
//! 0 s ([`Service::evict_idle`]) and hand freed heap back to the kernel (`malloc_trim` on glibc); read RSS;
//! finally send a second batch to 1,000 of the evicted sessions (their state is rebuilt from storage) and time
//! it.

use crate::ServeConfig;
use crate::service::{Evicted, Service};
use keyprint_wire::IngestBatch;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the idle-state measurement found.
#[derive(Clone, Debug, PartialEq)]
pub struct IdleReport {
    /// Sessions created.
    pub sessions: usize,
    /// Users they belong to.
    pub users: usize,
    /// RSS before any session, KiB.
    pub rss_start_kib: u64,
    /// RSS with every session's state in memory, KiB.
    pub rss_created_kib: u64,
    /// RSS after eviction, KiB.
    pub rss_evicted_kib: u64,
    /// What the eviction dropped.
    pub evicted: Evicted,
    /// Time to create the sessions, s.
    pub create_seconds: f64,
    /// Mean time of a second batch to an evicted session (state rebuilt from storage), ms.
    pub resume_ms: f64,
}

/// Resident set size of this process, KiB (0 where `/proc` is unavailable).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Returns freed heap memory to the kernel where the allocator keeps it (glibc); a no-op elsewhere.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator's own arenas; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs the measurement in `dir` with `sessions` sessions.
///
/// # Errors
/// When the service cannot be opened or a batch is refused.
pub fn run(dir: &std::path::Path, sessions: usize) -> anyhow::Result<IdleReport> {
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.service.rate_per_key = 1e9;
    let svc: Arc<Service> = crate::open_service(&cfg)?;
    let users = (sessions / 10).max(1);
    trim_heap();
    let rss_start_kib = rss_kib();
    let t = Instant::now();
    let who = crate::loadtest::fill_tenant(&svc, "idle", users, sessions)?;
    let create_seconds = t.elapsed().as_secs_f64();
    trim_heap();
    let rss_created_kib = rss_kib();
    let evicted = svc.evict_idle(Duration::ZERO);
    trim_heap();
    let rss_evicted_kib = rss_kib();
    // Resume some evicted sessions: their second batch rebuilds the state from storage.
    let record: keyprint_wire::WireRecord = serde_json::from_value(serde_json::json!({
        "device": {"at_us": 2_000_000, "action": "detach", "bus": "usb"}
    }))?;
    let n = sessions.min(1_000);
    let t = Instant::now();
    for i in 0..n {
        let batch = IngestBatch {
            user: format!("user-{:05}", i % users),
            session: format!("s-{i:06}"),
            device: None,
            batch_seq: 1,
            records: vec![record.clone()],
        };
        let ack = svc
            .ingest(&who, &batch)
            .map_err(|e| anyhow::anyhow!("resuming {}: {e}", batch.session))?;
        anyhow::ensure!(!ack.duplicate, "resumed batch taken for a duplicate");
    }
    let resume_ms = t.elapsed().as_secs_f64() * 1000.0 / n.max(1) as f64;
    Ok(IdleReport {
        sessions,
        users,
        rss_start_kib,
        rss_created_kib,
        rss_evicted_kib,
        evicted,
        create_seconds,
        resume_ms,
    })
}
