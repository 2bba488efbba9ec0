//! `keyprint serve --try-page`: the "try it yourself" page (demo only, off by default).
//!
//! A person opens `GET /try`, types the phrase to enrol, hands the keyboard to someone else, and watches trust
//! and reasons live. The page is static HTML ([`PAGE`]) with the browser SDK's script-tag build ([`SDK`],
//! generated from `sdk/js` and checked for staleness by a test on each side) embedded in the binary.
//!
//! In this mode the server also plays **the console's backend** for one demo tenant ([`TENANT`]): the page asks
//! `POST /try/credential {"user"}` (same origin, no key in page code) and gets a short-lived browser credential
//! for that user. In production the console's own backend, which knows who is logged in, calls
//! `POST /v1/browser-credentials` with its ingest key and hands the credential to its page; nothing in page
//! code can mint one. `GET /try/status?session=…` shows the credential's own user only: enrolment, that user's
//! session trust history and alerts.
//!
//! Architecture invariant: this module only calls public [`Service`] methods; it adds no rule of its own to
//! ingest, scoring or authentication, so the page sees exactly what any SDK client would.

use crate::service::{ApiError, Service};
use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use keyprint_wire::{BrowserCredential, BrowserCredentialRequest, ErrorCode, FixedTextPhrase};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The page.
pub const PAGE: &str = include_str!("try_page/index.html");
/// The SDK's script-tag build (`sdk/js/dist/keyprint.iife.js`, copied by `npm run build`; generated, do not
/// edit). Its first line names the SHA-256 of the sources it was built from ([`sdk_sources_digest`]).
pub const SDK: &str = include_str!("try_page/keyprint.iife.js");
/// The demo tenant.
pub const TENANT: &str = "try";
/// The phrase's public id. The phrase itself (`.tie5Roanl` and Enter, the CMU benchmark's password, 11 keys)
/// lives in the page, as it lives on devices: the server knows its id and length only.
pub const PHRASE_ID: &str = "try-cmu-1";
/// Keys in the phrase (modifiers excluded).
pub const PHRASE_KEYS: u32 = 11;
/// Lifetime of a page credential, seconds.
pub const CREDENTIAL_TTL_S: u32 = 900;
/// Credentials remembered at once (older ones are forgotten: their page asks again).
const MAX_MINTED: usize = 1024;

/// What one credential may see.
#[derive(Clone, Debug)]
struct Minted {
    user: String,
    device: String,
    expires_at_ms: i64,
}

/// State of the try page: the service and the credentials it handed out (by SHA-256 of the token).
pub struct TryPage {
    svc: Arc<Service>,
    minted: Mutex<HashMap<[u8; 32], Minted>>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// SHA-256 (hex) over the SDK's sources, as `sdk/js/scripts/build.mjs` computes it: for each file of
/// `sdk/js/src` in name order, its name, a NUL byte, its bytes, a NUL byte.
#[must_use]
pub fn sdk_sources_digest(files: &[(String, Vec<u8>)]) -> String {
    let mut files: Vec<&(String, Vec<u8>)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (name, bytes) in files {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(bytes);
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl TryPage {
    /// Creates the demo tenant (if new) and sets its phrase.
    ///
    /// # Errors
    /// When storage fails.
    pub fn new(svc: Arc<Service>) -> Result<Self, ApiError> {
        svc.with_store(|st| st.create_tenant(TENANT))?;
        svc.set_phrase(
            TENANT,
            &FixedTextPhrase {
                id: PHRASE_ID.into(),
                keys: PHRASE_KEYS,
                confirm_reset: false,
            },
        )?;
        Ok(TryPage {
            svc,
            minted: Mutex::new(HashMap::new()),
        })
    }

    /// Mints a short-lived credential for `user` of the demo tenant.
    fn mint(&self, user: &str) -> Result<BrowserCredential, ApiError> {
        let cred = mint_credential(&self.svc, user)?;
        let mut m = self.minted.lock().unwrap_or_else(|p| p.into_inner());
        let now = crate::service::now_ms();
        m.retain(|_, v| v.expires_at_ms > now);
        if m.len() >= MAX_MINTED
            && let Some(k) = m
                .iter()
                .min_by_key(|(_, v)| v.expires_at_ms)
                .map(|(k, _)| *k)
        {
            m.remove(&k);
        }
        m.insert(
            digest(&cred.token),
            Minted {
                user: cred.user.clone(),
                device: cred.device.clone(),
                expires_at_ms: cred.expires_at_ms,
            },
        );
        Ok(cred)
    }

    /// The credential's user and device, if it is one this page minted and it has not expired.
    fn caller(&self, headers: &HeaderMap) -> Result<Minted, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(s, _)| s.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing bearer token"))?;
        let m = self.minted.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&digest(token))
            .filter(|v| v.expires_at_ms > crate::service::now_ms())
            .cloned()
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::Unauthorized,
                    "not a try-page credential, or expired",
                )
            })
    }
}

/// A user name for the demo: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
fn valid_user(u: &str) -> bool {
    (1..=64).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Mints the page's credential for `user` of [`TENANT`] the way a console's backend does
/// (`POST /v1/browser-credentials`): the service's short-lived browser credential, bound to that user and a
/// generated device.
fn mint_credential(svc: &Service, user: &str) -> Result<BrowserCredential, ApiError> {
    svc.browser_credential(
        TENANT,
        &BrowserCredentialRequest {
            user: user.into(),
            ttl_s: Some(CREDENTIAL_TTL_S),
        },
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CredentialReq {
    user: String,
}

async fn credential(
    State(tp): State<Arc<TryPage>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: CredentialReq = crate::http::body_json(&headers, body).await?;
    if !valid_user(&req.user) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "user",
            "1 to 64 ASCII letters, digits, '.', '_' or '-'",
        ));
    }
    let cred = tokio::task::spawn_blocking(move || tp.mint(&req.user))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok((
        StatusCode::CREATED,
        axum::Json(serde_json::json!({
            "credential": cred,
            "phrase": {"id": PHRASE_ID, "keys": PHRASE_KEYS},
        })),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusQuery {
    session: Option<String>,
}

async fn status(
    State(tp): State<Arc<TryPage>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let who = tp.caller(&headers)?;
    let q: StatusQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::field(ErrorCode::InvalidField, "query", e.to_string()))?;
    let v = tokio::task::spawn_blocking(move || -> Result<serde_json::Value, ApiError> {
        let svc = &tp.svc;
        let user = svc.user(TENANT, &who.user)?;
        let session = match q.session {
            // Only the credential's own user's sessions: another user's is simply not found.
            Some(s) => match svc.session(TENANT, &s) {
                Ok(d) if d.info.user == who.user => Some(d),
                Ok(_) => return Err(ApiError::new(ErrorCode::NotFound, "no such session")),
                Err(e) if e.0.code == ErrorCode::NotFound => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        // The newest alerts of this user (a try-page user has a handful; the page holds up to 1,000).
        let alerts = svc
            .alerts(
                TENANT,
                0,
                Some(&who.user),
                &crate::service::PageRequest::max(),
            )?
            .items;
        let enrol: Vec<serde_json::Value> = svc
            .engines()
            .iter()
            .filter(|e| e.per_user())
            .map(|e| serde_json::json!({"engine": e.name(), "needed": e.enrolment_samples()}))
            .collect();
        Ok(serde_json::json!({
            "user": who.user,
            "device": who.device,
            "enrolment": user.map(|u| u.engines).unwrap_or_default(),
            "enrolment_needed": enrol,
            "session": session,
            "alerts": alerts,
        }))
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))??;
    Ok(axum::Json(v).into_response())
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PAGE,
    )
        .into_response()
}

async fn sdk() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SDK,
    )
        .into_response()
}

/// The try page's routes (`/try`, `/try/keyprint.iife.js`, `/try/credential`, `/try/status`), to merge into the
/// API router.
pub fn router(tp: Arc<TryPage>) -> Router {
    Router::new()
        .route("/try", get(page))
        .route("/try/keyprint.iife.js", get(sdk))
        .route("/try/credential", post(credential))
        .route("/try/status", get(status))
        .with_state(tp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded SDK was built from the SDK sources as they are now (rust-analyzer's "generated file
    /// checked by a test"): change `sdk/js/src` and this fails until `cd sdk/js && npm run build` is run and
    /// `crates/keyprint-server/src/try_page/keyprint.iife.js` committed.
    #[test]
    fn embedded_sdk_is_built_from_the_current_sources() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sdk/js/src");
        let mut files = Vec::new();
        for e in std::fs::read_dir(&dir).expect("sdk/js/src") {
            let p = e.expect("entry").path();
            if p.extension().is_some_and(|x| x == "ts") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                files.push((name, std::fs::read(&p).expect("read")));
            }
        }
        assert!(files.len() >= 5, "SDK sources found in {}", dir.display());
        let want = sdk_sources_digest(&files);
        let first = SDK.lines().next().unwrap_or("");
        assert!(
            first.contains(&want),
            "crates/keyprint-server/src/try_page/keyprint.iife.js is stale (its first line: {first:?}; sources \
             sha256 {want}): run `cd sdk/js && npm run build` and commit the file"
        );
        // The control: a one-byte change of any source changes the digest.
        files[0].1.push(b' ');
        assert_ne!(sdk_sources_digest(&files), want);
    }

    #[test]
    fn user_names() {
        for ok in ["alice", "a", "bob.smith_2-x"] {
            assert!(valid_user(ok), "{ok}");
        }
        for bad in ["", "a b", "é", "a/b", &"x".repeat(65)] {
            assert!(!valid_user(bad), "{bad}");
        }
    }
}
