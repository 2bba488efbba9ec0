//! Fuzzes the ingest batch: any bytes as the body of `POST /v1/records` through the JSON parser, the record
//! conversion and the edge specification's checks (`keyprint_wire::fuzzing::ingest_batch`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyprint_wire::fuzzing::ingest_batch(data));
