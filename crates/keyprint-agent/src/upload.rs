//! Upload: the oldest spooled batch is posted to `/v1/records` with the device credential; it is deleted
//! only after a `200` answer (a `duplicate: true` answer is an acknowledgement too: the server already
//! holds it). Transport errors, `5xx`, `429`, `401` and `403` keep the batch and back off exponentially
//! (100 ms doubling up to `upload.max_backoff_ms`); any other `4xx` means the batch can never be accepted,
//! so it is moved to `rejected/` and counted, and the queue goes on. Batches go in spool order, one at a time,
//! so a session's records reach the server in order.
//!
//! Also here: the stored device credential (`keyprint agent enroll`).

use crate::spool::Spool;
use keyprint_client::{Client, SendError};
use keyprint_wire::{DeviceCredential, IngestBatch};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What `enroll` stores: the server and the device credential (file mode 0600).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCredential {
    /// Server URL.
    pub server: String,
    /// The credential.
    pub credential: DeviceCredential,
}

impl StoredCredential {
    /// Writes the credential durably, readable by its owner only.
    ///
    /// # Errors
    /// I/O errors.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(self).expect("serialises"))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    }

    /// Reads a stored credential.
    ///
    /// # Errors
    /// A message naming the file when it is missing or not a credential.
    pub fn load(path: &Path) -> Result<StoredCredential, String> {
        let bytes = std::fs::read(path).map_err(|e| {
            format!("{}: {e} (run `keyprint agent enroll --server URL --token T` first: the agent does not capture without a device credential)", path.display())
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: not a device credential: {e}", path.display()))
    }
}

/// The result of one upload pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Batches acknowledged.
    pub acked: u64,
    /// Of those, answered as duplicates (sent before, acknowledgement lost).
    pub duplicates: u64,
    /// Batches refused for good.
    pub rejected: u64,
}

/// Sends spooled batches.
pub struct Uploader {
    spool: Arc<Mutex<Spool>>,
    client: Client,
    max_backoff: Duration,
}

impl Uploader {
    /// An uploader to `server` with the device `token`.
    pub fn new(
        spool: Arc<Mutex<Spool>>,
        server: &str,
        token: &str,
        max_backoff: Duration,
    ) -> Uploader {
        let mut client = Client::new(server, token);
        client.attempts = 1;
        Uploader {
            spool,
            client,
            max_backoff,
        }
    }

    /// Sends batches until the spool is empty (`Ok`) or a send fails transiently (`Err` with the pass so far
    /// and the reason).
    pub async fn drain(&self) -> Result<Pass, (Pass, String)> {
        let mut pass = Pass::default();
        loop {
            let next = self.spool.lock().expect("spool lock").oldest();
            let (n, body) = match next {
                Ok(Some(x)) => x,
                Ok(None) => return Ok(pass),
                Err(e) => return Err((pass, format!("spool read: {e}"))),
            };
            let batch: IngestBatch = match serde_json::from_slice(&body) {
                Ok(b) => b,
                Err(_) => {
                    self.spool.lock().expect("spool lock").reject(n);
                    pass.rejected += 1;
                    continue;
                }
            };
            match self.client.send(&batch).await {
                Ok(ack) => {
                    self.spool.lock().expect("spool lock").ack(n);
                    pass.acked += 1;
                    pass.duplicates += u64::from(ack.duplicate);
                }
                Err(SendError::Refused { status, body })
                    if !matches!(status, 401 | 403 | 408 | 429) =>
                {
                    self.spool.lock().expect("spool lock").reject(n);
                    pass.rejected += 1;
                    eprintln!(
                        "keyprint-agent: upload: batch refused for good (HTTP {status} {:?} {}): moved to rejected/",
                        body.code,
                        body.field.unwrap_or_default()
                    );
                }
                Err(e) => return Err((pass, e.to_string())),
            }
        }
    }

    /// Uploads forever: drains the spool, waits `idle` (or until `wake` is notified), backs off on failure.
    pub async fn run(self, idle: Duration, wake: Arc<tokio::sync::Notify>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.drain().await {
                Ok(_) => {
                    backoff = Duration::from_millis(100);
                    let _ = tokio::time::timeout(idle, wake.notified()).await;
                }
                Err((_, why)) => {
                    eprintln!(
                        "keyprint-agent: upload: {why}; retrying in {} ms",
                        backoff.as_millis()
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }
}
