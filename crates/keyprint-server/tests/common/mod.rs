//! Shared helpers of the HTTP tests: a server on loopback with bundled CMU sessions to replay.
#![allow(dead_code)]

use keyprint_client::{Client, SessionBatcher};
use keyprint_core::keystroke::{FixedTextLayout, ms_to_us};
use keyprint_edge::{Edge, EdgeConfig, Phrase};
use keyprint_server::demo::typings_to_events;
use keyprint_server::outbox::Sinks;
use keyprint_server::{CMU_DEMO, Running, ServeConfig, cmu_subjects, start};
use keyprint_wire::{IngestAck, NewKey, Role};
use std::path::Path;

pub struct Env {
    pub server: Running,
    pub admin: Client,
    /// The credential of device `laptop-1`, registered to alice, bob and u.
    pub ingest: Client,
    /// A tenant ingest key (network findings, browser credentials; never records).
    pub service_key: Client,
    pub read: Client,
    pub edge_config: EdgeConfig,
    pub owner: Vec<Vec<f64>>,
    pub other: Vec<Vec<f64>>,
    pub clock_us: i64,
}

pub async fn raw(
    c: &Client,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (http, base, token) = c.http();
    let mut r = http
        .request(method, format!("{base}{path}"))
        .bearer_auth(token);
    if let Some(b) = body {
        r = r
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    let bytes = r.bytes().await.expect("body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// The rows of a list answer (`{"items": [...], "next_cursor": ...}`); any other answer (an error body) as it is.
pub fn rows(v: serde_json::Value) -> serde_json::Value {
    if v["items"].is_array() {
        v["items"].clone()
    } else {
        v
    }
}

pub async fn post_key(admin: &Client, role: &str) -> NewKey {
    let (s, v) = raw(
        admin,
        reqwest::Method::POST,
        "/v1/keys",
        Some(&format!(r#"{{"role":"{role}"}}"#)),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    serde_json::from_value(v).unwrap()
}

/// Registers `device` for `users` through the admin API and exchanges the one-time token; returns a client
/// holding the device's credential.
pub async fn device_client(admin: &Client, device: &str, users: &[&str]) -> Client {
    let reg: keyprint_wire::DeviceRegistration = admin
        .post_json(
            "/v1/devices",
            &keyprint_wire::RegisterDevice {
                device: device.into(),
                users: users.iter().map(|u| u.to_string()).collect(),
                label: None,
            },
        )
        .await
        .expect("device registered");
    let (_, base, _) = admin.http();
    let cred = Client::enroll_device(base, &reg.registration_token)
        .await
        .expect("device enrolled");
    Client::new(base, &cred.token)
}

pub async fn env(dir: &Path, sinks: Sinks, tune: impl FnOnce(&mut ServeConfig)) -> Env {
    let mut cfg = ServeConfig::new(dir.to_path_buf());
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    cfg.sinks = sinks;
    // These tests replay CMU phrase typings (one fixed phrase), on which free text cannot be judged; they
    // run the engines they were written for. Free text is tested on Aalto (tests/freetext_aalto.rs).
    cfg.engines = ["fixed-text", "injection", "mouse"]
        .map(String::from)
        .to_vec();
    tune(&mut cfg);
    let server = start(&cfg).await.expect("server starts");
    let admin_key = server.service.create_key("acme", Role::Admin).unwrap();
    let admin = Client::new(&server.url(), &admin_key.token);
    let service_key = Client::new(&server.url(), &post_key(&admin, "ingest").await.token);
    let ingest = device_client(&admin, "laptop-1", &["alice", "bob", "u"]).await;
    let read = Client::new(&server.url(), &post_key(&admin, "read").await.token);
    let layout = FixedTextLayout::cmu_strong_password();
    let phrase = keyprint_wire::FixedTextPhrase {
        id: "cmu-phrase".into(),
        keys: layout.keys().len() as u32,
        confirm_reset: false,
    };
    let edge_config = EdgeConfig {
        phrase: Some(Phrase {
            id: "cmu-phrase".into(),
            keys: layout.keys().to_vec(),
        }),
        ..EdgeConfig::default()
    };
    let (s, v) = raw(
        &admin,
        reqwest::Method::PUT,
        "/v1/tenant/fixed-text",
        Some(&serde_json::to_string(&phrase).unwrap()),
    )
    .await;
    assert_eq!(s, 204, "{v}");
    let subjects = cmu_subjects(CMU_DEMO, "cmu-demo.csv").unwrap();
    Env {
        server,
        admin,
        ingest,
        service_key,
        read,
        edge_config,
        owner: subjects[0].1.clone(),
        other: subjects[1].1.clone(),
        clock_us: 1_000_000,
    }
}

impl Env {
    /// Replays typings as one session, one typing per batch; returns every answer.
    pub async fn replay(
        &mut self,
        user: &str,
        session: &str,
        typings: &[Vec<f64>],
    ) -> Vec<IngestAck> {
        let device = self.ingest.clone();
        self.replay_on(&device, user, session, typings).await
    }

    /// As [`replay`](Self::replay), posted with `device`'s credential.
    pub async fn replay_on(
        &mut self,
        device: &Client,
        user: &str,
        session: &str,
        typings: &[Vec<f64>],
    ) -> Vec<IngestAck> {
        let layout = FixedTextLayout::cmu_strong_password();
        let events = typings_to_events(&layout, typings, self.clock_us, ms_to_us(1500.0));
        self.clock_us = events.last().unwrap().last().unwrap().release_us + 1_000_000;
        let mut b = SessionBatcher::new(user, session, None, 5_000);
        let mut edge = Edge::new(self.edge_config.clone()).unwrap();
        let mut out = Vec::new();
        for t in events {
            let mut records = Vec::new();
            for e in &t {
                edge.key(e, &mut records);
            }
            for r in &records {
                b.push(r);
            }
            if let Some(batch) = b.flush() {
                out.push(device.send(&batch).await.expect("accepted"));
            }
        }
        out
    }
}
