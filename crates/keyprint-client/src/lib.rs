//! # keyprint-client
//!
//! What every keyprint client (the demo, the replay tools, the agent) does after the edge
//! (`keyprint-edge`) has turned raw events into content-free records:
//!
//! * [`SessionBatcher`]: cut a session's records into [`IngestBatch`]es of bounded size with consecutive
//!   `batch_seq` numbers (the server's idempotency key, so a retried batch is never applied twice), in the
//!   wire form of `keyprint_wire::convert`;
//! * [`Client`]: send batches to `POST /v1/records` over HTTP with a bearer token, retrying transport
//!   errors and 5xx/429 answers with exponential back-off (at-least-once delivery; duplicates are answered
//!   `duplicate: true`).
//!
//! Nothing here sees a key event: what travels is what the edge emitted.
#![deny(missing_docs)]

use keyprint_edge::Record;
use keyprint_wire::{ErrorBody, IngestAck, IngestBatch, WireRecord};
use std::time::Duration;

/// Cuts one session's records into batches of at most `max_records` with consecutive `batch_seq`.
pub struct SessionBatcher {
    user: String,
    session: String,
    device: Option<String>,
    next_seq: u64,
    max_records: usize,
    records: Vec<WireRecord>,
}

impl SessionBatcher {
    /// A batcher for `user`'s `session` (optionally naming the device), batches of at most `max_records`
    /// records (clamped to 1..=[`keyprint_wire::MAX_BATCH_RECORDS`]).
    pub fn new(user: &str, session: &str, device: Option<&str>, max_records: usize) -> Self {
        SessionBatcher {
            user: user.into(),
            session: session.into(),
            device: device.map(Into::into),
            next_seq: 0,
            max_records: max_records.clamp(1, keyprint_wire::MAX_BATCH_RECORDS),
            records: Vec::new(),
        }
    }

    /// Adds a record; returns a full batch when one is ready.
    pub fn push(&mut self, r: &Record) -> Option<IngestBatch> {
        self.records.push(keyprint_wire::convert::to_wire(r));
        (self.records.len() >= self.max_records).then(|| self.flush())?
    }

    /// The pending records as a batch (`None` when there are none).
    pub fn flush(&mut self) -> Option<IngestBatch> {
        if self.records.is_empty() {
            return None;
        }
        let b = IngestBatch {
            user: self.user.clone(),
            session: self.session.clone(),
            device: self.device.clone(),
            batch_seq: self.next_seq,
            records: std::mem::take(&mut self.records),
        };
        self.next_seq += 1;
        Some(b)
    }

    /// Every record of a session as batches of at most `max_records`.
    pub fn batches(
        user: &str,
        session: &str,
        device: Option<&str>,
        max_records: usize,
        records: &[Record],
    ) -> Vec<IngestBatch> {
        let mut b = SessionBatcher::new(user, session, device, max_records);
        let mut out: Vec<IngestBatch> = records.iter().filter_map(|r| b.push(r)).collect();
        out.extend(b.flush());
        out
    }
}

/// Why a send failed for good.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused the batch (4xx other than 429): retrying will not help.
    #[error("refused with HTTP {status}: {body:?}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's reason.
        body: ErrorBody,
    },
    /// Transport errors or 5xx/429 answers persisted through every retry.
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// Last failure.
        last: String,
    },
}

/// An HTTP client for one tenant's API key.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    /// Attempts per batch before [`SendError::GaveUp`] (default 6, back-off 50 ms doubling).
    pub attempts: u32,
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:7878`) with a bearer `token`.
    pub fn new(base: &str, token: &str) -> Self {
        Client {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("reqwest client"),
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            attempts: 6,
        }
    }

    /// The underlying HTTP client and base URL, for other endpoints.
    pub fn http(&self) -> (&reqwest::Client, &str, &str) {
        (&self.http, &self.base, &self.token)
    }

    /// Sends one batch, retrying transient failures.
    ///
    /// # Errors
    /// [`SendError`] when the server refuses the batch or every attempt failed.
    pub async fn send(&self, batch: &IngestBatch) -> Result<IngestAck, SendError> {
        let body = serde_json::to_vec(batch).expect("batch serialises");
        let mut last = String::new();
        for attempt in 0..self.attempts {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50u64 << (attempt - 1).min(6))).await;
            }
            let res = self
                .http
                .post(format!("{}/v1/records", self.base))
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            match res {
                Err(e) => last = e.to_string(),
                Ok(r) => {
                    let status = r.status().as_u16();
                    let bytes = r.bytes().await.map_err(|e| SendError::GaveUp {
                        attempts: attempt + 1,
                        last: e.to_string(),
                    })?;
                    if status == 200 {
                        return serde_json::from_slice(&bytes).map_err(|e| SendError::GaveUp {
                            attempts: attempt + 1,
                            last: format!("bad answer: {e}"),
                        });
                    }
                    let body: ErrorBody =
                        serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
                            code: keyprint_wire::ErrorCode::Internal,
                            reason: String::from_utf8_lossy(&bytes).into_owned(),
                            field: None,
                        });
                    if status == 429 || status >= 500 {
                        last = format!("HTTP {status}: {}", body.reason);
                    } else {
                        return Err(SendError::Refused { status, body });
                    }
                }
            }
        }
        Err(SendError::GaveUp {
            attempts: self.attempts,
            last,
        })
    }
}

impl Client {
    /// Posts `body` as JSON to `path` with this client's token and decodes a 200 answer.
    ///
    /// # Errors
    /// [`SendError::Refused`] with the API's error body for a 4xx/5xx answer; [`SendError::GaveUp`] when the
    /// server cannot be reached or answers something that is not the expected JSON.
    pub async fn post_json<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, SendError> {
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if !self.token.is_empty() {
            req = req.bearer_auth(&self.token);
        }
        decode(req.send().await).await
    }

    /// Gets one page of a list endpoint (`/v1/sessions`, `/v1/alerts`, `/v1/users`, `/v1/devices`, with any
    /// query of its own in `path`), starting after `cursor` (a `next_cursor` of the same list; `None` for the
    /// first page), of up to `limit` rows (`None`: the server's default, 100).
    ///
    /// # Errors
    /// [`SendError::Refused`] with the API's error body (e.g. 422 `invalid_field`, field `limit` or
    /// `cursor`); [`SendError::GaveUp`] when the server cannot be reached or the answer is not a page.
    pub async fn get_page<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<keyprint_wire::Page<T>, SendError> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| {
            SendError::GaveUp {
                attempts: 1,
                last: format!("bad URL: {e}"),
            }
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        let url = url.as_str().trim_end_matches('?').to_string();
        decode(self.http.get(url).bearer_auth(&self.token).send().await).await
    }

    /// Every row of a list endpoint: follows `next_cursor` from the first page until it is `null`, in pages
    /// of [`keyprint_wire::MAX_PAGE_LIMIT`] rows. Each row that existed when the walk began is returned
    /// exactly once, whatever is added meanwhile.
    ///
    /// # Errors
    /// As [`Client::get_page`].
    pub async fn get_all<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Vec<T>, SendError> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page: keyprint_wire::Page<T> = self
                .get_page(path, Some(keyprint_wire::MAX_PAGE_LIMIT), cursor.as_deref())
                .await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Exchanges a one-time registration token (from `POST /v1/devices`, done by an admin) for the device's
    /// own credential at `POST /v1/devices/enroll`. No bearer token is needed; `base` is the server URL.
    ///
    /// # Errors
    /// [`SendError::Refused`] (401 `unauthorized`) for an unknown, used or expired token.
    pub async fn enroll_device(
        base: &str,
        registration_token: &str,
    ) -> Result<keyprint_wire::DeviceCredential, SendError> {
        Client::new(base, "")
            .post_json(
                "/v1/devices/enroll",
                &keyprint_wire::EnrollDevice {
                    registration_token: registration_token.to_string(),
                },
            )
            .await
    }
}

async fn decode<T: serde::de::DeserializeOwned>(
    res: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, SendError> {
    let gave_up = |last: String| SendError::GaveUp { attempts: 1, last };
    let r = res.map_err(|e| gave_up(e.to_string()))?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.map_err(|e| gave_up(e.to_string()))?;
    if (200..300).contains(&status) {
        return serde_json::from_slice(&bytes).map_err(|e| gave_up(format!("bad answer: {e}")));
    }
    let body: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
        code: keyprint_wire::ErrorCode::Internal,
        reason: String::from_utf8_lossy(&bytes).into_owned(),
        field: None,
    });
    Err(SendError::Refused { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_edge::InjectionRecord;

    #[test]
    fn batches_are_bounded_and_numbered() {
        let r = |t| {
            Record::Injection(InjectionRecord {
                at_us: t,
                keystroke: 1,
                rule: "machine-chord".into(),
                score: 1.0,
            })
        };
        let mut b = SessionBatcher::new("u", "s1", None, 3);
        assert!(b.push(&r(0)).is_none());
        assert!(b.push(&r(1)).is_none());
        let full = b.push(&r(2)).unwrap();
        assert_eq!((full.batch_seq, full.records.len()), (0, 3));
        b.push(&r(3));
        assert_eq!(b.flush().unwrap().batch_seq, 1);
        assert!(b.flush().is_none());
        assert_eq!(
            SessionBatcher::batches("u", "s", None, 2, &[r(0), r(1), r(2)]).len(),
            2
        );
    }
}
