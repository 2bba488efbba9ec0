//! Webhook signatures: how keyprint signs every webhook body and how a receiver checks it.
//!
//! Each webhook POST carries
//!
//! ```text
//! X-Keyprint-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//! ```
//!
//! The receiver recomputes the HMAC over the timestamp, a `.`, and the raw body bytes exactly as received,
//! compares in constant time, and refuses a timestamp more than [`REPLAY_WINDOW_S`] away from its own clock
//! (a captured request cannot be replayed later). It then de-duplicates on the alert `id`, as delivery is at
//! least once. [`verify_signature`] does all of this:
//!
//! ```
//! use keyprint_server::signature::{sign, verify_signature, REPLAY_WINDOW_S};
//! let header = sign(b"secret", 1_700_000_000, b"{\"alert\":{}}");
//! assert!(verify_signature(b"secret", &header, b"{\"alert\":{}}", 1_700_000_010, REPLAY_WINDOW_S).is_ok());
//! assert!(verify_signature(b"secret", &header, b"{\"alert\":{ }}", 1_700_000_010, REPLAY_WINDOW_S).is_err());
//! assert!(verify_signature(b"secret", &header, b"{\"alert\":{}}", 1_700_000_400, REPLAY_WINDOW_S).is_err());
//! ```

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header that carries the signature.
pub const HEADER: &str = "x-keyprint-signature";

/// How far a signature's timestamp may be from the receiver's clock, seconds (5 minutes).
pub const REPLAY_WINDOW_S: i64 = 300;

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=<digits>,v1=<64 hex digits>`.
    #[error("malformed signature header")]
    Malformed,
    /// The timestamp is outside the replay window.
    #[error("timestamp {t} is {skew_s} s from now, outside the {window_s} s window")]
    Stale {
        /// The signed timestamp.
        t: i64,
        /// Its distance from now, seconds.
        skew_s: i64,
        /// The window, seconds.
        window_s: i64,
    },
    /// The HMAC does not match the body (wrong secret or altered body).
    #[error("signature does not match")]
    Mismatch,
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The header value signing `body` at Unix time `t` (seconds).
pub fn sign(secret: &[u8], t: i64, body: &[u8]) -> String {
    let tag = mac(secret, t, body).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Checks a signature header against the raw body, at the receiver's time `now_s` (Unix seconds).
///
/// # Errors
/// [`SignatureError::Malformed`], [`SignatureError::Stale`] (outside `window_s`) or
/// [`SignatureError::Mismatch`].
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_s: i64,
    window_s: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() => {
                t = v.parse::<i64>().ok()
            }
            Some(("v1", v)) => v1 = unhex(v),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    let skew_s = now_s.saturating_sub(t).saturating_abs();
    if skew_s > window_s {
        return Err(SignatureError::Stale {
            t,
            skew_s,
            window_s,
        });
    }
    mac(secret, t, body)
        .verify_slice(&v1)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_tamper_replay() {
        let h = sign(b"k", 1000, b"body");
        assert!(h.starts_with("t=1000,v1="));
        assert_eq!(h.len(), "t=1000,v1=".len() + 64);
        assert_eq!(verify_signature(b"k", &h, b"body", 1000, 300), Ok(()));
        assert_eq!(verify_signature(b"k", &h, b"body", 700, 300), Ok(()));
        assert_eq!(
            verify_signature(b"k", &h, b"bodY", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other", &h, b"body", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify_signature(b"k", &h, b"body", 1301, 300),
            Err(SignatureError::Stale { skew_s: 301, .. })
        ));
        // A re-signed timestamp with the old tag fails: the timestamp is inside the MAC.
        let forged = h.replace("t=1000", "t=1200");
        assert_eq!(
            verify_signature(b"k", &forged, b"body", 1200, 300),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz"] {
            assert_eq!(
                verify_signature(b"k", bad, b"body", 1, 300),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
