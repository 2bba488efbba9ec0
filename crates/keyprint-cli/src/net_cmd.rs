//! `keyprint net scan|learn|watch`: flags → checked settings → keyprint-net. Findings go to stdout (text,
//! or one JSON object a line with `--json`); the reading accounting goes to stderr.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use keyprint_net::fs::{Follower, read_dir};
use keyprint_net::json::{BaselineFile, FindingJson};
use keyprint_net::{Analyzer, Baselines, Finding, IntelSet, Logs, Settings};

/// Exit status of `net scan` when it found something.
pub const EXIT_FOUND: i32 = 3;

/// `keyprint net …`.
#[derive(Subcommand)]
pub enum NetCmd {
    /// Read a folder of Zeek logs and print findings. Exit status 3 when something was found.
    Scan(ScanArgs),
    /// Learn per-device baselines from a folder of normal traffic and write them as JSON.
    Learn(LearnArgs),
    /// Follow a folder of live Zeek logs (rotation included) and emit findings as JSON lines.
    Watch(WatchArgs),
}

/// Flags shared by `scan` and `watch`.
#[derive(Args)]
pub struct EngineArgs {
    /// Threat-intel file: a Zeek Intel file (`#fields indicator indicator_type meta.source …`) or a plain
    /// blocklist (one domain or address a line). Repeatable.
    #[arg(long)]
    intel: Vec<PathBuf>,
    /// Baseline file written by `keyprint net learn`.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Report findings scoring at least this (0–100).
    #[arg(long, default_value_t = 50.0)]
    min_score: f64,
}

/// `keyprint net scan`.
#[derive(Args)]
pub struct ScanArgs {
    /// Folder of Zeek logs (conn, dns, ssl, http, dhcp; TSV or JSON).
    dir: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
    /// One JSON object per finding on stdout.
    #[arg(long)]
    json: bool,
}

/// `keyprint net learn`.
#[derive(Args)]
pub struct LearnArgs {
    /// Folder of Zeek logs of normal traffic.
    dir: PathBuf,
    /// Where to write the baseline (JSON).
    #[arg(long)]
    out: PathBuf,
}

/// `keyprint net watch`.
#[derive(Args)]
pub struct WatchArgs {
    /// Folder Zeek writes its live logs to.
    dir: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
    /// keyprint server: each finding is also POSTed to `{URL}/v1/net/findings`.
    #[arg(long)]
    server: Option<String>,
    /// Bearer key for the server.
    #[arg(long, env = "KEYPRINT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Seconds between polls.
    #[arg(long, default_value_t = 1.0)]
    interval_s: f64,
    /// Analysis window: records older than this many seconds before the newest are dropped.
    #[arg(long, default_value_t = 3600.0)]
    window_s: f64,
    /// Start at the current end of the logs instead of their beginning.
    #[arg(long)]
    from_end: bool,
    /// Stop after this many polls (default: run until interrupted).
    #[arg(long)]
    max_polls: Option<u64>,
}

/// Runs a `net` subcommand; `Ok(true)` when `scan` found something.
pub fn run(cmd: &NetCmd) -> anyhow::Result<bool> {
    match cmd {
        NetCmd::Scan(a) => scan(a),
        NetCmd::Learn(a) => learn(a).map(|_| false),
        NetCmd::Watch(a) => watch(a).map(|_| false),
    }
}

fn analyzer(a: &EngineArgs) -> anyhow::Result<Analyzer> {
    let settings = Settings {
        min_score: a.min_score,
        ..Settings::default()
    }
    .check()?;
    let mut intel = IntelSet::new();
    for p in &a.intel {
        let bytes = std::fs::read(p).with_context(|| format!("{}", p.display()))?;
        let name = p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let report = intel.add_file(&name, &bytes)?;
        eprintln!("intel {}: {}", p.display(), report.summary());
        for issue in report.rejected.iter().take(5) {
            eprintln!("  {issue}");
        }
    }
    let baselines = match &a.baseline {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            BaselineFile::parse(&text).with_context(|| format!("{}", p.display()))?
        }
        None => Baselines::default(),
    };
    Ok(Analyzer::new(settings, intel, baselines))
}

fn read_logs(dir: &Path) -> anyhow::Result<Logs> {
    let read = read_dir(dir).with_context(|| format!("{}", dir.display()))?;
    for f in &read.files {
        let name = f.path.display();
        match &f.error {
            Some(e) => eprintln!("{name}: skipped: {e}"),
            None if matches!(f.kind, keyprint_net::zeek::LogKind::Other(_)) => {
                eprintln!("{name}: not read (log kind not used)")
            }
            None => {
                eprintln!("{name}: {}", f.report.summary());
                for issue in f.report.rejected.iter().take(5) {
                    eprintln!("  {issue}");
                }
            }
        }
    }
    let (acc, rej, failed) = read.totals();
    if acc == 0 && (rej > 0 || failed > 0) {
        bail!(
            "{}: no readable Zeek record ({rej} rows rejected, {failed} files unreadable)",
            dir.display()
        );
    }
    Ok(read.logs)
}

fn print_finding(f: &Finding) {
    let name = f
        .peer_name
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    println!(
        "{:5.1}  {} -> {}{}  ts {:.3}..{:.3}  flows {}",
        f.score, f.device, f.peer, name, f.first_ts, f.last_ts, f.flows
    );
    for r in &f.reasons {
        println!("       {} ({:.2}): {}", r.kind.name(), r.strength, r.detail);
    }
}

fn scan(a: &ScanArgs) -> anyhow::Result<bool> {
    let analyzer = analyzer(&a.engine)?;
    let logs = read_logs(&a.dir)?;
    let analysis = analyzer.analyze(&logs);
    for f in &analysis.findings {
        if a.json {
            println!("{}", serde_json::to_string(&FindingJson::from(f))?);
        } else {
            print_finding(f);
        }
    }
    eprintln!(
        "{} connections, {} lookups: {} findings",
        logs.conn.len(),
        logs.dns.len(),
        analysis.findings.len()
    );
    Ok(!analysis.findings.is_empty())
}

fn learn(a: &LearnArgs) -> anyhow::Result<()> {
    let logs = read_logs(&a.dir)?;
    let b = Baselines::learn(&logs);
    let text = serde_json::to_string_pretty(&BaselineFile::from(&b))?;
    std::fs::write(&a.out, text).with_context(|| format!("{}", a.out.display()))?;
    eprintln!(
        "{}: baselines of {} devices from {} connections",
        a.out.display(),
        b.devices.len(),
        logs.conn.len()
    );
    Ok(())
}

fn watch(a: &WatchArgs) -> anyhow::Result<()> {
    if !(a.interval_s.is_finite()
        && a.interval_s > 0.0
        && a.window_s.is_finite()
        && a.window_s > 0.0)
    {
        bail!("--interval-s and --window-s must be finite and > 0");
    }
    let analyzer = analyzer(&a.engine)?;
    let poster = match &a.server {
        Some(url) => Some(Poster::new(url, a.api_key.clone())?),
        None => None,
    };
    let mut follower = Follower::new(&a.dir, a.from_end);
    let mut window = Logs::default();
    let mut emitted: HashSet<String> = HashSet::new();
    let mut polls = 0u64;
    loop {
        let polled = follower
            .poll()
            .with_context(|| format!("{}", a.dir.display()))?;
        for name in &polled.rotated {
            eprintln!("{name}: rotated");
        }
        for e in &polled.errors {
            eprintln!("{e}");
        }
        for issue in polled.report.rejected.iter().take(5) {
            eprintln!("{issue}");
        }
        if !polled.logs.is_empty() {
            window.extend(polled.logs);
            if let Some((_, newest)) = window.time_span() {
                window.retain_time(newest - a.window_s, f64::INFINITY);
            }
            for f in analyzer.analyze(&window).findings {
                let mut kinds: Vec<&str> = f.reasons.iter().map(|r| r.kind.name()).collect();
                kinds.sort_unstable();
                let key = format!("{}|{}|{}", f.device, f.peer, kinds.join(","));
                if !emitted.insert(key) {
                    continue;
                }
                let j = FindingJson::from(&f);
                println!("{}", serde_json::to_string(&j)?);
                if let Some(p) = &poster {
                    p.post(&j);
                }
            }
        }
        polls += 1;
        if a.max_polls.is_some_and(|m| polls >= m) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs_f64(a.interval_s));
    }
}

/// POSTs findings to `{URL}/v1/net/findings` with a bearer key. Failures are reported on stderr and do
/// not stop the watch (the server endpoint may not exist yet).
struct Poster {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    url: String,
    key: Option<String>,
}

impl Poster {
    fn new(url: &str, key: Option<String>) -> anyhow::Result<Poster> {
        Ok(Poster {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            client: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?,
            url: format!("{}/v1/net/findings", url.trim_end_matches('/')),
            key,
        })
    }

    fn post(&self, f: &FindingJson) {
        let mut req = self.client.post(&self.url).json(f);
        if let Some(k) = &self.key {
            req = req.bearer_auth(k);
        }
        // `send` arms its timeout on the runtime's timer, so it must run inside the runtime.
        match self.rt.block_on(async move { req.send().await }) {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => eprintln!("POST {}: HTTP {}", self.url, r.status()),
            Err(e) => eprintln!("POST {}: {e}", self.url),
        }
    }
}
