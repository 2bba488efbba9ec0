//! Storage: the [`Storage`] trait (what the service needs) and its embedded SQLite implementation
//! ([`SqliteStore`]). A PostgreSQL backend implements the same trait later.
//!
//! Invariants every backend keeps:
//! * [`Storage::commit_batch`] is atomic (one transaction: records, session row, trust point, alerts, outbox
//!   rows, reference samples, digests) and durable when it returns `Ok` — SQLite runs in WAL mode with
//!   `synchronous = FULL`, so the WAL is fsynced at every commit; the HTTP answer is sent only after.
//! * Nothing typed is stored: only the edge's content-free records (`keyprint_edge::Record`: timing vectors,
//!   window summaries, mouse action features, verdicts, device events) — no key identity, no key order.
//!   Reference samples are those records' vectors.
//! * Reads never wait on writes: [`Storage::reads`] gives the read side ([`Reads`]), which list and detail
//!   endpoints use — for SQLite a pool of read-only connections ([`SqliteReads`]) that read the last committed
//!   snapshot (WAL) without the writer's lock. Lists are pages after a position in an order inserts do not
//!   change, each a fixed number of queries.
//! * Alert ids are numbered per tenant (`alert_seqs`, in the batch's transaction): no gaps from other tenants
//!   or from rolled-back batches.
//! * One process per database: [`lock_data_dir`] holds an exclusive `flock` on `<database>.lock` (with the
//!   holder's pid inside) while the store is open.
//!
//! Record encoding: one row per batch holding the JSON text of the batch's `keyprint_wire::WireRecord`s.
//! The schema's version is SQLite's `user_version` ([`SCHEMA_VERSION`]); a data directory of another
//! version (such as one holding per-event batches of earlier releases) is refused at start.

use crate::engine::PhraseSetting;
use crate::trust::{Channel, Fusion};
use keyprint_core::detector::FeatureVector;
use keyprint_wire::{Alert, Reason, ReasonCode, Role, TrustPoint, WireRecord};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// A storage failure (the operation had no effect).
#[derive(Debug, thiserror::Error)]
#[error("storage: {0}")]
pub struct StoreError(pub String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// Result of storage calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// A tenant's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TenantRow {
    /// Tenant id.
    pub id: String,
    /// Fixed phrase (id and length).
    pub phrase: Option<PhraseSetting>,
    /// Retention of records, trust history and alerts, days.
    pub retention_days: u32,
}

/// Default retention, days (records, trust history, alerts; templates stay until purge).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;

/// What one retention pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expired {
    /// Record batches.
    pub batches: u64,
    /// Trust-history points.
    pub trust_points: u64,
    /// Alerts (with their outbox rows).
    pub alerts: u64,
    /// Sessions whose last batch was older than the cut-off.
    pub sessions: u64,
}

/// A stored credential: a tenant API key, a device's credential or a browser credential. The secret is kept
/// only as `sha256:<hex>` (secrets are 128-bit random, so a fast hash is enough and verification costs no
/// more than a lookup: no attacker can exhaust a budget for it) or, for keys of earlier releases, an argon2
/// PHC string.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyRow {
    /// Public id.
    pub key_id: String,
    /// Tenant.
    pub tenant: String,
    /// Role.
    pub role: Role,
    /// Hash of the secret (see above).
    pub hash: String,
    /// Device the credential belongs to ([`Role::Device`], [`Role::Browser`]).
    pub device: Option<String>,
    /// User a browser credential is bound to.
    pub user: Option<String>,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Expiry, Unix ms (browser credentials).
    pub expires_ms: Option<i64>,
    /// Revoked, Unix ms.
    pub revoked_ms: Option<i64>,
}

/// A registered device.
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceRow {
    /// Tenant.
    pub tenant: String,
    /// Device id.
    pub device: String,
    /// Bound users (empty: a shared device that can never enrol anyone).
    pub users: Vec<String>,
    /// Free label.
    pub label: Option<String>,
    /// Registered, Unix ms.
    pub registered_ms: i64,
    /// Public id of the outstanding one-time registration token, `None` once exchanged.
    pub reg_id: Option<String>,
    /// `sha256:<hex>` of the registration token's secret, `None` once exchanged.
    pub reg_hash: Option<String>,
    /// When the registration token expires, Unix ms.
    pub reg_expires_ms: i64,
    /// Revoked, Unix ms.
    pub revoked_ms: Option<i64>,
}

/// What an admin does with a user's enrolment ([`Storage::set_enrolment`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnrolmentAction {
    /// Lift a hold: the fitted template becomes active.
    Approve,
    /// Discard the reference samples and the enrolment (the user enrols again); alerts and history stay.
    Reset,
}

/// A session row.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionRow {
    /// Tenant.
    pub tenant: String,
    /// Session id.
    pub session: String,
    /// User.
    pub user: String,
    /// Device.
    pub device: Option<String>,
    /// First batch, Unix ms.
    pub started_ms: i64,
    /// Last batch, Unix ms.
    pub last_ms: i64,
    /// Records stored.
    pub records: u64,
    /// Mouse-action records stored.
    pub mouse: u64,
    /// Batches stored (= next expected `batch_seq`).
    pub batches: u64,
    /// Alerts raised.
    pub alerts: u64,
    /// Time of the last accepted keystroke or device record, µs.
    pub last_input_us: Option<i64>,
    /// Time of the last accepted mouse record, µs.
    pub last_mouse_us: Option<i64>,
    /// Trust fusion state.
    pub fusion: Fusion,
}

/// An alert to insert (the store assigns the id).
#[derive(Clone, Debug, PartialEq)]
pub struct NewAlert {
    /// The alert (its `id` is ignored).
    pub alert: Alert,
    /// Outbox sinks to enqueue it for.
    pub sinks: Vec<String>,
}

/// A user's per-engine reference state change.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceChange {
    /// Engine name.
    pub engine: String,
    /// Samples to append (oldest first), with `true` for trusted-window updates.
    pub add: Vec<(FeatureVector, bool)>,
    /// Keep only the newest this many samples afterwards.
    pub keep: usize,
    /// Enrolled flag after the change.
    pub enrolled: bool,
    /// Hold reason after the change (`None`: not held).
    pub held: Option<String>,
}

/// Everything one accepted batch changes, applied atomically.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchCommit {
    /// Session row after the batch.
    pub session: SessionRow,
    /// The batch number.
    pub seq: u64,
    /// Wall clock, Unix ms.
    pub at_ms: i64,
    /// The batch's records (checked, content-free).
    pub records: Vec<WireRecord>,
    /// Trust after the batch.
    pub point: TrustPoint,
    /// Alerts raised.
    pub alerts: Vec<NewAlert>,
    /// Reference changes for the session's user.
    pub references: Vec<ReferenceChange>,
    /// New sample digests for the session's user (replay detection).
    pub digests: Vec<[u8; 32]>,
    /// The user's fusion state after the batch (trust across all the user's sessions and devices).
    pub user_fusion: Fusion,
}

/// An outbox row due for delivery.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Sink name (`webhook`, `file`, `syslog`).
    pub sink: String,
    /// The alert (JSON text of `keyprint_wire::Alert` plus `tenant`).
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// A user's reference for one engine.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReferenceRow {
    /// Samples, oldest first.
    pub samples: Vec<FeatureVector>,
    /// Enrolled flag.
    pub enrolled: bool,
    /// Trusted-window updates so far.
    pub updates: u64,
    /// Why the enrolment is held for review, if it is.
    pub held: Option<String>,
}

/// A position in the sessions list, which runs newest first by start time (`started_ms` descending, then
/// session id descending): the last row a page returned. Start time and id never change, so a position stays
/// valid while sessions are added or updated (new sessions start later, so they sort before any position).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionKey {
    /// The row's first batch, Unix ms.
    pub started_ms: i64,
    /// The row's session id.
    pub session: String,
}

/// One engine's enrolment of a user, as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct EnrolmentRow {
    /// Engine name.
    pub engine: String,
    /// Reference samples held.
    pub samples: u64,
    /// Enrolled flag.
    pub enrolled: bool,
    /// Trusted-window updates so far.
    pub updates: u64,
    /// Why the enrolment is held for review, if it is.
    pub held: Option<String>,
}

/// A user as listed (`GET /v1/users`).
#[derive(Clone, Debug, PartialEq)]
pub struct UserRow {
    /// User id.
    pub user: String,
    /// Enrolment per engine, by engine name.
    pub engines: Vec<EnrolmentRow>,
    /// Sessions stored.
    pub sessions: u64,
    /// Alerts raised in those sessions.
    pub alerts: u64,
    /// Trust across the user's sessions, when the user has any.
    pub fusion: Option<Fusion>,
}

/// Read-only access for list and detail endpoints and other reads that must never wait on ingest: every
/// method reads one committed snapshot and takes no lock a commit needs (SQLite: a pool of read-only
/// connections in WAL mode). Lists are pages: at most `limit` rows after a position, in a stable order.
pub trait Reads: Send + Sync {
    /// Up to `limit` sessions of a tenant (optionally one user) after `after`, newest first by start time
    /// (see [`SessionKey`]).
    fn sessions_page(
        &self,
        tenant: &str,
        user: Option<&str>,
        after: Option<&SessionKey>,
        limit: usize,
    ) -> StoreResult<Vec<SessionRow>>;
    /// A session row.
    fn session(&self, tenant: &str, session: &str) -> StoreResult<Option<SessionRow>>;
    /// Trust history of a session, oldest first.
    fn history(&self, tenant: &str, session: &str) -> StoreResult<Vec<TrustPoint>>;
    /// Up to `limit` alerts of a tenant with (per-tenant) id > `after`, oldest first.
    fn alerts_page(
        &self,
        tenant: &str,
        after: i64,
        user: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Alert>>;
    /// Up to `limit` users of a tenant (from sessions and enrolments) with id > `after`, by id, with their
    /// enrolments, session and alert counts and cross-session trust (a fixed number of queries per page).
    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserRow>>;
    /// One user's row (`None` when the tenant holds nothing of the user).
    fn user(&self, tenant: &str, user: &str) -> StoreResult<Option<UserRow>>;
    /// Up to `limit` devices of a tenant with id > `after`, by id, each with its credentials (oldest first).
    fn devices_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(DeviceRow, Vec<KeyRow>)>>;
    /// The reference samples of up to `max_users` users other than `except` whose `engine` enrolment is
    /// active (enrolled, not held), by user id (for the enrolment check against other users).
    fn active_references(
        &self,
        tenant: &str,
        engine: &str,
        except: &str,
        max_users: usize,
    ) -> StoreResult<Vec<(String, Vec<FeatureVector>)>>;
    /// How many users hold reference samples for `engine`.
    fn users_with_samples(&self, tenant: &str, engine: &str) -> StoreResult<u64>;
}

/// What the service needs from storage. Every method is one transaction.
pub trait Storage: Send {
    /// The read-only side ([`Reads`]), shared by every reader; it never waits for this value's lock.
    fn reads(&self) -> std::sync::Arc<dyn Reads>;
    /// Creates a tenant if absent.
    fn create_tenant(&mut self, id: &str) -> StoreResult<()>;
    /// A tenant.
    fn tenant(&mut self, id: &str) -> StoreResult<Option<TenantRow>>;
    /// Sets a tenant's fixed phrase. When the phrase changes, the tenant's fixed-text references and enrolments
    /// are discarded in the same transaction: they were measured on another phrase (other feature vectors).
    fn set_phrase(&mut self, id: &str, phrase: &PhraseSetting) -> StoreResult<()>;
    /// Sets a tenant's retention (days).
    fn set_retention(&mut self, id: &str, days: u32) -> StoreResult<()>;
    /// Every tenant id.
    fn tenant_ids(&mut self) -> StoreResult<Vec<String>>;
    /// Deletes a tenant's records, trust points, alerts (and their outbox rows) and sessions older than
    /// `cutoff_ms` (wall clock, Unix ms), in one transaction. Templates and replay digests stay.
    fn expire(&mut self, tenant: &str, cutoff_ms: i64) -> StoreResult<Expired>;
    /// Stores an API key.
    fn put_key(&mut self, key: &KeyRow) -> StoreResult<()>;
    /// Looks up an API key by id.
    fn key(&mut self, key_id: &str) -> StoreResult<Option<KeyRow>>;
    /// A session row.
    fn session(&mut self, tenant: &str, session: &str) -> StoreResult<Option<SessionRow>>;
    /// Applies one batch atomically; returns the new alerts with their ids.
    fn commit_batch(&mut self, c: &BatchCommit) -> StoreResult<Vec<Alert>>;
    /// Group commit: applies several batches, each atomically, with one durable flush for all; returns one
    /// result per batch (a failed batch leaves no trace, the others stand).
    fn commit_batches(&mut self, cs: &[&BatchCommit]) -> Vec<StoreResult<Vec<Alert>>> {
        cs.iter().map(|c| self.commit_batch(c)).collect()
    }
    /// Sessions of a tenant (optionally one user), newest first.
    fn sessions(&mut self, tenant: &str, user: Option<&str>) -> StoreResult<Vec<SessionRow>>;
    /// Trust history of a session.
    fn history(&mut self, tenant: &str, session: &str) -> StoreResult<Vec<TrustPoint>>;
    /// Alerts of a tenant with id > `after`, oldest first.
    fn alerts(&mut self, tenant: &str, after: i64, user: Option<&str>) -> StoreResult<Vec<Alert>>;
    /// Users of a tenant (from sessions and references).
    fn users(&mut self, tenant: &str) -> StoreResult<Vec<String>>;
    /// A user's reference for an engine.
    fn reference(&mut self, tenant: &str, user: &str, engine: &str) -> StoreResult<ReferenceRow>;
    /// Engines with a reference for a user.
    fn reference_engines(&mut self, tenant: &str, user: &str) -> StoreResult<Vec<String>>;
    /// Whether a sample digest was seen for the user.
    fn digest_seen(&mut self, tenant: &str, user: &str, digest: &[u8; 32]) -> StoreResult<bool>;
    /// Every sample digest seen for the user.
    fn digests(&mut self, tenant: &str, user: &str) -> StoreResult<Vec<[u8; 32]>>;
    /// Deletes everything of a user: sessions, events, history, alerts (and their outbox rows),
    /// references, digests. Returns (sessions, batches, alerts) deleted.
    fn purge_user(&mut self, tenant: &str, user: &str) -> StoreResult<(u64, u64, u64)>;
    /// Stored records of a session, in batch order.
    fn records(&mut self, tenant: &str, session: &str) -> StoreResult<Vec<WireRecord>>;
    /// Stores alerts that belong to no session batch (network findings) with their outbox rows, in one
    /// transaction, durable when it returns.
    fn insert_alerts(
        &mut self,
        tenant: &str,
        alerts: &[NewAlert],
        now_ms: i64,
    ) -> StoreResult<Vec<Alert>>;
    /// Outbox rows due at `now_ms`.
    fn outbox_due(&mut self, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>>;
    /// Marks an outbox row delivered.
    fn outbox_delivered(&mut self, id: i64, now_ms: i64) -> StoreResult<()>;
    /// Records a failed attempt and when to retry.
    fn outbox_failed(&mut self, id: i64, next_ms: i64, error: &str) -> StoreResult<()>;
    /// Outbox rows not yet delivered.
    fn outbox_pending(&mut self) -> StoreResult<u64>;
    /// Registers a device; `false` (nothing written) when the id exists in the tenant.
    fn put_device(&mut self, d: &DeviceRow) -> StoreResult<bool>;
    /// A device.
    fn device(&mut self, tenant: &str, device: &str) -> StoreResult<Option<DeviceRow>>;
    /// The device whose outstanding registration token has public id `reg_id` (any tenant).
    fn device_by_registration(&mut self, reg_id: &str) -> StoreResult<Option<DeviceRow>>;
    /// A tenant's devices, by id.
    fn devices(&mut self, tenant: &str) -> StoreResult<Vec<DeviceRow>>;
    /// Exchanges a device's registration token for `key`, in one transaction: the token is consumed only if
    /// it is still outstanding (`false`, nothing written, when another exchange won).
    fn exchange_registration(
        &mut self,
        tenant: &str,
        device: &str,
        reg_id: &str,
        key: &KeyRow,
    ) -> StoreResult<bool>;
    /// Credentials of a device, oldest first.
    fn device_keys(&mut self, tenant: &str, device: &str) -> StoreResult<Vec<KeyRow>>;
    /// Revokes every live credential of a device (and the device itself when `device_too`) at `now_ms`;
    /// returns the revoked key ids.
    fn revoke_device(
        &mut self,
        tenant: &str,
        device: &str,
        device_too: bool,
        now_ms: i64,
    ) -> StoreResult<Vec<String>>;
    /// A user's fusion state across sessions.
    fn user_fusion(&mut self, tenant: &str, user: &str) -> StoreResult<Option<Fusion>>;
    /// Forgets a user's fusion state across sessions (the next batch starts the user's view afresh).
    fn reset_user_fusion(&mut self, tenant: &str, user: &str) -> StoreResult<()>;
    /// Approves or resets a user's enrolment for `engine` (every engine when `None`); returns the engines
    /// changed.
    fn set_enrolment(
        &mut self,
        tenant: &str,
        user: &str,
        engine: Option<&str>,
        action: EnrolmentAction,
    ) -> StoreResult<Vec<String>>;
    /// Up to `limit` undelivered rows of one sink due at `now_ms`, oldest first: each sink reads its own
    /// queue, so a sink that hangs never holds back another.
    fn outbox_due_sink(
        &mut self,
        sink: &str,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<OutboxRow>>;
    /// Undelivered rows of one sink (its backlog).
    fn outbox_backlog(&mut self, sink: &str) -> StoreResult<u64>;
}

/// SQLite storage (bundled SQLite, WAL, `synchronous = FULL`): this value owns the one writer connection;
/// [`Storage::reads`] hands out a pool of read-only connections to the same file, which in WAL mode read a
/// committed snapshot without taking the writer's lock or blocking its commits.
pub struct SqliteStore {
    conn: Connection,
    path: std::path::PathBuf,
    reads: std::sync::OnceLock<std::sync::Arc<SqliteReads>>,
    /// An exclusive lock on `<database>.lock`, held while the store is open: two servers on one data
    /// directory would both accept batches while only one delivers the outbox.
    _lock: std::fs::File,
}

/// The storage schema's version (SQLite `user_version`): 2 = content-free records; 3 = registered devices,
/// per-device and browser credentials, per-user trust, enrolment holds; 4 = per-tenant alert ids (directories
/// of versions 2 and 3 are migrated); 5 = free-text windows of summary vocabulary 2 (see [`MIGRATE_4_5`]).
pub const SCHEMA_VERSION: i64 = 5;

/// Version 4 → 5: the edge's free-text summary vocabulary went from 1 (12 key classes, 320 entries) to 2
/// (8 classes, 162 entries; `keyprint_edge::vocab`). Windows of the two cannot be compared, so the stored
/// free-text reference windows and enrolments are dropped and each such user enrols free text again from
/// their next windows, under the service's usual rules (a user with another enrolled engine re-enrols in
/// sessions that engine vouches for). Those users' per-user trust (`user_trust`) restarts from the prior:
/// its free-text and humanized-timing evidence came from the old templates, and evidence against the user
/// would otherwise block the re-enrolment with no template left to revise it. Fixed-text and mouse
/// references, sessions and alerts are kept; an open `enrolment_held` alert for free text now names an
/// enrolment that no longer exists (approving it changes nothing); replay digests of vocabulary-1 windows
/// stay (a vocabulary-2 window never matches one). The tenant's free-text population is rebuilt from the
/// new enrolments.
pub const MIGRATE_4_5: &str = "
DELETE FROM user_trust WHERE EXISTS (SELECT 1 FROM enrolments e WHERE e.engine = 'free-text'
  AND e.tenant = user_trust.tenant AND e.user = user_trust.user);
DELETE FROM reference_samples WHERE engine = 'free-text';
DELETE FROM enrolments WHERE engine = 'free-text';
";

/// Version 3 → 4: alert ids become per tenant (`alerts.seq`, the counter `alert_seqs`). Existing alerts keep
/// their (global) id as their tenant's number and every tenant's counter continues after its largest one,
/// so an `?after=` position a client holds stays valid; from then on a tenant's ids have no gaps.
const MIGRATE_3_4: &str = "
ALTER TABLE alerts ADD COLUMN seq INTEGER;
UPDATE alerts SET seq = id;
CREATE TABLE IF NOT EXISTS alert_seqs(tenant TEXT PRIMARY KEY, last INTEGER NOT NULL);
INSERT INTO alert_seqs(tenant, last) SELECT tenant, MAX(seq) FROM alerts GROUP BY tenant;
";

/// Version 2 → 3, run before [`SCHEMA`] (which creates the new tables).
const MIGRATE_2_3: &str = "
ALTER TABLE api_keys ADD COLUMN device TEXT;
ALTER TABLE api_keys ADD COLUMN user TEXT;
ALTER TABLE api_keys ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN expires_ms INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_ms INTEGER;
ALTER TABLE enrolments ADD COLUMN held TEXT;
";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants(id TEXT PRIMARY KEY, phrase BLOB, retention_days INTEGER NOT NULL DEFAULT 90);
CREATE TABLE IF NOT EXISTS api_keys(key_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, role TEXT NOT NULL, hash TEXT NOT NULL,
  device TEXT, user TEXT, created_ms INTEGER NOT NULL DEFAULT 0, expires_ms INTEGER, revoked_ms INTEGER);
CREATE INDEX IF NOT EXISTS api_keys_device ON api_keys(tenant, device);
CREATE TABLE IF NOT EXISTS devices(tenant TEXT NOT NULL, device TEXT NOT NULL, users TEXT NOT NULL, label TEXT,
  registered_ms INTEGER NOT NULL, reg_id TEXT UNIQUE, reg_hash TEXT, reg_expires_ms INTEGER NOT NULL, revoked_ms INTEGER,
  PRIMARY KEY(tenant, device));
CREATE TABLE IF NOT EXISTS user_trust(tenant TEXT NOT NULL, user TEXT NOT NULL, scored INTEGER NOT NULL, alerted INTEGER NOT NULL,
  scoring INTEGER NOT NULL, channels TEXT NOT NULL, PRIMARY KEY(tenant, user));
CREATE TABLE IF NOT EXISTS sessions(tenant TEXT NOT NULL, session TEXT NOT NULL, user TEXT NOT NULL, device TEXT,
  started_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, records INTEGER NOT NULL, mouse INTEGER NOT NULL,
  batches INTEGER NOT NULL, alerts INTEGER NOT NULL, last_input_us INTEGER, last_mouse_us INTEGER,
  evidence REAL NOT NULL, scored INTEGER NOT NULL, alerted INTEGER NOT NULL, scoring INTEGER NOT NULL, reasons TEXT NOT NULL,
  PRIMARY KEY(tenant, session));
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(tenant, user);
CREATE TABLE IF NOT EXISTS batches(tenant TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
  n_records INTEGER NOT NULL, records TEXT NOT NULL, PRIMARY KEY(tenant, session, seq));
CREATE TABLE IF NOT EXISTS trust_history(tenant TEXT NOT NULL, session TEXT NOT NULL, seq INTEGER NOT NULL, at_ms INTEGER NOT NULL,
  trust REAL NOT NULL, confidence REAL NOT NULL, reasons TEXT NOT NULL, PRIMARY KEY(tenant, session, seq));
CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, user TEXT NOT NULL, session TEXT NOT NULL,
  at_ms INTEGER NOT NULL, event_us INTEGER NOT NULL, trust REAL NOT NULL, threshold REAL NOT NULL, reasons TEXT NOT NULL,
  seq INTEGER);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_seq ON alerts(tenant, seq);
CREATE INDEX IF NOT EXISTS alerts_user ON alerts(tenant, user);
CREATE TABLE IF NOT EXISTS alert_seqs(tenant TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_started ON sessions(tenant, started_ms, session);
CREATE TABLE IF NOT EXISTS outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, sink TEXT NOT NULL, payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, delivered_ms INTEGER, last_error TEXT);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(delivered_ms, next_ms);
CREATE TABLE IF NOT EXISTS reference_samples(tenant TEXT NOT NULL, user TEXT NOT NULL, engine TEXT NOT NULL, id INTEGER PRIMARY KEY AUTOINCREMENT,
  sample BLOB NOT NULL, is_update INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS reference_user ON reference_samples(tenant, user, engine);
CREATE TABLE IF NOT EXISTS enrolments(tenant TEXT NOT NULL, user TEXT NOT NULL, engine TEXT NOT NULL, enrolled INTEGER NOT NULL,
  updates INTEGER NOT NULL, held TEXT, PRIMARY KEY(tenant, user, engine));
CREATE TABLE IF NOT EXISTS digests(tenant TEXT NOT NULL, user TEXT NOT NULL, digest BLOB NOT NULL, PRIMARY KEY(tenant, user, digest));
";

impl SqliteStore {
    /// Opens (creating if needed) the database file `path`.
    ///
    /// # Errors
    /// [`StoreError`] when the file cannot be opened or the schema not created.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let lock = lock_data_dir(path)?;
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Checkpoint the WAL into the database every ~40 MB instead of ~4 MB (fewer latency spikes).
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let tables: i64 = conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        // Migrations, each in its own transaction, from the version it starts at.
        for (from, sql) in [(2, MIGRATE_2_3), (3, MIGRATE_3_4), (4, MIGRATE_4_5)] {
            let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if tables > 0 && version == from {
                let tx = conn.unchecked_transaction()?;
                if from >= 4 {
                    // From version 4 on, migrations work on the current tables (a directory migrated from
                    // an older version may not have all of them yet).
                    tx.execute_batch(SCHEMA)?;
                }
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", from + 1)?;
                tx.commit()?;
            }
        }
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if tables > 0 && version != SCHEMA_VERSION {
            return Err(StoreError(format!(
                "{}: schema version {version}, this keyprint needs {SCHEMA_VERSION} (earlier releases stored \
                 per-key events, which this one never reads or keeps): start with a new data directory",
                path.display()
            )));
        }
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(SqliteStore {
            conn,
            path: path.to_path_buf(),
            reads: std::sync::OnceLock::new(),
            _lock: lock,
        })
    }
}

/// Takes the exclusive lock of the data directory holding database `path`: an advisory `flock` on
/// `<database>.lock` (std's [`std::fs::File::try_lock`]), which the kernel releases when the process ends in
/// any way (`kill -9` included), so a stale lock never needs cleaning up. The holder writes its pid into the
/// file; a second process is refused with an error naming the directory and that pid.
///
/// # Errors
/// [`StoreError`] when the lock file cannot be opened or another process (or another store in this process)
/// holds the lock.
pub fn lock_data_dir(path: &Path) -> StoreResult<std::fs::File> {
    use std::io::{Read, Seek, Write};
    let lock_path = path.with_extension("lock");
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| StoreError(format!("{}: {e}", lock_path.display())))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = lock.read_to_string(&mut holder);
            let holder = holder.trim();
            let pid = if holder.is_empty() {
                "unknown pid".to_string()
            } else {
                format!("pid {holder}")
            };
            return Err(StoreError(format!(
                "data directory {} is in use by another keyprint process ({pid}; lock {} held): stop it or \
                 use another --data-dir",
                dir.display(),
                lock_path.display()
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(StoreError(format!("{}: {e}", lock_path.display())));
        }
    }
    let written = lock
        .set_len(0)
        .and_then(|_| lock.rewind())
        .and_then(|_| writeln!(lock, "{}", std::process::id()))
        .and_then(|_| lock.flush());
    written.map_err(|e| StoreError(format!("{}: {e}", lock_path.display())))?;
    Ok(lock)
}

fn insert_key(c: &Connection, k: &KeyRow) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO api_keys({KEY_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"),
        params![
            k.key_id,
            k.tenant,
            role_str(k.role),
            k.hash,
            k.device,
            k.user,
            k.created_ms,
            k.expires_ms,
            k.revoked_ms
        ],
    )?;
    Ok(())
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Ingest => "ingest",
        Role::Read => "read",
        Role::Admin => "admin",
        Role::Device => "device",
        Role::Browser => "browser",
    }
}

fn role_parse(s: &str) -> Role {
    match s {
        "admin" => Role::Admin,
        "read" => Role::Read,
        "device" => Role::Device,
        "browser" => Role::Browser,
        _ => Role::Ingest,
    }
}

/// A phrase setting as stored: `"<keys>\t<id>"` (ids are printable ASCII without spaces or tabs).
fn encode_phrase(p: &PhraseSetting) -> Vec<u8> {
    format!("{}\t{}", p.keys, p.id).into_bytes()
}

fn decode_phrase(b: &[u8]) -> Option<PhraseSetting> {
    let s = std::str::from_utf8(b).ok()?;
    let (k, id) = s.split_once('\t')?;
    Some(PhraseSetting {
        id: id.to_string(),
        keys: k.parse().ok()?,
    })
}

fn encode_sample(v: &[f64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode_sample(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn reasons_json(r: &[Reason]) -> String {
    serde_json::to_string(r).unwrap_or_else(|_| "[]".into())
}

fn fusion_reasons_json(f: &Fusion) -> String {
    let v: Vec<(ReasonCode, f64, u64, f64, String)> = f
        .channels
        .iter()
        .map(|(c, ch)| (*c, ch.evidence, ch.actions, ch.lambda, ch.detail.clone()))
        .collect();
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

fn fusion_from_parts(scored: i64, alerted: i64, scoring: i64, channels: &str) -> Fusion {
    let v: Vec<(ReasonCode, f64, u64, f64, String)> =
        serde_json::from_str(channels).unwrap_or_default();
    Fusion {
        cusum: false,
        scored: scored as u64,
        alerted: alerted != 0,
        scoring: scoring != 0,
        channels: v
            .into_iter()
            .map(|(c, evidence, actions, lambda, detail)| {
                (
                    c,
                    Channel {
                        evidence,
                        actions,
                        lambda,
                        detail,
                    },
                )
            })
            .collect(),
    }
}

const KEY_COLS: &str =
    "key_id, tenant, role, hash, device, user, created_ms, expires_ms, revoked_ms";

fn row_key(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        key_id: r.get(0)?,
        tenant: r.get(1)?,
        role: role_parse(&r.get::<_, String>(2)?),
        hash: r.get(3)?,
        device: r.get(4)?,
        user: r.get(5)?,
        created_ms: r.get(6)?,
        expires_ms: r.get(7)?,
        revoked_ms: r.get(8)?,
    })
}

const DEVICE_COLS: &str =
    "tenant, device, users, label, registered_ms, reg_id, reg_hash, reg_expires_ms, revoked_ms";

fn row_device(r: &rusqlite::Row<'_>) -> rusqlite::Result<DeviceRow> {
    let users: String = r.get(2)?;
    Ok(DeviceRow {
        tenant: r.get(0)?,
        device: r.get(1)?,
        users: serde_json::from_str(&users).unwrap_or_default(),
        label: r.get(3)?,
        registered_ms: r.get(4)?,
        reg_id: r.get(5)?,
        reg_hash: r.get(6)?,
        reg_expires_ms: r.get(7)?,
        revoked_ms: r.get(8)?,
    })
}

fn row_session(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    let reasons: String = r.get(16)?;
    Ok(SessionRow {
        tenant: r.get(0)?,
        session: r.get(1)?,
        user: r.get(2)?,
        device: r.get(3)?,
        started_ms: r.get(4)?,
        last_ms: r.get(5)?,
        records: r.get::<_, i64>(6)? as u64,
        mouse: r.get::<_, i64>(7)? as u64,
        batches: r.get::<_, i64>(8)? as u64,
        alerts: r.get::<_, i64>(9)? as u64,
        last_input_us: r.get(10)?,
        last_mouse_us: r.get(11)?,
        fusion: fusion_from_parts(r.get(13)?, r.get(14)?, r.get(15)?, &reasons),
    })
}

const SESSION_COLS: &str = "tenant, session, user, device, started_ms, last_ms, records, mouse, batches, alerts, last_input_us, last_mouse_us, evidence, scored, alerted, scoring, reasons";

fn row_alert(r: &rusqlite::Row<'_>) -> rusqlite::Result<Alert> {
    let reasons: String = r.get(7)?;
    Ok(Alert {
        id: r.get(0)?,
        user: r.get(1)?,
        session: r.get(2)?,
        at_ms: r.get(3)?,
        event_us: r.get(4)?,
        trust: r.get(5)?,
        threshold: r.get(6)?,
        reasons: serde_json::from_str(&reasons).unwrap_or_default(),
    })
}

/// An outbox row from `SELECT id, sink, payload, attempts`.
fn row_outbox(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        sink: r.get(1)?,
        payload: r.get(2)?,
        attempts: r.get::<_, i64>(3)? as u32,
    })
}

/// Inserts alerts and their outbox rows (due at `now_ms`) inside an open transaction; returns them with ids.
fn insert_alerts_tx(
    tx: &Connection,
    tenant: &str,
    alerts: &[NewAlert],
    now_ms: i64,
) -> StoreResult<Vec<Alert>> {
    let mut out = Vec::new();
    for a in alerts {
        let al = &a.alert;
        // The tenant's next alert number, in this transaction: a rolled-back batch takes its number back, so
        // a tenant's ids have no gaps, and other tenants' alerts never use its numbers.
        let seq: i64 = tx.query_row(
            "INSERT INTO alert_seqs(tenant, last) VALUES (?1, 1)
             ON CONFLICT(tenant) DO UPDATE SET last = last + 1 RETURNING last",
            [tenant],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO alerts(tenant, seq, user, session, at_ms, event_us, trust, threshold, reasons) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
            params![
                tenant,
                seq,
                al.user,
                al.session,
                al.at_ms,
                al.event_us,
                al.trust,
                al.threshold,
                reasons_json(&al.reasons)
            ],
        )?;
        let id = tx.last_insert_rowid();
        let mut stored = al.clone();
        stored.id = seq;
        let payload = serde_json::json!({"tenant": tenant, "alert": stored}).to_string();
        for sink in &a.sinks {
            tx.execute(
                "INSERT INTO outbox(alert_id, sink, payload, next_ms) VALUES (?1,?2,?3,?4)",
                params![id, sink, payload, now_ms],
            )?;
        }
        out.push(stored);
    }
    Ok(out)
}

/// Writes one batch's changes inside an open transaction or savepoint.
fn apply_batch(tx: &Connection, c: &BatchCommit) -> StoreResult<Vec<Alert>> {
    let s = &c.session;
    tx.execute(
            &format!(
                "INSERT OR REPLACE INTO sessions({SESSION_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"
            ),
            params![
                s.tenant,
                s.session,
                s.user,
                s.device,
                s.started_ms,
                s.last_ms,
                s.records as i64,
                s.mouse as i64,
                s.batches as i64,
                s.alerts as i64,
                s.last_input_us,
                s.last_mouse_us,
                s.fusion
                    .channels
                    .values()
                    .map(|c| c.evidence)
                    .fold(0.0, f64::min),
                s.fusion.scored as i64,
                s.fusion.alerted as i64,
                s.fusion.scoring as i64,
                fusion_reasons_json(&s.fusion),
            ],
        )?;
    tx.execute(
            "INSERT INTO batches(tenant, session, seq, at_ms, n_records, records) VALUES (?1,?2,?3,?4,?5,?6)",
            params![
                s.tenant,
                s.session,
                c.seq as i64,
                c.at_ms,
                c.records.len() as i64,
                serde_json::to_string(&c.records).map_err(|e| StoreError(e.to_string()))?
            ],
        )?;
    let p = &c.point;
    tx.execute(
            "INSERT INTO trust_history(tenant, session, seq, at_ms, trust, confidence, reasons) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            params![
                s.tenant,
                s.session,
                p.batch_seq as i64,
                p.at_ms,
                p.trust,
                p.confidence,
                serde_json::to_string(&p.reasons).unwrap_or_default()
            ],
        )?;
    let out = insert_alerts_tx(tx, &s.tenant, &c.alerts, c.at_ms)?;
    for r in &c.references {
        for (sample, upd) in &r.add {
            tx.execute(
                    "INSERT INTO reference_samples(tenant, user, engine, sample, is_update) VALUES (?1,?2,?3,?4,?5)",
                    params![s.tenant, s.user, r.engine, encode_sample(sample), *upd as i64],
                )?;
        }
        tx.execute(
                "DELETE FROM reference_samples WHERE tenant = ?1 AND user = ?2 AND engine = ?3 AND id NOT IN
                 (SELECT id FROM reference_samples WHERE tenant = ?1 AND user = ?2 AND engine = ?3 ORDER BY id DESC LIMIT ?4)",
                params![s.tenant, s.user, r.engine, r.keep as i64],
            )?;
        let n_upd = r.add.iter().filter(|(_, u)| *u).count() as i64;
        tx.execute(
                "INSERT INTO enrolments(tenant, user, engine, enrolled, updates, held) VALUES (?1,?2,?3,?4,?5,?6)
                 ON CONFLICT(tenant, user, engine) DO UPDATE SET enrolled = ?4, updates = updates + ?5, held = ?6",
                params![s.tenant, s.user, r.engine, r.enrolled as i64, n_upd, r.held],
            )?;
    }
    let f = &c.user_fusion;
    tx.execute(
        "INSERT OR REPLACE INTO user_trust(tenant, user, scored, alerted, scoring, channels) VALUES (?1,?2,?3,?4,?5,?6)",
        params![
            s.tenant,
            s.user,
            f.scored as i64,
            f.alerted as i64,
            f.scoring as i64,
            fusion_reasons_json(f)
        ],
    )?;
    for d in &c.digests {
        tx.execute(
            "INSERT OR IGNORE INTO digests(tenant, user, digest) VALUES (?1,?2,?3)",
            params![s.tenant, s.user, d.as_slice()],
        )?;
    }
    Ok(out)
}

impl Storage for SqliteStore {
    fn reads(&self) -> std::sync::Arc<dyn Reads> {
        self.reads
            .get_or_init(|| std::sync::Arc::new(SqliteReads::new(&self.path)))
            .clone()
    }

    fn create_tenant(&mut self, id: &str) -> StoreResult<()> {
        self.conn
            .execute("INSERT OR IGNORE INTO tenants(id) VALUES (?1)", [id])?;
        Ok(())
    }

    fn tenant(&mut self, id: &str) -> StoreResult<Option<TenantRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, phrase, retention_days FROM tenants WHERE id = ?1",
                [id],
                |r| {
                    let p: Option<Vec<u8>> = r.get(1)?;
                    Ok(TenantRow {
                        id: r.get(0)?,
                        phrase: p.as_deref().and_then(decode_phrase),
                        retention_days: r.get::<_, i64>(2)? as u32,
                    })
                },
            )
            .optional()?)
    }

    fn set_phrase(&mut self, id: &str, phrase: &PhraseSetting) -> StoreResult<()> {
        let b: Vec<u8> = encode_phrase(phrase);
        let tx = self.conn.transaction()?;
        let old: Option<Vec<u8>> = tx
            .query_row("SELECT phrase FROM tenants WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        if old.as_deref() != Some(b.as_slice()) {
            for table in ["reference_samples", "enrolments"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE tenant = ?1 AND engine = 'fixed-text'"),
                    [id],
                )?;
            }
        }
        tx.execute(
            "UPDATE tenants SET phrase = ?2 WHERE id = ?1",
            params![id, b],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn put_key(&mut self, k: &KeyRow) -> StoreResult<()> {
        insert_key(&self.conn, k)
    }

    fn key(&mut self, key_id: &str) -> StoreResult<Option<KeyRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE key_id = ?1"),
                [key_id],
                row_key,
            )
            .optional()?)
    }

    fn session(&mut self, tenant: &str, session: &str) -> StoreResult<Option<SessionRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SESSION_COLS} FROM sessions WHERE tenant = ?1 AND session = ?2"),
                [tenant, session],
                row_session,
            )
            .optional()?)
    }

    fn commit_batch(&mut self, c: &BatchCommit) -> StoreResult<Vec<Alert>> {
        let tx = self.conn.transaction()?;
        let out = apply_batch(&tx, c)?;
        tx.commit()?;
        Ok(out)
    }

    fn commit_batches(&mut self, cs: &[&BatchCommit]) -> Vec<StoreResult<Vec<Alert>>> {
        let mut tx = match self.conn.transaction() {
            Ok(t) => t,
            Err(e) => return cs.iter().map(|_| Err(StoreError(e.to_string()))).collect(),
        };
        let mut out = Vec::with_capacity(cs.len());
        for c in cs {
            let r = match tx.savepoint() {
                Ok(mut sp) => match apply_batch(&sp, c) {
                    Ok(a) => sp.commit().map(|_| a).map_err(StoreError::from),
                    Err(e) => {
                        let _ = sp.rollback();
                        Err(e)
                    }
                },
                Err(e) => Err(e.into()),
            };
            out.push(r);
        }
        match tx.commit() {
            Ok(()) => out,
            Err(e) => cs.iter().map(|_| Err(StoreError(e.to_string()))).collect(),
        }
    }

    fn sessions(&mut self, tenant: &str, user: Option<&str>) -> StoreResult<Vec<SessionRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {SESSION_COLS} FROM sessions WHERE tenant = ?1 AND (?2 IS NULL OR user = ?2) ORDER BY last_ms DESC, session"
        ))?;
        let rows = st.query_map(params![tenant, user], row_session)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn history(&mut self, tenant: &str, session: &str) -> StoreResult<Vec<TrustPoint>> {
        history_of(&self.conn, tenant, session)
    }

    fn alerts(&mut self, tenant: &str, after: i64, user: Option<&str>) -> StoreResult<Vec<Alert>> {
        alerts_of(&self.conn, tenant, after, user, i64::MAX)
    }

    fn users(&mut self, tenant: &str) -> StoreResult<Vec<String>> {
        let mut st = self.conn.prepare(
            "SELECT user FROM sessions WHERE tenant = ?1 UNION SELECT user FROM enrolments WHERE tenant = ?1 ORDER BY 1",
        )?;
        let rows = st.query_map([tenant], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn reference(&mut self, tenant: &str, user: &str, engine: &str) -> StoreResult<ReferenceRow> {
        let mut st = self.conn.prepare(
            "SELECT sample FROM reference_samples WHERE tenant = ?1 AND user = ?2 AND engine = ?3 ORDER BY id",
        )?;
        let samples = st
            .query_map([tenant, user, engine], |r| {
                Ok(decode_sample(&r.get::<_, Vec<u8>>(0)?))
            })?
            .collect::<Result<_, _>>()?;
        let (enrolled, updates, held) = self
            .conn
            .query_row(
                "SELECT enrolled, updates, held FROM enrolments WHERE tenant = ?1 AND user = ?2 AND engine = ?3",
                [tenant, user, engine],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)? != 0,
                        r.get::<_, i64>(1)? as u64,
                        r.get::<_, Option<String>>(2)?,
                    ))
                },
            )
            .optional()?
            .unwrap_or((false, 0, None));
        Ok(ReferenceRow {
            samples,
            enrolled,
            updates,
            held,
        })
    }

    fn reference_engines(&mut self, tenant: &str, user: &str) -> StoreResult<Vec<String>> {
        let mut st = self
            .conn
            .prepare("SELECT engine FROM enrolments WHERE tenant = ?1 AND user = ?2 ORDER BY 1")?;
        let rows = st.query_map([tenant, user], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn digest_seen(&mut self, tenant: &str, user: &str, digest: &[u8; 32]) -> StoreResult<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM digests WHERE tenant = ?1 AND user = ?2 AND digest = ?3",
                params![tenant, user, digest.as_slice()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn digests(&mut self, tenant: &str, user: &str) -> StoreResult<Vec<[u8; 32]>> {
        let mut st = self
            .conn
            .prepare("SELECT digest FROM digests WHERE tenant = ?1 AND user = ?2")?;
        let rows = st.query_map([tenant, user], |r| {
            let b: Vec<u8> = r.get(0)?;
            Ok(b.try_into().unwrap_or([0u8; 32]))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn purge_user(&mut self, tenant: &str, user: &str) -> StoreResult<(u64, u64, u64)> {
        let tx = self.conn.transaction()?;
        let b = tx.execute(
            "DELETE FROM batches WHERE tenant = ?1 AND session IN (SELECT session FROM sessions WHERE tenant = ?1 AND user = ?2)",
            [tenant, user],
        )?;
        tx.execute(
            "DELETE FROM trust_history WHERE tenant = ?1 AND session IN (SELECT session FROM sessions WHERE tenant = ?1 AND user = ?2)",
            [tenant, user],
        )?;
        let s = tx.execute(
            "DELETE FROM sessions WHERE tenant = ?1 AND user = ?2",
            [tenant, user],
        )?;
        tx.execute(
            "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE tenant = ?1 AND user = ?2)",
            [tenant, user],
        )?;
        let a = tx.execute(
            "DELETE FROM alerts WHERE tenant = ?1 AND user = ?2",
            [tenant, user],
        )?;
        for t in ["reference_samples", "enrolments", "digests", "user_trust"] {
            tx.execute(
                &format!("DELETE FROM {t} WHERE tenant = ?1 AND user = ?2"),
                [tenant, user],
            )?;
        }
        tx.commit()?;
        Ok((s as u64, b as u64, a as u64))
    }

    fn insert_alerts(
        &mut self,
        tenant: &str,
        alerts: &[NewAlert],
        now_ms: i64,
    ) -> StoreResult<Vec<Alert>> {
        let tx = self.conn.transaction()?;
        let out = insert_alerts_tx(&tx, tenant, alerts, now_ms)?;
        tx.commit()?;
        Ok(out)
    }

    fn set_retention(&mut self, id: &str, days: u32) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE tenants SET retention_days = ?2 WHERE id = ?1",
            params![id, days as i64],
        )?;
        Ok(())
    }

    fn tenant_ids(&mut self) -> StoreResult<Vec<String>> {
        let mut st = self.conn.prepare("SELECT id FROM tenants ORDER BY id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn expire(&mut self, tenant: &str, cutoff_ms: i64) -> StoreResult<Expired> {
        let tx = self.conn.transaction()?;
        let p = params![tenant, cutoff_ms];
        let batches = tx.execute("DELETE FROM batches WHERE tenant = ?1 AND at_ms < ?2", p)? as u64;
        let trust_points = tx.execute(
            "DELETE FROM trust_history WHERE tenant = ?1 AND at_ms < ?2",
            p,
        )? as u64;
        tx.execute(
            "DELETE FROM outbox WHERE alert_id IN (SELECT id FROM alerts WHERE tenant = ?1 AND at_ms < ?2)",
            p,
        )?;
        let alerts = tx.execute("DELETE FROM alerts WHERE tenant = ?1 AND at_ms < ?2", p)? as u64;
        let sessions =
            tx.execute("DELETE FROM sessions WHERE tenant = ?1 AND last_ms < ?2", p)? as u64;
        tx.commit()?;
        Ok(Expired {
            batches,
            trust_points,
            alerts,
            sessions,
        })
    }

    fn records(&mut self, tenant: &str, session: &str) -> StoreResult<Vec<WireRecord>> {
        let mut st = self.conn.prepare(
            "SELECT records FROM batches WHERE tenant = ?1 AND session = ?2 ORDER BY seq",
        )?;
        let mut out = Vec::new();
        let mut rows = st.query([tenant, session])?;
        while let Some(r) = rows.next()? {
            let v: Vec<WireRecord> = serde_json::from_str(&r.get::<_, String>(0)?)
                .map_err(|e| StoreError(format!("stored records: {e}")))?;
            out.extend(v);
        }
        Ok(out)
    }

    fn outbox_due(&mut self, now_ms: i64, limit: usize) -> StoreResult<Vec<OutboxRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, sink, payload, attempts FROM outbox WHERE delivered_ms IS NULL AND next_ms <= ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = st.query_map(params![now_ms, limit as i64], row_outbox)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn outbox_delivered(&mut self, id: i64, now_ms: i64) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE outbox SET delivered_ms = ?2 WHERE id = ?1",
            params![id, now_ms],
        )?;
        Ok(())
    }

    fn outbox_failed(&mut self, id: i64, next_ms: i64, error: &str) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, next_ms = ?2, last_error = ?3 WHERE id = ?1",
            params![id, next_ms, error],
        )?;
        Ok(())
    }

    fn outbox_pending(&mut self) -> StoreResult<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE delivered_ms IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    fn put_device(&mut self, d: &DeviceRow) -> StoreResult<bool> {
        let n = self.conn.execute(
            &format!(
                "INSERT OR IGNORE INTO devices({DEVICE_COLS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"
            ),
            params![
                d.tenant,
                d.device,
                serde_json::to_string(&d.users).map_err(|e| StoreError(e.to_string()))?,
                d.label,
                d.registered_ms,
                d.reg_id,
                d.reg_hash,
                d.reg_expires_ms,
                d.revoked_ms
            ],
        )?;
        Ok(n == 1)
    }

    fn device(&mut self, tenant: &str, device: &str) -> StoreResult<Option<DeviceRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE tenant = ?1 AND device = ?2"),
                [tenant, device],
                row_device,
            )
            .optional()?)
    }

    fn device_by_registration(&mut self, reg_id: &str) -> StoreResult<Option<DeviceRow>> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE reg_id = ?1"),
                [reg_id],
                row_device,
            )
            .optional()?)
    }

    fn devices(&mut self, tenant: &str) -> StoreResult<Vec<DeviceRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {DEVICE_COLS} FROM devices WHERE tenant = ?1 ORDER BY device"
        ))?;
        let rows = st.query_map([tenant], row_device)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn exchange_registration(
        &mut self,
        tenant: &str,
        device: &str,
        reg_id: &str,
        key: &KeyRow,
    ) -> StoreResult<bool> {
        let tx = self.conn.transaction()?;
        let n = tx.execute(
            "UPDATE devices SET reg_id = NULL, reg_hash = NULL
             WHERE tenant = ?1 AND device = ?2 AND reg_id = ?3 AND revoked_ms IS NULL",
            [tenant, device, reg_id],
        )?;
        if n != 1 {
            return Ok(false);
        }
        insert_key(&tx, key)?;
        tx.commit()?;
        Ok(true)
    }

    fn device_keys(&mut self, tenant: &str, device: &str) -> StoreResult<Vec<KeyRow>> {
        let mut st = self.conn.prepare(&format!(
            "SELECT {KEY_COLS} FROM api_keys WHERE tenant = ?1 AND device = ?2 ORDER BY created_ms, key_id"
        ))?;
        let rows = st.query_map([tenant, device], row_key)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn revoke_device(
        &mut self,
        tenant: &str,
        device: &str,
        device_too: bool,
        now_ms: i64,
    ) -> StoreResult<Vec<String>> {
        let tx = self.conn.transaction()?;
        let ids: Vec<String> = {
            let mut st = tx.prepare(
                "SELECT key_id FROM api_keys WHERE tenant = ?1 AND device = ?2 AND revoked_ms IS NULL",
            )?;
            st.query_map([tenant, device], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        tx.execute(
            "UPDATE api_keys SET revoked_ms = ?3 WHERE tenant = ?1 AND device = ?2 AND revoked_ms IS NULL",
            params![tenant, device, now_ms],
        )?;
        if device_too {
            tx.execute(
                "UPDATE devices SET revoked_ms = ?3, reg_id = NULL, reg_hash = NULL
                 WHERE tenant = ?1 AND device = ?2 AND revoked_ms IS NULL",
                params![tenant, device, now_ms],
            )?;
        }
        tx.commit()?;
        Ok(ids)
    }

    fn user_fusion(&mut self, tenant: &str, user: &str) -> StoreResult<Option<Fusion>> {
        Ok(self
            .conn
            .query_row(
                "SELECT scored, alerted, scoring, channels FROM user_trust WHERE tenant = ?1 AND user = ?2",
                [tenant, user],
                |r| {
                    Ok(Fusion {
                        cusum: true,
                        ..fusion_from_parts(
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            &r.get::<_, String>(3)?,
                        )
                    })
                },
            )
            .optional()?)
    }

    fn reset_user_fusion(&mut self, tenant: &str, user: &str) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM user_trust WHERE tenant = ?1 AND user = ?2",
            [tenant, user],
        )?;
        Ok(())
    }

    fn set_enrolment(
        &mut self,
        tenant: &str,
        user: &str,
        engine: Option<&str>,
        action: EnrolmentAction,
    ) -> StoreResult<Vec<String>> {
        let tx = self.conn.transaction()?;
        let engines: Vec<String> = {
            let mut st = tx.prepare(
                "SELECT engine FROM enrolments WHERE tenant = ?1 AND user = ?2 AND (?3 IS NULL OR engine = ?3)
                 ORDER BY 1",
            )?;
            st.query_map(params![tenant, user, engine], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        for e in &engines {
            match action {
                EnrolmentAction::Approve => {
                    tx.execute(
                        "UPDATE enrolments SET held = NULL WHERE tenant = ?1 AND user = ?2 AND engine = ?3",
                        [tenant, user, e],
                    )?;
                }
                EnrolmentAction::Reset => {
                    for t in ["reference_samples", "enrolments"] {
                        tx.execute(
                            &format!(
                                "DELETE FROM {t} WHERE tenant = ?1 AND user = ?2 AND engine = ?3"
                            ),
                            [tenant, user, e],
                        )?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(engines)
    }

    fn outbox_due_sink(
        &mut self,
        sink: &str,
        now_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<OutboxRow>> {
        let mut st = self.conn.prepare(
            "SELECT id, sink, payload, attempts FROM outbox WHERE delivered_ms IS NULL AND sink = ?1 AND next_ms <= ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = st.query_map(params![sink, now_ms, limit as i64], row_outbox)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn outbox_backlog(&mut self, sink: &str) -> StoreResult<u64> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE delivered_ms IS NULL AND sink = ?1",
            [sink],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }
}

/// Read-only connections kept open for reuse (more are opened while more readers run at once).
pub const READ_POOL: usize = 4;

/// The read side of [`SqliteStore`]: read-only connections to the same database file. In WAL mode a reader
/// sees the last committed transaction and neither waits for the writer nor makes it wait (only a checkpoint
/// may have to stop short of a page a long reader still uses; the next one completes it).
pub struct SqliteReads {
    path: std::path::PathBuf,
    pool: std::sync::Mutex<Vec<Connection>>,
}

impl SqliteReads {
    fn new(path: &Path) -> Self {
        SqliteReads {
            path: path.to_path_buf(),
            pool: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` inside one read transaction (one snapshot) on a pooled connection.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let pooled = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                c.busy_timeout(std::time::Duration::from_secs(10))?;
                c
            }
        };
        let out = {
            let tx = conn.unchecked_transaction()?;
            f(&tx)
        };
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < READ_POOL {
            pool.push(conn);
        }
        out
    }
}

/// Rows of `users` (a JSON array of ids, in the order wanted) in two queries: counts and trust, then
/// enrolments with their sample counts.
fn user_rows(c: &Connection, tenant: &str, users: &[String]) -> StoreResult<Vec<UserRow>> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let page = serde_json::to_string(users).map_err(|e| StoreError(e.to_string()))?;
    let mut out: Vec<UserRow> = {
        let mut st = c.prepare(
            "WITH page(ord, user) AS (SELECT key, value FROM json_each(?2))
             SELECT p.user,
               (SELECT count(*) FROM sessions s WHERE s.tenant = ?1 AND s.user = p.user),
               (SELECT coalesce(sum(alerts), 0) FROM sessions s WHERE s.tenant = ?1 AND s.user = p.user),
               t.scored, t.alerted, t.scoring, t.channels
             FROM page p LEFT JOIN user_trust t ON t.tenant = ?1 AND t.user = p.user ORDER BY p.ord",
        )?;
        st.query_map(params![tenant, page], |r| {
            let fusion = match r.get::<_, Option<i64>>(3)? {
                Some(scored) => Some(Fusion {
                    cusum: true,
                    ..fusion_from_parts(scored, r.get(4)?, r.get(5)?, &r.get::<_, String>(6)?)
                }),
                None => None,
            };
            Ok(UserRow {
                user: r.get(0)?,
                engines: Vec::new(),
                sessions: r.get::<_, i64>(1)? as u64,
                alerts: r.get::<_, i64>(2)? as u64,
                fusion,
            })
        })?
        .collect::<Result<_, _>>()?
    };
    let index: std::collections::HashMap<String, usize> = out
        .iter()
        .enumerate()
        .map(|(i, u)| (u.user.clone(), i))
        .collect();
    let mut st = c.prepare(
        "SELECT e.user, e.engine, e.enrolled, e.updates, e.held,
           (SELECT count(*) FROM reference_samples r WHERE r.tenant = ?1 AND r.user = e.user AND r.engine = e.engine)
         FROM enrolments e WHERE e.tenant = ?1 AND e.user IN (SELECT value FROM json_each(?2))
         ORDER BY e.user, e.engine",
    )?;
    let mut rows = st.query(params![tenant, page])?;
    while let Some(r) = rows.next()? {
        let user: String = r.get(0)?;
        if let Some(&i) = index.get(&user) {
            out[i].engines.push(EnrolmentRow {
                engine: r.get(1)?,
                enrolled: r.get::<_, i64>(2)? != 0,
                updates: r.get::<_, i64>(3)? as u64,
                held: r.get(4)?,
                samples: r.get::<_, i64>(5)? as u64,
            });
        }
    }
    Ok(out)
}

impl Reads for SqliteReads {
    fn sessions_page(
        &self,
        tenant: &str,
        user: Option<&str>,
        after: Option<&SessionKey>,
        limit: usize,
    ) -> StoreResult<Vec<SessionRow>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {SESSION_COLS} FROM sessions WHERE tenant = ?1 AND (?2 IS NULL OR user = ?2)
                 AND (?3 IS NULL OR (started_ms, session) < (?3, ?4))
                 ORDER BY started_ms DESC, session DESC LIMIT ?5"
            ))?;
            let rows = st.query_map(
                params![
                    tenant,
                    user,
                    after.map(|k| k.started_ms),
                    after.map(|k| k.session.as_str()),
                    limit as i64
                ],
                row_session,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    fn session(&self, tenant: &str, session: &str) -> StoreResult<Option<SessionRow>> {
        self.with(|c| {
            Ok(c.query_row(
                &format!("SELECT {SESSION_COLS} FROM sessions WHERE tenant = ?1 AND session = ?2"),
                [tenant, session],
                row_session,
            )
            .optional()?)
        })
    }

    fn history(&self, tenant: &str, session: &str) -> StoreResult<Vec<TrustPoint>> {
        self.with(|c| history_of(c, tenant, session))
    }

    fn alerts_page(
        &self,
        tenant: &str,
        after: i64,
        user: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<Alert>> {
        self.with(|c| alerts_of(c, tenant, after, user, limit as i64))
    }

    fn users_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<UserRow>> {
        self.with(|c| {
            let users: Vec<String> = {
                let mut st = c.prepare(
                    // Each side walks its (tenant, user) index from the position and stops after `limit`.
                    "SELECT user FROM (SELECT DISTINCT user FROM sessions WHERE tenant = ?1 AND user > ?2
                                       ORDER BY user LIMIT ?3)
                     UNION SELECT user FROM (SELECT DISTINCT user FROM enrolments WHERE tenant = ?1 AND user > ?2
                                             ORDER BY user LIMIT ?3)
                     ORDER BY 1 LIMIT ?3",
                )?;
                st.query_map(params![tenant, after.unwrap_or(""), limit as i64], |r| {
                    r.get(0)
                })?
                .collect::<Result<_, _>>()?
            };
            user_rows(c, tenant, &users)
        })
    }

    fn user(&self, tenant: &str, user: &str) -> StoreResult<Option<UserRow>> {
        self.with(|c| {
            let exists = c
                .query_row(
                    "SELECT 1 FROM sessions WHERE tenant = ?1 AND user = ?2
                     UNION SELECT 1 FROM enrolments WHERE tenant = ?1 AND user = ?2",
                    [tenant, user],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if !exists {
                return Ok(None);
            }
            Ok(user_rows(c, tenant, &[user.to_string()])?
                .into_iter()
                .next())
        })
    }

    fn devices_page(
        &self,
        tenant: &str,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(DeviceRow, Vec<KeyRow>)>> {
        self.with(|c| {
            let devices: Vec<DeviceRow> = {
                let mut st = c.prepare(&format!(
                    "SELECT {DEVICE_COLS} FROM devices WHERE tenant = ?1 AND device > ?2 ORDER BY device LIMIT ?3"
                ))?;
                st.query_map(params![tenant, after.unwrap_or(""), limit as i64], row_device)?
                    .collect::<Result<_, _>>()?
            };
            let (Some(first), Some(last)) = (devices.first(), devices.last()) else {
                return Ok(Vec::new());
            };
            let mut keys: std::collections::HashMap<String, Vec<KeyRow>> = Default::default();
            let mut st = c.prepare(&format!(
                "SELECT {KEY_COLS} FROM api_keys WHERE tenant = ?1 AND device >= ?2 AND device <= ?3
                 ORDER BY device, created_ms, key_id"
            ))?;
            for k in st.query_map(params![tenant, first.device, last.device], row_key)? {
                let k = k?;
                if let Some(d) = k.device.clone() {
                    keys.entry(d).or_default().push(k);
                }
            }
            Ok(devices
                .into_iter()
                .map(|d| {
                    let k = keys.remove(&d.device).unwrap_or_default();
                    (d, k)
                })
                .collect())
        })
    }

    fn active_references(
        &self,
        tenant: &str,
        engine: &str,
        except: &str,
        max_users: usize,
    ) -> StoreResult<Vec<(String, Vec<FeatureVector>)>> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT r.user, r.sample FROM reference_samples r
                 WHERE r.tenant = ?1 AND r.engine = ?2 AND r.user IN
                   (SELECT user FROM enrolments WHERE tenant = ?1 AND engine = ?2 AND enrolled = 1
                    AND held IS NULL AND user <> ?3 ORDER BY user LIMIT ?4)
                 ORDER BY r.user, r.id",
            )?;
            let mut out: Vec<(String, Vec<FeatureVector>)> = Vec::new();
            let mut rows = st.query(params![tenant, engine, except, max_users as i64])?;
            while let Some(r) = rows.next()? {
                let user: String = r.get(0)?;
                let sample = decode_sample(&r.get::<_, Vec<u8>>(1)?);
                match out.last_mut() {
                    Some((u, v)) if *u == user => v.push(sample),
                    _ => out.push((user, vec![sample])),
                }
            }
            Ok(out)
        })
    }

    fn users_with_samples(&self, tenant: &str, engine: &str) -> StoreResult<u64> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT count(DISTINCT user) FROM reference_samples WHERE tenant = ?1 AND engine = ?2",
                [tenant, engine],
                |r| r.get::<_, i64>(0),
            )? as u64)
        })
    }
}

/// Up to `limit` alerts of a tenant with id > `after` (optionally one user's), by id.
fn alerts_of(
    c: &Connection,
    tenant: &str,
    after: i64,
    user: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Alert>> {
    let mut st = c.prepare(
        "SELECT seq, user, session, at_ms, event_us, trust, threshold, reasons FROM alerts
         WHERE tenant = ?1 AND seq > ?2 AND (?3 IS NULL OR user = ?3) ORDER BY seq LIMIT ?4",
    )?;
    let rows = st.query_map(params![tenant, after, user, limit], row_alert)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn history_of(c: &Connection, tenant: &str, session: &str) -> StoreResult<Vec<TrustPoint>> {
    let mut st = c.prepare(
        "SELECT seq, at_ms, trust, confidence, reasons FROM trust_history WHERE tenant = ?1 AND session = ?2 ORDER BY seq",
    )?;
    let rows = st.query_map([tenant, session], |r| {
        let reasons: String = r.get(4)?;
        Ok(TrustPoint {
            batch_seq: r.get::<_, i64>(0)? as u64,
            at_ms: r.get(1)?,
            trust: r.get(2)?,
            confidence: r.get(3)?,
            reasons: serde_json::from_str(&reasons).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip_and_old_schemas_are_refused() {
        assert_eq!(decode_sample(&encode_sample(&[1.0, 2.5])), vec![1.0, 2.5]);
        let p = PhraseSetting {
            id: "pw-2026".into(),
            keys: 11,
        };
        assert_eq!(decode_phrase(&encode_phrase(&p)), Some(p));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("CREATE TABLE batches(keys BLOB);").unwrap();
        }
        let e = SqliteStore::open(&path).err().expect("old schema refused");
        assert!(e.0.contains("schema version 0"), "{e}");
        // A fresh file is created at the current version and opens again.
        let path = dir.path().join("new.db");
        drop(SqliteStore::open(&path).unwrap());
        assert!(SqliteStore::open(&path).is_ok());
    }

    fn alert(user: &str) -> NewAlert {
        NewAlert {
            alert: Alert {
                id: 0,
                user: user.into(),
                session: "s".into(),
                at_ms: 1,
                event_us: 2,
                trust: 10.0,
                threshold: 30.0,
                reasons: Vec::new(),
            },
            sinks: vec!["file".into()],
        }
    }

    /// A version-3 directory (one global alert id sequence) is migrated to per-tenant ids: existing alerts keep
    /// their ids (an `after=` position a client holds stays valid), undelivered outbox rows stay, and each
    /// tenant continues after its own largest id without gaps.
    #[test]
    fn version_3_alerts_migrate_to_per_tenant_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyprint.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE alerts(id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL, user TEXT NOT NULL,
                   session TEXT NOT NULL, at_ms INTEGER NOT NULL, event_us INTEGER NOT NULL, trust REAL NOT NULL,
                   threshold REAL NOT NULL, reasons TEXT NOT NULL);
                 CREATE TABLE outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, sink TEXT NOT NULL,
                   payload TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL,
                   delivered_ms INTEGER, last_error TEXT);
                 INSERT INTO alerts(tenant, user, session, at_ms, event_us, trust, threshold, reasons) VALUES
                   ('a','u','s',1,1,1,30,'[]'), ('b','u','s',1,1,1,30,'[]'), ('a','u','s',1,1,1,30,'[]'),
                   ('b','u','s',1,1,1,30,'[]'), ('b','u','s',1,1,1,30,'[]');
                 INSERT INTO outbox(alert_id, sink, payload, next_ms) VALUES (5, 'file', '{}', 0);
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        }
        let mut st = SqliteStore::open(&path).unwrap();
        let ids = |st: &mut SqliteStore, t: &str| -> Vec<i64> {
            st.alerts(t, 0, None)
                .unwrap()
                .iter()
                .map(|a| a.id)
                .collect()
        };
        assert_eq!(ids(&mut st, "a"), vec![1, 3]);
        assert_eq!(ids(&mut st, "b"), vec![2, 4, 5]);
        assert_eq!(st.outbox_pending().unwrap(), 1);
        let new_a = st
            .insert_alerts("a", &[alert("u"), alert("v")], 10)
            .unwrap();
        let new_b = st.insert_alerts("b", &[alert("u")], 10).unwrap();
        let new_c = st
            .insert_alerts("c", &[alert("u"), alert("u")], 10)
            .unwrap();
        assert_eq!(new_a.iter().map(|a| a.id).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(new_b.iter().map(|a| a.id).collect::<Vec<_>>(), vec![6]);
        assert_eq!(new_c.iter().map(|a| a.id).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(ids(&mut st, "a"), vec![1, 3, 4, 5]);
        // The outbox payload carries the tenant's id.
        let due = st.outbox_due(i64::MAX, 100).unwrap();
        assert!(
            due.iter()
                .any(|r| r.payload.contains(r#""tenant":"c""#) && r.payload.contains(r#""id":2"#))
        );
        // The read side sees the same.
        let reads = st.reads();
        let page = reads.alerts_page("b", 4, None, 10).unwrap();
        assert_eq!(page.iter().map(|a| a.id).collect::<Vec<_>>(), vec![5, 6]);
        drop(st);
        // Reopening (now the current version) changes nothing.
        let mut st = SqliteStore::open(&path).unwrap();
        assert_eq!(ids(&mut st, "b"), vec![2, 4, 5, 6]);
    }

    /// A version-4 directory holds free-text windows of summary vocabulary 1: they are dropped (the users
    /// enrol free text again) with those users' per-user trust; other engines' references and other users'
    /// trust stay.
    #[test]
    fn version_4_free_text_references_are_dropped_and_others_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyprint.db");
        {
            let _ = SqliteStore::open(&path).unwrap();
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "INSERT INTO reference_samples(tenant, user, engine, sample, is_update) VALUES
                   ('t','u','free-text',x'00',0), ('t','u','fixed-text',x'00',0), ('t','v','free-text',x'00',0);
                 INSERT INTO enrolments(tenant, user, engine, enrolled, updates) VALUES
                   ('t','u','free-text',1,0), ('t','u','fixed-text',1,0), ('t','w','fixed-text',1,0);
                 INSERT INTO user_trust(tenant, user, scored, alerted, scoring, channels) VALUES
                   ('t','u',1,0,1,'{}'), ('t','w',1,0,1,'{}');
                 PRAGMA user_version = 4;",
            )
            .unwrap();
        }
        let _ = SqliteStore::open(&path).unwrap();
        let c = Connection::open(&path).unwrap();
        let count = |sql: &str| -> i64 { c.query_row(sql, [], |r| r.get(0)).unwrap() };
        assert_eq!(
            count("SELECT count(*) FROM reference_samples WHERE engine = 'free-text'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM reference_samples WHERE engine = 'fixed-text'"),
            1
        );
        assert_eq!(count("SELECT count(*) FROM enrolments"), 2);
        assert_eq!(count("SELECT count(*) FROM user_trust WHERE user = 'u'"), 0);
        assert_eq!(count("SELECT count(*) FROM user_trust WHERE user = 'w'"), 1);
        assert_eq!(count("PRAGMA user_version"), SCHEMA_VERSION);
    }
}
