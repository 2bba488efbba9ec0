//! Fuzzes every reader of outside files: generic key and mouse files (JSON Lines, CSV), CMU, Balabit, Aalto
//! (`keyprint_datasets::fuzzing::readers`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyprint_datasets::fuzzing::readers(data));
