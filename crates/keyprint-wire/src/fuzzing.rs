//! The body of the cargo-fuzz target `ingest_batch` (`fuzz/`), a plain function so that a stable test runs it
//! on generated input in every `cargo test`. The server's own batch checks (ids, sequence, limits) are private
//! to the service; this is the part every client and the server share: the batch's JSON, then each record's
//! conversion and its check against the edge specification.

use crate::IngestBatch;
use crate::convert::{from_wire, to_wire};

/// Any bytes as the body of `POST /v1/records`: parsed (unknown fields refused), each record converted and
/// checked; a record that passes must pass again after the round trip through its wire form. Never panics
/// (except on that invariant).
pub fn ingest_batch(data: &[u8]) {
    let Ok(batch) = serde_json::from_slice::<IngestBatch>(data) else {
        return;
    };
    for w in &batch.records {
        if let Ok(r) = from_wire(w) {
            let back = to_wire(&r);
            assert!(
                from_wire(&back).is_ok(),
                "an accepted record fails after its round trip: {back:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    /// Valid bodies (one per record kind) to mutate.
    const SEEDS: [&str; 2] = [
        r#"{"user":"alice","session":"s1","device":"laptop-7","batch_seq":0,"records":[{"injection":{"at_us":1002000,"keystroke":3,"rule":"typing-after-attach","score":2.0}}]}"#,
        r#"{"user":"u","session":"s","batch_seq":3,"records":[]}"#,
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn ingest_batch_takes_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            super::ingest_batch(&data);
        }

        #[test]
        fn ingest_batch_takes_mutated_bodies(seed in 0..SEEDS.len(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
            let mut b = SEEDS[seed].as_bytes().to_vec();
            for (i, v) in edits {
                let i = i % b.len();
                b[i] = v;
            }
            super::ingest_batch(&b);
        }
    }
}
