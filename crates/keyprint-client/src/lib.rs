//! # keyprint-client
//!
//! What every keyprint client (the demo, the future browser SDK, the agent) does before events leave the
//! device:
//!
//! * [`KeyHasher`] (the one keyed hash, `keyprint_core::pseudonym`): pseudonymise key identities. A W3C
//!   `KeyboardEvent.code` name becomes `KeyId::Hashed(u64)`: the first 8 bytes (big-endian) of HMAC-SHA256
//!   (RFC 2104, FIPS 180-4) keyed by a per-tenant secret that the server never sees. Equal keys hash equally, so detectors (which only compare
//!   identities) work unchanged; the server cannot tell which key was typed, so it never holds typed text.
//! * [`SessionBatcher`]: cut a session's events into [`IngestBatch`]es of bounded size with consecutive
//!   `batch_seq` numbers (the server's idempotency key, so a retried batch is never applied twice).
//! * [`Client`]: send batches over HTTP with a bearer token, retrying transport errors and 5xx/429 answers
//!   with exponential back-off (at-least-once delivery; duplicates are answered `duplicate: true`).
#![deny(missing_docs)]

use keyprint_core::event::{KeyEvent, KeyId, MouseButton, MouseEvent, MouseEventKind};
use keyprint_wire::{
    ErrorBody, IngestAck, IngestBatch, WireButton, WireKey, WireMouse, WireMouseKind,
    format_key_hash,
};
use std::time::Duration;

pub use keyprint_core::pseudonym::KeyHasher;

/// The fixed phrase of `layout` as the server registers it (`PUT /v1/tenant/fixed-text`): each key's W3C code
/// hashed with the tenant's `hasher`, in phrase order. Hashed identities in the layout pass unchanged.
pub fn fixed_text_phrase(
    hasher: &KeyHasher,
    layout: &keyprint_core::keystroke::FixedTextLayout,
) -> keyprint_wire::FixedTextPhrase {
    let key_hashes = layout
        .keys()
        .iter()
        .map(|k| match hasher.hash_key(k) {
            KeyId::Hashed(h) => format_key_hash(h),
            KeyId::Code(_) => unreachable!("hash_key always hashes"),
        })
        .collect();
    keyprint_wire::FixedTextPhrase { key_hashes }
}

/// A key event in wire form with its identity hashed by `hasher`.
pub fn wire_key(hasher: &KeyHasher, e: &KeyEvent) -> WireKey {
    let h = match hasher.hash_key(&e.key) {
        KeyId::Hashed(h) => h,
        KeyId::Code(_) => unreachable!("hash_key always hashes"),
    };
    WireKey {
        key_hash: format_key_hash(h),
        press_us: e.press_us,
        release_us: e.release_us,
    }
}

/// A mouse event in wire form.
pub fn wire_mouse(e: &MouseEvent) -> WireMouse {
    WireMouse {
        t_us: e.t_us,
        x_px: e.x_px,
        y_px: e.y_px,
        button: match e.button {
            MouseButton::None => WireButton::None,
            MouseButton::Left => WireButton::Left,
            MouseButton::Right => WireButton::Right,
            MouseButton::Middle => WireButton::Middle,
            MouseButton::Wheel => WireButton::Wheel,
        },
        kind: match e.kind {
            MouseEventKind::Move => WireMouseKind::Move,
            MouseEventKind::Press => WireMouseKind::Press,
            MouseEventKind::Release => WireMouseKind::Release,
            MouseEventKind::Drag => WireMouseKind::Drag,
            MouseEventKind::ScrollUp => WireMouseKind::ScrollUp,
            MouseEventKind::ScrollDown => WireMouseKind::ScrollDown,
        },
    }
}

/// Cuts one session's events into batches of at most `max_events` events with consecutive `batch_seq`.
pub struct SessionBatcher {
    hasher: KeyHasher,
    user: String,
    session: String,
    device: Option<String>,
    next_seq: u64,
    max_events: usize,
    keys: Vec<WireKey>,
    mouse: Vec<WireMouse>,
}

impl SessionBatcher {
    /// A batcher for one session; `max_events` is clamped to `1..=keyprint_wire::MAX_BATCH_EVENTS`.
    pub fn new(
        hasher: KeyHasher,
        user: &str,
        session: &str,
        device: Option<&str>,
        max_events: usize,
    ) -> Self {
        SessionBatcher {
            hasher,
            user: user.into(),
            session: session.into(),
            device: device.map(Into::into),
            next_seq: 0,
            max_events: max_events.clamp(1, keyprint_wire::MAX_BATCH_EVENTS),
            keys: Vec::new(),
            mouse: Vec::new(),
        }
    }

    /// Adds a key event (hashing its identity); returns a full batch when `max_events` is reached.
    pub fn push_key(&mut self, e: &KeyEvent) -> Option<IngestBatch> {
        self.keys.push(wire_key(&self.hasher, e));
        self.full()
    }

    /// Adds a mouse event; returns a full batch when `max_events` is reached.
    pub fn push_mouse(&mut self, e: &MouseEvent) -> Option<IngestBatch> {
        self.mouse.push(wire_mouse(e));
        self.full()
    }

    fn full(&mut self) -> Option<IngestBatch> {
        (self.keys.len() + self.mouse.len() >= self.max_events).then(|| self.flush())?
    }

    /// The pending events as a batch, or `None` when nothing is pending.
    pub fn flush(&mut self) -> Option<IngestBatch> {
        if self.keys.is_empty() && self.mouse.is_empty() {
            return None;
        }
        let b = IngestBatch {
            user: self.user.clone(),
            session: self.session.clone(),
            device: self.device.clone(),
            batch_seq: self.next_seq,
            keys: std::mem::take(&mut self.keys),
            mouse: std::mem::take(&mut self.mouse),
        };
        self.next_seq += 1;
        Some(b)
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
                .post(format!("{}/v1/events", self.base))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_keys_carry_only_the_keyed_hash() {
        let h = KeyHasher::new(b"tenant-a");
        let w = wire_key(&h, &KeyEvent::new(KeyId::code("KeyA"), 5, 9).unwrap());
        assert_eq!(w.key_hash, format_key_hash(h.hash_code("KeyA")));
        assert_eq!((w.press_us, w.release_us), (5, 9));
        assert_ne!(
            wire_key(
                &KeyHasher::new(b"tenant-b"),
                &KeyEvent::new(KeyId::code("KeyA"), 5, 9).unwrap()
            )
            .key_hash,
            w.key_hash
        );
    }

    #[test]
    fn batches_are_bounded_and_numbered() {
        let mut b = SessionBatcher::new(KeyHasher::new(b"s"), "u", "s1", None, 3);
        let ev = |t| KeyEvent::new(KeyId::code("KeyA"), t, t + 10).unwrap();
        assert!(b.push_key(&ev(0)).is_none());
        assert!(b.push_key(&ev(1)).is_none());
        let full = b.push_key(&ev(2)).unwrap();
        assert_eq!((full.batch_seq, full.keys.len()), (0, 3));
        assert!(full.keys.iter().all(|k| k.key_hash.len() == 16));
        b.push_key(&ev(3));
        assert_eq!(b.flush().unwrap().batch_seq, 1);
        assert!(b.flush().is_none());
    }
}
