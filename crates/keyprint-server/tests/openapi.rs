//! The OpenAPI document and the routes the server really answers are the same set.
//!
//! The routed set is found, not listed: every path declared with `.route("…")` in this crate's sources is
//! probed over real HTTP (server started with `--try-page`, so every router is mounted) with every method;
//! a method answered anything but 405 is routed. That set must equal the document's (method, path) pairs.

use keyprint_server::{ServeConfig, start};
use std::collections::BTreeSet;

/// Paths of every `.route("…")` call in `src/` (all routers: API, ops, try page).
fn declared_paths() -> BTreeSet<String> {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut out = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(src)];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                for part in text.split(".route(").skip(1) {
                    let part = part.trim_start();
                    if let Some(rest) = part.strip_prefix('"') {
                        out.insert(rest.split('"').next().unwrap().to_string());
                    }
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ServeConfig::new(dir.path().to_path_buf());
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.try_page = true;
    let s = start(&cfg).await.expect("server starts");
    let base = s.url();
    let paths = declared_paths();
    assert!(paths.len() >= 20, "found only {paths:?}");
    let client = reqwest::Client::new();
    let mut routed = BTreeSet::new();
    for p in &paths {
        let concrete = p
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for m in ["get", "post", "put", "delete", "patch"] {
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
            let r = client
                .request(method, format!("{base}{concrete}"))
                .send()
                .await
                .unwrap();
            assert_ne!(r.status(), 404, "{m} {concrete}: declared path not found");
            if r.status() != 405 {
                routed.insert((m.to_string(), p.clone()));
            }
        }
    }
    let doc: serde_json::Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented = BTreeSet::new();
    for (p, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            documented.insert((m.clone(), p.clone()));
        }
    }
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed but not in openapi.json: {undocumented:?}; documented but not routed: {unrouted:?}"
    );
    s.stop();
}
