//! Detector tests, including evasion: a beacon with jitter and failed attempts, a slow scan, DGA-looking
//! names mixed with normal ones — and the limits (Poisson traffic, scans slower than the window).

mod common;

use common::LogBuilder;
use keyprint_net::beacon::{regularity, rita_score};
use keyprint_net::names::name_features;
use keyprint_net::{Analyzer, Baselines, Finding, IntelSet, Logs, ReasonKind, Settings};

const DEV: &str = "10.1.1.10";
const C2: &str = "203.0.113.80";
const RES: &str = "10.1.1.1";

fn analyze(logs: &Logs) -> Vec<Finding> {
    Analyzer::new(
        Settings::default().check().unwrap(),
        IntelSet::new(),
        Baselines::default(),
    )
    .analyze(logs)
    .findings
}

/// Uniform in [0, 1) from xorshift64*.
fn uniform(s: &mut u64) -> f64 {
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    (s.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
}

fn kinds(f: &Finding) -> Vec<ReasonKind> {
    f.reasons.iter().map(|r| r.kind).collect()
}

#[test]
fn a_jittered_beacon_with_failed_attempts_is_found_within_minutes() {
    let mut seed = 7;
    let mut b = LogBuilder::default();
    let mut t = 1000.0;
    for k in 0..8 {
        // ±20 % uniform jitter around 60 s; every third attempt finds the server down.
        if k % 3 == 2 {
            b.conn_state(t, DEV, C2, 8443, "tcp", "-", 0, 0, "S0");
        } else {
            b.conn(t, DEV, C2, 8443, "ssl", 300 + k, 120);
        }
        t += 60.0 * (0.8 + 0.4 * uniform(&mut seed));
    }
    // Background: the same device browsing irregularly.
    for k in 0..30 {
        b.conn(
            1000.0 + 17.0 * (k * k % 29) as f64,
            DEV,
            &format!("198.51.100.{}", k % 7),
            443,
            "ssl",
            900,
            40_000,
        );
    }
    let f = analyze(&b.logs());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].peer.to_string(), format!("{C2}:8443"));
    assert_eq!(kinds(&f[0]), [ReasonKind::Beaconing]);
    assert!(
        f[0].last_ts - f[0].first_ts < 600.0,
        "spoke within 10 minutes"
    );
    assert_eq!(f[0].flows, 8);
}

#[test]
fn six_attempts_are_enough_and_five_are_not() {
    let series = |n: usize| {
        let mut b = LogBuilder::default();
        for k in 0..n {
            b.conn(
                500.0 + 60.0 * k as f64 + (k % 2) as f64,
                DEV,
                C2,
                443,
                "ssl",
                200,
                200,
            );
        }
        analyze(&b.logs())
    };
    assert_eq!(series(6).len(), 1);
    assert!(series(5).is_empty());
}

#[test]
fn poisson_traffic_is_not_a_beacon() {
    // Memoryless arrivals with the same mean interval: rCV ≈ 1, far above the 0.25 limit.
    for seed0 in 1..=20u64 {
        let mut seed = seed0 * 7919;
        let mut b = LogBuilder::default();
        let mut t = 0.0;
        for _ in 0..40 {
            t += -60.0 * (1.0 - uniform(&mut seed)).ln();
            b.conn(t, DEV, C2, 443, "ssl", 200, 200);
        }
        let f = analyze(&b.logs());
        assert!(f.is_empty(), "seed {seed0}: {f:#?}");
    }
}

#[test]
fn rita_needs_hours_where_the_robust_statistic_needs_minutes() {
    // Six one-minute beats in a log spanning a day.
    let ts: Vec<f64> = (0..6).map(|k| 60.0 * k as f64).collect();
    let bytes = vec![300.0; 6];
    let r = regularity(&ts, 1.0).unwrap();
    assert!(r.rcv < 0.01 && r.events == 6);
    let early = rita_score(&ts, &bytes, 86_400.0).unwrap();
    // A day of them.
    let ts_day: Vec<f64> = (0..1440).map(|k| 60.0 * k as f64).collect();
    let day = rita_score(&ts_day, &vec![300.0; 1440], 86_400.0).unwrap();
    assert!(early.dur_score < 0.01 && early.ts_score < 0.7, "{early:?}");
    assert!(day.score > early.score + 0.3, "{day:?} vs {early:?}");
    assert!(day.dur_score > 0.99);
}

fn scan(gap_s: f64, hosts: usize) -> Vec<Finding> {
    let mut b = LogBuilder::default();
    for k in 0..hosts {
        b.conn_state(
            10_000.0 + gap_s * k as f64,
            DEV,
            &format!("192.0.2.{}", k + 1),
            23,
            "tcp",
            "-",
            0,
            0,
            "S0",
        );
    }
    analyze(&b.logs())
}

#[test]
fn a_slow_scan_within_the_window_is_found() {
    // Twelve hosts, one every four minutes (44 minutes in all).
    let f = scan(240.0, 12);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].peer.to_string(), "*:23/tcp");
    assert_eq!(kinds(&f[0]), [ReasonKind::PortScan]);
    assert_eq!(f[0].targets.len(), 12);
}

#[test]
fn a_scan_slower_than_the_window_evades_the_default_settings() {
    // A known limit: one probe every 15 minutes keeps any one-hour window at 5 hosts (< 6).
    assert!(scan(900.0, 12).is_empty());
    // A longer window catches it, at the price of more benign failures summed.
    let mut b = LogBuilder::default();
    for k in 0..12 {
        b.conn_state(
            900.0 * k as f64,
            DEV,
            &format!("192.0.2.{}", k + 1),
            23,
            "tcp",
            "-",
            0,
            0,
            "S0",
        );
    }
    let s = Settings {
        scan_window_s: 4.0 * 3600.0,
        ..Settings::default()
    };
    let f = Analyzer::new(s.check().unwrap(), IntelSet::new(), Baselines::default())
        .analyze(&b.logs())
        .findings;
    assert_eq!(f.len(), 1);
}

#[test]
fn a_vertical_scan_is_found_and_ordinary_failures_are_not() {
    let mut b = LogBuilder::default();
    for (k, port) in [21, 22, 23, 25, 80, 110, 139, 443, 445, 3389]
        .iter()
        .enumerate()
    {
        b.conn_state(
            50.0 + 0.01 * k as f64,
            DEV,
            "192.0.2.77",
            *port,
            "tcp",
            "-",
            0,
            0,
            "REJ",
        );
    }
    // Two failed connections to other hosts: not a scan.
    b.conn_state(60.0, DEV, "192.0.2.90", 443, "tcp", "-", 0, 0, "S0");
    b.conn_state(61.0, DEV, "192.0.2.91", 443, "tcp", "-", 0, 0, "S0");
    let f = analyze(&b.logs());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].peer.to_string(), "192.0.2.77:*");
}

const NORMAL: &[&str] = &[
    "www.google.com",
    "clients6.google.com",
    "encrypted-tbn0.gstatic.com",
    "upload.wikimedia.org",
    "addons-pa.clients6.google.com",
    "login.microsoftonline.com",
    "2c51e68a10fc0ed87d59457faceb57fc.clo.footprintdns.com",
    "r3---sn-2gb7sn7k.googlevideo.com",
    "a1234.dscb.akamaiedge.net",
    "ocsp.digicert.com",
    "www.felk.cvut.cz",
    "settings-win.data.microsoft.com",
    "api.github.com",
    "fonts.googleapis.com",
    "cdn.jsdelivr.net",
    "d3ag4hukkh62yn.cloudfront.net",
    "s3.amazonaws.com",
    "www.bbc.co.uk",
    "detectportal.firefox.com",
];

#[test]
fn dga_names_mixed_with_normal_ones_are_singled_out() {
    let mut seed = 42;
    let consonants = b"bcdfghjklmnpqrstvwxz";
    let mut dga = Vec::new();
    for _ in 0..5 {
        let len = 12 + (uniform(&mut seed) * 6.0) as usize;
        let label: String = (0..len)
            .map(|i| {
                if i % 5 == 4 {
                    'a'
                } else {
                    consonants[(uniform(&mut seed) * 20.0) as usize % 20] as char
                }
            })
            .collect();
        dga.push(format!("{label}.com"));
    }
    let mut b = LogBuilder::default();
    let mut t = 0.0;
    for d in dga.iter().take(3) {
        for n in NORMAL {
            t += 7.0;
            b.dns(t, DEV, RES, n, "NOERROR", &["192.0.2.200"]);
        }
        t += 3.0;
        b.dns(t, DEV, RES, d, "NXDOMAIN", &[]);
    }
    b.dns(t + 1.0, DEV, RES, &dga[3], "NXDOMAIN", &[]);
    b.dns(t + 2.0, DEV, RES, &dga[4], "NOERROR", &["192.0.2.201"]);
    // Another device with only normal names.
    for n in NORMAL {
        b.dns(t + 10.0, "10.1.1.11", RES, n, "NOERROR", &["192.0.2.200"]);
    }
    let f = analyze(&b.logs());
    let mut flagged: Vec<String> = f.iter().map(|x| x.peer.to_string()).collect();
    flagged.sort();
    let mut want = dga.clone();
    want.sort();
    assert_eq!(flagged, want, "{f:#?}");
    assert!(
        f.iter()
            .all(|x| x.device.to_string() == DEV && kinds(x) == [ReasonKind::DnsAnomaly])
    );
    for n in NORMAL {
        assert!(
            !name_features(n).is_some_and(|x| x.algorithmic),
            "{n} {:?}",
            name_features(n)
        );
    }
}

#[test]
fn a_burst_of_nxdomain_is_a_dns_anomaly() {
    let mut b = LogBuilder::default();
    for k in 0..12 {
        b.dns(
            100.0 + 2.0 * k as f64,
            DEV,
            RES,
            &format!("host{k}.corp.example"),
            "NXDOMAIN",
            &[],
        );
    }
    let f = analyze(&b.logs());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].peer.to_string(), format!("{RES}:53"));
    assert!(f[0].reasons[0].detail.contains("12 distinct names"));
    // Nine are not a burst.
    let mut b = LogBuilder::default();
    for k in 0..9 {
        b.dns(
            100.0 + 2.0 * k as f64,
            DEV,
            RES,
            &format!("host{k}.corp.example"),
            "NXDOMAIN",
            &[],
        );
    }
    assert!(analyze(&b.logs()).is_empty());
}

#[test]
fn settings_are_checked() {
    assert!(
        Settings {
            min_score: 120.0,
            ..Settings::default()
        }
        .check()
        .is_err()
    );
    assert!(
        Settings {
            scan_window_s: f64::NAN,
            ..Settings::default()
        }
        .check()
        .is_err()
    );
    let e = Settings {
        beacon_min_events: 2,
        ..Settings::default()
    }
    .check()
    .unwrap_err();
    assert_eq!(e.name, "beacon_min_events");
}

#[test]
fn intel_matches_tls_sni_http_host_and_url_naming_the_source() {
    use keyprint_net::zeek::parse_log;
    let ssl = r#"{"ts":10.0,"uid":"S1","id.orig_h":"10.1.1.10","id.orig_p":5000,"id.resp_h":"192.0.2.50","id.resp_p":443,"server_name":"cdn.bad.example"}"#;
    let http = concat!(
        r#"{"ts":11.0,"uid":"H1","id.orig_h":"10.1.1.10","id.orig_p":5001,"id.resp_h":"192.0.2.51","id.resp_p":80,"host":"files.example.org","uri":"/drop/stage2.bin"}"#,
        "\n",
        r#"{"ts":12.0,"uid":"H2","id.orig_h":"10.1.1.10","id.orig_p":5002,"id.resp_h":"192.0.2.52","id.resp_p":80,"host":"files.example.org","uri":"/index.html"}"#,
        "\n",
    );
    let mut logs = parse_log("ssl.log", ssl.as_bytes()).unwrap().logs;
    logs.extend(parse_log("http.log", http.as_bytes()).unwrap().logs);
    let mut intel = IntelSet::new();
    intel
        .add_file(
            "feed.intel",
            b"#fields\tindicator\tindicator_type\tmeta.source\n\
              bad.example\tIntel::DOMAIN\tfeedA\n\
              files.example.org/drop/\tIntel::URL\tfeedU\n",
        )
        .unwrap();
    // Zeek DOMAIN is exact: cdn.bad.example is not bad.example. A blocklist entry covers subdomains.
    intel.add_blocklist("list.txt", "bad.example\n");
    let f = Analyzer::new(
        Settings::default().check().unwrap(),
        intel,
        Baselines::default(),
    )
    .analyze(&logs)
    .findings;
    assert_eq!(f.len(), 2, "{f:#?}");
    let sni = f
        .iter()
        .find(|x| x.peer.to_string() == "192.0.2.50:443")
        .unwrap();
    assert!(
        sni.reasons[0].detail.contains("TLS SNI cdn.bad.example")
            && sni.reasons[0].detail.contains("source list.txt")
    );
    let url = f
        .iter()
        .find(|x| x.peer.to_string() == "192.0.2.51:80")
        .unwrap();
    assert!(
        url.reasons[0].detail.contains("/drop/stage2.bin")
            && url.reasons[0].detail.contains("feedU")
    );
}

#[test]
fn a_fast_scan_is_reported_over_its_burst_not_over_the_hour() {
    let mut b = LogBuilder::default();
    // The device's own failed connections, spread over 40 minutes, and browsing on port 80.
    for k in 0..5 {
        b.conn_state(
            600.0 * k as f64,
            DEV,
            &format!("198.51.100.{}", k + 1),
            80,
            "tcp",
            "-",
            0,
            0,
            "S0",
        );
        b.conn(
            600.0 * k as f64 + 30.0,
            DEV,
            &format!("198.51.100.{}", k + 50),
            80,
            "http",
            300,
            9000,
        );
    }
    // A burst: eight hosts in four seconds.
    for k in 0..8 {
        b.conn_state(
            2000.0 + 0.5 * k as f64,
            DEV,
            &format!("192.0.2.{}", k + 1),
            80,
            "tcp",
            "-",
            0,
            0,
            "S0",
        );
    }
    let f = analyze(&b.logs());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].last_ts - f[0].first_ts < 5.0);
    assert_eq!(f[0].targets.len(), 8, "{:?}", f[0].targets);
    assert!(f[0].targets.iter().all(|t| t.starts_with("192.0.2.")));
}

#[test]
fn a_beacon_with_fifty_percent_jitter_evades_the_default_limit() {
    // A known limit: uniform ±50 % jitter gives rCV ≈ 0.37, above the 0.25 limit.
    let mut seed = 99;
    let mut b = LogBuilder::default();
    let mut ts = Vec::new();
    let mut t = 0.0;
    for _ in 0..40 {
        ts.push(t);
        b.conn(t, DEV, C2, 443, "ssl", 200, 200);
        t += 60.0 * (0.5 + uniform(&mut seed));
    }
    let r = regularity(&ts, 1.0).unwrap();
    assert!(r.rcv > 0.25 && r.rcv < 0.6, "{r:?}");
    assert!(analyze(&b.logs()).is_empty());
}
