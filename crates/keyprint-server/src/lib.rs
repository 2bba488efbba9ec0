//! # keyprint-server
//!
//! `keyprint serve`: agents and SDKs stream key and mouse events in over HTTP/JSON; the server keeps a
//! trust score (0–100, with confidence and named reasons) for every live session and alerts the security
//! team when it drops.
//!
//! Layers, outermost first:
//! * [`http`] — axum routes, bearer-token auth with roles, rate limits, body limits, error table;
//! * [`service`] — validation, automatic enrolment, trusted-window template updates, replay detection,
//!   scoring through the [`engine`] seam, [`calibration`] into LLRs, fusion over time ([`trust`]), alerts;
//! * [`store`] — the [`store::Storage`] trait and its SQLite implementation (atomic, durable batches and a
//!   durable alert outbox);
//! * [`outbox`] — at-least-once delivery of alerts to a webhook, a JSON Lines file and syslog (RFC 5424 + CEF).
//!
//! The behavioural logic is not here: engines wrap `keyprint_core` detectors (and the engine crates).
#![deny(missing_docs)]

pub mod calibration;
pub mod demo;
pub mod engine;
pub mod http;
pub mod loadtest;
pub mod outbox;
pub mod service;
pub mod store;
pub mod trust;

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

/// The engines the server runs, in order. Engines whose crates have not landed are absent.
///
/// # Errors
/// When an engine cannot be built.
pub fn default_engines(enrolment_samples: usize) -> anyhow::Result<Vec<Arc<dyn Engine>>> {
    Ok(vec![Arc::new(fixed_text_engine(enrolment_samples)?)])
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
}

impl ServeConfig {
    /// Defaults: `127.0.0.1:7878`, no sinks, 50 enrolment typings.
    pub fn new(data_dir: PathBuf) -> Self {
        ServeConfig {
            data_dir,
            bind: SocketAddr::from(([127, 0, 0, 1], 7878)),
            sinks: Sinks::default(),
            service: ServiceConfig::default(),
            enrolment_samples: 50,
        }
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
        default_engines(cfg.enrolment_samples)?,
        sc,
    )))
}

/// A running server.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The service behind it.
    pub service: Arc<Service>,
    server: tokio::task::JoinHandle<()>,
    dispatcher: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Base URL, e.g. `http://127.0.0.1:7878`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and delivering.
    pub fn stop(self) {
        self.server.abort();
        self.dispatcher.abort();
    }
}

/// Starts the HTTP server and the outbox dispatcher on the current tokio runtime.
///
/// # Errors
/// When the service cannot be opened or the address bound.
pub async fn start(cfg: &ServeConfig) -> anyhow::Result<Running> {
    let service = open_service(cfg)?;
    let listener = tokio::net::TcpListener::bind(cfg.bind)
        .await
        .with_context(|| format!("binding {}", cfg.bind))?;
    let addr = listener.local_addr()?;
    let app = http::router(service.clone());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let dispatcher = tokio::spawn(outbox::run_dispatcher(
        service.clone(),
        Arc::new(cfg.sinks.clone()),
        Duration::from_millis(100),
    ));
    Ok(Running {
        addr,
        service,
        server,
        dispatcher,
    })
}
