//! Fuzzes the intel-file reader (Zeek Intel format and plain blocklists): never a panic.
#![no_main]

use keyprint_net::IntelSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut intel = IntelSet::new();
    let _ = intel.add_file("fuzz.intel", data);
    let _ = intel.match_name("a.b.example.com");
    let _ = intel.match_url("example.com", "/x");
});
