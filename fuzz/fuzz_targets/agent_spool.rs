//! Fuzzes the agent's spool reader: any bytes as a spool folder found at start (counts file, batch files,
//! a leftover partial write) through `Spool::open`, `oldest`, `ack`, `append`
//! (`keyprint_agent::fuzzing::spool_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| keyprint_agent::fuzzing::spool_reader(data));
