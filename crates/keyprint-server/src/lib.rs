//! # keyprint-server
//!
//! `keyprint serve`: agents and SDKs send the edge's content-free records (`keyprint-edge`: timing vectors,
//! window summaries, mouse action features, injection verdicts) over HTTP/JSON; the server keeps a
//! trust score (0–100, with confidence and named reasons) for every live session and alerts the security
//! team when it drops.
//!
//! Layers, outermost first:
//! * [`http`] — axum routes, bearer-token auth with roles, rate limits, body limits, error table;
//! * [`service`] — validation, automatic enrolment, trusted-window template updates, replay detection,
//!   scoring through the [`engine`] seam, [`calibration`] into LLRs, fusion over time ([`trust`]), alerts;
//! * [`store`] — the [`store::Storage`] trait and its SQLite implementation (atomic, durable batches and a
//!   durable alert outbox);
//! * [`outbox`] — at-least-once delivery of alerts to a (signed, [`signature`]) webhook, a JSON Lines file and
//!   syslog (RFC 5424 + CEF over TCP, TLS or UDP), each sink on its own task with its own back-off;
//! * [`ops`] — the connection loop with read and write timeouts, `/metrics` ([`metrics`]), `/readyz`, and JSON
//!   for every error answer.
//!
//! The behavioural logic is not here: engines wrap `keyprint_core` detectors (and the engine crates).
#![deny(missing_docs)]

pub mod calibration;
pub mod demo;
pub mod engine;
pub mod fuzzing;
pub mod http;
pub mod idle_bench;
pub mod loadtest;
pub mod metrics;
pub mod ops;
pub mod outbox;
pub mod population;
pub mod replay_balabit;
pub mod replay_eval;
pub mod replay_freetext;
pub mod service;
pub mod signature;
pub mod store;
pub mod trust;
pub mod try_page;

use anyhow::Context;
use calibration::{Calibration, background_scores};
use engine::{Engine, FixedTextEngine};
use keyprint_core::detector::FeatureVector;
use keyprint_core::keystroke::FixedTextLayout;
use outbox::Sinks;
use service::{Service, ServiceConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Bundled CMU excerpt used for the demo (subjects `s002`, `s003`; see `demo-data/README.md`).
pub const CMU_DEMO: &str = include_str!("../demo-data/cmu-demo.csv");
/// Bundled CMU excerpt of 12 background subjects used to calibrate the fixed-text engine.
pub const CMU_BACKGROUND: &str = include_str!("../demo-data/cmu-background.csv");

/// Samples per subject, in file order, of a CMU-format text.
///
/// # Errors
/// When the text is not CMU-format.
pub fn cmu_subjects(text: &str, name: &str) -> anyhow::Result<Vec<(String, Vec<FeatureVector>)>> {
    let loaded = keyprint_datasets::cmu::parse_cmu(text, name)?;
    anyhow::ensure!(
        loaded.report.rejected.is_empty(),
        "{name}: {} rows rejected",
        loaded.report.rejected.len()
    );
    Ok(loaded
        .data
        .subjects
        .into_iter()
        .map(|(s, v)| (s, v.into_iter().map(|x| x.features).collect()))
        .collect())
}

/// The fixed-text engine with the `keyprint` one-class detector, enrolling from `enrolment_samples`
/// typings and calibrated on the bundled background subjects (same enrolment size; genuine probes from
/// their later sessions; impostor probes the first 5 typings of each other background subject).
///
/// # Errors
/// When the bundled data cannot be read or the calibration fails.
pub fn fixed_text_engine(enrolment_samples: usize) -> anyhow::Result<FixedTextEngine> {
    let subjects: Vec<Vec<FeatureVector>> = cmu_subjects(CMU_BACKGROUND, "cmu-background.csv")?
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let n = FixedTextLayout::cmu_strong_password().keys().len();
    let det = engine::keyprint_detector(n);
    let (g, m) = background_scores(
        det.as_ref(),
        &subjects,
        enrolment_samples,
        enrolment_samples,
        5,
    );
    let cal = Calibration::fit(&g, &m, 3.0).context("fixed-text calibration failed")?;
    Ok(FixedTextEngine::new(
        Box::new(engine::keyprint_detector),
        cal,
        enrolment_samples,
    ))
}

/// Bundled Balabit Mouse Dynamics Challenge excerpts `(user, session file, CSV text)`: the demo owner
/// (`user12`), the demo impostor (`user15`) and five background users for calibration (see
/// `demo-data/README.md`).
pub const BALABIT: [(&str, &str, &str); 7] = [
    (
        "user12",
        "session_2144641057",
        include_str!("../demo-data/balabit/user12-session_2144641057.csv"),
    ),
    (
        "user15",
        "session_0205904470",
        include_str!("../demo-data/balabit/user15-session_0205904470.csv"),
    ),
    (
        "user16",
        "session_0735651357",
        include_str!("../demo-data/balabit/user16-session_0735651357.csv"),
    ),
    (
        "user21",
        "session_0347800921",
        include_str!("../demo-data/balabit/user21-session_0347800921.csv"),
    ),
    (
        "user23",
        "session_0405064924",
        include_str!("../demo-data/balabit/user23-session_0405064924.csv"),
    ),
    (
        "user29",
        "session_0595774526",
        include_str!("../demo-data/balabit/user29-session_0595774526.csv"),
    ),
    (
        "user35",
        "session_1909471574",
        include_str!("../demo-data/balabit/user35-session_1909471574.csv"),
    ),
];

/// The mouse events of a bundled Balabit excerpt.
///
/// # Errors
/// When the excerpt does not parse cleanly.
pub fn balabit_events(i: usize) -> anyhow::Result<Vec<keyprint_core::MouseEvent>> {
    let (user, session, text) = BALABIT[i];
    let loaded = keyprint_datasets::balabit::parse_session(text, session, user, session)?;
    anyhow::ensure!(
        loaded.report.rejected.is_empty(),
        "{session}: {} rows rejected",
        loaded.report.rejected.len()
    );
    Ok(loaded.data.events)
}

/// The mouse engine (keyprint-mouse segmentation, features and one-class model), enrolling from
/// `enrolment_samples` actions, calibrated on the five bundled Balabit background users: each enrolled
/// from its first `enrolment_samples` actions, genuine probes its later actions, impostor probes the first
/// 20 actions of each other background user.
///
/// # Errors
/// When the bundled data cannot be read or the calibration fails.
pub fn mouse_engine(enrolment_samples: usize) -> anyhow::Result<engine::MouseEngine> {
    let rules = keyprint_mouse::SegmentRules::default();
    let mut subjects = Vec::new();
    for i in 2..BALABIT.len() {
        let (actions, _) = keyprint_mouse::Segmenter::segment(&balabit_events(i)?, rules);
        subjects.push(
            actions
                .iter()
                .map(keyprint_mouse::action_features)
                .collect::<Vec<_>>(),
        );
    }
    let det = keyprint_mouse::MouseOneClass::default();
    let (g, m) = background_scores(&det, &subjects, enrolment_samples, enrolment_samples, 20);
    let cal = Calibration::fit_with(&g, &m, 2.0, calibration::ScoreTransform::Identity)
        .context("mouse calibration failed")?;
    Ok(engine::MouseEngine::new(cal, enrolment_samples))
}

/// DuckyScript payloads of keyprint-injection's corpus used to calibrate the injection engine (Windows,
/// macOS and Linux; see `crates/keyprint-injection/payloads/README.md`). The demo injects the first.
pub const INJECTION_PAYLOADS: [&str; 6] = [
    include_str!("../../keyprint-injection/payloads/03-win-ps-download-cradle.txt"),
    include_str!("../../keyprint-injection/payloads/01-win-run-notepad.txt"),
    include_str!("../../keyprint-injection/payloads/05-win-wifi-keys.txt"),
    include_str!("../../keyprint-injection/payloads/08-win-reverse-shell.txt"),
    include_str!("../../keyprint-injection/payloads/11-mac-terminal-curl.txt"),
    include_str!("../../keyprint-injection/payloads/13-linux-terminal-ssh-key.txt"),
];

/// What the injection engine's calibration measured.
#[derive(Clone, Debug, PartialEq)]
pub struct InjectionCalibration {
    /// Payload renderings detected / rendered.
    pub detected: (usize, usize),
    /// Human typing runs falsely flagged / run.
    pub false_alarms: (usize, usize),
    /// LLR assigned to a verdict (negative).
    pub llr: f64,
}

/// The injection engine with its verdict calibrated at start-up: every payload of
/// [`INJECTION_PAYLOADS`] is rendered by keyprint-injection's interpreter under stock and jittered
/// (`$_JITTER_MAX` 20 ms) device timing with 10 seeds each (detection rate `TPR`), and the bundled CMU
/// background subjects' typings are replayed in runs of 10 typings (false-alarm rate; when no run alarms,
/// the rule-of-three 95 % upper bound `3/n`, Hanley & Lippman-Hand 1983, is used). A verdict's LLR is
/// `−ln(TPR / FPR)`. Humanised injection (human-sampled timing) is not in the TPR: the detector's
/// timing rules are not meant to catch it.
///
/// # Errors
/// When a payload does not parse or the bundled data cannot be read.
pub fn injection_engine() -> anyhow::Result<(engine::InjectionEngine, InjectionCalibration)> {
    use keyprint_injection::{InjectionConfig, InjectionDetector, StreamDetector, ducky, timing};
    let cfg = InjectionConfig::default();
    let fires = |events: &[keyprint_core::KeyEvent]| {
        let mut d = InjectionDetector::new(cfg.clone(), None);
        events.iter().any(|e| d.observe(e).is_some())
    };
    let (mut hit, mut total) = (0, 0);
    for p in INJECTION_PAYLOADS {
        let script = ducky::parse(p).map_err(|e| anyhow::anyhow!("payload: {e:?}"))?;
        for t in [timing::Timing::Stock, timing::Timing::Jitter { max_ms: 20 }] {
            for seed in 0..10 {
                total += 1;
                hit += usize::from(fires(&timing::render(&script, t, seed)));
            }
        }
    }
    let layout = FixedTextLayout::cmu_strong_password();
    let (mut fa, mut runs) = (0, 0);
    for (_, typings) in cmu_subjects(CMU_BACKGROUND, "cmu-background.csv")? {
        for chunk in typings.chunks(10) {
            let ev: Vec<keyprint_core::KeyEvent> =
                demo::typings_to_events(&layout, chunk, 0, 1_500_000)
                    .into_iter()
                    .flatten()
                    .collect();
            runs += 1;
            fa += usize::from(fires(&ev));
        }
    }
    let tpr = (hit as f64 / total as f64).max(1e-3);
    let fpr = (fa.max(3) as f64 / runs as f64).min(1.0);
    let llr = -(tpr / fpr).ln().max(0.0);
    let cal = Calibration {
        a: llr,
        b: 0.0,
        transform: calibration::ScoreTransform::Identity,
        clip: llr.abs(),
        genuine_n: runs,
        impostor_n: total,
        eer: f64::NAN,
    };
    Ok((
        engine::InjectionEngine::new(cal),
        InjectionCalibration {
            detected: (hit, total),
            false_alarms: (fa, runs),
            llr,
        },
    ))
}

/// Free-text window, keystrokes.
pub const FREETEXT_WINDOW_KEYS: usize = 50;
/// Free-text enrolment size, windows.
pub const FREETEXT_ENROLMENT_WINDOWS: usize = 10;

/// The free-text engine (keyprint-freetext's summary model) over the edge's window summaries of
/// [`FREETEXT_WINDOW_KEYS`] keystrokes, enrolling from [`FREETEXT_ENROLMENT_WINDOWS`] windows. Nothing is
/// bundled: each tenant's population, normalisation and calibration are learned from its own enrolled
/// users ([`population`]), with a population-free cold start below
/// [`PopulationSettings::min_users`](population::PopulationSettings::min_users).
pub fn freetext_engine() -> engine::FreeTextEngine {
    engine::FreeTextEngine::new(
        population::PopulationSettings::default(),
        FREETEXT_ENROLMENT_WINDOWS,
    )
}

/// Mouse enrolment size, actions.
pub const MOUSE_ENROLMENT_ACTIONS: usize = 150;

/// Names of the engines [`build_engines`] knows, in fusion order.
pub const ENGINES: [&str; 4] = ["fixed-text", "free-text", "injection", "mouse"];

/// The engines on by default: all of them — fixed text (keyprint-core), free text (keyprint-freetext, its
/// population learned from the tenant's own users), injection (keyprint-injection) and mouse
/// (keyprint-mouse).
pub const DEFAULT_ENGINES: [&str; 4] = ["fixed-text", "free-text", "injection", "mouse"];

/// Builds the named engines (see [`ENGINES`]), in [`ENGINES`] order.
///
/// # Errors
/// An unknown name, or an engine that cannot be built.
pub fn build_engines(
    names: &[String],
    enrolment_samples: usize,
) -> anyhow::Result<Vec<Arc<dyn Engine>>> {
    for n in names {
        anyhow::ensure!(
            ENGINES.contains(&n.as_str()),
            "unknown engine {n:?}; known: {ENGINES:?}"
        );
    }
    let mut out: Vec<Arc<dyn Engine>> = Vec::new();
    for e in ENGINES {
        if !names.iter().any(|n| n == e) {
            continue;
        }
        out.push(match e {
            "fixed-text" => Arc::new(fixed_text_engine(enrolment_samples)?),
            "free-text" => Arc::new(freetext_engine()),
            "injection" => Arc::new(injection_engine()?.0),
            _ => Arc::new(mouse_engine(MOUSE_ENROLMENT_ACTIONS)?),
        });
    }
    Ok(out)
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Directory of the SQLite database (`keyprint.db`).
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Alert sinks.
    pub sinks: Sinks,
    /// Service settings (fusion, rate limits …); `sinks` there is filled from [`ServeConfig::sinks`].
    pub service: ServiceConfig,
    /// Fixed-text enrolment size (typings).
    pub enrolment_samples: usize,
    /// Engines to run (names from [`ENGINES`]).
    pub engines: Vec<String>,
    /// Connection and request timeouts.
    pub timeouts: ops::Timeouts,
    /// Origins whose pages may post records (CORS on `POST /v1/records`; see [`http::cors`]).
    pub cors_origins: Vec<String>,
    /// Serve the demo page at `/try` and act as its backend for the demo tenant (see [`try_page`]).
    pub try_page: bool,
}

impl ServeConfig {
    /// Defaults: `127.0.0.1:7878`, no sinks, 50 enrolment typings, [`DEFAULT_ENGINES`].
    pub fn new(data_dir: PathBuf) -> Self {
        ServeConfig {
            data_dir,
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            sinks: Sinks::default(),
            service: ServiceConfig::default(),
            enrolment_samples: 50,
            engines: DEFAULT_ENGINES.iter().map(|s| s.to_string()).collect(),
            timeouts: ops::Timeouts::default(),
            cors_origins: Vec::new(),
            try_page: false,
        }
    }

    /// Checks the settings before anything starts.
    ///
    /// # Errors
    /// A threshold outside [0, 100], a request rate that is not a positive finite number, fewer than 2
    /// enrolment samples, a webhook that is not an `http(s)://` URL, an alerts file that names a folder, a CA
    /// file that holds no certificate, or an unknown engine name. (A missing folder of the alerts file is
    /// created at start.)
    pub fn validate(&self) -> anyhow::Result<()> {
        let t = self.service.fusion.threshold;
        anyhow::ensure!(
            (0.0..=100.0).contains(&t),
            "threshold {t}: must be a number from 0 to 100"
        );
        let r = self.service.rate_per_key;
        anyhow::ensure!(
            r.is_finite() && r > 0.0,
            "rate {r}: must be a positive number of requests/s"
        );
        anyhow::ensure!(
            self.enrolment_samples >= 2,
            "enrolment size {}: at least 2 samples",
            self.enrolment_samples
        );
        if let Some(w) = &self.sinks.webhook {
            let ok = reqwest::Url::parse(w)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
            anyhow::ensure!(ok, "webhook {w:?}: not an http(s) URL");
        }
        if let Some(f) = &self.sinks.file {
            anyhow::ensure!(
                !f.is_dir() && f.file_name().is_some(),
                "alerts file {}: is a folder, expected a file path",
                f.display()
            );
        }
        outbox::check(&self.sinks).map_err(|e| anyhow::anyhow!("alert sinks: {e}"))?;
        if let Some(e) = self.engines.iter().find(|e| !ENGINES.contains(&e.as_str())) {
            anyhow::bail!("engine {e:?}: expected one of {}", ENGINES.join(", "));
        }
        http::cors(&self.cors_origins)?;
        Ok(())
    }
}

/// Opens the database and builds the service.
///
/// # Errors
/// When the directory or database cannot be opened, or an engine cannot be built.
pub fn open_service(cfg: &ServeConfig) -> anyhow::Result<Arc<Service>> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let store = store::SqliteStore::open(&cfg.data_dir.join("keyprint.db"))?;
    let mut sc = cfg.service.clone();
    sc.sinks = cfg.sinks.names();
    Ok(Arc::new(Service::new(
        Box::new(store),
        build_engines(&cfg.engines, cfg.enrolment_samples)?,
        sc,
    )))
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The service behind it.
    pub service: Arc<Service>,
    /// Its metrics (also at `GET /metrics`).
    pub metrics: Arc<metrics::Metrics>,
    server: tokio::task::JoinHandle<()>,
    dispatcher: tokio::task::JoinHandle<()>,
    /// The background tasks (outbox, retention, idle sweep), stopped with the server.
    background: Vec<tokio::task::AbortHandle>,
}

impl Running {
    /// Base URL, e.g. `http://127.0.0.1:7878`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving, delivering and the background tasks. The service (and with it the data directory's
    /// lock) is released when its last holder drops it.
    pub fn stop(self) {
        self.server.abort();
        self.dispatcher.abort();
        for t in &self.background {
            t.abort();
        }
    }
}

/// Starts the HTTP server and the outbox dispatcher on the current tokio runtime.
///
/// # Errors
/// When the service cannot be opened or the address bound.
pub async fn start(cfg: &ServeConfig) -> anyhow::Result<Running> {
    cfg.validate()?;
    if let Some(dir) = cfg
        .sinks
        .file
        .as_deref()
        .and_then(|f| f.parent())
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the alerts file's folder {}", dir.display()))?;
    }
    let service = open_service(cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .with_context(|| format!("binding {}", cfg.bind))?;
    let addr = listener.local_addr()?;
    let metrics = Arc::new(metrics::Metrics::new());
    let mut base = http::router_with(service.clone(), &cfg.cors_origins);
    if cfg.try_page {
        let tp = try_page::TryPage::new(service.clone())
            .map_err(|e| anyhow::anyhow!("{}", e.0.reason))?;
        base = base.merge(try_page::router(Arc::new(tp)));
    }
    let app = ops::app(
        base,
        service.clone(),
        metrics.clone(),
        cfg.sinks.names().len(),
    );
    let server = tokio::spawn(ops::serve(listener, app, cfg.timeouts));
    let outbox = tokio::spawn(outbox::run_dispatcher(
        service.clone(),
        Arc::new(cfg.sinks.clone()),
        metrics.clone(),
        Duration::from_millis(100),
    ));
    // Retention: at start, then hourly.
    let svc = service.clone();
    let retention = tokio::spawn(async move {
        loop {
            let s = svc.clone();
            let _ =
                tokio::task::spawn_blocking(move || s.enforce_retention(service::now_ms())).await;
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
    // Idle in-memory session and user state: swept every quarter of the idle time (at most every minute).
    let svc = service.clone();
    let idle = cfg.service.idle_evict;
    let sweeper = tokio::spawn(async move {
        let every = (idle / 4).clamp(Duration::from_millis(10), Duration::from_secs(60));
        loop {
            tokio::time::sleep(every).await;
            let s = svc.clone();
            if let Ok(e) = tokio::task::spawn_blocking(move || s.evict_idle(idle)).await
                && (e.sessions > 0 || e.users > 0)
            {
                tracing::debug!(
                    sessions = e.sessions,
                    users = e.users,
                    sessions_left = e.sessions_left,
                    users_left = e.users_left,
                    "idle state evicted"
                );
            }
        }
    });
    let background = vec![
        outbox.abort_handle(),
        retention.abort_handle(),
        sweeper.abort_handle(),
    ];
    let dispatcher = tokio::spawn(async move {
        let _ = tokio::join!(outbox, retention, sweeper);
    });
    Ok(Running {
        addr,
        service,
        metrics,
        server,
        dispatcher,
        background,
    })
}
