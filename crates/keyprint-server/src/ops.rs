//! Operating the server: the connection loop with its timeouts, `/metrics`, `/readyz`, request metrics, and
//! the layer that makes every error answer the API's JSON [`keyprint_wire::ErrorBody`].
//!
//! Timeouts ([`Timeouts`]), each closing what a slow or stalled client holds:
//! * `header_read` — the whole request head must arrive within it (slow-loris headers); the connection is
//!   closed without an answer.
//! * `body_read` — the whole body must arrive within it, counted from the head; the answer is
//!   `408 request_timeout`.
//! * `idle_read` / `write` — a connection that sends nothing for `idle_read` (between requests too) is
//!   closed; so is one that accepts no response bytes for `write` (a client that never reads).
//!
//! Every answer with status 4xx/5xx that a handler did not already make an [`crate::service::ApiError`] (axum's
//! own rejections: a path segment that is not UTF-8, such as `/v1/sessions/%FF`) is rewritten here into the
//! JSON error body with the code of the one table, and counted in `keyprint_rejected_requests_total`.

use crate::metrics::Metrics;
use crate::service::{ApiError, Service};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyprint_wire::ErrorCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Connection and request timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Time to receive a whole request head.
    pub header_read: Duration,
    /// Time to receive a whole request body.
    pub body_read: Duration,
    /// Longest silence from the client on an open connection.
    pub idle_read: Duration,
    /// Longest stall writing a response.
    pub write: Duration,
}

impl Default for Timeouts {
    /// 10 s for the head, 30 s for the body, 60 s idle, 30 s write stall.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            idle_read: Duration::from_secs(60),
            write: Duration::from_secs(30),
        }
    }
}

/// Records stored by an accepted ingest batch (a response extension the ingest handler sets).
#[derive(Clone, Copy, Debug)]
pub struct RecordsStored(pub u64);

#[derive(Clone)]
struct OpsState {
    service: Arc<Service>,
    metrics: Arc<Metrics>,
    sinks: usize,
}

fn code_name(c: ErrorCode) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The API's code for an error status that no handler classified.
fn code_of_status(s: StatusCode) -> ErrorCode {
    match s.as_u16() {
        400 | 422 => ErrorCode::InvalidField,
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        408 => ErrorCode::RequestTimeout,
        413 => ErrorCode::BodyTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        429 => ErrorCode::RateLimited,
        503 => ErrorCode::Storage,
        _ => ErrorCode::Internal,
    }
}

/// Counts requests and rewrites unclassified error answers as JSON error bodies.
async fn observe(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let ingest = req.method() == Method::POST && req.uri().path() == "/v1/records";
    let path_like = req.uri().path().starts_with("/v1/");
    let t0 = Instant::now();
    let mut resp = next.run(req).await;
    let status = resp.status();
    if status.is_client_error() || status.is_server_error() {
        let code = match resp.extensions().get::<ErrorCode>() {
            Some(c) => *c,
            None => {
                let code = code_of_status(status);
                let text = axum::body::to_bytes(std::mem::take(resp.body_mut()), 4096)
                    .await
                    .map(|b| String::from_utf8_lossy(&b).trim().to_string())
                    .unwrap_or_default();
                let reason = if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_string()
                } else {
                    text
                };
                let e = if status == StatusCode::BAD_REQUEST && path_like {
                    ApiError::field(code, "path", reason)
                } else {
                    ApiError::new(code, reason)
                };
                resp = e.into_response();
                code
            }
        };
        m.rejected.with_label_values(&[&code_name(code)]).inc();
    }
    if ingest {
        m.ingest_seconds.observe(t0.elapsed().as_secs_f64());
        let ok = resp.status().is_success();
        m.ingest_batches
            .with_label_values(&[if ok { "accepted" } else { "rejected" }])
            .inc();
        if let Some(RecordsStored(n)) = resp.extensions().get::<RecordsStored>() {
            m.ingest_records.inc_by(*n);
        }
    }
    resp
}

async fn metrics_text(State(s): State<OpsState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(s): State<OpsState>) -> Response {
    let svc = s.service.clone();
    let storage = tokio::task::spawn_blocking(move || svc.with_store(|st| st.outbox_pending()))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.0));
    let running = s.metrics.sink_tasks.get().max(0) as usize;
    match storage {
        Err(e) => ApiError::new(ErrorCode::Storage, format!("storage: {e}")).into_response(),
        Ok(_) if running < s.sinks => ApiError::new(
            ErrorCode::Storage,
            format!(
                "alert sinks: {running} of {} delivery tasks running",
                s.sinks
            ),
        )
        .into_response(),
        Ok(pending) => axum::Json(serde_json::json!({
            "storage": "ok",
            "sinks": s.sinks,
            "outbox_pending": pending,
        }))
        .into_response(),
    }
}

/// The whole application: the API router, `/metrics`, `/readyz`, the metrics and JSON-error layer.
pub fn app(base: Router, service: Arc<Service>, metrics: Arc<Metrics>, sinks: usize) -> Router {
    let ops = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/readyz", get(readyz))
        .with_state(OpsState {
            service: service.clone(),
            metrics: metrics.clone(),
            sinks,
        });
    base.merge(ops)
        .layer(axum::middleware::from_fn_with_state(metrics, observe))
}

/// Accepts connections forever, serving `app` on each with the [`Timeouts`].
pub async fn serve(listener: tokio::net::TcpListener, app: Router, t: Timeouts) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceBuilder;
    let svc = ServiceBuilder::new()
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(
            t.body_read,
        ))
        .service(app);
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: wait rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let mut io = tokio_io_timeout::TimeoutStream::new(stream);
        io.set_read_timeout(Some(t.idle_read));
        io.set_write_timeout(Some(t.write));
        let svc = hyper_util::service::TowerToHyperService::new(svc.clone());
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(t.header_read)
                .serve_connection(TokioIo::new(Box::pin(io)), svc);
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
        });
    }
}
