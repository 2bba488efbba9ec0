//! The HTTP/JSON API (axum 0.8). The OpenAPI 3.1 description is generated from the wire types
//! ([`keyprint_wire::openapi::document`]; committed copy `docs/openapi.json`) and served at `GET /openapi.json`;
//! `tests/openapi.rs` checks that every route declared here is in it and nothing else is.
//!
//! Every request except `/openapi.json` and `/healthz` carries `Authorization: Bearer <token>`; the token's
//! tenant scopes every query, so one tenant never reads or writes another's data (a foreign session is
//! simply `not_found`). Bodies are read up to [`keyprint_wire::MAX_BODY_BYTES`] and parsed by serde with
//! unknown fields refused; every failure is a [`keyprint_wire::ErrorBody`] with the status from the one
//! table, [`keyprint_wire::ErrorCode::status`].

use crate::service::{ApiError, PageRequest, Principal, Service};
use crate::store::EnrolmentAction;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use keyprint_wire::{
    BrowserCredentialRequest, CreateKey, EnrollDevice, EnrolmentActionName, EnrolmentDecided,
    EnrolmentDecision, ErrorCode, FixedTextPhrase, IngestBatch, RegisterDevice, Role,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// The OpenAPI description served at `/openapi.json` ([`keyprint_wire::openapi::document_text`], generated once).
pub fn openapi_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(keyprint_wire::openapi::document_text)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let code = self.0.code;
        let mut r = (status, axum::Json(self.0)).into_response();
        // For the metrics layer (`crate::ops`): the code of this answer.
        r.extensions_mut().insert(code);
        r
    }
}

type Res = Result<Response, ApiError>;

fn json<T: serde::Serialize>(v: &T) -> Response {
    axum::Json(v).into_response()
}

/// Authenticates, checks the role and the rate limit; returns the caller.
fn auth(svc: &Service, headers: &HeaderMap, allowed: &[Role]) -> Result<Principal, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // The auth scheme is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "missing bearer token"))?;
    let who = svc.authenticate(token.trim())?;
    if !allowed.contains(&who.role) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("role {:?} may not do this", who.role),
        ));
    }
    svc.rate_limit(&who.key_id)?;
    Ok(who)
}

pub(crate) async fn body_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
) -> Result<T, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // RFC 9110 §8.3.1: type/subtype are case-insensitive; parameters (charset) follow a `;`.
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/json",
        ));
    }
    let max = keyprint_wire::MAX_BODY_BYTES;
    let bytes = axum::body::to_bytes(body, max).await.map_err(|e| {
        // The body read deadline (`crate::ops::Timeouts::body_read`) fails the body; so does the size limit.
        let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(x) = src {
            if x.is::<tower_http::timeout::TimeoutError>() {
                return ApiError::new(
                    ErrorCode::RequestTimeout,
                    "the body did not arrive within the read timeout",
                );
            }
            src = x.source();
        }
        ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("body larger than {max} bytes"),
        )
    })?;
    parse_json(&bytes)
}

/// Parses a request body, classifying serde errors into the API's codes and naming the field at fault
/// (its JSON path, e.g. `records[3].free_text.values`, via `serde_path_to_error`).
///
/// # Errors
/// `malformed_json` for syntax errors; `invalid_field` for missing, unknown or ill-typed fields (for
/// example the per-key `keys` array of earlier releases, which is refused: only records travel).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let v: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        use serde_json::error::Category;
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::new(ErrorCode::MalformedJson, msg)
            }
            Category::Data if path == "." => ApiError::new(ErrorCode::InvalidField, msg),
            Category::Data => ApiError::field(ErrorCode::InvalidField, path, msg),
        }
    })?;
    de.end()
        .map_err(|e| ApiError::new(ErrorCode::MalformedJson, e.to_string()))?;
    Ok(v)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
}

async fn ingest(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let who = auth(&svc, &headers, &[Role::Device, Role::Browser])?;
    let batch: IngestBatch = body_json(&headers, body).await?;
    let ack = blocking(move || svc.ingest(&who, &batch)).await?;
    let mut r = json(&ack);
    r.extensions_mut()
        .insert(crate::ops::RecordsStored(ack.stored_records));
    Ok(r)
}

async fn net_finding(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Ingest, Role::Admin])?.tenant;
    let f: keyprint_wire::NetFinding = body_json(&headers, body).await?;
    let alert = blocking(move || svc.net_finding(&tenant, &f)).await?;
    Ok((StatusCode::CREATED, json(&alert)).into_response())
}

async fn set_retention(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let req: keyprint_wire::RetentionSetting = body_json(&headers, body).await?;
    blocking(move || svc.set_retention(&tenant, req.days)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsQuery {
    user: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// `?limit=&cursor=` of a list without other parameters (`/v1/users`, `/v1/devices`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    limit: Option<String>,
    cursor: Option<String>,
}

/// Parses a query string after authentication, so that an unauthenticated caller learns nothing, and a bad query
/// gets the API's JSON error (`invalid_field`, field `query`) rather than a plain-text rejection.
fn query<T: DeserializeOwned>(raw: Option<String>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::field(ErrorCode::InvalidField, "query", e.to_string()))
}

async fn sessions(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Read, Role::Admin])?.tenant;
    let q: SessionsQuery = query(raw)?;
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor)?;
    let v = blocking(move || svc.sessions(&tenant, q.user.as_deref(), &page)).await?;
    Ok(json(&v))
}

async fn session(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Read, Role::Admin])?.tenant;
    let v = blocking(move || svc.session(&tenant, &id)).await?;
    Ok(json(&v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsQuery {
    after: Option<String>,
    user: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn alerts(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Read, Role::Admin])?.tenant;
    let q: AlertsQuery = query(raw)?;
    let after = match q.after.as_deref() {
        None => 0,
        Some(v) => v.trim().parse::<i64>().map_err(|_| {
            ApiError::field(
                ErrorCode::InvalidField,
                "after",
                format!("must be an integer alert id, got {v:?}"),
            )
        })?,
    };
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor)?;
    let v = blocking(move || svc.alerts(&tenant, after, q.user.as_deref(), &page)).await?;
    Ok(json(&v))
}

/// A list with only `?limit=&cursor=` (`/v1/users`, `/v1/devices`): readers and admins, one page of `list`.
async fn plain_list<T: serde::Serialize + Send + 'static>(
    svc: Arc<Service>,
    headers: HeaderMap,
    raw: Option<String>,
    list: fn(&Service, &str, &PageRequest) -> Result<T, ApiError>,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Read, Role::Admin])?.tenant;
    let q: PageQuery = query(raw)?;
    let page = PageRequest::parse(q.limit.as_deref(), q.cursor)?;
    let v = blocking(move || list(&svc, &tenant, &page)).await?;
    Ok(json(&v))
}

async fn users(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Res {
    plain_list(svc, headers, raw, Service::users).await
}

async fn purge(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Path(user): Path<String>,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let v = blocking(move || svc.purge(&tenant, &user)).await?;
    Ok(json(&v))
}

async fn create_key(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let req: CreateKey = body_json(&headers, body).await?;
    let v = blocking(move || svc.create_key(&tenant, req.role)).await?;
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

async fn set_phrase(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let req: FixedTextPhrase = body_json(&headers, body).await?;
    blocking(move || svc.set_phrase(&tenant, &req)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn register_device(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let req: RegisterDevice = body_json(&headers, body).await?;
    let v = blocking(move || svc.register_device(&tenant, &req)).await?;
    Ok((StatusCode::CREATED, json(&v)).into_response())
}

/// `POST /v1/devices/enroll`: the one route without a bearer token — the one-time registration token in the
/// body is the credential.
async fn enroll_device(State(svc): State<Arc<Service>>, headers: HeaderMap, body: Body) -> Res {
    let req: EnrollDevice = body_json(&headers, body).await?;
    let v = blocking(move || svc.enroll_device(&req)).await?;
    Ok(json(&v))
}

async fn devices(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Res {
    plain_list(svc, headers, raw, Service::devices).await
}

async fn device(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Read, Role::Admin])?.tenant;
    let v = blocking(move || svc.device(&tenant, &id)).await?;
    Ok(json(&v))
}

async fn revoke_device(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let v = blocking(move || svc.revoke_device(&tenant, &id)).await?;
    Ok(json(&v))
}

async fn rotate_device(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Res {
    let who = auth(&svc, &headers, &[Role::Admin, Role::Device])?;
    let v = blocking(move || svc.rotate_device(&who, &id)).await?;
    Ok(json(&v))
}

async fn browser_credential(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    body: Body,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Ingest, Role::Admin])?.tenant;
    let req: BrowserCredentialRequest = body_json(&headers, body).await?;
    let v = blocking(move || svc.browser_credential(&tenant, &req)).await?;
    Ok((StatusCode::CREATED, json(&v)).into_response())
}

async fn decide_enrolment(
    State(svc): State<Arc<Service>>,
    headers: HeaderMap,
    Path(user): Path<String>,
    body: Body,
) -> Res {
    let tenant = auth(&svc, &headers, &[Role::Admin])?.tenant;
    let req: EnrolmentDecision = body_json(&headers, body).await?;
    let action = match req.action {
        EnrolmentActionName::Approve => EnrolmentAction::Approve,
        EnrolmentActionName::Reset => EnrolmentAction::Reset,
    };
    let u = user.clone();
    let engines =
        blocking(move || svc.set_enrolment(&tenant, &u, req.engine.as_deref(), action)).await?;
    Ok(json(&EnrolmentDecided { user, engines }))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_text()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed(method: axum::http::Method) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{method} is not allowed on this endpoint"),
    )
}

/// The API router over a service.
pub fn router(svc: Arc<Service>) -> Router {
    router_with(svc, &[])
}

/// CORS for `POST /v1/records` from the given origins (`https://console.example`): a browser page of such an
/// origin may send `Authorization` and `Content-Type: application/json` there (the preflight is answered,
/// cached 10 minutes); every other origin, and every other route, gets no `Access-Control-Allow-Origin`, so
/// browsers refuse the call. `None` when no origin is configured.
///
/// # Errors
/// An origin that is not `http(s)://host[:port]` (no path, no trailing slash).
pub fn cors(origins: &[String]) -> anyhow::Result<Option<tower_http::cors::CorsLayer>> {
    use axum::http::{HeaderValue, Method};
    if origins.is_empty() {
        return Ok(None);
    }
    let mut list = Vec::new();
    for o in origins {
        let ok = reqwest::Url::parse(o).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https")
                && u.host().is_some()
                && u.origin().ascii_serialization() == *o
        });
        anyhow::ensure!(
            ok,
            "CORS origin {o:?}: expected scheme://host[:port], e.g. https://console.example"
        );
        list.push(HeaderValue::from_str(o)?);
    }
    Ok(Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(list)
            .allow_methods([Method::POST])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
            .max_age(std::time::Duration::from_secs(600)),
    ))
}

/// The API router, with CORS on `POST /v1/records` for `cors_origins` (see [`cors`]).
///
/// # Panics
/// On an origin [`cors`] refuses (checked earlier by `ServeConfig::validate`).
pub fn router_with(svc: Arc<Service>, cors_origins: &[String]) -> Router {
    let records = match cors(cors_origins).expect("CORS origins checked before") {
        // The preflight (OPTIONS) is answered by the layer; the route needs a handler for the method to reach
        // it (the router's method-not-allowed fallback is not layered).
        Some(c) => post(ingest)
            .options(|| async { StatusCode::NO_CONTENT })
            .layer(c),
        None => post(ingest),
    };
    Router::new()
        .route("/v1/records", records)
        .route("/v1/net/findings", post(net_finding))
        .route("/v1/sessions", get(sessions))
        .route("/v1/sessions/{session}", get(session))
        .route("/v1/alerts", get(alerts))
        .route("/v1/users", get(users))
        .route("/v1/users/{user}", delete(purge))
        .route("/v1/keys", post(create_key))
        .route("/v1/devices", post(register_device).get(devices))
        .route("/v1/devices/enroll", post(enroll_device))
        .route("/v1/devices/{device}", get(device).delete(revoke_device))
        .route("/v1/devices/{device}/rotate", post(rotate_device))
        .route("/v1/browser-credentials", post(browser_credential))
        .route("/v1/users/{user}/enrolment", post(decide_enrolment))
        .route("/v1/tenant/fixed-text", put(set_phrase))
        .route("/v1/tenant/retention", put(set_retention))
        .route("/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(
            keyprint_wire::MAX_BODY_BYTES,
        ))
        .with_state(svc)
}
