//! Crash test: `kill -9` the server process during ingest, restart it on the same directory, and check
//! that every acknowledged record is still there (and that nothing half-applied is).

use keyprint_client::{Client, SessionBatcher};
use keyprint_edge::{ActionKind, MouseActionRecord, Record};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The server process, killed when dropped (so a failing assertion never leaves it running, holding the test
/// runner's output pipes open).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(dir: &std::path::Path, init: bool) -> (Server, String, Option<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyprint-server"));
    cmd.arg(dir).arg("127.0.0.1:0");
    if init {
        cmd.args(["--init-tenant", "acme"]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = None;
    loop {
        let l = lines.next().expect("server output").unwrap();
        if let Some(t) = l.strip_prefix("token ") {
            token = Some(t.to_string());
        }
        if let Some(u) = l.strip_prefix("listening ") {
            return (Server(child), u.to_string(), token);
        }
    }
}

/// The records of batch `seq` of session `s` (deterministic, so the test can check them after restart):
/// mouse-action records with distinct feature values.
fn batch_records(s: usize, seq: u64, n: usize) -> Vec<Record> {
    let base = 1_000_000 + seq as i64 * 1_000_000;
    (0..n)
        .map(|i| {
            Record::Mouse(MouseActionRecord {
                at_us: base + i as i64 * 1_000,
                kind: ActionKind::MouseMove,
                features: (0..keyprint_mouse::N_FEATURES)
                    .map(|f| (s * 7 + i + f) as f64 + seq as f64 * 0.5)
                    .collect(),
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, token) = spawn(dir.path(), true);
    let admin_token = token.unwrap();
    let admin = Client::new(&url, &admin_token);
    // Records come only from a registered device's credential.
    let reg: keyprint_wire::DeviceRegistration = admin
        .post_json(
            "/v1/devices",
            &keyprint_wire::RegisterDevice {
                device: "laptop-1".into(),
                users: vec!["u".into()],
                label: None,
            },
        )
        .await
        .unwrap();
    let token = Client::enroll_device(&url, &reg.registration_token)
        .await
        .unwrap()
        .token;
    let acked: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    const PER_BATCH: usize = 200;
    let mut tasks = Vec::new();
    for s in 0..4usize {
        let (c, acked) = (Client::new(&url, &token), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = c;
            c.attempts = 1;
            let mut b = SessionBatcher::new("u", &format!("crash-{s}"), None, PER_BATCH);
            for seq in 0.. {
                let mut full = None;
                for r in batch_records(s, seq, PER_BATCH) {
                    full = b.push(&r).or(full);
                }
                let batch = full.expect("a full batch");
                match c.send(&batch).await {
                    Ok(a) => {
                        assert!(!a.duplicate);
                        acked.lock().unwrap().push((s, batch.batch_seq));
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    // Kill once enough batches were acknowledged (ingest is in full flight).
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 40 && t0.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.0.kill().unwrap(); // SIGKILL
    child.0.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "only {} batches acknowledged",
        acked.len()
    );

    let (child, url, _) = spawn(dir.path(), false);
    let admin = Client::new(&url, &admin_token);
    for s in 0..4usize {
        let mine: Vec<u64> = acked
            .iter()
            .filter(|(x, _)| *x == s)
            .map(|(_, q)| *q)
            .collect();
        let (http, base, tok) = admin.http();
        let v: serde_json::Value = http
            .get(format!("{base}/v1/sessions/crash-{s}"))
            .bearer_auth(tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored_batches = v["info"]["batches"].as_u64().unwrap_or(0);
        let stored_records = v["info"]["records"].as_u64().unwrap_or(0);
        // Every acknowledged batch is stored; at most one more (committed, answer lost in the kill).
        let want = mine.iter().max().map_or(0, |m| m + 1);
        assert!(
            stored_batches >= want && stored_batches <= want + 1,
            "session {s}: {stored_batches} stored, {want} acknowledged"
        );
        // Whole batches only.
        assert_eq!(stored_records, stored_batches * PER_BATCH as u64);
        // A resent acknowledged batch is recognised, not applied twice.
        if let Some(&q) = mine.last() {
            let mut b = SessionBatcher::new("u", &format!("crash-{s}"), None, PER_BATCH);
            let mut batch = None;
            for seq in 0..=q {
                for r in batch_records(s, seq, PER_BATCH) {
                    batch = b.push(&r).or(batch);
                }
            }
            let ack = Client::new(&url, &token)
                .send(&batch.unwrap())
                .await
                .unwrap();
            assert!(ack.duplicate);
        }
    }
    drop(child);
    // The stored records are exactly the sent ones, in order.
    let store_path = dir.path().join("keyprint.db");
    let mut st = keyprint_server::store::SqliteStore::open(&store_path).unwrap();
    use keyprint_server::store::Storage;
    for s in 0..4usize {
        let stored = st.records("acme", &format!("crash-{s}")).unwrap();
        let n = stored.len() / PER_BATCH;
        let expect: Vec<keyprint_wire::WireRecord> = (0..n as u64)
            .flat_map(|q| batch_records(s, q, PER_BATCH))
            .map(|r| keyprint_wire::convert::to_wire(&r))
            .collect();
        assert_eq!(stored, expect, "session {s}");
    }
}
