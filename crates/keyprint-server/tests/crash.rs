//! Crash test: `kill -9` the server process during ingest, restart it on the same directory, and check
//! that every acknowledged event is still there (and that nothing half-applied is).

use keyprint_client::{Client, KeyHasher, SessionBatcher};
use keyprint_core::event::{KeyEvent, KeyId};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn spawn(dir: &std::path::Path, init: bool) -> (Child, String, Option<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keyprint-server"));
    cmd.arg(dir).arg("127.0.0.1:0");
    if init {
        cmd.args(["--init-tenant", "acme"]);
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("spawn server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = None;
    loop {
        let l = lines.next().expect("server output").unwrap();
        if let Some(t) = l.strip_prefix("token ") {
            token = Some(t.to_string());
        }
        if let Some(u) = l.strip_prefix("listening ") {
            return (child, u.to_string(), token);
        }
    }
}

/// The events of batch `seq` of session `s` (deterministic, so the test can check them after restart).
fn batch_events(s: usize, seq: u64, n: usize) -> Vec<KeyEvent> {
    let base = 1_000_000 + seq as i64 * 1_000_000;
    (0..n)
        .map(|i| {
            let t = base + i as i64 * 1_000;
            KeyEvent::new(
                KeyId::code(format!("Key{}", (b'A' + ((i + s) % 26) as u8) as char)),
                t,
                t + 500,
            )
            .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url, token) = spawn(dir.path(), true);
    let token = token.unwrap();
    let hasher = KeyHasher::new(b"crash-test secret");
    let acked: Arc<Mutex<Vec<(usize, u64)>>> = Arc::default();
    const PER_BATCH: usize = 200;
    let mut tasks = Vec::new();
    for s in 0..4usize {
        let (c, h, acked) = (Client::new(&url, &token), hasher.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = c;
            c.attempts = 1;
            let mut b = SessionBatcher::new(h, "u", &format!("crash-{s}"), None, PER_BATCH);
            for seq in 0.. {
                let mut full = None;
                for e in batch_events(s, seq, PER_BATCH) {
                    full = b.push_key(&e).or(full);
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
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 40,
        "only {} batches acknowledged",
        acked.len()
    );

    let (mut child, url, _) = spawn(dir.path(), false);
    let admin = Client::new(&url, &token);
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
        let stored_keys = v["info"]["keys"].as_u64().unwrap_or(0);
        // Every acknowledged batch is stored; at most one more (committed, answer lost in the kill).
        let want = mine.iter().max().map_or(0, |m| m + 1);
        assert!(
            stored_batches >= want && stored_batches <= want + 1,
            "session {s}: {stored_batches} stored, {want} acknowledged"
        );
        // Whole batches only.
        assert_eq!(stored_keys, stored_batches * PER_BATCH as u64);
        // A resent acknowledged batch is recognised, not applied twice.
        if let Some(&q) = mine.last() {
            let mut b =
                SessionBatcher::new(hasher.clone(), "u", &format!("crash-{s}"), None, PER_BATCH);
            let mut batch = None;
            for seq in 0..=q {
                for e in batch_events(s, seq, PER_BATCH) {
                    batch = b.push_key(&e).or(batch);
                }
            }
            let ack = admin.send(&batch.unwrap()).await.unwrap();
            assert!(ack.duplicate);
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The stored events are exactly the sent ones (hashed), in order.
    let store_path = dir.path().join("keyprint.db");
    let mut st = keyprint_server::store::SqliteStore::open(&store_path).unwrap();
    use keyprint_server::store::Storage;
    for s in 0..4usize {
        let (keys, _) = st.events("acme", &format!("crash-{s}")).unwrap();
        let n = keys.len() / PER_BATCH;
        let expect: Vec<KeyEvent> = (0..n as u64)
            .flat_map(|q| batch_events(s, q, PER_BATCH))
            .map(|e| KeyEvent {
                key: hasher.hash_key(&e.key),
                ..e
            })
            .collect();
        assert_eq!(keys, expect, "session {s}");
    }
}
