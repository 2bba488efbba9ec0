//! CORS for configured origins and the `--try-page` routes, over a real socket.

use keyprint_server::{ServeConfig, start, try_page};
use reqwest::Method;

async fn server(
    dir: &std::path::Path,
    tune: impl FnOnce(&mut ServeConfig),
) -> keyprint_server::Running {
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.enrolment_samples = 5;
    tune(&mut cfg);
    start(&cfg).await.expect("server starts")
}

fn acao(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string())
}

async fn preflight(base: &str, path: &str, origin: &str, method: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(Method::OPTIONS, format!("{base}{path}"))
        .header("origin", origin)
        .header("access-control-request-method", method)
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn cors_allows_configured_origins_on_records_only() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| {
        c.cors_origins = vec![
            "https://console.example".into(),
            "http://127.0.0.1:8080".into(),
        ];
    })
    .await;
    let base = s.url();
    // The preflight of an allowed origin is answered with the origin, POST and both headers.
    for origin in ["https://console.example", "http://127.0.0.1:8080"] {
        let r = preflight(&base, "/v1/records", origin, "POST").await;
        assert!(r.status().is_success(), "{}", r.status());
        assert_eq!(acao(&r).as_deref(), Some(origin));
        let allow_headers = r.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            allow_headers.contains("authorization") && allow_headers.contains("content-type"),
            "{allow_headers}"
        );
        assert!(
            r.headers()["access-control-allow-methods"]
                .to_str()
                .unwrap()
                .contains("POST")
        );
    }
    // Other origins (a look-alike, another scheme, another port) get no allow-origin: browsers refuse.
    for origin in [
        "https://evil.example",
        "https://console.example.evil.example",
        "http://console.example",
        "http://127.0.0.1:8081",
        "null",
    ] {
        let r = preflight(&base, "/v1/records", origin, "POST").await;
        assert_eq!(acao(&r), None, "{origin}");
    }
    // The real POST from an allowed origin carries the header (here refused for its missing token: the API's
    // answer still reaches the page, which retries with a credential).
    let r = reqwest::Client::new()
        .post(format!("{base}/v1/records"))
        .header("origin", "https://console.example")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(acao(&r).as_deref(), Some("https://console.example"));
    // Other routes are not opened to browsers, even for an allowed origin.
    for (path, m) in [
        ("/v1/sessions", "GET"),
        ("/v1/keys", "POST"),
        ("/v1/alerts", "GET"),
    ] {
        let r = preflight(&base, path, "https://console.example", m).await;
        assert_eq!(acao(&r), None, "{path}");
    }
    s.stop();
}

#[tokio::test]
async fn no_cors_without_origins_and_bad_origins_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |_| {}).await;
    let r = preflight(&s.url(), "/v1/records", "https://console.example", "POST").await;
    assert_eq!(acao(&r), None);
    // Without --try-page there is no page and no credential endpoint.
    let r = reqwest::get(format!("{}/try", s.url())).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    s.stop();
    for bad in [
        "console.example",
        "https://console.example/",
        "https://console.example/x",
        "ftp://a.example",
        "*",
    ] {
        let mut c = ServeConfig::new(dir.path().to_path_buf());
        c.cors_origins = vec![bad.into()];
        assert!(c.validate().is_err(), "{bad}");
    }
}

#[tokio::test]
async fn try_page_serves_the_page_and_credentials_scoped_to_one_user() {
    let dir = tempfile::tempdir().unwrap();
    let s = server(dir.path(), |c| c.try_page = true).await;
    let base = s.url();
    let http = reqwest::Client::new();
    let page = http.get(format!("{base}/try")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("/try/keyprint.iife.js") && html.contains("/try/credential"));
    assert!(!html.contains("kp_"), "no API key in page code");
    let js = http
        .get(format!("{base}/try/keyprint.iife.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert!(js.text().await.unwrap().contains("var Keyprint="));

    let cred = |user: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/try/credential"))
                .json(&serde_json::json!({ "user": user }))
                .send()
                .await
                .unwrap()
        }
    };
    let r = cred("alice").await;
    assert_eq!(r.status().as_u16(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let token = v["credential"]["token"].as_str().unwrap().to_string();
    let device = v["credential"]["device"].as_str().unwrap().to_string();
    assert_eq!(v["credential"]["user"], "alice");
    assert!(device.starts_with("web-"), "{device}");
    assert_eq!(v["phrase"]["id"], try_page::PHRASE_ID);
    assert_eq!(cred("bad name").await.status().as_u16(), 422);

    // The credential posts alice's records (one typing: holds 100 ms, DD 150 ms, UD 50 ms) …
    let vector: Vec<f64> = (0..try_page::PHRASE_KEYS)
        .flat_map(|i| {
            if i == 0 {
                vec![100.0]
            } else {
                vec![150.0, 50.0, 100.0]
            }
        })
        .collect();
    let batch = serde_json::json!({"user": "alice", "session": "alice-1", "device": device, "batch_seq": 0,
        "records": [{"fixed_text": {"at_us": 1_000_000, "phrase": try_page::PHRASE_ID, "vector": vector}}]});
    let r = http
        .post(format!("{base}/v1/records"))
        .bearer_auth(&token)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    // It is the service's browser credential: bound to alice and its device, so a batch for another user or
    // another device is refused.
    for (user, dev) in [("bob", device.as_str()), ("alice", "laptop-7")] {
        let mut b = batch.clone();
        b["user"] = user.into();
        b["device"] = dev.into();
        b["session"] = format!("other-{user}-{dev}").into();
        let r = http
            .post(format!("{base}/v1/records"))
            .bearer_auth(&token)
            .json(&b)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{user} {dev}");
    }
    // … and reads alice's status: enrolment, the session, alerts.
    let st: serde_json::Value = http
        .get(format!("{base}/try/status?session=alice-1"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["user"], "alice");
    assert_eq!(st["session"]["info"]["session"], "alice-1");
    assert_eq!(st["session"]["info"]["trust"]["state"], "enrolling");
    let fixed = st["enrolment"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["engine"] == "fixed-text")
        .unwrap()
        .clone();
    assert_eq!(fixed["samples"], 1);
    assert!(
        st["enrolment_needed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["engine"] == "fixed-text" && e["needed"] == 5)
    );

    // Bob's credential does not see alice's session; no credential, or a made-up one, sees nothing.
    let bob: serde_json::Value = cred("bob").await.json().await.unwrap();
    let bob_token = bob["credential"]["token"].as_str().unwrap();
    let r = http
        .get(format!("{base}/try/status?session=alice-1"))
        .bearer_auth(bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    for auth in [
        None,
        Some("kp_000000000000_00000000000000000000000000000000"),
    ] {
        let mut rq = http.get(format!("{base}/try/status"));
        if let Some(a) = auth {
            rq = rq.bearer_auth(a);
        }
        assert_eq!(rq.send().await.unwrap().status().as_u16(), 401);
    }
    s.stop();
}
