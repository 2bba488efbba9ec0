//! The body of the cargo-fuzz target `ingest_batch` (`fuzz/`), a plain function so that stable proptests run it
//! in every `cargo test` (`tests/validate_props.rs`): any bytes as the body of `POST /v1/records`, through the
//! server's own parser ([`crate::http::parse_json`]) and its stateless batch checks
//! ([`crate::service::validate_batch`]: ids, size, each record against the edge specification, time order).

use crate::service::validate_batch;
use keyprint_edge::Record;
use keyprint_wire::IngestBatch;

/// Runs one body through parse and validation and checks the invariants; panics only when one breaks:
/// every refusal is a 4xx with the API's code; an accepted batch gives one record per wire record, each
/// passing the edge specification again after its round trip through the wire form, in non-decreasing time
/// per stream (mouse, everything else).
pub fn ingest_body(data: &[u8]) {
    let batch: IngestBatch = match crate::http::parse_json(data) {
        Ok(b) => b,
        Err(e) => {
            let st = e.0.code.status();
            assert!(st == 400 || st == 422, "parse refusal {st}: {:?}", e.0);
            return;
        }
    };
    match validate_batch(&batch) {
        Err(e) => {
            let st = e.0.code.status();
            assert!(
                (400..500).contains(&st),
                "validation refusal {st}: {:?}",
                e.0
            );
            assert!(!e.0.reason.is_empty());
        }
        Ok(records) => {
            assert_eq!(records.len(), batch.records.len());
            let (mut mouse, mut other) = (i64::MIN, i64::MIN);
            for r in &records {
                let last = if matches!(r, Record::Mouse(_)) {
                    &mut mouse
                } else {
                    &mut other
                };
                assert!(r.at_us() >= *last, "accepted out of order: {r:?}");
                *last = r.at_us();
                let back = keyprint_wire::convert::to_wire(r);
                assert!(
                    keyprint_wire::convert::from_wire(&back).is_ok(),
                    "an accepted record fails after its round trip: {back:?}"
                );
            }
        }
    }
}
