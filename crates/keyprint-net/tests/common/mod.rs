//! Builders of small Zeek TSV logs for tests: rows are written as Zeek writes them and read back
//! through the real reader.
#![allow(dead_code)]

use keyprint_net::Logs;
use keyprint_net::zeek::parse_log;

pub const CONN_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n";

pub const DNS_HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\tquery\tqtype_name\trcode_name\tanswers\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tstring\tstring\tstring\tvector[string]\n";

/// Accumulates rows of a conn and a dns log.
#[derive(Default)]
pub struct LogBuilder {
    conn: String,
    dns: String,
    n: u64,
}

impl LogBuilder {
    /// A completed TCP connection with payload.
    #[allow(clippy::too_many_arguments)]
    pub fn conn(
        &mut self,
        ts: f64,
        orig: &str,
        resp: &str,
        port: u16,
        service: &str,
        ob: u64,
        rb: u64,
    ) -> &mut Self {
        self.conn_state(ts, orig, resp, port, "tcp", service, ob, rb, "SF")
    }

    /// A connection with an explicit state (`S0`, `REJ`, …); zero bytes print as 0.
    #[allow(clippy::too_many_arguments)]
    pub fn conn_state(
        &mut self,
        ts: f64,
        orig: &str,
        resp: &str,
        port: u16,
        proto: &str,
        service: &str,
        ob: u64,
        rb: u64,
        state: &str,
    ) -> &mut Self {
        self.n += 1;
        let rp = if rb > 0 { 5 } else { 0 };
        self.conn.push_str(&format!(
            "{ts:.6}\tC{}\t{orig}\t{}\t{resp}\t{port}\t{proto}\t{service}\t0.1\t{ob}\t{rb}\t{state}\t-\t-\t0\tShADadFf\t5\t400\t{rp}\t600\t(empty)\n",
            self.n, 40000 + self.n % 20000
        ));
        self
    }

    /// A DNS lookup with answers (empty slice: none) and response code.
    pub fn dns(
        &mut self,
        ts: f64,
        orig: &str,
        resolver: &str,
        query: &str,
        rcode: &str,
        answers: &[&str],
    ) -> &mut Self {
        self.n += 1;
        let ans = if answers.is_empty() {
            "-".to_string()
        } else {
            answers.join(",")
        };
        self.dns.push_str(&format!(
            "{ts:.6}\tD{}\t{orig}\t{}\t{resolver}\t53\tudp\t{}\t{query}\tA\t{rcode}\t{ans}\n",
            self.n,
            50000 + self.n % 10000,
            self.n
        ));
        self
    }

    /// Parses what was built through the real reader; panics on any rejected row (a builder bug).
    pub fn logs(&self) -> Logs {
        let mut logs = Logs::default();
        for (name, header, body) in [
            ("conn.log", CONN_HEADER, &self.conn),
            ("dns.log", DNS_HEADER, &self.dns),
        ] {
            if body.is_empty() {
                continue;
            }
            let p =
                parse_log(name, format!("{header}{body}").as_bytes()).expect("builder log parses");
            assert!(p.report.rejected.is_empty(), "{:?}", p.report.rejected);
            logs.extend(p.logs);
        }
        logs
    }
}

pub const CAMERA: &str = "192.168.1.50";
pub const RESOLVER: &str = "192.168.1.1";
pub const CLOUD: &str = "198.51.100.20";
pub const NTP: &str = "198.51.100.123";

/// A camera's ordinary day starting at `t0` (seconds): it resolves its cloud endpoint and uploads to it
/// every 300 s (±5 s), and syncs time every hour.
pub fn camera_day(b: &mut LogBuilder, t0: f64) {
    let mut t = t0;
    let mut k = 0u64;
    while t < t0 + 86_400.0 {
        if k.is_multiple_of(12) {
            b.dns(
                t - 0.05,
                CAMERA,
                RESOLVER,
                "upload.cam-cloud.example.net",
                "NOERROR",
                &[CLOUD],
            );
            b.conn_state(t + 1.0, CAMERA, NTP, 123, "udp", "ntp", 48, 48, "SF");
        }
        // Upload sizes vary with the scene: 40–60 kB.
        b.conn(
            t,
            CAMERA,
            CLOUD,
            443,
            "ssl",
            40_000 + (k * 7919) % 20_000,
            900,
        );
        k += 1;
        t += 300.0 + ((k * 37) % 11) as f64 - 5.0;
    }
}
