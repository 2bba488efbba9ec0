//! Fuzzes the Zeek log reader: any bytes, under every log kind's name, must give a value or a located
//! error, never a panic; what it accepts must analyze without a panic.
#![no_main]

use keyprint_net::zeek::parse_log;
use keyprint_net::{Analyzer, Baselines, IntelSet, Settings};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for name in ["conn.log", "dns.log", "ssl.log", "http.log", "dhcp.log"] {
        if let Ok(p) = parse_log(name, data) {
            let settings = Settings::default().check().expect("defaults are valid");
            let _ = Analyzer::new(settings, IntelSet::new(), Baselines::learn(&p.logs)).analyze(&p.logs);
        }
    }
});
