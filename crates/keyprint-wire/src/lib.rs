//! # keyprint-wire
//!
//! The HTTP/JSON API types of `keyprint serve` — the **only** serde boundary of keyprint (the core has no
//! serde) — and the one table of error codes → HTTP status ([`ErrorCode::status`]).
//!
//! Conventions: times on the event clock are integer microseconds (`_us`, monotonic, arbitrary origin, as
//! in `keyprint_core::event`); wall-clock times are Unix milliseconds (`_ms`). Trust is 0–100 (100 = surely
//! the account owner). Every request type rejects unknown fields, so a misspelt or extra field (for
//! instance a per-key `keys` array of earlier releases, or a `key` field inside a record) is an error, never
//! silently ignored. No type here carries a key identity: what travels are the edge's content-free records.
#![deny(missing_docs)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Largest number of records in one ingest batch; more is `batch_too_large` (413).
pub const MAX_BATCH_RECORDS: usize = 5_000;
/// Largest request body in bytes; more is `body_too_large` (413).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A fixed-phrase typing as its timing vector (`keyprint_edge::FixedTextSample`); no key identity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireFixedText {
    /// Press time of the phrase's last key, µs on the session's monotonic clock.
    pub at_us: i64,
    /// Phrase id (the tenant's current phrase: see [`FixedTextPhrase`]).
    pub phrase: String,
    /// `3n − 2` values, ms: `H.k1, DD.k1.k2, UD.k1.k2, …, H.kn`; `DD = H + UD` must hold.
    pub vector: Vec<f64>,
}

/// A free-text window summary (`keyprint_edge::WindowSummary`, vocabulary in `docs/EDGE.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireWindow {
    /// Press time of the window's last key, µs.
    pub at_us: i64,
    /// Vocabulary version (must equal `keyprint_edge::vocab::VOCAB_VERSION`).
    pub vocab: u32,
    /// Keys summarised (20 to 10,000).
    pub keys: u32,
    /// `keyprint_edge::vocab::SUMMARY_DIM` entries; `null` where absent.
    pub values: Vec<Option<f64>>,
}

/// Mouse action kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WireActionKind {
    /// MouseMove.
    MouseMove,
    /// PointClick.
    PointClick,
    /// DragDrop.
    DragDrop,
}

/// One mouse action's features (`keyprint_mouse::action_features`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireMouseAction {
    /// End time of the action, µs.
    pub at_us: i64,
    /// Kind.
    pub kind: WireActionKind,
    /// `keyprint_mouse::N_FEATURES` finite values.
    pub features: Vec<f64>,
}

/// The on-device injection verdict (`keyprint_edge::InjectionRecord`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireInjection {
    /// Press time of the keystroke at which the rule fired, µs.
    pub at_us: i64,
    /// 1-based index of that keystroke in the session.
    pub keystroke: u64,
    /// Rule name (`keyprint_injection::Reason::name`).
    pub rule: String,
    /// Detector score (finite).
    pub score: f64,
}

/// Device attach or detach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WireDeviceAction {
    /// Enumerated.
    Attach,
    /// Removed.
    Detach,
}

/// A device event (`keyprint_edge::DeviceRecord`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireDevice {
    /// When, µs.
    pub at_us: i64,
    /// Attach or detach.
    pub action: WireDeviceAction,
    /// Bus, 1 to 32 printable ASCII characters.
    pub bus: String,
    /// USB vendor id, 4 hex digits.
    #[serde(default)]
    pub vendor: Option<String>,
    /// USB product id, 4 hex digits.
    #[serde(default)]
    pub product: Option<String>,
    /// Virtual or synthetic source.
    #[serde(default)]
    pub synthetic: bool,
}

/// One content-free record; JSON `{"fixed_text": {…}}`, `{"free_text": {…}}`, `{"mouse": {…}}`,
/// `{"injection": {…}}` or `{"device": {…}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WireRecord {
    /// A fixed-phrase typing.
    FixedText(WireFixedText),
    /// A free-text window summary.
    FreeText(WireWindow),
    /// A mouse action.
    Mouse(WireMouseAction),
    /// An injection verdict.
    Injection(WireInjection),
    /// A device event.
    Device(WireDevice),
}

/// `POST /v1/records`: one batch of content-free records of one session. The tenant comes from the API key.
///
/// Rules (each violation is a 4xx [`ErrorBody`] naming the record and field, and nothing of the batch is
/// applied): every record fits the edge specification (`docs/EDGE.md`: lengths, vocabulary version, finite
/// and possible values); mouse records in `at_us` order, all other records in `at_us` order, each not
/// earlier than the session's last accepted record of its stream; no gap longer than 24 h, no negative
/// time; at most [`MAX_BATCH_RECORDS`] records; a session belongs to one user. `batch_seq` numbers a
/// session's batches from 0: resending an already stored `batch_seq` is answered `200` with
/// `duplicate: true` and changes nothing (safe client retries); a gap or an older number is `stale_batch`
/// (409).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IngestBatch {
    /// Account id within the tenant.
    pub user: String,
    /// Session id (unique within the tenant).
    pub session: String,
    /// Device id, if known.
    #[serde(default)]
    pub device: Option<String>,
    /// Batch number within the session, from 0.
    pub batch_seq: u64,
    /// The records, in the order the edge emitted them.
    #[serde(default)]
    pub records: Vec<WireRecord>,
}

/// One reason of a network finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetReason {
    /// `threat_intel`, `beaconing`, `port_scan`, `dns_anomaly`, `dhcp_scan`, `new_destination`, `new_port`,
    /// `unusual_hour` or `volume`.
    pub reason: String,
    /// Strength in `[0, 1]`.
    pub strength: f64,
    /// What the rule saw.
    pub detail: String,
}

/// `POST /v1/net/findings` (ingest role): one finding of `keyprint net watch`, stored as an alert for the
/// device and delivered through the same outbox and sinks as every alert. Same JSON as `keyprint net scan
/// --json` prints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetFinding {
    /// Device address (1 to 128 characters, no control characters).
    pub device: String,
    /// Peer (`addr:port`, a name, `*:port/proto`, `addr:*`).
    pub peer: String,
    /// Name of the peer, when known.
    #[serde(default)]
    pub peer_name: Option<String>,
    /// Score 0–100, higher = more suspicious.
    pub score: f64,
    /// Reasons, strongest first (at least one).
    pub reasons: Vec<NetReason>,
    /// First evidence time, Unix seconds (Zeek `ts`).
    pub first_ts: f64,
    /// Last evidence time, Unix seconds.
    pub last_ts: f64,
    /// Log records behind the finding.
    pub flows: u64,
    /// Hosts or names covered.
    #[serde(default)]
    pub targets: Vec<String>,
}

/// Why trust fell: one named reason with the evidence behind it.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    /// Keystroke timings unlike the account owner's template.
    KeystrokeMismatch,
    /// Mouse actions unlike the owner's template.
    MouseMismatch,
    /// Machine-injected keystrokes (e.g. a USB keystroke-injection device).
    Injection,
    /// A sample identical to one seen before for this user (a replayed recording).
    Replay,
    /// A network peer named by threat intelligence (`keyprint net`).
    ThreatIntel,
    /// Regular connection attempts to one peer (`keyprint net`).
    Beaconing,
    /// A destination outside the device's learned baseline (`keyprint net`).
    NewDestination,
    /// A horizontal or vertical port scan, or a DHCP scan (`keyprint net`).
    PortScan,
    /// Algorithmic-looking names or bursts of failed lookups (`keyprint net`).
    DnsAnomaly,
    /// Another departure from the device's network baseline (port, hour, volume).
    NetworkAnomaly,
    /// A new enrolment was put on hold for review: its samples disagree with each other or resemble
    /// another enrolled user more than themselves.
    EnrolmentHeld,
}

/// One reason with its weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// Which reason.
    pub code: ReasonCode,
    /// Evidence against the owner carried by this reason now, in natural-log-odds units (> 0).
    pub evidence: f64,
    /// Engine that produced it and what it saw, in words.
    pub detail: String,
}

/// Where a session's scoring stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrustState {
    /// The user has no template yet; this session's samples are enrolment samples.
    Enrolling,
    /// Samples are compared with the user's template.
    Scoring,
}

/// A session's current trust.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Trust {
    /// 0–100: posterior probability (×100) that the owner is at the keyboard.
    pub trust: f64,
    /// 0–1: how much recent evidence backs the figure (0 = none, 1 = a full fusion window).
    pub confidence: f64,
    /// Enrolling or scoring.
    pub state: TrustState,
    /// Named reasons with evidence against the owner, largest first.
    pub reasons: Vec<Reason>,
}

/// Answer to `POST /v1/records`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct IngestAck {
    /// The session.
    pub session: String,
    /// Records stored (durably, before this answer was sent).
    pub stored_records: u64,
    /// Fixed-text records of a phrase other than the tenant's current one: stored, not scored.
    pub ignored: u64,
    /// True when this `batch_seq` had already been stored (nothing applied again).
    pub duplicate: bool,
    /// Samples (probes or enrolment samples) the engines completed in this batch.
    pub samples: u64,
    /// Trust after this batch.
    pub trust: Trust,
    /// Alerts raised by this batch.
    pub alerts: Vec<Alert>,
}

/// An alert: the trust of a session crossed below the tenant's threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Alert {
    /// Alert id: the tenant's own sequence (1, 2, 3, … without gaps from other tenants' alerts or failed
    /// batches), unique within the tenant; `GET /v1/alerts?after=<id>` continues after it. Receivers of
    /// several tenants' alerts de-duplicate on (tenant, id).
    pub id: i64,
    /// User.
    pub user: String,
    /// Session.
    pub session: String,
    /// Wall-clock time the crossing was recorded, Unix ms.
    pub at_ms: i64,
    /// Event-clock time of the last event before the crossing, µs.
    pub event_us: i64,
    /// Trust after the crossing.
    pub trust: f64,
    /// Threshold it crossed.
    pub threshold: f64,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// One point of a session's trust history (one per scored batch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TrustPoint {
    /// Batch number.
    pub batch_seq: u64,
    /// Wall-clock time, Unix ms.
    pub at_ms: i64,
    /// Trust after the batch.
    pub trust: f64,
    /// Confidence after the batch.
    pub confidence: f64,
    /// Reason codes active after the batch.
    pub reasons: Vec<ReasonCode>,
}

/// A session as analysts see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionInfo {
    /// User.
    pub user: String,
    /// Session.
    pub session: String,
    /// Device, if given.
    pub device: Option<String>,
    /// First batch, Unix ms.
    pub started_ms: i64,
    /// Last batch, Unix ms.
    pub last_ms: i64,
    /// Records stored.
    pub records: u64,
    /// Batches stored.
    pub batches: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Current trust.
    pub trust: Trust,
}

/// `GET /v1/sessions/{session}`: the session and its trust history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SessionDetail {
    /// The session.
    pub info: SessionInfo,
    /// Trust after each batch, oldest first.
    pub history: Vec<TrustPoint>,
}

/// A user (account) as analysts see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserInfo {
    /// User.
    pub user: String,
    /// Per engine: enrolment samples held and whether a template exists.
    pub engines: Vec<EngineEnrolment>,
    /// Sessions stored.
    pub sessions: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Trust across all of the user's sessions and devices (the per-session view is in each session).
    #[serde(default)]
    pub trust: Option<Trust>,
}

/// One engine's enrolment state for a user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EngineEnrolment {
    /// Engine name.
    pub engine: String,
    /// Samples in the user's reference set.
    pub samples: u64,
    /// True once a template was fitted.
    pub enrolled: bool,
    /// Samples added after enrolment from trusted windows.
    pub updates: u64,
    /// Why the enrolment is held for review (`POST /v1/users/{user}/enrolment` approves or resets it).
    #[serde(default)]
    pub held: Option<String>,
}

/// `POST /v1/users/{user}/enrolment` (admin): decide on a user's enrolment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolmentDecision {
    /// `approve` (lift a hold: the template becomes active) or `reset` (discard the reference samples;
    /// the user enrols again from a device registered to them; alerts and history stay).
    pub action: EnrolmentActionName,
    /// One engine (`fixed-text`, `free-text`, `mouse`), or every engine when absent.
    #[serde(default)]
    pub engine: Option<String>,
}

/// The action of an [`EnrolmentDecision`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentActionName {
    /// Lift a hold.
    Approve,
    /// Start the enrolment again.
    Reset,
}

/// Answer to an [`EnrolmentDecision`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnrolmentDecided {
    /// User.
    pub user: String,
    /// Engines whose enrolment changed.
    pub engines: Vec<String>,
}

/// API-key role.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May only post events (agents, SDKs).
    Ingest,
    /// May read sessions, users, alerts (analysts).
    Read,
    /// Everything, including keys, devices, tenant settings and purge.
    Admin,
    /// A registered device's own credential (from [`EnrollDevice`]): posts records for that device only,
    /// and for its bound users only when it has any. Never created through `POST /v1/keys`.
    Device,
    /// A short-lived browser credential ([`BrowserCredential`]): posts records for one user and one
    /// generated device id until it expires. Never created through `POST /v1/keys`.
    Browser,
}

/// `POST /v1/devices` (admin): registers a company-owned device. Only a registered device can obtain a
/// credential, and only a device bound to a user can add to that user's enrolment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDevice {
    /// Device id, 1 to 128 printable characters (the same rule as user and session ids).
    pub device: String,
    /// Users the device belongs to. Records for other users are refused; an empty list (a shared
    /// device) lets the device send for any user but never enrol anyone.
    #[serde(default)]
    pub users: Vec<String>,
    /// Free label for the security team (asset tag, owner), up to 256 printable characters.
    #[serde(default)]
    pub label: Option<String>,
}

/// Answer to `POST /v1/devices`: the one-time registration token, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceRegistration {
    /// Device id.
    pub device: String,
    /// One-time token (`kpr_<id>_<secret>`) the device exchanges at `POST /v1/devices/enroll`.
    pub registration_token: String,
    /// When the token stops working, ms since the Unix epoch (24 h after registration).
    pub expires_at_ms: i64,
}

/// `POST /v1/devices/enroll` (no bearer token: the registration token is the credential): exchanges a
/// one-time registration token for the device's own credential. A token works once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollDevice {
    /// The token from [`DeviceRegistration`].
    pub registration_token: String,
}

/// A device credential (answer to enrol and rotate); `token` is shown once and stored as an argon2 hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceCredential {
    /// Device id; the device's batches must carry it (or no device id).
    pub device: String,
    /// Users the device is bound to.
    pub users: Vec<String>,
    /// Public key id of the credential.
    pub key_id: String,
    /// Bearer token (`kp_<key_id>_<secret>`).
    pub token: String,
}

/// One credential of a device, as listed (never the secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CredentialInfo {
    /// Public key id.
    pub key_id: String,
    /// Created, ms since the Unix epoch.
    pub created_ms: i64,
    /// Revoked (by rotation or revocation), ms since the Unix epoch.
    pub revoked_ms: Option<i64>,
}

/// A registered device (`GET /v1/devices`, `GET /v1/devices/{device}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeviceInfo {
    /// Device id.
    pub device: String,
    /// Bound users.
    pub users: Vec<String>,
    /// Label.
    pub label: Option<String>,
    /// Registered, ms since the Unix epoch.
    pub registered_ms: i64,
    /// `pending` (token not yet exchanged), `active` or `revoked`.
    pub state: String,
    /// Its credentials, oldest first.
    pub credentials: Vec<CredentialInfo>,
}

/// Page size of a list endpoint when `?limit=` is absent.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
/// Largest accepted `?limit=`; a larger (or zero, or non-numeric) one is `invalid_field` (422), field `limit`.
pub const MAX_PAGE_LIMIT: usize = 1_000;

/// One page of a list endpoint: `GET /v1/sessions` (newest first by start time), `GET /v1/alerts` (by id),
/// `GET /v1/users` and `GET /v1/devices` (by id). Each takes `?limit=` (1 to [`MAX_PAGE_LIMIT`], default
/// [`DEFAULT_PAGE_LIMIT`]) and `?cursor=` (a `next_cursor` of an earlier page of the same list).
///
/// A cursor is opaque and names the position after the last item returned, in an order that rows added or
/// updated meanwhile do not change: following `next_cursor` until it is `null` returns every row that existed
/// when the walk began exactly once (rows added during the walk may or may not appear, each at most once). A
/// cursor that is not one the server issued for that list is `invalid_field` (422), field `cursor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    /// The rows of this page, at most `limit`.
    pub items: Vec<T>,
    /// The cursor of the next page, or `null` when this page holds the last rows.
    pub next_cursor: Option<String>,
}

/// `POST /v1/browser-credentials` (ingest or admin: the web console's backend, never page code): a
/// short-lived credential for the user logged in to the console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrowserCredentialRequest {
    /// The logged-in user.
    pub user: String,
    /// Lifetime in seconds, 60 to 3600; 900 when absent.
    #[serde(default)]
    pub ttl_s: Option<u32>,
}

/// A short-lived browser credential: the page posts records with it for `user` and `device` only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BrowserCredential {
    /// Bearer token (`kp_<key_id>_<secret>`).
    pub token: String,
    /// User the credential is bound to.
    pub user: String,
    /// Generated device id (`web-<hex>`) the credential is bound to.
    pub device: String,
    /// Expiry, ms since the Unix epoch.
    pub expires_at_ms: i64,
}

/// `POST /v1/keys` (admin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Role of the new key.
    pub role: Role,
}

/// A new API key; `token` is shown once and stored only as an argon2 hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct NewKey {
    /// Public key id.
    pub key_id: String,
    /// Role.
    pub role: Role,
    /// The bearer token (`kp_<key_id>_<secret>`).
    pub token: String,
}

/// `PUT /v1/tenant/fixed-text` (admin): which fixed phrase the devices segment (the phrase itself is
/// configured on the devices and never sent): its public id and its length. Fixed-text records of this id
/// with `3·keys − 2` values are scored; a new id restarts every user's fixed-text enrolment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedTextPhrase {
    /// Phrase id, 1 to 64 printable ASCII characters.
    pub id: String,
    /// Keys in the phrase (modifiers excluded), 2 to 256.
    pub keys: u32,
    /// Must be `true` to change the phrase of a tenant where users are enrolled on the current one: the
    /// change discards every fixed-text enrolment (the answer without it is 409 `confirmation_required`,
    /// saying how many).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_reset: bool,
}

/// Answer to `DELETE /v1/users/{user}` (admin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Purged {
    /// User.
    pub user: String,
    /// Sessions deleted.
    pub sessions: u64,
    /// Record batches deleted.
    pub batches: u64,
    /// Alerts deleted.
    pub alerts: u64,
}

/// `PUT /v1/tenant/retention`: how long the tenant's sessions, records, history and alerts are kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSetting {
    /// Days to keep data, 1 to 3650 (older data is deleted by the retention task).
    pub days: u32,
}

/// Every error the API answers, with its HTTP status in [`ErrorCode::status`] — the one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Body is not JSON.
    MalformedJson,
    /// A field is missing, unknown or of the wrong type.
    InvalidField,
    /// Events go back in time (within the batch or against the session's last event).
    NonMonotonic,
    /// A timestamp is negative, a hold longer than 60 s, or a gap longer than 24 h.
    AbsurdTimestamp,
    /// More than [`MAX_BATCH_RECORDS`] records.
    BatchTooLarge,
    /// Body larger than [`MAX_BODY_BYTES`].
    BodyTooLarge,
    /// The session belongs to another user.
    SessionUserMismatch,
    /// `batch_seq` skips ahead or goes back.
    StaleBatch,
    /// No or unknown API key.
    Unauthorized,
    /// The key's role does not allow this.
    Forbidden,
    /// No such session/user in this tenant (also for other tenants' data).
    NotFound,
    /// Too many requests for this key.
    RateLimited,
    /// The endpoint exists but not with this HTTP method.
    MethodNotAllowed,
    /// Content-Type is not `application/json`.
    UnsupportedMediaType,
    /// Storage failed; nothing was applied, retry.
    Storage,
    /// Bug.
    Internal,
    /// The thing to create exists already (a device id registered before).
    AlreadyExists,
    /// The change would discard data (enrolments) and was not confirmed.
    ConfirmationRequired,
    /// The request's body did not arrive within the server's body read timeout.
    RequestTimeout,
}

impl ErrorCode {
    /// HTTP status of the code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson => 400,
            InvalidField | NonMonotonic | AbsurdTimestamp => 422,
            BatchTooLarge | BodyTooLarge => 413,
            SessionUserMismatch | StaleBatch | AlreadyExists | ConfirmationRequired => 409,
            Unauthorized => 401,
            Forbidden => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            RateLimited => 429,
            UnsupportedMediaType => 415,
            Storage => 503,
            Internal => 500,
            RequestTimeout => 408,
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 19] = [
        ErrorCode::MalformedJson,
        ErrorCode::InvalidField,
        ErrorCode::NonMonotonic,
        ErrorCode::AbsurdTimestamp,
        ErrorCode::BatchTooLarge,
        ErrorCode::BodyTooLarge,
        ErrorCode::SessionUserMismatch,
        ErrorCode::StaleBatch,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::RateLimited,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::Storage,
        ErrorCode::Internal,
        ErrorCode::AlreadyExists,
        ErrorCode::ConfirmationRequired,
        ErrorCode::RequestTimeout,
    ];
}

/// Body of every 4xx/5xx answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// What is wrong, in words.
    pub reason: String,
    /// The offending field (JSON path such as `keys[3].press_us`), when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

pub mod convert;
pub mod fuzzing;
pub mod openapi;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_table_is_4xx_or_5xx() {
        for c in ErrorCode::ALL {
            assert!((400..600).contains(&c.status()), "{c:?}");
        }
        assert_eq!(ErrorCode::MalformedJson.status(), 400);
        assert_eq!(ErrorCode::Unauthorized.status(), 401);
    }

    #[test]
    fn unknown_fields_and_raw_key_events_rejected() {
        // The per-event format of old: refused, whatever the key field holds.
        let old = r#"{"user":"u","session":"s","batch_seq":0,"keys":[{"key_hash":"00000000000000ff","press_us":1,"release_us":2}]}"#;
        assert!(serde_json::from_str::<IngestBatch>(old).is_err());
        let extra = r#"{"user":"u","session":"s","batch_seq":0,"records":[{"free_text":{"at_us":1,"vocab":2,"keys":20,"values":[],"key":"KeyA"}}]}"#;
        assert!(serde_json::from_str::<IngestBatch>(extra).is_err());
        let ok = r#"{"user":"u","session":"s","batch_seq":0,"records":[{"injection":{"at_us":1,"keystroke":3,"rule":"machine-chord","score":1.0}}]}"#;
        assert!(serde_json::from_str::<IngestBatch>(ok).is_ok());
    }
}
