//! # keyprint-wire
//!
//! The HTTP/JSON API types of `keyprint serve` — the **only** serde boundary of keyprint (the core has no
//! serde) — and the one table of error codes → HTTP status ([`ErrorCode::status`]).
//!
//! Conventions: times on the event clock are integer microseconds (`_us`, monotonic, arbitrary origin, as
//! in `keyprint_core::event`); wall-clock times are Unix milliseconds (`_ms`). Trust is 0–100 (100 = surely
//! the account owner). Every request type rejects unknown fields, so a misspelt or extra field (for
//! instance a plain `key` name where `key_hash` is expected) is an error, never silently ignored.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};

/// Largest number of events (keys + mouse) in one ingest batch; more is `batch_too_large` (413).
pub const MAX_BATCH_EVENTS: usize = 20_000;
/// Largest request body in bytes; more is `body_too_large` (413).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// One keystroke as sent by a client: the key's identity is a keyed hash, never its name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireKey {
    /// 16 lower- or upper-case hex digits: the first 8 bytes (big-endian) of HMAC-SHA256(tenant secret,
    /// W3C `KeyboardEvent.code`), as computed by `keyprint-client`. A plain name is `plain_key_name` (422).
    pub key_hash: String,
    /// Key-down time, µs on the session's monotonic clock.
    pub press_us: i64,
    /// Key-up time, µs; must be `>= press_us`.
    pub release_us: i64,
}

/// Mouse button (see `keyprint_core::MouseButton`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireButton {
    /// No button.
    None,
    /// Primary.
    Left,
    /// Secondary.
    Right,
    /// Middle.
    Middle,
    /// Scroll wheel.
    Wheel,
}

/// Mouse sample kind (see `keyprint_core::MouseEventKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireMouseKind {
    /// Move, no button.
    Move,
    /// Button down.
    Press,
    /// Button up.
    Release,
    /// Move with a button held.
    Drag,
    /// Wheel up.
    ScrollUp,
    /// Wheel down.
    ScrollDown,
}

/// One mouse sample as sent by a client.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireMouse {
    /// Time, µs on the session's monotonic clock.
    pub t_us: i64,
    /// Pointer x, px.
    pub x_px: f64,
    /// Pointer y, px.
    pub y_px: f64,
    /// Button.
    pub button: WireButton,
    /// Kind.
    pub kind: WireMouseKind,
}

/// `POST /v1/events`: one batch of events of one session. The tenant comes from the API key.
///
/// Rules (each violation is a 4xx [`ErrorBody`] and nothing of the batch is applied): `keys` sorted by
/// `press_us` and `mouse` by `t_us`, each not earlier than the session's last accepted event of its kind;
/// no hold longer than 60 s, no gap longer than 24 h, no negative time; at most [`MAX_BATCH_EVENTS`] events;
/// a session belongs to one user. `batch_seq` numbers a session's batches from 0: resending an already
/// stored `batch_seq` is answered `200` with `duplicate: true` and changes nothing (safe client retries);
/// a gap or an older number is `stale_batch` (409).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Keystrokes.
    #[serde(default)]
    pub keys: Vec<WireKey>,
    /// Mouse samples.
    #[serde(default)]
    pub mouse: Vec<WireMouse>,
}

/// Why trust fell: one named reason with the evidence behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
}

/// One reason with its weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    /// Which reason.
    pub code: ReasonCode,
    /// Evidence against the owner carried by this reason now, in natural-log-odds units (> 0).
    pub evidence: f64,
    /// Engine that produced it and what it saw, in words.
    pub detail: String,
}

/// Where a session's scoring stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustState {
    /// The user has no template yet; this session's samples are enrolment samples.
    Enrolling,
    /// Samples are compared with the user's template.
    Scoring,
}

/// A session's current trust.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

/// Answer to `POST /v1/events`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IngestAck {
    /// The session.
    pub session: String,
    /// Key events stored (durably, before this answer was sent).
    pub stored_keys: u64,
    /// Mouse events stored.
    pub stored_mouse: u64,
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Alert id (unique per server).
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Key events stored.
    pub keys: u64,
    /// Mouse events stored.
    pub mouse: u64,
    /// Batches stored.
    pub batches: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Current trust.
    pub trust: Trust,
}

/// `GET /v1/sessions/{session}`: the session and its trust history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionDetail {
    /// The session.
    pub info: SessionInfo,
    /// Trust after each batch, oldest first.
    pub history: Vec<TrustPoint>,
}

/// A user (account) as analysts see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// User.
    pub user: String,
    /// Per engine: enrolment samples held and whether a template exists.
    pub engines: Vec<EngineEnrolment>,
    /// Sessions stored.
    pub sessions: u64,
    /// Alerts raised.
    pub alerts: u64,
}

/// One engine's enrolment state for a user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineEnrolment {
    /// Engine name.
    pub engine: String,
    /// Samples in the user's reference set.
    pub samples: u64,
    /// True once a template was fitted.
    pub enrolled: bool,
    /// Samples added after enrolment from trusted windows.
    pub updates: u64,
}

/// API-key role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// May only post events (agents, SDKs).
    Ingest,
    /// May read sessions, users, alerts (analysts).
    Read,
    /// Everything, including keys, tenant settings and purge.
    Admin,
}

/// `POST /v1/keys` (admin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Role of the new key.
    pub role: Role,
}

/// A new API key; `token` is shown once and stored only as an argon2 hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewKey {
    /// Public key id.
    pub key_id: String,
    /// Role.
    pub role: Role,
    /// The bearer token (`kp_<key_id>_<secret>`).
    pub token: String,
}

/// `PUT /v1/tenant/fixed-text` (admin): the fixed phrase (e.g. a password) as keyed hashes, in typing order,
/// modifiers excluded. The fixed-text engine segments key streams into typings of this phrase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixedTextPhrase {
    /// Key hashes (16 hex digits each), at least 2.
    pub key_hashes: Vec<String>,
}

/// Answer to `DELETE /v1/users/{user}` (admin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Purged {
    /// User.
    pub user: String,
    /// Sessions deleted.
    pub sessions: u64,
    /// Event batches deleted.
    pub batches: u64,
    /// Alerts deleted.
    pub alerts: u64,
}

/// Every error the API answers, with its HTTP status in [`ErrorCode::status`] — the one table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Body is not JSON.
    MalformedJson,
    /// A field is missing, unknown or of the wrong type.
    InvalidField,
    /// A key identity is a plain name, not a 16-hex-digit keyed hash.
    PlainKeyName,
    /// Events go back in time (within the batch or against the session's last event).
    NonMonotonic,
    /// A timestamp is negative, a hold longer than 60 s, or a gap longer than 24 h.
    AbsurdTimestamp,
    /// More than [`MAX_BATCH_EVENTS`] events.
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
}

impl ErrorCode {
    /// HTTP status of the code.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson => 400,
            InvalidField | PlainKeyName | NonMonotonic | AbsurdTimestamp => 422,
            BatchTooLarge | BodyTooLarge => 413,
            SessionUserMismatch | StaleBatch => 409,
            Unauthorized => 401,
            Forbidden => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            RateLimited => 429,
            UnsupportedMediaType => 415,
            Storage => 503,
            Internal => 500,
        }
    }

    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::MalformedJson,
        ErrorCode::InvalidField,
        ErrorCode::PlainKeyName,
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
    ];
}

/// Body of every 4xx/5xx answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// What is wrong, in words.
    pub reason: String,
    /// The offending field (JSON path such as `keys[3].press_us`), when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

/// Parses 16 hex digits into a key hash; `None` for anything else (such as a plain key name).
pub fn parse_key_hash(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
}

/// Formats a key hash as 16 lower-case hex digits.
pub fn format_key_hash(h: u64) -> String {
    format!("{h:016x}")
}

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
    fn unknown_fields_and_plain_names_rejected() {
        let bad = r#"{"user":"u","session":"s","batch_seq":0,"keys":[{"key":"KeyA","press_us":1,"release_us":2}]}"#;
        assert!(serde_json::from_str::<IngestBatch>(bad).is_err());
        assert_eq!(parse_key_hash("KeyA"), None);
        assert_eq!(parse_key_hash("00000000000000ff"), Some(255));
        assert_eq!(parse_key_hash(&format_key_hash(u64::MAX)), Some(u64::MAX));
    }
}
