//! Alert delivery, at least once, from the durable outbox.
//!
//! An alert and one outbox row per configured sink are written in the same transaction as the batch that
//! raised it (see [`crate::store::Storage::commit_batch`]). [`run_dispatcher`] polls due rows, delivers
//! each, and marks it delivered only after the sink accepted it; a failure is recorded and retried with
//! exponential back-off (`min(500 ms · 2^attempts, 60 s)`). A crash between delivery and marking means a
//! second delivery: receivers de-duplicate on the alert `id`.
//!
//! Sinks:
//! * `webhook` — HTTP POST of the JSON payload `{"tenant": …, "alert": keyprint_wire::Alert}`; any 2xx
//!   answer is success.
//! * `file` — the payload as one JSON line appended to a file, fsynced before success.
//! * `syslog` — one UDP datagram in RFC 5424 syntax (facility authpriv, severity warning) whose MSG is an
//!   ArcSight CEF record (CEF:0, "Implementing ArcSight CEF", rev. 25), escaped per the CEF rules.

use crate::service::{Service, now_ms};
use keyprint_wire::Alert;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where alerts go.
#[derive(Clone, Debug, Default)]
pub struct Sinks {
    /// Webhook URL.
    pub webhook: Option<String>,
    /// JSON Lines file.
    pub file: Option<PathBuf>,
    /// Syslog collector (UDP).
    pub syslog: Option<SocketAddr>,
}

impl Sinks {
    /// Names of the configured sinks (as stored in outbox rows).
    pub fn names(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.webhook.is_some() {
            v.push("webhook".into());
        }
        if self.file.is_some() {
            v.push("file".into());
        }
        if self.syslog.is_some() {
            v.push("syslog".into());
        }
        v
    }
}

/// Back-off before retry number `attempts + 1`, ms.
pub fn backoff_ms(attempts: u32) -> i64 {
    (500i64 << attempts.min(7)).min(60_000)
}

/// Escapes a CEF header field (`\` and `|`).
pub fn cef_header(s: &str) -> String {
    s.replace('\\', "\\\\").replace('|', "\\|")
}

/// Escapes a CEF extension value (`\`, `=`, line breaks).
pub fn cef_value(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('=', "\\=")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

/// The CEF record of an alert.
pub fn cef(tenant: &str, a: &Alert) -> String {
    let sev = (10.0 - a.trust / 10.0).round().clamp(0.0, 10.0) as u8;
    let codes: Vec<String> = a
        .reasons
        .iter()
        .map(|r| {
            serde_json::to_value(r.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    let details: Vec<&str> = a.reasons.iter().map(|r| r.detail.as_str()).collect();
    format!(
        "CEF:0|{}|{}|{}|trust-alert|{}|{sev}|rt={} suser={} cs1Label=session cs1={} cs2Label=tenant cs2={} cn1Label=trust cn1={} cn2Label=alertId cn2={} cs3Label=reasons cs3={} msg={}",
        cef_header("keyprint"),
        cef_header("keyprint"),
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header("Session trust below threshold"),
        a.at_ms,
        cef_value(&a.user),
        cef_value(&a.session),
        cef_value(tenant),
        a.trust.round() as i64,
        a.id,
        cef_value(&codes.join(",")),
        cef_value(&details.join("; ")),
    )
}

/// RFC 3339 UTC timestamp with milliseconds of a Unix-ms time (civil-from-days, H. Hinnant).
pub fn rfc3339_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The RFC 5424 syslog message (facility authpriv = 10, severity warning = 4 → PRI 84) carrying the CEF.
pub fn syslog_line(tenant: &str, a: &Alert) -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".into());
    format!(
        "<84>1 {} {host} keyprint {} alert - {}",
        rfc3339_ms(a.at_ms),
        std::process::id(),
        cef(tenant, a)
    )
}

async fn deliver(
    http: &reqwest::Client,
    sinks: &Sinks,
    sink: &str,
    payload: &str,
) -> Result<(), String> {
    match sink {
        "webhook" => {
            let url = sinks.webhook.as_ref().ok_or("webhook not configured")?;
            let r = http
                .post(url)
                .header("content-type", "application/json")
                .body(payload.to_string())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status().is_success() {
                Ok(())
            } else {
                Err(format!("webhook answered {}", r.status()))
            }
        }
        "file" => {
            let path = sinks.file.clone().ok_or("file sink not configured")?;
            let line = payload.to_string();
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                f.write_all(line.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_data()
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
        }
        "syslog" => {
            let addr = sinks.syslog.ok_or("syslog not configured")?;
            let v: serde_json::Value = serde_json::from_str(payload).map_err(|e| e.to_string())?;
            let tenant = v["tenant"].as_str().unwrap_or("").to_string();
            let a: Alert = serde_json::from_value(v["alert"].clone()).map_err(|e| e.to_string())?;
            let line = syslog_line(&tenant, &a);
            let bind = if addr.is_ipv4() {
                "0.0.0.0:0"
            } else {
                "[::]:0"
            };
            let sock = tokio::net::UdpSocket::bind(bind)
                .await
                .map_err(|e| e.to_string())?;
            sock.send_to(line.as_bytes(), addr)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        other => Err(format!("unknown sink {other}")),
    }
}

/// Delivers due outbox rows forever (until the task is dropped), polling every `poll`.
pub async fn run_dispatcher(service: Arc<Service>, sinks: Arc<Sinks>, poll: Duration) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("reqwest client");
    loop {
        let svc = service.clone();
        let due =
            tokio::task::spawn_blocking(move || svc.with_store(|s| s.outbox_due(now_ms(), 100)))
                .await;
        let rows = match due {
            Ok(Ok(r)) => r,
            _ => Vec::new(),
        };
        for row in rows {
            let res = deliver(&http, &sinks, &row.sink, &row.payload).await;
            let svc = service.clone();
            let _ = tokio::task::spawn_blocking(move || {
                svc.with_store(|s| match res {
                    Ok(()) => s.outbox_delivered(row.id, now_ms()),
                    Err(e) => s.outbox_failed(row.id, now_ms() + backoff_ms(row.attempts), &e),
                })
            })
            .await;
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_wire::{Reason, ReasonCode};

    #[test]
    fn cef_and_syslog_syntax() {
        let a = Alert {
            id: 7,
            user: "al=ice".into(),
            session: "s|1".into(),
            at_ms: 1_764_400_000_123,
            event_us: 5,
            trust: 12.3,
            threshold: 30.0,
            reasons: vec![Reason {
                code: ReasonCode::KeystrokeMismatch,
                evidence: 3.0,
                detail: "a\\b".into(),
            }],
        };
        let c = cef("t", &a);
        assert!(c.starts_with("CEF:0|keyprint|keyprint|"));
        assert!(c.contains("|trust-alert|Session trust below threshold|9|"));
        assert!(c.contains("suser=al\\=ice"));
        assert!(
            c.contains("cs1=s|1"),
            "pipes need no escape in extensions: {c}"
        );
        assert!(c.contains("cs3=keystroke_mismatch"));
        assert!(c.contains("msg=a\\\\b"));
        let l = syslog_line("t", &a);
        assert!(l.starts_with("<84>1 2025-11-29T07:06:40.123Z "), "{l}");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(backoff_ms(0), 500);
        assert_eq!(backoff_ms(20), 60_000);
    }
}
