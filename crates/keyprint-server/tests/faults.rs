//! The service under faults and abuse (issue 16), through real HTTP on loopback and real receivers: a webhook
//! that hangs, syslog collectors over TCP and TLS, a UDP collector that is not there, an https webhook that
//! checks signatures, slow clients, error bodies, metrics and readiness.

mod common;

use common::{env, raw};
use keyprint_server::outbox::{Secret, Sinks, SyslogTarget};
use keyprint_server::signature::{self, REPLAY_WINDOW_S, SignatureError, verify_signature};
use reqwest::Method;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// A network finding: each one posted becomes one alert, queued once per sink.
fn finding(i: usize) -> String {
    serde_json::json!({
        "device": format!("10.0.0.{i}"), "peer": "198.51.100.9:443",
        "score": 95.0,
        "reasons": [{"reason": "threat_intel", "strength": 0.95, "detail": "listed"}],
        "first_ts": 1700000000.5, "last_ts": 1700000010.0, "flows": 2,
        "targets": ["198.51.100.9"]
    })
    .to_string()
}

async fn post_findings(e: &common::Env, n: usize) {
    for i in 0..n {
        let (s, v) = raw(
            &e.service_key,
            Method::POST,
            "/v1/net/findings",
            Some(&finding(i + 1)),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
}

fn lines(p: &std::path::Path) -> usize {
    std::fs::read_to_string(p).map_or(0, |t| t.lines().count())
}

/// The value of one metric line (`name{labels} value`) in `/metrics`.
async fn metric(e: &common::Env, series: &str) -> Option<f64> {
    let t = reqwest::get(format!("{}/metrics", e.server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    t.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits (up to 10 s) until a metric has the value `want`; returns the last value seen.
async fn metric_becomes(e: &common::Env, series: &str, want: f64) -> Option<f64> {
    let t0 = Instant::now();
    loop {
        let v = metric(e, series).await;
        if v == Some(want) || t0.elapsed() > Duration::from_secs(10) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (up to 10 s) for at least one counted delivery failure of `sink`.
async fn failures_counted(e: &common::Env, sink: &str) -> bool {
    let series = format!("keyprint_sink_failures_total{{sink=\"{sink}\"}}");
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if metric(e, &series).await.is_some_and(|f| f >= 1.0) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A server on `dir` whose only sink is this syslog collector.
async fn syslog_env(
    dir: &std::path::Path,
    target: SyslogTarget,
    ca_file: Option<std::path::PathBuf>,
) -> common::Env {
    let sinks = Sinks {
        syslog: Some(target),
        ca_file,
        ..Sinks::default()
    };
    env(dir, sinks, |c| c.engines = vec!["fixed-text".into()]).await
}

async fn wait_until<F: FnMut() -> bool>(limit: Duration, mut f: F) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

/// Reads RFC 6587 octet-counted frames (`<len> <msg>`) from a stream into `out`.
async fn read_frames<S: AsyncRead + Unpin>(mut s: S, out: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(sp) = buf.iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp])
                .unwrap()
                .parse()
                .expect("octet count");
            if buf.len() < sp + 1 + len {
                break;
            }
            let msg = String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap();
            out.lock().unwrap().push(msg);
            buf.drain(..sp + 1 + len);
        }
    }
}

/// Finding: a webhook that hangs delayed the file sink by ~5 s per alert (40.5 s for 8 alerts). Now the file
/// sink has every alert before the webhook's first attempt has even timed out, and the webhook's backlog is
/// visible in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_webhook_does_not_delay_the_file_sink() {
    let dir = tempfile::tempdir().unwrap();
    // A webhook that accepts connections and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", hang.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let h = held.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = hang.accept().await {
            h.lock().unwrap().push(s);
        }
    });
    let file = dir.path().join("alerts.jsonl");
    let timeout = Duration::from_secs(5);
    let sinks = Sinks {
        webhook: Some(url),
        file: Some(file.clone()),
        timeout: Some(timeout),
        ..Sinks::default()
    };
    let e = env(dir.path(), sinks, |c| c.engines = vec!["fixed-text".into()]).await;
    let t0 = Instant::now();
    post_findings(&e, 8).await;
    let all = wait_until(timeout, || lines(&file) == 8).await;
    let took = t0.elapsed();
    assert!(
        all,
        "file sink has {} of 8 alerts after {took:?}",
        lines(&file)
    );
    eprintln!("file sink: 8 alerts in {took:?} while the webhook hangs");
    assert!(took < timeout, "{took:?}");
    assert_eq!(
        metric_becomes(&e, "keyprint_sink_backlog{sink=\"file\"}", 0.0).await,
        Some(0.0)
    );
    // The webhook's queue: all 8 waiting (the first attempt still hanging).
    let wb = metric_becomes(&e, "keyprint_sink_backlog{sink=\"webhook\"}", 8.0).await;
    assert_eq!(wb, Some(8.0));
    // ...until its first attempt times out, which is logged and counted.
    assert!(failures_counted(&e, "webhook").await);
    assert!(
        metric(&e, "keyprint_sink_failures_total{sink=\"file\"}")
            .await
            .is_none()
    );
}

/// Syslog over TCP with RFC 6587 octet counting, to a collector that starts only after the alerts were raised
/// (the first attempts fail, are counted and retried) and drops the connection once (the sink reconnects).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tcp_octet_counted_with_retries() {
    let dir = tempfile::tempdir().unwrap();
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let e = syslog_env(dir.path(), SyslogTarget::Tcp(addr.to_string()), None).await;
    post_findings(&e, 3).await;
    // Nobody listens yet: failures are counted, nothing is marked delivered.
    assert!(
        failures_counted(&e, "syslog").await,
        "a refused connection must count as a failure"
    );
    assert_eq!(
        metric_becomes(&e, "keyprint_sink_backlog{sink=\"syslog\"}", 3.0).await,
        Some(3.0)
    );

    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = tokio::net::TcpListener::bind(addr).await.unwrap();
    let g = got.clone();
    tokio::spawn(async move {
        // The first connection is closed after its first frame; later ones are read to the end.
        let mut first = true;
        while let Ok((s, _)) = l.accept().await {
            let g = g.clone();
            if first {
                first = false;
                let mut s = s;
                let mut b = [0u8; 1];
                let mut head = Vec::new();
                // Read one whole frame by hand, then hang up.
                loop {
                    s.read_exact(&mut b).await.unwrap();
                    if b[0] == b' ' {
                        break;
                    }
                    head.push(b[0]);
                }
                let n: usize = String::from_utf8(head).unwrap().parse().unwrap();
                let mut msg = vec![0u8; n];
                s.read_exact(&mut msg).await.unwrap();
                g.lock().unwrap().push(String::from_utf8(msg).unwrap());
                drop(s);
            } else {
                tokio::spawn(read_frames(s, g));
            }
        }
    });
    assert!(
        wait_until(Duration::from_secs(30), || got.lock().unwrap().len() >= 3).await,
        "{:?}",
        got.lock().unwrap()
    );
    // After the hang-up a new alert still arrives, on a new connection.
    post_findings(&e, 1).await;
    assert!(wait_until(Duration::from_secs(30), || got.lock().unwrap().len() >= 4).await);
    let msgs = got.lock().unwrap().clone();
    for m in &msgs {
        assert!(m.starts_with("<84>1 "), "{m}");
        assert!(m.contains("CEF:0|keyprint|keyprint|"), "{m}");
    }
    let ids: std::collections::BTreeSet<&str> = msgs
        .iter()
        .filter_map(|m| m.split("cn2=").nth(1)?.split(' ').next())
        .collect();
    assert_eq!(ids.len(), 4, "every alert arrived: {msgs:?}");
    assert_eq!(
        metric_becomes(&e, "keyprint_sink_backlog{sink=\"syslog\"}", 0.0).await,
        Some(0.0)
    );
}

/// A self-signed certificate for `localhost`: (cert PEM, key PEM).
fn localhost_cert() -> (String, String) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    (c.cert.pem(), c.signing_key.serialize_pem())
}

fn tls_acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = vec![CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
}

/// Syslog over TLS (RFC 5425) to a collector whose certificate is trusted through `ca_file`; without it, the
/// handshake fails, the failure is counted and nothing is marked delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syslog_over_tls_checks_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = localhost_cert();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let acceptor = tls_acceptor(&cert, &key);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Arc<Mutex<Vec<String>>> = Arc::default();
    let g = got.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (a, g) = (acceptor.clone(), g.clone());
            tokio::spawn(async move {
                if let Ok(t) = a.accept(s).await {
                    read_frames(t, g).await;
                }
            });
        }
    });

    // Trusted through the CA file.
    let d1 = dir.path().join("trusted");
    let e = syslog_env(
        &d1,
        SyslogTarget::Tls(format!("localhost:{port}")),
        Some(ca.clone()),
    )
    .await;
    post_findings(&e, 3).await;
    assert!(wait_until(Duration::from_secs(20), || got.lock().unwrap().len() >= 3).await);
    assert!(got.lock().unwrap().iter().all(|m| m.contains("CEF:0|")));
    assert_eq!(
        metric_becomes(&e, "keyprint_sink_backlog{sink=\"syslog\"}", 0.0).await,
        Some(0.0)
    );
    e.server.stop();

    // Not trusted: refused, counted, kept.
    let before = got.lock().unwrap().len();
    let d2 = dir.path().join("untrusted");
    let e = syslog_env(&d2, SyslogTarget::Tls(format!("localhost:{port}")), None).await;
    post_findings(&e, 2).await;
    assert!(failures_counted(&e, "syslog").await);
    assert_eq!(
        metric_becomes(&e, "keyprint_sink_backlog{sink=\"syslog\"}", 2.0).await,
        Some(2.0)
    );
    assert_eq!(got.lock().unwrap().len(), before);
}

/// Finding: syslog over UDP marked rows delivered with no listener (16 marked, 4 received, never resent).
/// Now a "port unreachable" answer keeps the rows queued; when the collector comes up, all arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_syslog_without_a_listener_is_not_marked_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = probe.local_addr().unwrap();
    drop(probe);
    let e = syslog_env(dir.path(), SyslogTarget::Udp(addr.to_string()), None).await;
    post_findings(&e, 4).await;
    assert!(failures_counted(&e, "syslog").await);
    assert_eq!(
        metric_becomes(&e, "keyprint_sink_backlog{sink=\"syslog\"}", 4.0).await,
        Some(4.0)
    );
    let sock = tokio::net::UdpSocket::bind(addr).await.unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while got.len() < 4 {
        let n = tokio::time::timeout(Duration::from_secs(30), sock.recv(&mut buf))
            .await
            .expect("the queued alerts are resent")
            .unwrap();
        got.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
    assert!(got.iter().all(|m| m.starts_with("<84>1 ")));
}

/// Finding: webhooks went out unsigned and https:// ones were never delivered. Now an https receiver on
/// loopback (its certificate trusted through `ca_file`) gets every alert, and each verifies with
/// [`verify_signature`]; a tampered body or a replay after the window does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_webhook_is_delivered_and_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = localhost_cert();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &cert).unwrap();
    let acceptor = tls_acceptor(&cert, &key);
    let secret = b"0123456789abcdef-test-secret".to_vec();
    // (signature header, body) of each request.
    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    let got: Received = Arc::default();
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let g = g.clone();
                async move {
                    let sig = headers
                        .get(signature::HEADER)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    g.lock().unwrap().push((sig, body.to_vec()));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (a, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(t) = a.accept(s).await else { return };
                let svc = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(t), svc)
                    .await;
            });
        }
    });
    let sinks = Sinks {
        webhook: Some(format!("https://localhost:{port}/hook")),
        webhook_secret: Some(Secret(secret.clone())),
        ca_file: Some(ca),
        ..Sinks::default()
    };
    let e = env(dir.path(), sinks, |c| c.engines = vec!["fixed-text".into()]).await;
    post_findings(&e, 3).await;
    assert!(
        wait_until(Duration::from_secs(20), || got.lock().unwrap().len() >= 3).await,
        "https webhook got {}",
        got.lock().unwrap().len()
    );
    let now_s = keyprint_server::service::now_ms() / 1000;
    for (sig, body) in got.lock().unwrap().iter() {
        assert!(sig.starts_with("t="), "{sig:?}");
        assert_eq!(
            verify_signature(&secret, sig, body, now_s, REPLAY_WINDOW_S),
            Ok(())
        );
        let mut tampered = body.clone();
        tampered[body.len() / 2] ^= 1;
        assert_eq!(
            verify_signature(&secret, sig, &tampered, now_s, REPLAY_WINDOW_S),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            verify_signature(
                &secret,
                sig,
                body,
                now_s + REPLAY_WINDOW_S + 60,
                REPLAY_WINDOW_S
            ),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify_signature(b"another secret", sig, body, now_s, REPLAY_WINDOW_S),
            Err(SignatureError::Mismatch)
        );
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["tenant"], "acme");
    }
}

/// Finding: no header or body read timeout (200 slow connections held for 60 s). With a 1 s head and body
/// timeout, 100 connections that send their head a byte at a time are all closed within a few seconds, a slow
/// body gets `408 request_timeout` as JSON, and a normal request is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |c| {
        c.engines = vec!["fixed-text".into()];
        c.timeouts.header_read = Duration::from_secs(1);
        c.timeouts.body_read = Duration::from_secs(1);
    })
    .await;
    let addr = e.server.addr;
    let n = 100;
    let t0 = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..n {
        slow.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
            for b in head {
                if s.write_all(&[*b]).await.is_err() {
                    return Instant::now();
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                // A closed connection reads as end of file (or an error) at once.
                let mut x = [0u8; 1];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), s.read(&mut x)).await
                {
                    return Instant::now();
                }
            }
            panic!("the slow head was read to the end");
        }));
    }
    // A normal request is served while they trickle.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = reqwest::get(format!("{}/healthz", e.server.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut latest = Duration::ZERO;
    for h in slow {
        latest = latest.max(h.await.unwrap() - t0);
    }
    eprintln!("{n} slow heads all closed after {latest:?}");
    assert!(latest < Duration::from_secs(5), "{latest:?}");

    // A body sent a byte at a time.
    let (_, _, token) = e.ingest.http();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let t1 = Instant::now();
    let mut answer = Vec::new();
    let trickle = async {
        loop {
            if s.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let mut x = [0u8; 4096];
            if let Ok(Ok(k)) = tokio::time::timeout(Duration::from_millis(1), s.read(&mut x)).await
            {
                answer.extend_from_slice(&x[..k]);
                if k == 0 || answer.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), trickle)
        .await
        .expect("the slow body is cut off");
    let mut rest = [0u8; 4096];
    if let Ok(Ok(k)) = tokio::time::timeout(Duration::from_millis(500), s.read(&mut rest)).await {
        answer.extend_from_slice(&rest[..k]);
    }
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"code\":\"request_timeout\""), "{text}");
    assert!(t1.elapsed() < Duration::from_secs(5));
}

/// Finding: `/v1/sessions/%FF` got a plain-text error. Every error answer is now the JSON error body with the
/// API's code, and each is counted by code in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_body_is_json() {
    let dir = tempfile::tempdir().unwrap();
    let e = env(dir.path(), Sinks::default(), |c| {
        c.engines = vec!["fixed-text".into()]
    })
    .await;
    let (http, base, token) = e.read.http();
    for (method, path, status, code) in [
        (Method::GET, "/v1/sessions/%FF", 422, "invalid_field"),
        (Method::GET, "/v1/sessions/%FF%FE", 422, "invalid_field"),
        (Method::DELETE, "/v1/users/%C3", 422, "invalid_field"),
        (Method::GET, "/no/such/endpoint", 404, "not_found"),
        (Method::DELETE, "/v1/sessions", 405, "method_not_allowed"),
        (Method::GET, "/v1/sessions/s1", 404, "not_found"),
    ] {
        let r = http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{method} {path}");
        let ct = r.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(ct, "application/json", "{method} {path}");
        let body: keyprint_wire::ErrorBody =
            serde_json::from_slice(&r.bytes().await.unwrap()).expect("an ErrorBody");
        assert_eq!(
            serde_json::to_value(body.code).unwrap(),
            code,
            "{method} {path}"
        );
    }
    assert_eq!(
        metric(
            &e,
            "keyprint_rejected_requests_total{code=\"invalid_field\"}"
        )
        .await,
        Some(3.0)
    );
    assert_eq!(
        metric(&e, "keyprint_rejected_requests_total{code=\"not_found\"}").await,
        Some(2.0)
    );
}

/// `/metrics` counts ingest batches, records and their latency; `/healthz` and `/readyz` answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_readiness() {
    let dir = tempfile::tempdir().unwrap();
    let sinks = Sinks {
        file: Some(dir.path().join("a/b/alerts.jsonl")),
        ..Sinks::default()
    };
    let mut e = env(dir.path(), sinks, |c| c.engines = vec!["fixed-text".into()]).await;
    let owner = e.owner.clone();
    let acks = e.replay("alice", "m1", &owner[..4]).await;
    let records: u64 = acks.iter().map(|a| a.stored_records).sum();
    let (s, _) = raw(&e.ingest, Method::POST, "/v1/records", Some("{")).await;
    assert_eq!(s, 400);
    assert_eq!(
        metric(&e, "keyprint_ingest_batches_total{outcome=\"accepted\"}").await,
        Some(acks.len() as f64)
    );
    assert_eq!(
        metric(&e, "keyprint_ingest_batches_total{outcome=\"rejected\"}").await,
        Some(1.0)
    );
    assert_eq!(
        metric(&e, "keyprint_ingest_records_total").await,
        Some(records as f64)
    );
    assert_eq!(
        metric(&e, "keyprint_ingest_seconds_count").await,
        Some(acks.len() as f64 + 1.0)
    );
    assert_eq!(
        metric(
            &e,
            "keyprint_rejected_requests_total{code=\"malformed_json\"}"
        )
        .await,
        Some(1.0)
    );
    assert_eq!(metric(&e, "keyprint_sink_tasks").await, Some(1.0));
    for p in ["/healthz", "/readyz"] {
        let r = reqwest::get(format!("{}{p}", e.server.url()))
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{p}");
    }
    let v: serde_json::Value = reqwest::get(format!("{}/readyz", e.server.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["storage"], "ok");
    assert_eq!(v["sinks"], 1);
}
