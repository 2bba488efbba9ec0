//! The short, stable run of the `ingest_batch` fuzz target (`keyprint_server::fuzzing::ingest_body`): random
//! bytes, and mutations of real batches (the edge's conformance vectors' records — fixed text, free text,
//! mouse, injection, device — wrapped as `POST /v1/records` bodies) through the server's parser and its
//! stateless batch checks (`keyprint_server::service::validate_batch`). The longer run: `fuzz/README.md`.

use keyprint_server::fuzzing::ingest_body;
use proptest::prelude::*;

/// Bodies built from the conformance vectors: every case's records as one batch.
fn seeds() -> Vec<Vec<u8>> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/edge-conformance/v2.json"
    ))
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out: Vec<Vec<u8>> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            serde_json::to_vec(&serde_json::json!({
                "user": "alice", "session": "s1", "device": "laptop-7", "batch_seq": 0,
                "records": c["records"],
            }))
            .unwrap()
        })
        .collect();
    out.push(br#"{"user":"u","session":"s","batch_seq":3,"records":[]}"#.to_vec());
    out
}

#[test]
fn the_seeds_are_accepted() {
    for s in seeds() {
        let batch: keyprint_wire::IngestBatch = serde_json::from_slice(&s).unwrap();
        let r = keyprint_server::service::validate_batch(&batch);
        assert!(r.is_ok(), "{:?}", r.err());
        ingest_body(&s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        ingest_body(&data);
    }

    #[test]
    fn mutated_batches(seed in 0usize..16, edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
        let seeds = seeds();
        let mut b = seeds[seed % seeds.len()].clone();
        for (i, v) in edits {
            let i = i % b.len();
            b[i] = v;
        }
        ingest_body(&b);
    }
}
