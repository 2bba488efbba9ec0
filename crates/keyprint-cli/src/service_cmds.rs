//! `keyprint serve`, `keyprint demo` and the analyst views `keyprint alerts | sessions | users`.
//! Thin: flags here, logic in `keyprint-server` and `keyprint-client`.

use anyhow::Context;
use clap::Args;
use keyprint_server::ServeConfig;
use keyprint_server::outbox::{Secret, Sinks, SyslogTarget};
use keyprint_wire::{Alert, Role, SessionDetail, SessionInfo, UserInfo};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Flags of `keyprint serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Directory of the embedded SQLite database.
    #[arg(long, default_value = "keyprint-data")]
    pub data_dir: PathBuf,
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub bind: SocketAddr,
    /// Create this tenant and print its first admin API key (once: nothing is minted when the tenant exists), then
    /// serve.
    #[arg(long)]
    pub init_tenant: Option<String>,
    /// Alert webhook URL, http:// or https:// (JSON POST signed in X-Keyprint-Signature, retried with
    /// back-off). Needs --webhook-secret-file.
    #[arg(long, requires = "webhook_secret_file")]
    pub webhook: Option<String>,
    /// File whose bytes (trailing line break removed) are the webhook's HMAC-SHA256 signing secret; receivers
    /// verify with the same secret (docs/OPERATIONS.md).
    #[arg(long, value_name = "PATH")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Alert JSON Lines file (its folder is created when missing).
    #[arg(long)]
    pub alerts_file: Option<PathBuf>,
    /// Syslog collector, RFC 5424 carrying CEF: tcp://host:port (RFC 6587 framing), tls://host:port
    /// (RFC 5425) or udp://host:port (fire-and-forget: no acknowledgement).
    #[arg(long, value_name = "URL", value_parser = parse_syslog)]
    pub syslog: Option<SyslogTarget>,
    /// Extra trusted CA certificates (PEM) for https:// webhooks and tls:// syslog, beside the web PKI roots.
    #[arg(long, value_name = "PEM")]
    pub sink_ca_file: Option<PathBuf>,
    /// Seconds a client has to send a whole request head (slow clients are disconnected).
    #[arg(long, default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a client has to send a whole request body (then 408 request_timeout).
    #[arg(long, default_value_t = 30)]
    pub body_timeout: u64,
    /// Log format on standard error: text or json (one JSON object per line); level from RUST_LOG (default info).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Alert threshold on trust (0–100).
    #[arg(long, default_value_t = 30.0)]
    pub threshold: f64,
    /// Requests per second per API key.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Seconds a session's (and a user's) in-memory state may stay unused before it is dropped; it is rebuilt
    /// from the database when the session sends again, with the same trust.
    #[arg(long, default_value_t = 1800)]
    pub session_idle_secs: u64,
    /// Fixed-text enrolment size (typings).
    #[arg(long, default_value_t = 50)]
    pub enrol: usize,
    /// Engines to run, comma-separated (fixed-text, free-text, injection, mouse).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_ENGINES_ARG)]
    pub engines: Vec<String>,
    /// Allow browser pages of this origin (e.g. https://console.example) to post records (CORS on
    /// POST /v1/records; repeatable). Other origins are refused.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Demo only: serve the "try it yourself" page at /try and act as its backend for the demo tenant `try`
    /// (hands the page short-lived browser credentials; in production the console's backend calls
    /// POST /v1/browser-credentials with its ingest key). Off by default.
    #[arg(long)]
    pub try_page: bool,
}

/// The default of `--engines` as it is typed (comma-separated): `keyprint_server::DEFAULT_ENGINES`.
const DEFAULT_ENGINES_ARG: &str = "fixed-text,free-text,injection,mouse";

fn parse_syslog(s: &str) -> Result<SyslogTarget, String> {
    s.parse()
}

/// The API's name of a code or state (`keystroke_mismatch`, `scoring`), as the JSON carries it.
fn api_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Prints a line on standard output, ignoring a closed or full output: the server must go on serving.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `keyprint serve`.
pub fn serve(a: &ServeArgs) -> anyhow::Result<()> {
    if let Some(t) = &a.init_tenant {
        anyhow::ensure!(
            !t.is_empty() && t.len() <= 128 && !t.chars().any(char::is_control),
            "--init-tenant {t:?}: 1 to 128 bytes, no control characters"
        );
    }
    let webhook_secret = match &a.webhook_secret_file {
        Some(p) => {
            let mut b = std::fs::read(p)
                .with_context(|| format!("reading the webhook secret {}", p.display()))?;
            while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
                b.pop();
            }
            anyhow::ensure!(
                b.len() >= 16,
                "webhook secret {}: {} bytes, at least 16 needed",
                p.display(),
                b.len()
            );
            Some(Secret(b))
        }
        None => None,
    };
    let mut cfg = ServeConfig::new(a.data_dir.clone());
    cfg.bind = a.bind;
    cfg.sinks = Sinks {
        webhook: a.webhook.clone(),
        webhook_secret,
        file: a.alerts_file.clone(),
        syslog: a.syslog.clone(),
        ca_file: a.sink_ca_file.clone(),
        timeout: None,
    };
    cfg.timeouts.header_read = std::time::Duration::from_secs(a.header_timeout.max(1));
    cfg.timeouts.body_read = std::time::Duration::from_secs(a.body_timeout.max(1));
    cfg.service.fusion.threshold = a.threshold;
    cfg.service.rate_per_key = a.rate;
    cfg.service.idle_evict = std::time::Duration::from_secs(a.session_idle_secs.max(1));
    cfg.enrolment_samples = a.enrol;
    cfg.engines = a.engines.clone();
    // Logs go to standard error through a lossy queue: a full or closed stderr drops lines, never stalls
    // or stops the server.
    let (writer, _flush) = tracing_appender::non_blocking(std::io::stderr());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(false);
    let _ = if a.log_format == "json" {
        fmt.json().try_init()
    } else {
        fmt.try_init()
    };
    cfg.cors_origins = a.cors_origins.clone();
    cfg.try_page = a.try_page;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let running = keyprint_server::start(&cfg).await?;
        if let Some(t) = &a.init_tenant {
            // Mint an admin key only for a tenant that does not exist yet: restarting with the same flags must
            // not leave a trail of valid admin keys in service logs.
            let exists = running.service.with_store(|st| st.tenant(t))?.is_some();
            if exists {
                say!("tenant {t} exists: no new key (an admin key can create more: POST /v1/keys)");
            } else {
                let k = running.service.create_key(t, Role::Admin)?;
                say!("tenant {t}: admin key {} (shown once)", k.token);
            }
        }
        tracing::info!(url = %running.url(), data = %a.data_dir.display(), sinks = ?cfg.sinks.names(), "serving");
        say!(
            "keyprint serving on {} (data {}, sinks: {}); OpenAPI at {}/openapi.json",
            running.url(),
            a.data_dir.display(),
            cfg.sinks.names().join(","),
            running.url()
        );
        if a.try_page {
            println!(
                "try it yourself: {}/try (demo tenant {:?}; enrolment {} typings of the phrase)",
                running.url(),
                keyprint_server::try_page::TENANT,
                a.enrol
            );
        }
        tokio::signal::ctrl_c().await?;
        running.stop();
        Ok(())
    })
}

/// Flags of `keyprint demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Directory for the database and `alerts.jsonl` (default: a fresh temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also deliver alerts to this webhook.
    #[arg(long)]
    pub webhook: Option<String>,
    /// Also deliver alerts to this syslog collector (UDP).
    #[arg(long)]
    pub syslog: Option<SocketAddr>,
    /// Engines to run (fixed-text, free-text, injection, mouse). Default: all but free text for the bundled
    /// sessions — one fixed phrase, which a free-text comparison cannot judge; free text is added for the
    /// Aalto section (tenant `aalto`) when `KEYPRINT_DATASETS` holds `aalto-keystrokes-dev`.
    #[arg(long, value_delimiter = ',', default_value = DEMO_ENGINES_ARG)]
    pub engines: Vec<String>,
}

/// The demo's default engines, as typed: every default engine but free text (added when the Aalto
/// free-text section runs).
const DEMO_ENGINES_ARG: &str = "fixed-text,injection,mouse";

/// `keyprint demo`.
pub fn demo(a: &DemoArgs) -> anyhow::Result<()> {
    let aalto = match keyprint_server::demo::aalto_dir() {
        Ok(d) => Some(d),
        Err(skipped) => {
            println!("{skipped}");
            None
        }
    };
    let tmp;
    let dir = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(keyprint_server::demo::run(
        &dir,
        a.webhook.clone(),
        a.syslog,
        &a.engines,
        aalto.as_deref(),
    ))?;
    Ok(())
}

/// Connection flags of the analyst views.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// Server base URL.
    #[arg(long, env = "KEYPRINT_URL", default_value = "http://127.0.0.1:7878")]
    pub url: String,
    /// API token (role read or admin).
    #[arg(long, env = "KEYPRINT_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print the raw JSON.
    #[arg(long)]
    pub json: bool,
}

fn get(a: &ApiArgs, path: &str) -> anyhow::Result<serde_json::Value> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", a.url.trim_end_matches('/')))
            .bearer_auth(&a.token)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = r.status();
        let body = r.bytes().await?;
        anyhow::ensure!(
            status.is_success(),
            "{status}: {}",
            String::from_utf8_lossy(&body)
        );
        Ok(serde_json::from_slice(&body)?)
    })
}

/// Paging flags of the list commands (`alerts`, `sessions`, `users`, `devices list`).
#[derive(Args, Debug, Default)]
pub struct PageArgs {
    /// Print one page of at most this many rows (1 to 1000) and the cursor of the next; without `--limit`
    /// and `--cursor` every page is fetched and printed.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Print the page after this cursor (the `next cursor` an earlier page printed).
    #[arg(long)]
    pub cursor: Option<String>,
}

/// Gets a list endpoint's rows: one page when `p` names a limit or a cursor, else every page (following
/// `next_cursor`, 1,000 rows a request). Returns the rows and the cursor after the last one fetched (`None`
/// when no rows follow).
pub(crate) fn get_list(
    a: &ApiArgs,
    path: &str,
    p: &PageArgs,
) -> anyhow::Result<(Vec<serde_json::Value>, Option<String>)> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let one = p.limit.is_some() || p.cursor.is_some();
    let limit = p.limit.unwrap_or(keyprint_wire::MAX_PAGE_LIMIT);
    let (mut rows, mut cursor) = (Vec::new(), p.cursor.clone());
    loop {
        let mut q = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={}", enc(c)));
        }
        let page: keyprint_wire::Page<serde_json::Value> = serde_json::from_value(get(a, &q)?)?;
        rows.extend(page.items);
        if one || page.next_cursor.is_none() {
            return Ok((rows, page.next_cursor));
        }
        cursor = page.next_cursor;
    }
}

/// Prints a list in the API's page shape (`--json`).
pub(crate) fn print_page_json(
    rows: &[serde_json::Value],
    next: &Option<String>,
) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({"items": rows, "next_cursor": next}))?
    );
    Ok(())
}

/// Prints the next page's cursor, if any.
pub(crate) fn print_next(next: &Option<String>) {
    if let Some(c) = next {
        println!("next cursor: {c}");
    }
}

/// Percent-encodes an id for a URL path segment or query value (every byte but ASCII letters and digits), so
/// ids holding `/`, `&`, `%`, spaces or any other byte reach the server as they are.
pub(crate) fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Flags of `keyprint alerts`.
#[derive(Args, Debug)]
pub struct AlertsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Only alerts with a larger id.
    #[arg(long, default_value_t = 0)]
    after: i64,
    /// Only this user's alerts.
    #[arg(long)]
    user: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

/// `keyprint alerts`.
pub fn alerts(a: &AlertsArgs) -> anyhow::Result<()> {
    let mut path = format!("/v1/alerts?after={}", a.after);
    if let Some(u) = &a.user {
        path.push_str(&format!("&user={}", enc(u)));
    }
    let (rows, next) = get_list(&a.api, &path, &a.page)?;
    if a.api.json {
        return print_page_json(&rows, &next);
    }
    let list: Vec<Alert> = serde_json::from_value(serde_json::Value::Array(rows))?;
    println!(
        "{:>5}  {:<24}  {:<12} {:<18} {:>6}  reasons",
        "id", "at (UTC)", "user", "session", "trust"
    );
    for x in list {
        let reasons: Vec<String> = x
            .reasons
            .iter()
            .map(|r| format!("{}({:.1})", api_name(&r.code), r.evidence))
            .collect();
        println!(
            "{:>5}  {:<24}  {:<12} {:<18} {:>6.1}  {}",
            x.id,
            keyprint_server::outbox::rfc3339_ms(x.at_ms),
            x.user,
            x.session,
            x.trust,
            reasons.join(", ")
        );
    }
    print_next(&next);
    Ok(())
}

/// Flags of `keyprint sessions`.
#[derive(Args, Debug)]
pub struct SessionsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Only this user's sessions.
    #[arg(long)]
    user: Option<String>,
    /// Show one session with its trust history.
    #[arg(long)]
    session: Option<String>,
    #[command(flatten)]
    page: PageArgs,
}

/// `keyprint sessions`.
pub fn sessions(a: &SessionsArgs) -> anyhow::Result<()> {
    if let Some(s) = &a.session {
        let v = get(&a.api, &format!("/v1/sessions/{}", enc(s)))?;
        if a.api.json {
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        let d: SessionDetail = serde_json::from_value(v)?;
        println!(
            "{} (user {}): {} records, {} batches, trust {:.1} ({}, confidence {:.2})",
            d.info.session,
            d.info.user,
            d.info.records,
            d.info.batches,
            d.info.trust.trust,
            api_name(&d.info.trust.state),
            d.info.trust.confidence
        );
        for p in d.history {
            println!(
                "  batch {:>5}  {}  trust {:>6.1}  conf {:.2}  {}",
                p.batch_seq,
                keyprint_server::outbox::rfc3339_ms(p.at_ms),
                p.trust,
                p.confidence,
                p.reasons.iter().map(api_name).collect::<Vec<_>>().join(",")
            );
        }
        return Ok(());
    }
    let path = match &a.user {
        Some(u) => format!("/v1/sessions?user={}", enc(u)),
        None => "/v1/sessions".into(),
    };
    let (rows, next) = get_list(&a.api, &path, &a.page)?;
    if a.api.json {
        return print_page_json(&rows, &next);
    }
    let list: Vec<SessionInfo> = serde_json::from_value(serde_json::Value::Array(rows))?;
    println!(
        "{:<18} {:<12} {:>7} {:>6} {:>6} {:>5}  state / reasons",
        "session", "user", "records", "trust", "conf", "alrt"
    );
    for s in list {
        let reasons: Vec<String> = s.trust.reasons.iter().map(|r| api_name(&r.code)).collect();
        println!(
            "{:<18} {:<12} {:>7} {:>6.1} {:>6.2} {:>5}  {} {}",
            s.session,
            s.user,
            s.records,
            s.trust.trust,
            s.trust.confidence,
            s.alerts,
            api_name(&s.trust.state),
            reasons.join(",")
        );
    }
    print_next(&next);
    Ok(())
}

/// Flags of `keyprint users`.
#[derive(Args, Debug)]
pub struct UsersArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    page: PageArgs,
}

/// `keyprint users`.
pub fn users(a: &UsersArgs) -> anyhow::Result<()> {
    let (rows, next) = get_list(&a.api, "/v1/users", &a.page)?;
    if a.api.json {
        return print_page_json(&rows, &next);
    }
    let list: Vec<UserInfo> = serde_json::from_value(serde_json::Value::Array(rows))?;
    println!(
        "{:<14} {:>8} {:>6}  engines (samples, enrolled, updates)",
        "user", "sessions", "alerts"
    );
    for u in list {
        let e: Vec<String> = u
            .engines
            .iter()
            .map(|e| {
                format!(
                    "{}: {} samples, {}, {} updates",
                    e.engine,
                    e.samples,
                    match (&e.held, e.enrolled) {
                        (Some(_), _) => "HELD for review",
                        (None, true) => "enrolled",
                        (None, false) => "enrolling",
                    },
                    e.updates
                )
            })
            .collect();
        println!(
            "{:<14} {:>8} {:>6}  {}",
            u.user,
            u.sessions,
            u.alerts,
            e.join("; ")
        );
    }
    print_next(&next);
    Ok(())
}

/// Flags of `keyprint loadtest` (loopback only, bounded in events and time).
#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Concurrent connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Records per batch (one record per typing, window or mouse action).
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Enrolled accounts.
    #[arg(long, default_value_t = 8)]
    pub users: usize,
    /// Stop after this many records.
    #[arg(long, default_value_t = 2_000_000)]
    pub max_records: u64,
    /// Stop after this many seconds.
    #[arg(long, default_value_t = 20.0)]
    pub max_seconds: f64,
    /// Directory for the database (default: a fresh temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Reader mode: run the load twice, alone and while a reader loops over another tenant's whole users
    /// and sessions lists (`--read-users`, `--read-sessions`), and print both ingest p50/p99.
    #[arg(long)]
    pub reader: bool,
    /// Reader mode: users of the read tenant.
    #[arg(long, default_value_t = 5_000)]
    pub read_users: usize,
    /// Reader mode: sessions of the read tenant.
    #[arg(long, default_value_t = 50_000)]
    pub read_sessions: usize,
    /// Instead of the load: create this many sessions in-process, then evict their idle state, printing
    /// the resident set size before, with and after (no HTTP).
    #[arg(long)]
    pub idle_sessions: Option<usize>,
}

/// `keyprint loadtest`.
pub fn loadtest(a: &LoadArgs) -> anyhow::Result<()> {
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    if let Some(n) = a.idle_sessions {
        let r = keyprint_server::idle_bench::run(&dir, n)?;
        let mib = |k: u64| k as f64 / 1024.0;
        println!(
            "idle state: {} sessions of {} users (one batch each, created in {:.1} s), SQLite WAL synchronous=FULL",
            r.sessions, r.users, r.create_seconds
        );
        println!(
            "  RSS before: {:.1} MiB; with every session in memory: {:.1} MiB (+{:.0} bytes/session); after evicting {} sessions and {} users: {:.1} MiB",
            mib(r.rss_start_kib),
            mib(r.rss_created_kib),
            r.rss_created_kib.saturating_sub(r.rss_start_kib) as f64 * 1024.0
                / r.sessions.max(1) as f64,
            r.evicted.sessions,
            r.evicted.users,
            mib(r.rss_evicted_kib)
        );
        println!(
            "  a second batch to an evicted session (state rebuilt from storage): {:.2} ms mean over {}",
            r.resume_ms,
            r.sessions.min(1000)
        );
        return Ok(());
    }
    let lc = keyprint_server::loadtest::LoadConfig {
        connections: a.connections,
        batch: a.batch,
        users: a.users,
        max_records: a.max_records,
        max_seconds: a.max_seconds,
        read_users: if a.reader { a.read_users.max(1) } else { 0 },
        read_sessions: a.read_sessions,
    };
    let rt = tokio::runtime::Runtime::new()?;
    let r = rt.block_on(keyprint_server::loadtest::run(&dir, &lc))?;
    println!(
        "loadtest: {} connections, {} records/batch, {} enrolled users, loopback, SQLite WAL synchronous=FULL",
        a.connections, a.batch, a.users
    );
    println!(
        "  HTTP ingest: {} records in {} batches ({} typings scored) in {:.2} s = {:.0} records/s (target >= 200,000)",
        r.records, r.batches, r.samples, r.seconds, r.records_per_s
    );
    println!(
        "  ingest-to-score latency per batch: p50 {:.2} ms, p99 {:.2} ms (target < 25), max {:.2} ms",
        r.p50_ms, r.p99_ms, r.max_ms
    );
    println!(
        "  in-process, same batches: JSON parse only {:.0} records/s; service (parse+validate+score+commit) {:.0} records/s; scoring only {:.0} records/s",
        r.parse_records_per_s, r.service_records_per_s, r.score_records_per_s
    );
    if let Some(x) = &r.reader {
        println!(
            "  reader mode: tenant {:?} with {} users and {} sessions (filled in {:.1} s)",
            keyprint_server::loadtest::READ_TENANT,
            a.read_users,
            a.read_sessions.max(a.read_users),
            x.fill_seconds
        );
        println!(
            "  ingest without reader: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} batches)",
            r.p50_ms, r.p99_ms, r.max_ms, r.batches
        );
        println!(
            "  ingest with reader:    p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} batches); reader: {} walks of users+sessions ({} rows), {:.0} ms each",
            x.p50_ms, x.p99_ms, x.max_ms, x.batches, x.walks, x.rows_per_walk, x.walk_ms
        );
    }
    Ok(())
}

/// Flags of `keyprint replay-eval`.
#[derive(Args, Debug)]
pub struct ReplayEvalArgs {
    /// The CMU file (default: `$KEYPRINT_DATASETS/cmu-dsl-strongpassword/DSL-StrongPasswordData.csv`).
    #[arg(long)]
    pub cmu: Option<PathBuf>,
    /// Typings per impostor session.
    #[arg(long, default_value_t = 20)]
    pub impostor_typings: usize,
    /// Engines to run (fixed-text, free-text, injection, mouse).
    #[arg(long, value_delimiter = ',', default_value = DEFAULT_ENGINES_ARG)]
    pub engines: Vec<String>,
    /// Free text instead: Aalto sessions (`$KEYPRINT_DATASETS/aalto-keystrokes-dev`, or this folder) through
    /// the free-text engine's tenant-learned templates and the service's fusion; cold start and evasions.
    #[arg(long, num_args = 0..=1, default_missing_value = "-")]
    pub aalto: Option<PathBuf>,
    /// With `--aalto`: only the first N participants (by id). With `--balabit`: only the first N accounts
    /// (by folder name).
    #[arg(long)]
    pub subjects: Option<usize>,
    /// Mouse instead: Balabit sessions (`$KEYPRINT_DATASETS/balabit-mouse`, or this folder) through the
    /// service with engines `mouse,injection` (`--engines` is not used): training sessions enrol, every
    /// labelled test session is replayed on its account.
    #[arg(long, num_args = 0..=1, default_missing_value = "-")]
    pub balabit: Option<PathBuf>,
    /// With `--aalto`: the development protocol (halves swapped: odd positions are the tenant's population,
    /// even positions are evaluated), the only one settings may be tuned on.
    #[arg(long)]
    pub dev: bool,
    /// With `--balabit`: at most N genuine and N impostor labelled test sessions per account.
    #[arg(long)]
    pub per_user: Option<usize>,
}

fn print_stats(name: &str, s: &keyprint_server::replay_freetext::SessionStats) {
    println!(
        "  {name:<62} {:>4} / {:<4} alerted ({:>5.1}%), within 150 keys {:>5.1}%, mean keys to alert {:>6.1}, \
         alerts per 100k keys {:>7.1}, mean final trust {:>5.1}",
        s.alerted,
        s.sessions,
        100.0 * s.share(),
        100.0 * s.alerted_150 as f64 / s.sessions.max(1) as f64,
        s.mean_keys_to_alert,
        s.per_100k(),
        s.mean_final_trust
    );
}

fn replay_eval_aalto(
    dir: &std::path::Path,
    subjects: Option<usize>,
    dev: bool,
) -> anyhow::Result<()> {
    let t = std::time::Instant::now();
    let r = keyprint_server::replay_freetext::run(dir, subjects, dev)?;
    let (p, e) = if dev {
        ("odd", "even positions: DEVELOPMENT protocol")
    } else {
        ("even", "odd positions")
    };
    println!(
        "replay-eval --aalto: tenant population {} participants ({p} positions); {} evaluated owners ({e}) \
         enrol with 10 windows; genuine = own sentences 11-15, impostor = next owner's; threshold 30",
        r.population, r.owners
    );
    println!(
        "targets: impostor >= 95 % alerted within 150 keys; genuine <= 1 % sessions with a false alert, <= 0.25 false alerts per 100k keys"
    );
    print_stats("impostor sessions (ANIA = mean keys to alert)", &r.impostor);
    print_stats("genuine sessions (ANGA = mean keys to alert)", &r.genuine);
    for (n, g, m) in &r.cold {
        print_stats(&format!("cold start, {n} enrolled users: impostor"), m);
        print_stats(&format!("cold start, {n} enrolled users: genuine"), g);
    }
    for (name, s) in &r.evasions {
        print_stats(&format!("evasion: {name}"), s);
    }
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

fn replay_eval_balabit(root: &std::path::Path, a: &ReplayEvalArgs) -> anyhow::Result<()> {
    use keyprint_server::replay_balabit::MouseSessionStats;
    let dir = tempfile::tempdir()?;
    let t = std::time::Instant::now();
    let opts = keyprint_server::replay_balabit::BalabitOptions {
        users: a.subjects,
        per_user: a.per_user,
    };
    let r = keyprint_server::replay_balabit::run(root, dir.path(), &opts)?;
    println!(
        "replay-eval --balabit: {} Balabit accounts, engines [\"mouse\", \"injection\"], threshold 30; each account's \
         training sessions enrol the mouse engine (first {} actions) through edge, batcher and Service::ingest; every \
         labelled test session replayed on its account from the owner's state",
        r.users,
        keyprint_server::MOUSE_ENROLMENT_ACTIONS
    );
    println!(
        "targets: impostor sessions alerted >= 95 %; genuine sessions with a false alert <= 1 %"
    );
    let line = |name: &str, s: &MouseSessionStats, what: &str| {
        println!(
            "  {name:<19} {:>4} / {:<4} alerted ({:>5.1}%), {what} {:>6.1} mouse actions; {} actions, {} alerts \
             ({:.1} per 100k actions){}",
            s.alerted,
            s.sessions,
            100.0 * s.share(),
            s.mean_actions_to_alert,
            s.actions,
            s.alerts,
            s.per_100k(),
            if s.empty > 0 {
                format!("; {} sessions without any mouse action", s.empty)
            } else {
                String::new()
            }
        );
    };
    line("impostor sessions", &r.impostor, "ANIA");
    line("genuine sessions", &r.genuine, "ANGA");
    println!(
        "  per account (genuine alerted / sessions, impostor alerted / sessions, mouse reference samples after training):"
    );
    for ((u, g, m), refs) in r.accounts.iter().zip(&r.reference_after_training) {
        println!(
            "    {u:<7} genuine {:>3} / {:<3}  impostor {:>3} / {:<3}  reference {refs}",
            g.alerted, g.sessions, m.alerted, m.sessions
        );
    }
    println!(
        "  training sessions: {} replayed, {} mouse actions, {} after the enrolment actions with {} (false) alerts",
        r.training_sessions, r.training_actions, r.training_scored, r.training_alerts
    );
    println!(
        "  enrolments held for review: {} of {} (each approved through Service::set_enrolment, as an admin's \
         POST /v1/users/{{u}}/enrolment approve){}",
        r.held.len(),
        r.users,
        r.held
            .iter()
            .map(|(u, why)| format!("\n    {u}: {why}"))
            .collect::<String>()
    );
    if !r.not_enrolled.is_empty() {
        println!(
            "  not enrolled after training (not scored): {:?}",
            r.not_enrolled
        );
    }
    println!("  rows rejected by the reader: {}", r.rejected_rows);
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

/// The data folder of a `--flag [DIR]` option: `DIR`, or `$KEYPRINT_DATASETS/sub` for a bare flag ("-").
fn dataset_dir(p: &std::path::Path, flag: &str, sub: &str) -> anyhow::Result<PathBuf> {
    if p.as_os_str() != "-" {
        return Ok(p.to_path_buf());
    }
    Ok(keyprint_datasets::datasets_root()
        .with_context(|| format!("KEYPRINT_DATASETS unset: give --{flag} DIR"))?
        .join(sub))
}

/// `keyprint replay-eval`.
pub fn replay_eval(a: &ReplayEvalArgs) -> anyhow::Result<()> {
    if let Some(p) = &a.balabit {
        return replay_eval_balabit(&dataset_dir(p, "balabit", "balabit-mouse")?, a);
    }
    if let Some(p) = &a.aalto {
        return replay_eval_aalto(
            &dataset_dir(p, "aalto", "aalto-keystrokes-dev")?,
            a.subjects,
            a.dev,
        );
    }
    let path = match &a.cmu {
        Some(p) => p.clone(),
        None => keyprint_datasets::datasets_root()
            .context("KEYPRINT_DATASETS unset: give --cmu")?
            .join("cmu-dsl-strongpassword/DSL-StrongPasswordData.csv"),
    };
    let dir = tempfile::tempdir()?;
    let t = std::time::Instant::now();
    let r = keyprint_server::replay_eval::run(&path, dir.path(), a.impostor_typings, &a.engines)?;
    println!(
        "replay-eval: {} CMU accounts (12 calibration subjects excluded), enrol on session 1, engines {:?} (keystrokes only are replayed), threshold 30",
        r.subjects, a.engines
    );
    println!(
        "  impostor sessions ({} typings each): {} / {} alerted ({:.1}%), ANIA {:.2} typings",
        a.impostor_typings,
        r.impostor_alerted,
        r.impostor_sessions,
        100.0 * r.impostor_alerted as f64 / r.impostor_sessions.max(1) as f64,
        r.ania
    );
    println!(
        "  genuine sessions (sessions 2-8, 50 typings each): {} / {} with a false alert ({:.1}%), ANGA {:.1} typings among those; {} genuine typings in all",
        r.genuine_alerted,
        r.genuine_sessions,
        100.0 * r.genuine_alerted as f64 / r.genuine_sessions.max(1) as f64,
        r.anga,
        r.genuine_typings
    );
    println!(
        "  enrolments held for review: {} of {}{}",
        r.held.len(),
        r.subjects,
        r.held
            .iter()
            .map(|(u, why)| format!("\n    {u}: {why}"))
            .collect::<String>()
    );
    println!("  ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn engines_default_is_the_servers() {
        assert_eq!(
            super::DEFAULT_ENGINES_ARG,
            keyprint_server::DEFAULT_ENGINES.join(",")
        );
    }
}
