//! Alert delivery, at least once, from the durable outbox; each sink on its own.
//!
//! An alert and one outbox row per configured sink are written in the same transaction as the batch that
//! raised it (see [`crate::store::Storage::commit_batch`]). [`run_dispatcher`] starts one task per sink;
//! each reads only its own queue ([`crate::store::Storage::outbox_due_sink`]), delivers in order, and marks a
//! row delivered only after its sink accepted it. A failure is recorded on the row (retried after
//! `min(500 ms · 2^attempts, 60 s)`), logged, counted (`keyprint_sink_failures_total`), and makes that
//! sink's task pause with the same back-off; the other sinks go on. A crash between delivery and marking
//! means a second delivery: receivers de-duplicate on the alert `id`. Each sink's backlog is the gauge
//! `keyprint_sink_backlog`.
//!
//! Sinks:
//! * `webhook` — HTTP POST (http or https, rustls with the web PKI roots plus `ca_file`) of the JSON payload
//!   `{"tenant": …, "alert": keyprint_wire::Alert}`, signed in `X-Keyprint-Signature` when a secret is set
//!   (see [`crate::signature`]); any 2xx answer is success.
//! * `file` — the payload as one JSON line appended to a file, fsynced before success.
//! * `syslog` — RFC 5424 syntax (facility authpriv, severity warning) whose MSG is an ArcSight CEF record
//!   (CEF:0, "Implementing ArcSight CEF", rev. 25), escaped per the CEF rules, over
//!   * `tcp://host:port` — RFC 6587 octet counting (`<length> <message>`) on one kept connection; success
//!     is the bytes written and flushed to the socket;
//!   * `tls://host:port` — the same framing inside TLS (RFC 5425), the collector's certificate checked
//!     against the web PKI roots plus `ca_file`;
//!   * `udp://host:port` — one datagram per alert, fire-and-forget: UDP has no acknowledgement, so a row is
//!     marked delivered once sent unless the collector's host answers "port unreachable" within 100 ms
//!     (then it is retried). A collector that is down without saying so loses alerts; use `tcp://` or
//!     `tls://` when every alert must arrive.

use crate::metrics::Metrics;
use crate::service::{Service, now_ms};
use keyprint_wire::Alert;
use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A syslog collector and its transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    /// `udp://host:port`: fire-and-forget datagrams.
    Udp(String),
    /// `tcp://host:port`: RFC 6587 octet counting.
    Tcp(String),
    /// `tls://host:port`: RFC 5425.
    Tls(String),
}

impl SyslogTarget {
    /// The `host:port` part.
    pub fn addr(&self) -> &str {
        match self {
            SyslogTarget::Udp(a) | SyslogTarget::Tcp(a) | SyslogTarget::Tls(a) => a,
        }
    }

    /// The host part (the TLS server name).
    pub fn host(&self) -> &str {
        let a = self.addr();
        let h = a.rsplit_once(':').map_or(a, |(h, _)| h);
        h.trim_start_matches('[').trim_end_matches(']')
    }
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyslogTarget::Udp(a) => write!(f, "udp://{a}"),
            SyslogTarget::Tcp(a) => write!(f, "tcp://{a}"),
            SyslogTarget::Tls(a) => write!(f, "tls://{a}"),
        }
    }
}

impl FromStr for SyslogTarget {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const FORMS: &str = "expected udp://host:port (fire-and-forget), tcp://host:port (RFC 6587) or \
                             tls://host:port (RFC 5425), e.g. tcp://localhost:514";
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(format!("{s:?} has no transport: {FORMS}"));
        };
        let port_ok = rest
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0));
        if !port_ok || rest.contains('/') {
            return Err(format!(
                "{s:?}: the address must be host:port with a port from 1 to 65535; {FORMS}"
            ));
        }
        match scheme.to_ascii_lowercase().as_str() {
            "udp" => Ok(SyslogTarget::Udp(rest.into())),
            "tcp" => Ok(SyslogTarget::Tcp(rest.into())),
            "tls" => Ok(SyslogTarget::Tls(rest.into())),
            other => Err(format!("{s:?}: unknown transport {other:?}; {FORMS}")),
        }
    }
}

/// A webhook signing secret (never printed).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Where alerts go.
#[derive(Clone, Debug, Default)]
pub struct Sinks {
    /// Webhook URL (`http://` or `https://`).
    pub webhook: Option<String>,
    /// HMAC secret that signs webhook bodies ([`crate::signature`]); unsigned when `None`.
    pub webhook_secret: Option<Secret>,
    /// JSON Lines file.
    pub file: Option<PathBuf>,
    /// Syslog collector.
    pub syslog: Option<SyslogTarget>,
    /// Extra trusted CA certificates (PEM) for https webhooks and `tls://` syslog, beside the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// Per-attempt timeout of a webhook POST or a syslog connection (default 5 s when `None`).
    pub timeout: Option<Duration>,
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

    fn attempt_timeout(&self) -> Duration {
        self.timeout.unwrap_or(Duration::from_secs(5))
    }
}

/// The TLS client settings of the sinks: the web PKI roots plus the certificates of `ca_file`.
///
/// # Errors
/// When `ca_file` cannot be read or holds no usable certificate.
pub fn tls_client_config(
    ca_file: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(p) = ca_file {
        let mut n = 0;
        for c in CertificateDer::pem_file_iter(p).map_err(|e| format!("{}: {e}", p.display()))? {
            let c = c.map_err(|e| format!("{}: {e}", p.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", p.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("{}: no PEM certificate in it", p.display()));
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
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

trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// One sink's transport and its connection state.
enum Transport {
    Webhook {
        url: reqwest::Url,
        secret: Option<Secret>,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
    },
    File(PathBuf),
    Syslog {
        target: SyslogTarget,
        tls: Arc<rustls::ClientConfig>,
        timeout: Duration,
        conn: Option<Box<dyn Conn>>,
    },
}

/// Parses an outbox payload back into its tenant and alert.
fn parse_payload(payload: &str) -> Result<(String, Alert), String> {
    let v: serde_json::Value = serde_json::from_str(payload).map_err(|e| e.to_string())?;
    let tenant = v["tenant"].as_str().unwrap_or("").to_string();
    let a: Alert = serde_json::from_value(v["alert"].clone()).map_err(|e| e.to_string())?;
    Ok((tenant, a))
}

/// RFC 6587 §3.4.1 octet counting: `<length of the message in octets> SP <message>`.
pub fn octet_counted(msg: &str) -> String {
    format!("{} {msg}", msg.len())
}

impl Transport {
    async fn connect(
        target: &SyslogTarget,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Box<dyn Conn>, String> {
        let tcp = tokio::net::TcpStream::connect(target.addr())
            .await
            .map_err(|e| format!("connecting to {target}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        match target {
            SyslogTarget::Tls(_) => {
                let name = rustls_pki_types::ServerName::try_from(target.host().to_string())
                    .map_err(|e| format!("{target}: {e}"))?;
                let s = tokio_rustls::TlsConnector::from(tls.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {target}: {e}"))?;
                Ok(Box::new(s))
            }
            _ => Ok(Box::new(tcp)),
        }
    }

    async fn deliver(&mut self, payload: &str) -> Result<(), String> {
        match self {
            Transport::Webhook {
                url,
                secret,
                tls,
                timeout,
            } => {
                let signature = secret.as_ref().map(|s| {
                    crate::signature::sign(&s.0, now_ms().div_euclid(1000), payload.as_bytes())
                });
                match tokio::time::timeout(*timeout, post(url, tls, payload, signature)).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("webhook: no answer in {timeout:?}")),
                }
            }
            Transport::File(path) => {
                let path = path.clone();
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
                .map_err(|e| format!("alerts file: {e}"))
            }
            Transport::Syslog {
                target,
                tls,
                timeout,
                conn,
            } => {
                let (tenant, a) = parse_payload(payload)?;
                let line = syslog_line(&tenant, &a);
                if let SyslogTarget::Udp(addr) = target {
                    return udp_send(addr, &line).await;
                }
                // A kept connection the collector has closed reads as end of file (or an error) at once:
                // reconnect rather than write into it.
                if let Some(c) = conn.as_mut() {
                    let mut buf = [0u8; 64];
                    match tokio::time::timeout(Duration::ZERO, c.read(&mut buf)).await {
                        Err(_) => {}
                        Ok(Ok(n)) if n > 0 => {}
                        Ok(_) => *conn = None,
                    }
                }
                let attempt = async {
                    if conn.is_none() {
                        *conn = Some(Self::connect(target, tls).await?);
                    }
                    let c = conn.as_mut().expect("connected above");
                    c.write_all(octet_counted(&line).as_bytes())
                        .await
                        .map_err(|e| format!("writing to {target}: {e}"))?;
                    c.flush()
                        .await
                        .map_err(|e| format!("writing to {target}: {e}"))
                };
                let res = match tokio::time::timeout(*timeout, attempt).await {
                    Ok(r) => r,
                    Err(_) => Err(format!("{target}: no progress in {timeout:?}")),
                };
                if res.is_err() {
                    *conn = None;
                }
                res
            }
        }
    }
}

/// POSTs one payload (a fresh connection each time: http, or https through rustls), `Ok` on a 2xx answer.
async fn post(
    url: &reqwest::Url,
    tls: &Arc<rustls::ClientConfig>,
    payload: &str,
    signature: Option<String>,
) -> Result<(), String> {
    use http_body_util::Full;
    use hyper_util::rt::TokioIo;
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp =
        tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| format!("webhook: connecting to {host}:{port}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let io: Box<dyn Conn> = if url.scheme() == "https" {
        let name = rustls_pki_types::ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|e| format!("webhook: {host}: {e}"))?;
        Box::new(
            tokio_rustls::TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("webhook: TLS with {host}:{port}: {e}"))?,
        )
    } else {
        Box::new(tcp)
    };
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("webhook: {e}"))?;
    tokio::spawn(conn);
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let mut req = hyper::Request::post(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("keyprint/", env!("CARGO_PKG_VERSION")),
        );
    if let Some(s) = signature {
        req = req.header(crate::signature::HEADER, s);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(payload.to_string())))
        .map_err(|e| format!("webhook: {e}"))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| format!("webhook: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("webhook answered {}", resp.status()))
    }
}

/// Sends one datagram on a connected socket and waits 100 ms for an ICMP "port unreachable" (reported by
/// Linux as `ConnectionRefused` on the next receive); silence counts as sent.
async fn udp_send(addr: &str, line: &str) -> Result<(), String> {
    let sock = tokio::net::UdpSocket::bind(if addr.starts_with('[') {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    })
    .await
    .map_err(|e| e.to_string())?;
    sock.connect(addr)
        .await
        .map_err(|e| format!("udp://{addr}: {e}"))?;
    sock.send(line.as_bytes())
        .await
        .map_err(|e| format!("udp://{addr}: {e}"))?;
    let mut buf = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(100), sock.recv(&mut buf)).await {
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => Err(format!(
            "udp://{addr}: port unreachable (no collector listening)"
        )),
        _ => Ok(()),
    }
}

/// Builds each configured sink's transport.
///
/// # Errors
/// When the TLS settings (`ca_file`) or the HTTP client cannot be built.
fn transports(sinks: &Sinks) -> Result<Vec<(&'static str, Transport)>, String> {
    let tls = Arc::new(tls_client_config(sinks.ca_file.as_deref())?);
    let mut out = Vec::new();
    if let Some(url) = &sinks.webhook {
        let url = reqwest::Url::parse(url).map_err(|e| format!("webhook {url:?}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("webhook {url}: not an http(s) URL"));
        }
        out.push((
            "webhook",
            Transport::Webhook {
                url,
                secret: sinks.webhook_secret.clone(),
                tls: tls.clone(),
                timeout: sinks.attempt_timeout(),
            },
        ));
    }
    if let Some(p) = &sinks.file {
        out.push(("file", Transport::File(p.clone())));
    }
    if let Some(t) = &sinks.syslog {
        out.push((
            "syslog",
            Transport::Syslog {
                target: t.clone(),
                tls: tls.clone(),
                timeout: sinks.attempt_timeout(),
                conn: None,
            },
        ));
    }
    Ok(out)
}

/// Checks that the sinks' transports can be built (TLS roots, CA file).
///
/// # Errors
/// As [`transports`].
pub fn check(sinks: &Sinks) -> Result<(), String> {
    transports(sinks).map(|_| ())
}

/// One sink's loop: deliver its due rows in order; on a failure record it, pause with back-off, go on.
async fn run_sink(
    service: Arc<Service>,
    name: &'static str,
    mut t: Transport,
    metrics: Arc<Metrics>,
    poll: Duration,
) {
    struct Running(Arc<Metrics>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.sink_tasks.dec();
        }
    }
    metrics.sink_tasks.inc();
    let _running = Running(metrics.clone());
    let mut failures: u32 = 0;
    loop {
        let svc = service.clone();
        let due = tokio::task::spawn_blocking(move || {
            svc.with_store(|s| {
                let backlog = s.outbox_backlog(name)?;
                Ok::<_, crate::store::StoreError>((
                    backlog,
                    s.outbox_due_sink(name, now_ms(), 100)?,
                ))
            })
        })
        .await;
        let rows = match due {
            Ok(Ok((backlog, rows))) => {
                metrics
                    .sink_backlog
                    .with_label_values(&[name])
                    .set(backlog as i64);
                rows
            }
            Ok(Err(e)) => {
                tracing::warn!(sink = name, error = %e, "outbox read failed");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        let mut pause = poll;
        for row in rows {
            let res = t.deliver(&row.payload).await;
            let failed = res.as_ref().err().cloned();
            let svc = service.clone();
            let attempts = row.attempts;
            let _ = tokio::task::spawn_blocking(move || {
                svc.with_store(|s| match res {
                    Ok(()) => s.outbox_delivered(row.id, now_ms()),
                    Err(e) => s.outbox_failed(row.id, now_ms() + backoff_ms(attempts), &e),
                })
            })
            .await;
            match failed {
                None => {
                    failures = 0;
                    metrics.sink_delivered.with_label_values(&[name]).inc();
                    metrics.sink_backlog.with_label_values(&[name]).dec();
                }
                Some(e) => {
                    metrics.sink_failures.with_label_values(&[name]).inc();
                    let wait = backoff_ms(failures) as u64;
                    failures = failures.saturating_add(1);
                    tracing::warn!(
                        sink = name,
                        outbox_row = row.id,
                        attempts = attempts + 1,
                        retry_in_ms = wait,
                        error = %e,
                        "alert delivery failed"
                    );
                    pause = Duration::from_millis(wait);
                    break;
                }
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// Delivers due outbox rows forever (until the task is dropped): one task per configured sink, each polling
/// its own queue every `poll`.
pub async fn run_dispatcher(
    service: Arc<Service>,
    sinks: Arc<Sinks>,
    metrics: Arc<Metrics>,
    poll: Duration,
) {
    let ts = match transports(&sinks) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "alert sinks cannot start");
            return;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (name, t) in ts {
        tasks.spawn(run_sink(service.clone(), name, t, metrics.clone(), poll));
    }
    while tasks.join_next().await.is_some() {}
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
