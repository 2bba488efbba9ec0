//! The service logic, independent of HTTP: validation, enrolment, scoring, fusion, alerts, storage.
//!
//! ## Enrolment policy (automatic)
//! For each per-user engine, a user's first [`Engine::enrolment_samples`] samples — in arrival order, from
//! the user's first session(s) — form the reference; the engine's template is fitted when the count is
//! reached and later samples are scored. While a user has no template the session's state is `enrolling`
//! (trust stays at the prior, confidence 0). An admin can restart enrolment by purging the user.
//!
//! ## Template updates from trusted windows only
//! After enrolment a scored sample is appended to the reference only when (a) its own LLR is positive
//! (it looks like the owner) and (b) the session's fused trust after it is at least
//! [`ServiceConfig::update_trust`]; the template is refitted every [`ServiceConfig::refit_every`] such
//! samples, keeping the newest [`ServiceConfig::reference_keep`]. Samples of a session under an impostor
//! drive trust down, so they never qualify and cannot poison the profile.
//!
//! ## Replay
//! Every sample's SHA-256 digest (over the engine name and the exact timing values) is kept per user; a
//! sample identical to one seen before is not scored but adds `−replay_llr` evidence with reason `replay`
//! (two human typings never agree to the microsecond on every timing). A sample within
//! [`NEAR_DUPLICATE_SD`] of the owner's per-feature spread of one of the user's stored reference samples on
//! every feature ([`near_duplicate`]) is a replay with jitter and is treated the same way.
//!
//! ## Atomicity
//! A batch is validated whole before anything changes; scoring then runs on copies of the session row, and
//! [`Storage::commit_batch`] applies everything in one transaction. If the commit fails, the in-memory
//! engine buffers and user models touched are dropped and reloaded from storage, so memory never runs ahead
//! of what is stored. After a restart, engine buffers start empty (a typing split across the crash is lost;
//! its records are stored).
//!
//! ## What arrives
//! Only the edge's content-free records (`keyprint_edge::Record`, wire form `keyprint_wire::WireRecord`):
//! every record is checked against the specification (`keyprint_edge::spec`) before anything changes.

mod identity;
pub use identity::{BROWSER_TTL_S, MAX_DEVICE_USERS, Principal, REGISTRATION_TTL_MS};

use crate::engine::{Engine, EngineSession, PhraseSetting, TenantSettings};
use crate::store::{
    BatchCommit, EnrolmentAction, NewAlert, Reads, ReferenceChange, SessionKey, SessionRow,
    Storage, StoreError, UserRow,
};
use crate::trust::{Crossing, Fusion, FusionParams};
use keyprint_core::detector::{FeatureVector, Template};
use keyprint_edge::Record;
use keyprint_wire::{
    Alert, EngineEnrolment, ErrorBody, ErrorCode, FixedTextPhrase, IngestAck, IngestBatch, Page,
    Purged, ReasonCode, Role, SessionDetail, SessionInfo, TrustPoint, UserInfo,
};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Longest accepted gap between consecutive records of a session's stream, µs (24 h).
pub const MAX_GAP_US: i64 = 86_400_000_000;
/// Longest id (user, session, device), bytes.
pub const MAX_ID_LEN: usize = 128;

/// An API error: code (→ HTTP status via [`ErrorCode::status`]), reason and field.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    /// An error without a field.
    pub fn new(code: ErrorCode, reason: impl Into<String>) -> Self {
        ApiError(ErrorBody {
            code,
            reason: reason.into(),
            field: None,
        })
    }
    /// An error blaming `field`.
    pub fn field(code: ErrorCode, field: impl Into<String>, reason: impl Into<String>) -> Self {
        ApiError(ErrorBody {
            code,
            reason: reason.into(),
            field: Some(field.into()),
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.0.code, self.0.reason)?;
        if let Some(field) = &self.0.field {
            write!(f, " (field `{field}`)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::new(ErrorCode::Storage, e.0)
    }
}

/// Service settings.
#[derive(Clone, Debug)]
pub struct ServiceConfig {
    /// Fusion and alert parameters.
    pub fusion: FusionParams,
    /// Alert sinks each alert is queued for (`webhook`, `file`, `syslog`).
    pub sinks: Vec<String>,
    /// Reference samples kept per user and engine.
    pub reference_keep: usize,
    /// Session trust needed for a sample to update the template.
    pub update_trust: f64,
    /// Refit the template after this many updates.
    pub refit_every: usize,
    /// Evidence (LLR magnitude) of one replayed sample.
    pub replay_llr: f64,
    /// Requests per second allowed per API key (token bucket, burst = 2 s worth).
    pub rate_per_key: f64,
    /// In-memory state of a session (and of a user) unused for this long is dropped by
    /// [`Service::evict_idle`] and rebuilt from storage when the session returns.
    pub idle_evict: Duration,
}

/// Default of [`ServiceConfig::idle_evict`]: 30 minutes.
pub const DEFAULT_IDLE_EVICT: Duration = Duration::from_secs(30 * 60);

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            fusion: FusionParams::default(),
            sinks: Vec::new(),
            reference_keep: 200,
            update_trust: 80.0,
            refit_every: 10,
            replay_llr: 4.0,
            rate_per_key: 2_000.0,
            idle_evict: DEFAULT_IDLE_EVICT,
        }
    }
}

struct UserModel {
    samples: Vec<FeatureVector>,
    template: Option<Box<dyn Template<FeatureVector>>>,
    /// The engine's humanized-timing check learned with the template ([`Engine::fit_humanized`]).
    humanized: Option<Box<dyn Template<FeatureVector>>>,
    enrolled: bool,
    /// Why the enrolment is held for review (the template is not used while held).
    held: Option<String>,
    since_refit: usize,
}

struct UserRt {
    /// One per engine (index as in `Service::engines`); `None` until loaded.
    models: Vec<Option<UserModel>>,
    /// Trust across the user's sessions and devices; `None` until loaded.
    fusion: Option<Fusion>,
    /// Digests of every sample seen for the user (replay detection); `None` until loaded.
    digests: Option<HashSet<[u8; 32]>>,
    /// Last ingest that used this state.
    last_used: Instant,
}

impl UserRt {
    /// True when dropping this state and reloading it from storage gives the same state: every loaded
    /// template is the fit of the stored samples (no trusted-window update since the last refit; the
    /// in-memory template of such a user is older than its stored samples and is kept until the next refit).
    fn reloadable(&self) -> bool {
        self.models
            .iter()
            .flatten()
            .all(|m| m.since_refit == 0 || m.template.is_none())
    }
}

struct SessionRt {
    row: Option<SessionRow>,
    engines: Vec<Option<Box<dyn EngineSession>>>,
    started: bool,
    /// Last ingest that used this state.
    last_used: Instant,
}

/// What one [`Service::evict_idle`] pass dropped from memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evicted {
    /// Session states dropped.
    pub sessions: usize,
    /// User states dropped.
    pub users: usize,
    /// Session states still in memory.
    pub sessions_left: usize,
    /// User states still in memory.
    pub users_left: usize,
}

/// Hex of `kind` and `parts` joined by U+001F (a control character, which no id may hold).
fn encode_cursor(kind: &str, parts: &[&str]) -> String {
    let mut raw = String::from(kind);
    for p in parts {
        raw.push('\u{1f}');
        raw.push_str(p);
    }
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The parts of a cursor of `kind` made by [`encode_cursor`] with `n` parts.
fn decode_cursor(kind: &str, cursor: &str, n: usize) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::field(
            ErrorCode::InvalidField,
            "cursor",
            "not a cursor of this list (use the next_cursor of an earlier page)",
        )
    };
    if !cursor.len().is_multiple_of(2) || cursor.len() > 2048 {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let raw = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut it = raw.split('\u{1f}');
    if it.next() != Some(kind) {
        return Err(bad());
    }
    let parts: Vec<String> = it.map(String::from).collect();
    if parts.len() != n {
        return Err(bad());
    }
    Ok(parts)
}

/// A page request of a list endpoint: up to `limit` rows after `cursor` (a `next_cursor` of the same list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows wanted, 1 to [`keyprint_wire::MAX_PAGE_LIMIT`].
    pub limit: usize,
    /// Where the previous page ended; `None` for the first page.
    pub cursor: Option<String>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: keyprint_wire::DEFAULT_PAGE_LIMIT,
            cursor: None,
        }
    }
}

impl PageRequest {
    /// The largest page ([`keyprint_wire::MAX_PAGE_LIMIT`] rows) from the start.
    pub fn max() -> Self {
        PageRequest {
            limit: keyprint_wire::MAX_PAGE_LIMIT,
            cursor: None,
        }
    }

    /// Checks the raw `?limit=` and `?cursor=` values (the cursor's content is checked by the list).
    ///
    /// # Errors
    /// `invalid_field` naming `limit` for a value that is not an integer from 1 to
    /// [`keyprint_wire::MAX_PAGE_LIMIT`]; naming `cursor` for an empty cursor.
    pub fn parse(limit: Option<&str>, cursor: Option<String>) -> Result<Self, ApiError> {
        let max = keyprint_wire::MAX_PAGE_LIMIT;
        let limit = match limit {
            None => keyprint_wire::DEFAULT_PAGE_LIMIT,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => n,
                _ => {
                    return Err(ApiError::field(
                        ErrorCode::InvalidField,
                        "limit",
                        format!("must be an integer from 1 to {max}, got {v:?}"),
                    ));
                }
            },
        };
        if cursor.as_deref() == Some("") {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "cursor",
                "empty cursor (omit it for the first page)",
            ));
        }
        Ok(PageRequest { limit, cursor })
    }
}

/// Cuts `rows` (fetched with one more than `limit`) into a page whose `next_cursor` is made from the last
/// row kept when more rows follow.
fn page_of<R, T>(
    mut rows: Vec<R>,
    limit: usize,
    cursor: impl Fn(&R) -> String,
    item: impl FnMut(R) -> T,
) -> Page<T> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more { rows.last().map(&cursor) } else { None };
    Page {
        items: rows.into_iter().map(item).collect(),
        next_cursor,
    }
}

#[derive(Default)]
struct TenantRt {
    settings: RwLock<TenantSettings>,
    sessions: Mutex<HashMap<String, Arc<Mutex<SessionRt>>>>,
    users: Mutex<HashMap<String, Arc<Mutex<UserRt>>>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// True for characters an id may not hold: controls (Unicode Cc), bidirectional marks and overrides
/// (U+061C, U+200E–U+200F, U+202A–U+202E, U+2066–U+2069), zero-width and invisible formatting characters
/// (U+00AD, U+180E, U+200B–U+200D, U+2060–U+2064, U+FEFF) and line/paragraph separators (U+2028, U+2029).
pub fn unsafe_id_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// A sample is a near-duplicate of a stored one when, on every feature, they differ by at most this many of
/// the owner's per-feature standard deviations (over the stored samples). On the whole CMU benchmark (51
/// subjects × 400 typings, ~4 M genuine pairs) no two typings of one person come closer than 0.44 sd on
/// every feature: 0.1 leaves a factor of 4.
pub const NEAR_DUPLICATE_SD: f64 = 0.1;
/// Stored samples needed before the near-duplicate check runs (a spread needs data).
pub const NEAR_DUPLICATE_MIN_SAMPLES: usize = 10;

/// Bound of [`near_duplicate_median`]: a window whose **median** per-entry distance to a stored one, in the
/// owner's per-entry sd, is at most this is a replay with jitter. Chosen on the development owners of
/// `keyprint replay-eval --aalto` (even positions of the first 600 participants with 15 sentences: 1,464
/// genuine 50-key windows against each owner's 10 enrolment windows; `cargo test --release -p
/// keyprint-server --lib dev_measurements -- --ignored --nocapture`). Chosen with edge vocabulary 1: the
/// closest genuine window came to 0.229 (0.1 % quantile 0.236), re-timed enrolment sentences (uniform jitter of
/// ±2 / 5 / 10 / 20 ms on every press and release) fell within the bound 100 / 97.0 / 46.4 / 4.5 % of the time.
/// Re-checked with vocabulary 2: closest genuine window 0.191 (0.1 % quantile 0.278), re-timed sentences at a
/// median of 0.025 / 0.051 / 0.112 / 0.235 and within the bound 100 / 98.0 / 57.1 / 7.0 % of the time; 0.12
/// keeps a factor 1.6 below the closest genuine window.
pub const NEAR_DUPLICATE_MEDIAN_SD: f64 = 0.12;
/// Entries a window and a stored one must share for [`near_duplicate_median`] to compare them.
pub const NEAR_DUPLICATE_MIN_SHARED: usize = 20;

/// The smallest median over shared entries of `|x_i − y_i| / sd_i` between `sample` and any of `stored`
/// when it is at most [`NEAR_DUPLICATE_MEDIAN_SD`], else `None`: the near-duplicate rule for window
/// summaries, whose entries are many and sparse (a maximum over them, as [`near_duplicate`], lets one
/// jittered rare entry hide a replay). `NaN` entries are skipped; a pair must share
/// [`NEAR_DUPLICATE_MIN_SHARED`] entries; at least [`NEAR_DUPLICATE_MIN_SAMPLES`] stored samples are needed.
pub fn near_duplicate_median(stored: &[FeatureVector], sample: &[f64]) -> Option<f64> {
    if stored.len() < NEAR_DUPLICATE_MIN_SAMPLES {
        return None;
    }
    let dim = sample.len();
    let sd = per_feature_sd(stored, dim);
    let mut best: Option<f64> = None;
    for v in stored.iter().filter(|v| v.len() == dim) {
        let mut d: Vec<f64> = (0..dim)
            .filter(|&f| {
                sample[f].is_finite() && v[f].is_finite() && sd[f].is_finite() && sd[f] > 0.0
            })
            .map(|f| (sample[f] - v[f]).abs() / sd[f])
            .collect();
        if d.len() < NEAR_DUPLICATE_MIN_SHARED {
            continue;
        }
        let mid = d.len() / 2;
        let (_, m, _) = d.select_nth_unstable_by(mid, f64::total_cmp);
        let m = *m;
        if m <= NEAR_DUPLICATE_MEDIAN_SD {
            best = Some(best.map_or(m, |b| b.min(m)));
        }
    }
    best
}

/// Per-feature sd over `stored` (`NaN` where fewer than 2 values).
pub(crate) fn per_feature_sd(stored: &[FeatureVector], dim: usize) -> Vec<f64> {
    (0..dim)
        .map(|f| {
            let xs = keyprint_core::stats::finite_column(stored, dim, f);
            if xs.len() < 2 {
                f64::NAN
            } else {
                keyprint_core::stats::mean_sd(&xs).1
            }
        })
        .collect()
}

/// The smallest `max_i |x_i − y_i| / sd_i` between `sample` and any of `stored` when it is at most
/// [`NEAR_DUPLICATE_SD`] (a replay with jitter), else `None`. `NaN` entries (absent summary entries) are
/// skipped; a pair must share at least half the features; features with no spread are skipped.
pub fn near_duplicate(stored: &[FeatureVector], sample: &[f64]) -> Option<f64> {
    if stored.len() < NEAR_DUPLICATE_MIN_SAMPLES {
        return None;
    }
    let dim = sample.len();
    let sd = per_feature_sd(stored, dim);
    let mut best: Option<f64> = None;
    for v in stored.iter().filter(|v| v.len() == dim) {
        let (mut worst, mut shared) = (0f64, 0usize);
        for f in 0..dim {
            if !(sample[f].is_finite() && v[f].is_finite() && sd[f].is_finite() && sd[f] > 0.0) {
                continue;
            }
            shared += 1;
            worst = worst.max((sample[f] - v[f]).abs() / sd[f]);
            if worst > NEAR_DUPLICATE_SD {
                break;
            }
        }
        if shared * 2 >= dim && worst <= NEAR_DUPLICATE_SD {
            best = Some(best.map_or(worst, |b| b.min(worst)));
        }
    }
    best
}

/// Checks one event time `t` against the previous event of its stream within a batch: not earlier
/// (`non_monotonic`), and no more than 24 h later (`absurd_timestamp`). `field` names the event's time field.
/// Checks an id (user, session, device): 1 to [`MAX_ID_LEN`] bytes and no [`unsafe_id_char`]. Ids end up in
/// analysts' terminals, CEF/syslog lines and file names: no control characters (escape sequences, CR/LF,
/// NUL), and no invisible or direction-changing ones that make an id read as another (bidi overrides,
/// zero-width characters, line separators).
///
/// # Errors
/// `invalid_field` naming `field`.
pub fn check_id(field: &str, v: &str) -> Result<(), ApiError> {
    if v.is_empty() || v.len() > MAX_ID_LEN {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            field,
            format!("must be 1 to {MAX_ID_LEN} bytes"),
        ));
    }
    if v.chars().any(unsafe_id_char) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            field,
            "must not contain control, invisible, bidirectional-override or line-separator characters",
        ));
    }
    Ok(())
}

/// True when the session holds owner-like evidence (positive, scored at least once) on a keystroke or
/// mouse channel — the condition for extending the user's enrolment to another engine.
fn vouched(f: &Fusion) -> bool {
    f.channels.iter().any(|(code, c)| {
        matches!(
            code,
            ReasonCode::KeystrokeMismatch | ReasonCode::MouseMismatch
        ) && c.actions >= 1
            && c.evidence > 0.0
    })
}

fn check_step(
    field: impl Fn() -> String,
    t: i64,
    prev: Option<i64>,
    what: &str,
) -> Result<(), ApiError> {
    let Some(p) = prev else { return Ok(()) };
    if t < p {
        return Err(ApiError::field(
            ErrorCode::NonMonotonic,
            field(),
            format!("{t} is earlier than the previous {what}'s {p}"),
        ));
    }
    if t - p > MAX_GAP_US {
        return Err(ApiError::field(
            ErrorCode::AbsurdTimestamp,
            field(),
            "gap longer than 24 h",
        ));
    }
    Ok(())
}

/// Takes one token from `key`'s bucket (refilled at `rate`/s, capacity `2 × rate`); false when empty.
fn take_token(buckets: &Mutex<HashMap<String, Bucket>>, key: &str, rate: f64) -> bool {
    let mut b = lock(buckets);
    let now = Instant::now();
    let e = b.entry(key.to_string()).or_insert(Bucket {
        tokens: 2.0 * rate,
        at: now,
    });
    e.tokens = (e.tokens + now.duration_since(e.at).as_secs_f64() * rate).min(2.0 * rate);
    e.at = now;
    if e.tokens < 1.0 {
        return false;
    }
    e.tokens -= 1.0;
    true
}

type CommitJob = (
    BatchCommit,
    std::sync::mpsc::SyncSender<Result<Vec<Alert>, StoreError>>,
);

/// The service: engines, storage and in-memory session state.
///
/// Batch commits go through one writer thread that takes every commit queued while the previous
/// transaction was flushing and applies them together ([`Storage::commit_batches`]: one savepoint per
/// batch, one durable flush for the group). Each ingest waits for its own result before answering, so
/// "acknowledged ⇒ durable" holds per batch, and a session's batches stay in order because the session
/// is locked until its commit returns.
pub struct Service {
    store: Arc<Mutex<Box<dyn Storage>>>,
    /// The read side: list and detail endpoints and the enrolment check read here, never under `store`'s
    /// lock, so a long read does not delay the writer thread or another tenant's ingest.
    reads: Arc<dyn Reads>,
    writer: std::sync::mpsc::Sender<CommitJob>,
    engines: Vec<Arc<dyn Engine>>,
    cfg: ServiceConfig,
    tenants: Mutex<HashMap<String, Arc<TenantRt>>>,
    auth_cache: Mutex<HashMap<[u8; 32], Principal>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    /// Per-key-id budget of argon2 verifications for tokens not yet known good.
    auth_buckets: Mutex<HashMap<String, Bucket>>,
}

/// Unix time, ms.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Service {
    /// A service over `store` with `engines` (in fusion order).
    pub fn new(store: Box<dyn Storage>, engines: Vec<Arc<dyn Engine>>, cfg: ServiceConfig) -> Self {
        let reads = store.reads();
        let store = Arc::new(Mutex::new(store));
        let (tx, rx) = std::sync::mpsc::channel::<CommitJob>();
        let st = store.clone();
        std::thread::Builder::new()
            .name("keyprint-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < 512 {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    let refs: Vec<&BatchCommit> = jobs.iter().map(|(c, _)| c).collect();
                    let results = lock(&st).commit_batches(&refs);
                    for ((_, reply), r) in jobs.iter().zip(results) {
                        let _ = reply.send(r);
                    }
                }
            })
            .expect("writer thread");
        Service {
            store,
            reads,
            writer: tx,
            engines,
            cfg,
            tenants: Mutex::new(HashMap::new()),
            auth_cache: Mutex::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            auth_buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceConfig {
        &self.cfg
    }

    /// The engines.
    pub fn engines(&self) -> &[Arc<dyn Engine>] {
        &self.engines
    }

    /// Runs `f` on the store (for tools and tests).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut dyn Storage) -> T) -> T {
        f(lock(&self.store).as_mut())
    }

    /// Token-bucket rate limit per API key ([`ServiceConfig::rate_per_key`]).
    ///
    /// # Errors
    /// `rate_limited` when the key's bucket is empty.
    pub fn rate_limit(&self, key_id: &str) -> Result<(), ApiError> {
        let rate = self.cfg.rate_per_key;
        if take_token(&self.buckets, key_id, rate) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::RateLimited,
                format!("more than {rate} requests/s for this key"),
            ))
        }
    }

    fn tenant_rt(&self, tenant: &str) -> Result<Arc<TenantRt>, ApiError> {
        if let Some(t) = lock(&self.tenants).get(tenant) {
            return Ok(t.clone());
        }
        let row = lock(&self.store).tenant(tenant)?;
        let rt = Arc::new(TenantRt::default());
        if let Some(r) = row {
            *rt.settings.write().unwrap_or_else(|p| p.into_inner()) =
                TenantSettings { phrase: r.phrase };
        }
        Ok(lock(&self.tenants)
            .entry(tenant.to_string())
            .or_insert(rt)
            .clone())
    }

    /// Sets the tenant's fixed phrase (id and length); sessions restart their engine state. A new id or
    /// length discards every user's fixed-text enrolment (it was measured on another phrase).
    ///
    /// # Errors
    /// `invalid_field` for a bad id or length; storage errors.
    pub fn set_phrase(&self, tenant: &str, req: &FixedTextPhrase) -> Result<(), ApiError> {
        if !(2..=256).contains(&req.keys) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "keys",
                "a phrase has 2 to 256 keys",
            ));
        }
        if !keyprint_edge::valid_phrase_id(&req.id) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "id",
                "must be 1 to 64 printable ASCII characters without spaces",
            ));
        }
        let v = PhraseSetting {
            id: req.id.clone(),
            keys: req.keys as usize,
        };
        {
            let mut st = lock(&self.store);
            st.create_tenant(tenant)?;
            let current = st.tenant(tenant)?.and_then(|t| t.phrase);
            if current.as_ref().is_some_and(|c| *c != v) && !req.confirm_reset {
                let enrolled = self.reads.users_with_samples(tenant, "fixed-text")?;
                if enrolled > 0 {
                    return Err(ApiError::field(
                        ErrorCode::ConfirmationRequired,
                        "confirm_reset",
                        format!(
                            "changing the phrase discards the fixed-text enrolment of {enrolled} user(s); \
                             send \"confirm_reset\": true to do it"
                        ),
                    ));
                }
            }
            st.set_phrase(tenant, &v)?;
        }
        let rt = self.tenant_rt(tenant)?;
        *rt.settings.write().unwrap_or_else(|p| p.into_inner()) =
            TenantSettings { phrase: Some(v) };
        lock(&rt.sessions).clear();
        // Cached user models reload from storage, where a changed phrase has discarded fixed-text enrolment.
        lock(&rt.users).clear();
        Ok(())
    }

    fn convert(batch: &IngestBatch) -> Result<Vec<Record>, ApiError> {
        validate_batch(batch)
    }
}

/// The service's checks of one `POST /v1/records` batch that need no stored state, as a pure function (no
/// I/O): ids ([`check_id`]: 1 to [`MAX_ID_LEN`] bytes, no control, bidi or invisible characters), size
/// (at most [`keyprint_wire::MAX_BATCH_RECORDS`]), every record against the edge specification
/// (`keyprint_wire::convert::from_wire`), and time order within the batch (mouse records in one stream, all
/// others in another; no step back, no gap over 24 h). Returns the converted records, in batch order. What needs
/// state — the session's owner and device, `batch_seq`, the step from the session's last accepted record — is
/// checked by [`Service::ingest`] afterwards. Public so that it is fuzzed (`fuzz/` target `ingest_batch`, and
/// the proptests of `tests/validate_props.rs`).
///
/// # Errors
/// `invalid_field` or `absurd_timestamp` naming the field (`records[3].free_text.values`, `user`, …),
/// `batch_too_large`, `non_monotonic`.
pub fn validate_batch(batch: &IngestBatch) -> Result<Vec<Record>, ApiError> {
    for (name, v) in [
        ("user", Some(&batch.user)),
        ("session", Some(&batch.session)),
    ]
    .into_iter()
    .chain([("device", batch.device.as_ref())])
    {
        if let Some(v) = v {
            check_id(name, v)?;
        }
    }
    let n = batch.records.len();
    if n > keyprint_wire::MAX_BATCH_RECORDS {
        return Err(ApiError::new(
            ErrorCode::BatchTooLarge,
            format!(
                "{n} records; at most {} per batch",
                keyprint_wire::MAX_BATCH_RECORDS
            ),
        ));
    }
    let mut out = Vec::with_capacity(n);
    let (mut prev_input, mut prev_mouse): (Option<i64>, Option<i64>) = (None, None);
    for (i, w) in batch.records.iter().enumerate() {
        let r = keyprint_wire::convert::from_wire(w).map_err(|e| {
            let code = if e.field.ends_with(".at_us") {
                ErrorCode::AbsurdTimestamp
            } else {
                ErrorCode::InvalidField
            };
            ApiError::field(code, format!("records[{i}].{}", e.field), e.reason)
        })?;
        let prev = if matches!(r, Record::Mouse(_)) {
            &mut prev_mouse
        } else {
            &mut prev_input
        };
        check_step(|| format!("records[{i}].at_us"), r.at_us(), *prev, "record")?;
        *prev = Some(r.at_us());
        out.push(r);
    }
    Ok(out)
}

impl Service {
    fn load_model(&self, tenant: &str, user: &str, idx: usize) -> Result<UserModel, ApiError> {
        let e = &self.engines[idx];
        let r = lock(&self.store).reference(tenant, user, e.name())?;
        let template = if r.enrolled {
            e.fit_for(tenant, user, &r.samples).ok()
        } else {
            None
        };
        let humanized = template.as_ref().and_then(|_| e.fit_humanized(&r.samples));
        Ok(UserModel {
            enrolled: template.is_some(),
            held: r.held,
            template,
            humanized,
            samples: r.samples,
            since_refit: 0,
        })
    }

    fn evict(&self, rt: &TenantRt, session: &str, user: &str) {
        lock(&rt.sessions).remove(session);
        lock(&rt.users).remove(user);
    }

    /// Ingests one batch: validate, score, commit durably, answer.
    ///
    /// # Errors
    /// A 4xx [`ApiError`] for bad input (nothing applied); `storage` when the commit failed (nothing
    /// applied, retry).
    pub fn ingest(&self, who: &Principal, batch: &IngestBatch) -> Result<IngestAck, ApiError> {
        let tenant = who.tenant.as_str();
        let records = Self::convert(batch)?;
        let device = Self::authorize_records(who, batch)?;
        let may_enrol = who.may_enrol(&batch.user);
        let rt = self.tenant_rt(tenant)?;
        let srt = lock(&rt.sessions)
            .entry(batch.session.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(SessionRt {
                    row: None,
                    engines: Vec::new(),
                    started: false,
                    last_used: Instant::now(),
                }))
            })
            .clone();
        let mut s = lock(&srt);
        s.last_used = Instant::now();
        if !s.started {
            s.row = lock(&self.store).session(tenant, &batch.session)?;
            let settings = rt
                .settings
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            s.engines = self
                .engines
                .iter()
                .map(|e| e.new_session(&settings))
                .collect();
            s.started = true;
        }
        let at_ms = now_ms();
        let p = &self.cfg.fusion;
        let mut row = match &s.row {
            Some(r) => {
                if r.user != batch.user {
                    return Err(ApiError::field(
                        ErrorCode::SessionUserMismatch,
                        "user",
                        "this session belongs to another user",
                    ));
                }
                // A session belongs to the device that opened it, so its batch numbers are that device's:
                // no other credential can post ahead of them.
                if r.device.as_deref() != Some(device.as_str()) {
                    return Err(ApiError::field(
                        ErrorCode::Forbidden,
                        "session",
                        "this session belongs to another device",
                    ));
                }
                r.clone()
            }
            None => SessionRow {
                tenant: tenant.into(),
                session: batch.session.clone(),
                user: batch.user.clone(),
                device: Some(device.clone()),
                started_ms: at_ms,
                last_ms: at_ms,
                records: 0,
                mouse: 0,
                batches: 0,
                alerts: 0,
                last_input_us: None,
                last_mouse_us: None,
                fusion: Default::default(),
            },
        };
        if batch.batch_seq < row.batches {
            return Ok(IngestAck {
                session: row.session.clone(),
                stored_records: 0,
                ignored: 0,
                duplicate: true,
                samples: 0,
                trust: row.fusion.view(p),
                alerts: Vec::new(),
            });
        }
        if batch.batch_seq > row.batches {
            return Err(ApiError::field(
                ErrorCode::StaleBatch,
                "batch_seq",
                format!("expected batch_seq {}", row.batches),
            ));
        }
        let first_of = |mouse: bool| {
            records
                .iter()
                .position(|r| matches!(r, Record::Mouse(_)) == mouse)
                .map(|i| (i, records[i].at_us()))
        };
        for (first, last) in [
            (first_of(false), row.last_input_us),
            (first_of(true), row.last_mouse_us),
        ] {
            if let (Some((i, f)), Some(l)) = (first, last) {
                let field = format!("records[{i}].at_us");
                if f < l {
                    return Err(ApiError::field(
                        ErrorCode::NonMonotonic,
                        field,
                        format!("{f} is earlier than the session's last accepted event ({l})"),
                    ));
                }
                if f - l > MAX_GAP_US {
                    return Err(ApiError::field(
                        ErrorCode::AbsurdTimestamp,
                        field,
                        "gap longer than 24 h after the session's last event",
                    ));
                }
            }
        }
        // Engines.
        let mut obs = Vec::new();
        for (i, es) in s.engines.iter_mut().enumerate() {
            if let Some(es) = es {
                for o in es.push(&records) {
                    obs.push((i, o));
                }
            }
        }
        // Fuse in event-time order across engines, so that evidence (an injection verdict at keystroke 3) lands
        // before later samples of the same batch are considered for enrolment or template updates.
        obs.sort_by_key(|(_, o)| o.at_us);
        let urt = lock(&rt.users)
            .entry(batch.user.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(UserRt {
                    models: (0..self.engines.len()).map(|_| None).collect(),
                    fusion: None,
                    digests: None,
                    last_used: Instant::now(),
                }))
            })
            .clone();
        let mut u = lock(&urt);
        u.last_used = Instant::now();
        if u.digests.is_none() {
            let d = lock(&self.store).digests(tenant, &batch.user)?;
            u.digests = Some(d.into_iter().collect());
        }
        if u.fusion.is_none() {
            u.fusion = Some(
                lock(&self.store)
                    .user_fusion(tenant, &batch.user)?
                    .unwrap_or(Fusion {
                        cusum: true,
                        ..Fusion::default()
                    }),
            );
        }
        let mut uf = u.fusion.clone().unwrap_or_default();
        // Which per-user engines hold an active (enrolled, not held) template: enrolling another engine then
        // needs this session's owner-like evidence on one of them (a mouse-only impostor cannot fill the
        // mouse enrolment of a user enrolled on keystrokes).
        let mut active = vec![false; self.engines.len()];
        for (i, e) in self.engines.iter().enumerate() {
            if e.per_user() {
                if u.models[i].is_none() {
                    u.models[i] = Some(self.load_model(tenant, &batch.user, i)?);
                }
                active[i] = u.models[i]
                    .as_ref()
                    .is_some_and(|m| m.template.is_some() && m.held.is_none());
            }
        }
        let mut refs: Vec<Option<ReferenceChange>> = vec![None; self.engines.len()];
        let mut digests: Vec<[u8; 32]> = Vec::new();
        let mut seen_now: HashSet<[u8; 32]> = HashSet::new();
        let mut alerts = Vec::new();
        let n_obs = obs.len() as u64;
        for (i, o) in obs {
            let e = self.engines[i].clone();
            let mut digest = None;
            if let Some(sample) = &o.sample {
                let mut h = Sha256::new();
                h.update(e.name().as_bytes());
                for v in sample {
                    h.update(v.to_le_bytes());
                }
                let d: [u8; 32] = h.finalize().into();
                let replay =
                    seen_now.contains(&d) || u.digests.as_ref().is_some_and(|s| s.contains(&d));
                if replay {
                    self.fuse(
                        &mut row,
                        &mut uf,
                        &mut alerts,
                        o.at_us,
                        (ReasonCode::Replay, p.lambda, -self.cfg.replay_llr, 1),
                        format!("{} sample identical to one seen before", e.name()),
                    );
                    continue;
                }
                seen_now.insert(d);
                digest = Some(d);
            }
            if let Some(d) = digest {
                digests.push(d);
            }
            let trust_now = row.fusion.trust(p).min(uf.trust(p));
            let score = if e.per_user() {
                let Some(sample) = o.sample else { continue };
                let vouched = !active.iter().any(|a| *a) || vouched(&row.fusion);
                let m = u.models[i].as_mut().expect("loaded above");
                if let Some((dist, bound)) = e.near_duplicate(&m.samples, &sample) {
                    // A replay with small jitter: closer to a stored sample than the owner's own typings ever
                    // come to each other. Evidence against the owner; never enrolled or learned.
                    self.fuse(
                        &mut row,
                        &mut uf,
                        &mut alerts,
                        o.at_us,
                        (ReasonCode::Replay, p.lambda, -self.cfg.replay_llr, 1),
                        format!(
                            "{} sample within {dist:.3} of the owner's per-feature sd of a stored sample \
                             (a replay with jitter: the rule's bound is {bound})",
                            e.name()
                        ),
                    );
                    continue;
                }
                if m.held.is_some() {
                    // Held for review: neither scored nor extended until an admin decides.
                    continue;
                }
                let change = refs[i].get_or_insert_with(|| ReferenceChange {
                    engine: e.name().into(),
                    add: Vec::new(),
                    keep: self.cfg.reference_keep,
                    enrolled: m.enrolled,
                    held: None,
                });
                match &m.template {
                    None if !may_enrol || !vouched || trust_now < self.cfg.update_trust => continue,
                    None => {
                        m.samples.push(sample.clone());
                        change.add.push((sample, false));
                        if m.samples.len() >= e.enrolment_samples()
                            && let Ok(t) = e.fit_for(tenant, &batch.user, &m.samples)
                        {
                            let samples = m.samples.clone();
                            m.template = Some(t);
                            m.humanized = e.fit_humanized(&m.samples);
                            m.enrolled = true;
                            change.enrolled = true;
                            if let Some(why) =
                                self.enrolment_check(tenant, &batch.user, i, &samples)
                            {
                                m.held = Some(why.clone());
                                change.held = Some(why.clone());
                                alerts.push(self.held_alert(&row, &uf, o.at_us, e.name(), why));
                            } else {
                                active[i] = true;
                            }
                        }
                        continue;
                    }
                    Some(t) => {
                        let score = t.score(&sample);
                        let llr = e.calibration().llr(score);
                        self.fuse(
                            &mut row,
                            &mut uf,
                            &mut alerts,
                            o.at_us,
                            (e.reason(), e.forgetting(), llr, o.actions),
                            format!("{}: comparison score {score:.2}, LLR {llr:+.2}", e.name()),
                        );
                        if let Some(h) = &m.humanized {
                            // Timing independent of the key classes: a humanized injection device, evidence
                            // on the injection channel (never for the owner: the LLR is at most 0).
                            let llr = -h.score(&sample);
                            self.fuse(
                                &mut row,
                                &mut uf,
                                &mut alerts,
                                o.at_us,
                                (ReasonCode::Injection, e.forgetting(), llr, o.actions),
                                format!(
                                    "{}: window timing independent of the key classes (humanized \
                                     injection), LLR {llr:+.2}",
                                    e.name()
                                ),
                            );
                        }
                        let trust_now = row.fusion.trust(p).min(uf.trust(p));
                        if llr > 0.0 && trust_now >= self.cfg.update_trust {
                            m.samples.push(sample.clone());
                            change.add.push((sample, true));
                            m.since_refit += 1;
                            if m.samples.len() > self.cfg.reference_keep {
                                let extra = m.samples.len() - self.cfg.reference_keep;
                                m.samples.drain(..extra);
                            }
                            if m.since_refit >= self.cfg.refit_every
                                && let Ok(t) = e.fit_for(tenant, &batch.user, &m.samples)
                            {
                                m.template = Some(t);
                                m.humanized = e.fit_humanized(&m.samples);
                                m.since_refit = 0;
                            }
                        }
                        continue;
                    }
                }
            } else {
                match o.score {
                    Some(s) => s,
                    None => continue,
                }
            };
            let llr = e.calibration().llr(score);
            self.fuse(
                &mut row,
                &mut uf,
                &mut alerts,
                o.at_us,
                (e.reason(), e.forgetting(), llr, o.actions),
                format!(
                    "{}: {} (score {score:.3}, LLR {llr:+.2})",
                    e.name(),
                    o.detail
                ),
            );
        }
        // Session row.
        row.last_ms = at_ms;
        let n_mouse = records
            .iter()
            .filter(|r| matches!(r, Record::Mouse(_)))
            .count() as u64;
        row.records += records.len() as u64;
        row.mouse += n_mouse;
        row.batches += 1;
        row.alerts += alerts.len() as u64;
        if let Some(r) = records
            .iter()
            .rev()
            .find(|r| !matches!(r, Record::Mouse(_)))
        {
            row.last_input_us = Some(r.at_us());
        }
        if let Some(r) = records.iter().rev().find(|r| matches!(r, Record::Mouse(_))) {
            row.last_mouse_us = Some(r.at_us());
        }
        let phrase_id = rt
            .settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .phrase
            .as_ref()
            .map(|p| p.id.clone());
        let ignored = records
            .iter()
            .filter(|r| matches!(r, Record::FixedText(f) if Some(&f.phrase) != phrase_id.as_ref()))
            .count() as u64;
        let view = row.fusion.view(p);
        let commit = BatchCommit {
            session: row.clone(),
            seq: batch.batch_seq,
            at_ms,
            records: batch.records.clone(),
            point: TrustPoint {
                batch_seq: batch.batch_seq,
                at_ms,
                trust: view.trust,
                confidence: view.confidence,
                reasons: view.reasons.iter().map(|r| r.code).collect(),
            },
            alerts: alerts
                .into_iter()
                .map(|a| NewAlert {
                    alert: a,
                    sinks: self.cfg.sinks.clone(),
                })
                .collect(),
            references: refs.into_iter().flatten().collect(),
            digests,
            user_fusion: uf.clone(),
        };
        let n_records = commit.records.len() as u64;
        let new_digests = commit.digests.clone();
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        let stored = match self.writer.send((commit, reply)) {
            Ok(()) => answer
                .recv()
                .unwrap_or_else(|_| Err(StoreError("writer stopped".into()))),
            Err(_) => Err(StoreError("writer stopped".into())),
        };
        match stored {
            Ok(alerts) => {
                s.row = Some(row.clone());
                u.fusion = Some(uf);
                if let Some(set) = u.digests.as_mut() {
                    set.extend(new_digests);
                }
                Ok(IngestAck {
                    session: row.session,
                    stored_records: n_records,
                    ignored,
                    duplicate: false,
                    samples: n_obs,
                    trust: view,
                    alerts,
                })
            }
            Err(e) => {
                drop(u);
                drop(s);
                self.evict(&rt, &batch.session, &batch.user);
                Err(e.into())
            }
        }
    }

    /// Stores a network finding (`keyprint net watch`) as an alert for the device — user `device:<addr>`,
    /// session `net:<addr>`, trust `100 − score`, reasons mapped to [`ReasonCode`]s — and queues it for every
    /// sink, durably before answering.
    ///
    /// # Errors
    /// `invalid_field` naming the field for a device id that is empty, too long or has control characters, a
    /// score outside 0–100, no reason, an unknown reason name, a strength outside 0–1 or non-finite times;
    /// storage errors.
    pub fn net_finding(
        &self,
        tenant: &str,
        f: &keyprint_wire::NetFinding,
    ) -> Result<Alert, ApiError> {
        let bad = |field: &str, why: &str| ApiError::field(ErrorCode::InvalidField, field, why);
        for (name, v) in [("device", &f.device), ("peer", &f.peer)] {
            if v.is_empty() || v.len() > MAX_ID_LEN || v.chars().any(unsafe_id_char) {
                return Err(bad(
                    name,
                    "must be 1 to 128 characters without control characters",
                ));
            }
        }
        if !(0.0..=100.0).contains(&f.score) {
            return Err(bad("score", "must be from 0 to 100"));
        }
        if !(f.first_ts.is_finite()
            && f.last_ts.is_finite()
            && f.first_ts >= 0.0
            && f.last_ts >= f.first_ts)
        {
            return Err(bad(
                "last_ts",
                "times must be finite, non-negative and first_ts ≤ last_ts",
            ));
        }
        if f.reasons.is_empty() {
            return Err(bad("reasons", "at least one reason"));
        }
        let mut reasons = Vec::new();
        for (i, r) in f.reasons.iter().enumerate() {
            let code = match r.reason.as_str() {
                "threat_intel" => ReasonCode::ThreatIntel,
                "beaconing" => ReasonCode::Beaconing,
                "new_destination" => ReasonCode::NewDestination,
                "port_scan" | "dhcp_scan" => ReasonCode::PortScan,
                "dns_anomaly" => ReasonCode::DnsAnomaly,
                "new_port" | "unusual_hour" | "volume" => ReasonCode::NetworkAnomaly,
                other => {
                    return Err(bad(
                        &format!("reasons[{i}].reason"),
                        &format!("unknown reason {other:?}"),
                    ));
                }
            };
            if !(0.0..=1.0).contains(&r.strength) {
                return Err(bad(
                    &format!("reasons[{i}].strength"),
                    "must be from 0 to 1",
                ));
            }
            if r.detail.len() > 4096 || r.detail.chars().any(|c| c.is_control()) {
                return Err(bad(
                    &format!("reasons[{i}].detail"),
                    "at most 4096 characters, no control characters",
                ));
            }
            // Strength s as evidence: −ln(1 − s), the log-odds a rule of that strength carries.
            reasons.push(keyprint_wire::Reason {
                code,
                evidence: -(1.0 - r.strength.min(0.999)).ln(),
                detail: format!("{} → {}: {}", f.device, f.peer, r.detail),
            });
        }
        let at_ms = now_ms();
        let alert = Alert {
            id: 0,
            user: format!("device:{}", f.device),
            session: format!("net:{}", f.device),
            at_ms,
            event_us: (f.last_ts * 1e6).min(i64::MAX as f64) as i64,
            trust: 100.0 - f.score,
            threshold: self.cfg.fusion.threshold,
            reasons,
        };
        let stored = lock(&self.store).insert_alerts(
            tenant,
            &[NewAlert {
                alert,
                sinks: self.cfg.sinks.clone(),
            }],
            at_ms,
        )?;
        stored
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::new(ErrorCode::Internal, "alert not stored"))
    }

    /// Sets the tenant's retention in days (1 to 3650): records, trust history and alerts older than that
    /// are deleted by [`Service::enforce_retention`].
    ///
    /// # Errors
    /// `invalid_field` (`days`) outside 1..=3650; storage errors.
    pub fn set_retention(&self, tenant: &str, days: u32) -> Result<(), ApiError> {
        if !(1..=3650).contains(&days) {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "days",
                "must be from 1 to 3650",
            ));
        }
        let mut st = lock(&self.store);
        st.create_tenant(tenant)?;
        st.set_retention(tenant, days)?;
        Ok(())
    }

    /// Deletes, for every tenant, what is older than its retention at wall-clock `now_ms`; in-memory session
    /// state of the tenants touched is dropped so it reloads from storage. Run hourly by `keyprint serve`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<crate::store::Expired, ApiError> {
        let mut total = crate::store::Expired::default();
        let tenants = lock(&self.store).tenant_ids()?;
        for t in tenants {
            let days = lock(&self.store)
                .tenant(&t)?
                .map_or(crate::store::DEFAULT_RETENTION_DAYS, |r| r.retention_days);
            let cutoff = now_ms - days as i64 * 86_400_000;
            let e = lock(&self.store).expire(&t, cutoff)?;
            if e.sessions > 0 {
                if let Some(rt) = lock(&self.tenants).get(&t) {
                    lock(&rt.sessions).clear();
                }
            }
            total.batches += e.batches;
            total.trust_points += e.trust_points;
            total.alerts += e.alerts;
            total.sessions += e.sessions;
        }
        Ok(total)
    }

    /// An alert on `row`'s session with the trust and reasons of `f` (the session's or the user's fusion).
    fn alert(&self, row: &SessionRow, f: &Fusion, event_us: i64) -> Alert {
        let p = &self.cfg.fusion;
        Alert {
            id: 0,
            user: row.user.clone(),
            session: row.session.clone(),
            at_ms: now_ms(),
            event_us,
            trust: (f.trust(p) * 100.0).round() / 100.0,
            threshold: p.threshold,
            reasons: f.reasons(p),
        }
    }

    /// The alert raised when an enrolment is put on hold.
    fn held_alert(
        &self,
        row: &SessionRow,
        uf: &Fusion,
        event_us: i64,
        engine: &str,
        why: String,
    ) -> Alert {
        let mut a = self.alert(row, uf, event_us);
        a.reasons.insert(
            0,
            keyprint_wire::Reason {
                code: ReasonCode::EnrolmentHeld,
                evidence: 0.0,
                detail: format!("{engine} enrolment held for review: {why}"),
            },
        );
        a
    }

    /// Adds one observation to the session's fusion (the per-session view) and to the user's (trust across
    /// the user's sessions and devices), and raises one alert when either crosses the threshold: splitting
    /// the same behavior into many short sessions accumulates the same evidence on the user.
    /// `obs` is `(reason, forgetting factor, LLR, actions)`.
    fn fuse(
        &self,
        row: &mut SessionRow,
        uf: &mut Fusion,
        alerts: &mut Vec<Alert>,
        at_us: i64,
        obs: (ReasonCode, f64, f64, u64),
        detail: String,
    ) {
        let p = &self.cfg.fusion;
        let (reason, lambda, llr, actions) = obs;
        let s = row
            .fusion
            .update(p, reason, lambda, llr, actions, detail.clone());
        let u = uf.update(p, reason, lambda, llr, actions, detail);
        // Each session alerts on its own crossing (the per-session view); the user's view alerts when it
        // crosses in a session that has not alerted — an impostor split into sessions too short to cross on
        // their own is caught there, at the same point of the behavior as in one session.
        if s == Crossing::Alert {
            alerts.push(self.alert(row, &row.fusion, at_us));
        } else if u == Crossing::Alert && !row.fusion.alerted {
            row.fusion.alerted = true;
            alerts.push(self.alert(row, uf, at_us));
        }
    }

    /// Who may post these records: a device credential for its own device (and its bound users when it has
    /// any), or a browser credential for its one user and device. Returns the device id the batch is
    /// stored under.
    ///
    /// # Errors
    /// `forbidden` (naming `device` or `user`) otherwise — tenant keys (ingest, read, admin) never post
    /// records: a key that is not bound to one device could write any device's behavior.
    fn authorize_records(who: &Principal, batch: &IngestBatch) -> Result<String, ApiError> {
        let Some(device) = who
            .device
            .as_ref()
            .filter(|_| matches!(who.role, Role::Device | Role::Browser))
        else {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "records are accepted only from a registered device's credential (POST /v1/devices, then                  POST /v1/devices/enroll on the device) or a browser credential (POST /v1/browser-credentials)",
            ));
        };
        if let Some(d) = &batch.device
            && d != device
        {
            return Err(ApiError::field(
                ErrorCode::Forbidden,
                "device",
                format!("this credential belongs to device {device:?}"),
            ));
        }
        if !who.users.is_empty() && !who.users.contains(&batch.user) {
            return Err(ApiError::field(
                ErrorCode::Forbidden,
                "user",
                "this device is not registered to this user",
            ));
        }
        Ok(device.clone())
    }

    /// Checks a just-fitted enrolment of engine `idx` before its template is used; returns why to hold it.
    ///
    /// Two checks, both on the engine's calibrated LLR: (1) **consistency** — a template fitted on the even
    /// samples scores the odd ones and vice versa; more than half of the held-out samples scoring
    /// impostor-like (LLR < 0) holds the enrolment; (2) **another person's typing** — the samples are scored
    /// with the active template of every other enrolled user of the tenant (up to 500), and that user's
    /// samples with the new template; when, both ways, at least half are accepted (LLR > 0) with a positive
    /// mean LLR of at least half the mean between the enrolment's own halves, the enrolment is held: two
    /// people's typings score impostor-like against each other, so samples that match another user's both
    /// ways are most likely that user's. (One way alone holds most of CMU: a broad template accepts most
    /// people — measured by `keyprint replay-eval`.)
    fn enrolment_check(
        &self,
        tenant: &str,
        user: &str,
        idx: usize,
        samples: &[FeatureVector],
    ) -> Option<String> {
        let e = &self.engines[idx];
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let llrs = |t: &dyn Template<FeatureVector>, xs: &[&FeatureVector]| -> Vec<f64> {
            xs.iter().map(|x| e.calibration().llr(t.score(x))).collect()
        };
        let (even, odd): (Vec<&FeatureVector>, Vec<&FeatureVector>) = {
            let mut ev = Vec::new();
            let mut od = Vec::new();
            for (j, x) in samples.iter().enumerate() {
                if j % 2 == 0 { ev.push(x) } else { od.push(x) }
            }
            (ev, od)
        };
        let fit = |xs: &[&FeatureVector]| {
            let owned: Vec<FeatureVector> = xs.iter().map(|x| (*x).clone()).collect();
            e.fit_check(tenant, user, &owned).ok()
        };
        let mut own = Vec::new();
        if let (Some(te), Some(to)) = (fit(&even), fit(&odd)) {
            own.extend(llrs(te.as_ref(), &odd));
            own.extend(llrs(to.as_ref(), &even));
        }
        if !own.is_empty() {
            let bad = own.iter().filter(|l| **l < 0.0).count();
            if bad * 2 > own.len() {
                return Some(format!(
                    "samples inconsistent with each other ({bad} of {} held-out samples score unlike the rest)",
                    own.len()
                ));
            }
        }
        let own_mean = if own.is_empty() { 0.0 } else { mean(&own) };
        // One query on the read side: the writer's lock is not held while up to 500 references load.
        let others = self
            .reads
            .active_references(tenant, e.name(), user, 500)
            .ok()?;
        let all: Vec<&FeatureVector> = samples.iter().collect();
        let new_t = e.fit_check(tenant, user, samples).ok()?;
        // Both ways: the other user's template accepts these samples, and the new template accepts the other
        // user's samples, each about as well as the enrolment's own halves accept each other. One way alone
        // is not enough: a broad template (a user who types unevenly) accepts most people's typing.
        let alike = |l: &[f64]| {
            let m = mean(l);
            let accepted = l.iter().filter(|x| **x > 0.0).count();
            (m > 0.0 && m >= 0.5 * own_mean && accepted * 2 >= l.len()).then_some(m)
        };
        let mut best: Option<(String, f64, f64)> = None;
        for (other, ref_samples) in others {
            if let Ok(t) = e.fit_check(tenant, &other, &ref_samples) {
                let theirs: Vec<&FeatureVector> = ref_samples.iter().collect();
                if let (Some(m), Some(back)) = (
                    alike(&llrs(t.as_ref(), &all)),
                    alike(&llrs(new_t.as_ref(), &theirs)),
                ) && best.as_ref().is_none_or(|(_, b, _)| m > *b)
                {
                    best = Some((other, m, back));
                }
            }
        }
        best.map(|(other, m, back)| {
            format!(
                "samples resemble enrolled user {other:?} (mean LLR {m:+.2} against that user's \
                 template, {back:+.2} the other way; {own_mean:+.2} between the enrolment's own halves)"
            )
        })
    }

    /// Starts a user's cross-session view afresh (evidence 0, no outstanding alert) — what an evaluation
    /// protocol does so that every impostor session it replays on an account starts from the owner's
    /// state rather than after the previous impostor. Templates, sessions and alerts are untouched.
    ///
    /// # Errors
    /// Storage errors.
    pub fn reset_user_view(&self, tenant: &str, user: &str) -> Result<(), ApiError> {
        let rt = self.tenant_rt(tenant)?;
        lock(&self.store).reset_user_fusion(tenant, user)?;
        lock(&rt.users).remove(user);
        Ok(())
    }

    /// Enrolment state of `user` for the engine named `engine`: (samples, enrolled, held reason).
    ///
    /// # Errors
    /// Storage errors.
    pub fn enrolment_state(
        &self,
        tenant: &str,
        user: &str,
        engine: &str,
    ) -> Result<(usize, bool, Option<String>), ApiError> {
        let r = lock(&self.store).reference(tenant, user, engine)?;
        Ok((r.samples.len(), r.enrolled, r.held))
    }

    /// Approves (lifts a hold) or resets a user's enrolment for one engine or all; alerts and history stay.
    ///
    /// # Errors
    /// `invalid_field` (`engine`) for an unknown engine name; `not_found` when the user has no enrolment
    /// for it; storage errors.
    pub fn set_enrolment(
        &self,
        tenant: &str,
        user: &str,
        engine: Option<&str>,
        action: EnrolmentAction,
    ) -> Result<Vec<String>, ApiError> {
        if let Some(name) = engine
            && !self.engines.iter().any(|e| e.name() == name)
        {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "engine",
                format!(
                    "unknown engine; this server runs {}",
                    self.engines
                        .iter()
                        .map(|e| e.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let rt = self.tenant_rt(tenant)?;
        let changed = lock(&self.store).set_enrolment(tenant, user, engine, action)?;
        lock(&rt.users).remove(user);
        if changed.is_empty() {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "no enrolment for this user (and engine)",
            ));
        }
        Ok(changed)
    }

    fn info(&self, r: SessionRow) -> SessionInfo {
        SessionInfo {
            trust: r.fusion.view(&self.cfg.fusion),
            user: r.user,
            session: r.session,
            device: r.device,
            started_ms: r.started_ms,
            last_ms: r.last_ms,
            records: r.records,
            batches: r.batches,
            alerts: r.alerts,
        }
    }

    /// A page of a tenant's sessions (optionally of one user), newest first by start time; read on the read
    /// side, never under the writer's lock.
    ///
    /// # Errors
    /// `invalid_field` (`cursor`) for a cursor that is not this list's; storage errors.
    pub fn sessions(
        &self,
        tenant: &str,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<SessionInfo>, ApiError> {
        let after = match &page.cursor {
            None => None,
            Some(c) => {
                let p = decode_cursor("s1", c, 2)?;
                let started_ms = p[0].parse().map_err(|_| {
                    ApiError::field(ErrorCode::InvalidField, "cursor", "not a sessions cursor")
                })?;
                Some(SessionKey {
                    started_ms,
                    session: p[1].clone(),
                })
            }
        };
        let rows = self
            .reads
            .sessions_page(tenant, user, after.as_ref(), page.limit + 1)?;
        Ok(page_of(
            rows,
            page.limit,
            |r| encode_cursor("s1", &[&r.started_ms.to_string(), &r.session]),
            |r| self.info(r),
        ))
    }

    /// One session with its trust history (one snapshot of the read side).
    ///
    /// # Errors
    /// `not_found` when the tenant has no such session.
    pub fn session(&self, tenant: &str, session: &str) -> Result<SessionDetail, ApiError> {
        let row = self
            .reads
            .session(tenant, session)?
            .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such session"))?;
        let history = self.reads.history(tenant, session)?;
        Ok(SessionDetail {
            info: self.info(row),
            history,
        })
    }

    /// A page of the tenant's alerts with id > `after` (and after the cursor), oldest first. Ids are the
    /// tenant's own sequence, so `after` = the last id seen continues without gaps.
    ///
    /// # Errors
    /// `invalid_field` (`cursor`) for a cursor that is not this list's; storage errors.
    pub fn alerts(
        &self,
        tenant: &str,
        after: i64,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Alert>, ApiError> {
        let mut after = after;
        if let Some(c) = &page.cursor {
            let p = decode_cursor("a1", c, 1)?;
            let id: i64 = p[0].parse().map_err(|_| {
                ApiError::field(ErrorCode::InvalidField, "cursor", "not an alerts cursor")
            })?;
            after = after.max(id);
        }
        let rows = self
            .reads
            .alerts_page(tenant, after, user, page.limit + 1)?;
        Ok(page_of(
            rows,
            page.limit,
            |a| encode_cursor("a1", &[&a.id.to_string()]),
            |a| a,
        ))
    }

    fn user_info(&self, u: UserRow) -> UserInfo {
        UserInfo {
            trust: u.fusion.map(|f| f.view(&self.cfg.fusion)),
            user: u.user,
            engines: u
                .engines
                .into_iter()
                .map(|e| EngineEnrolment {
                    engine: e.engine,
                    samples: e.samples,
                    enrolled: e.enrolled,
                    updates: e.updates,
                    held: e.held,
                })
                .collect(),
            sessions: u.sessions,
            alerts: u.alerts,
        }
    }

    /// A page of the tenant's users with their enrolment state, by id: a fixed number of queries per page on
    /// the read side.
    ///
    /// # Errors
    /// `invalid_field` (`cursor`) for a cursor that is not this list's; storage errors.
    pub fn users(&self, tenant: &str, page: &PageRequest) -> Result<Page<UserInfo>, ApiError> {
        let after = match &page.cursor {
            None => None,
            Some(c) => Some(decode_cursor("u1", c, 1)?.remove(0)),
        };
        let rows = self
            .reads
            .users_page(tenant, after.as_deref(), page.limit + 1)?;
        Ok(page_of(
            rows,
            page.limit,
            |u| encode_cursor("u1", &[&u.user]),
            |u| self.user_info(u),
        ))
    }

    /// One user with their enrolment state (`None` when the tenant holds nothing of the user).
    ///
    /// # Errors
    /// Storage errors.
    pub fn user(&self, tenant: &str, user: &str) -> Result<Option<UserInfo>, ApiError> {
        Ok(self.reads.user(tenant, user)?.map(|u| self.user_info(u)))
    }

    /// Drops the in-memory state of sessions and users unused for at least `idle` (and not in use now);
    /// `keyprint serve` runs it periodically with [`ServiceConfig::idle_evict`]. A returning session is
    /// rebuilt from storage exactly as it was: its row (counts, fusion state, last event times) and its
    /// user's fusion state and replay digests are written in every batch's transaction, and engine sessions
    /// hold no state between batches beyond the tenant's settings. A user's templates are refitted from the
    /// stored reference samples, so a user is dropped only when each template is the fit of exactly those
    /// samples (no trusted-window update since its last refit); the free-text template is fitted with the
    /// tenant's population at the time of reloading (as after a restart).
    pub fn evict_idle(&self, idle: Duration) -> Evicted {
        let now = Instant::now();
        let old = |t: Instant| now.saturating_duration_since(t) >= idle;
        let tenants: Vec<Arc<TenantRt>> = lock(&self.tenants).values().cloned().collect();
        let mut out = Evicted::default();
        for rt in tenants {
            {
                let mut map = lock(&rt.sessions);
                let before = map.len();
                map.retain(|_, srt| {
                    // An `Arc` held elsewhere is an ingest in progress; a locked one too.
                    Arc::strong_count(srt) > 1 || srt.try_lock().map_or(true, |s| !old(s.last_used))
                });
                out.sessions += before - map.len();
                let keep = map.len() * 2;
                map.shrink_to(keep);
                out.sessions_left += map.len();
            }
            let mut map = lock(&rt.users);
            let before = map.len();
            map.retain(|_, urt| {
                Arc::strong_count(urt) > 1
                    || urt
                        .try_lock()
                        .map_or(true, |u| !(old(u.last_used) && u.reloadable()))
            });
            out.users += before - map.len();
            let keep = map.len() * 2;
            map.shrink_to(keep);
            out.users_left += map.len();
        }
        out
    }

    /// Deletes a user's data everywhere.
    ///
    /// # Errors
    /// `not_found` when the user has no data; storage errors.
    pub fn purge(&self, tenant: &str, user: &str) -> Result<Purged, ApiError> {
        let rt = self.tenant_rt(tenant)?;
        let sessions: Vec<String> = lock(&self.store)
            .sessions(tenant, Some(user))?
            .into_iter()
            .map(|s| s.session)
            .collect();
        let (s, b, a) = lock(&self.store).purge_user(tenant, user)?;
        for sid in &sessions {
            lock(&rt.sessions).remove(sid);
        }
        let had_user = lock(&rt.users).remove(user).is_some();
        if s == 0 && b == 0 && a == 0 && !had_user {
            return Err(ApiError::new(ErrorCode::NotFound, "no such user"));
        }
        Ok(Purged {
            user: user.into(),
            sessions: s,
            batches: b,
            alerts: a,
        })
    }
}
