//! Fuzzes the ingest batch: any bytes as the body of `POST /v1/records` through the shared wire checks
//! (`keyprint_wire::fuzzing::ingest_batch`) and the server's own parser and stateless batch validation
//! (`keyprint_server::fuzzing::ingest_body`: ids, size, each record, time order).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    keyprint_wire::fuzzing::ingest_batch(data);
    keyprint_server::fuzzing::ingest_body(data);
});
