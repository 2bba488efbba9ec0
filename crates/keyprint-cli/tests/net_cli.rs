//! `keyprint net …` end to end: exit statuses, the JSON finding lines, learn → scan with a baseline, watch.

use std::path::Path;
use std::process::Command;

const DNS: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tquery\tqtype_name\trcode_name\tanswers\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tstring\tstring\tvector[string]\n";
const CONN: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\n\
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\n";

fn keyprint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keyprint"))
}

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../keyprint-net/tests/fixtures/maltrail-alphav-excerpt.txt")
        .display()
        .to_string()
}

/// A camera's folder: a heartbeat to its cloud, optionally a lookup of a listed domain and a connection.
fn folder(bad: bool) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut dns = DNS.to_string();
    let mut conn = CONN.to_string();
    dns.push_str("1000.0\tD0\t192.168.1.50\t53000\t192.168.1.1\t53\tudp\tcam.example.net\tA\tNOERROR\t198.51.100.20\n");
    for k in 0..3 {
        conn.push_str(&format!(
            "{}.5\tC{k}\t192.168.1.50\t4000{k}\t198.51.100.20\t443\ttcp\tssl\t0.2\t900\t300\tSF\n",
            1000 + 700 * k
        ));
    }
    if bad {
        dns.push_str("2000.0\tD1\t192.168.1.50\t53001\t192.168.1.1\t53\tudp\thosting-global-it-ss.com\tA\tNOERROR\t203.0.113.66\n");
        conn.push_str(
            "2000.2\tC9\t192.168.1.50\t40009\t203.0.113.66\t443\ttcp\tssl\t0.3\t1200\t5400\tSF\n",
        );
    }
    std::fs::write(d.path().join("dns.log"), dns).unwrap();
    std::fs::write(d.path().join("conn.log"), conn).unwrap();
    d
}

#[test]
fn scan_json_lines_and_exit_status() {
    let d = folder(true);
    let out = keyprint()
        .args([
            "net",
            "scan",
            d.path().to_str().unwrap(),
            "--json",
            "--intel",
            &fixture(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        for key in [
            "device", "peer", "score", "reasons", "first_ts", "last_ts", "flows",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        assert_eq!(l["device"], "192.168.1.50");
        assert_eq!(l["reasons"][0]["reason"], "threat_intel");
        assert!(
            l["reasons"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("maltrail-alphav-excerpt.txt")
        );
    }
    let peers: Vec<&str> = lines.iter().map(|l| l["peer"].as_str().unwrap()).collect();
    assert!(peers.contains(&"203.0.113.66:443") && peers.contains(&"hosting-global-it-ss.com"));

    let clean = folder(false);
    let out = keyprint()
        .args([
            "net",
            "scan",
            clean.path().to_str().unwrap(),
            "--json",
            "--intel",
            &fixture(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn learn_then_scan_with_the_baseline() {
    let normal = folder(false);
    let b = normal.path().join("baseline.json");
    let out = keyprint()
        .args([
            "net",
            "learn",
            normal.path().to_str().unwrap(),
            "--out",
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&b).unwrap()).unwrap();
    assert!(
        base["devices"]["192.168.1.50"]["peers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "198.51.100.20")
    );

    // A new destination on a new port departs from the baseline (no intel needed).
    let d = folder(false);
    let mut conn = std::fs::read_to_string(d.path().join("conn.log")).unwrap();
    conn.push_str(
        "3000.0\tC7\t192.168.1.50\t40007\t203.0.113.200\t4444\ttcp\t-\t1.0\t300\t300\tSF\n",
    );
    std::fs::write(d.path().join("conn.log"), conn).unwrap();
    let out = keyprint()
        .args([
            "net",
            "scan",
            d.path().to_str().unwrap(),
            "--json",
            "--baseline",
            b.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("\"new_destination\"") && text.contains("\"new_port\""),
        "{text}"
    );
}

#[test]
fn unreadable_input_is_an_error_not_a_finding() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("conn.log"), [0x1f, 0x8b, 0x08, 0x00, 0xff]).unwrap();
    let out = keyprint()
        .args(["net", "scan", d.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conn.log:1: not a Zeek log: binary data"),
        "{err}"
    );
}

#[test]
fn watch_prints_findings_as_json_lines() {
    let d = folder(true);
    let out = keyprint()
        .args([
            "net",
            "watch",
            d.path().to_str().unwrap(),
            "--intel",
            &fixture(),
            "--max-polls",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
    );
}

#[test]
fn bench_net_finds_the_injected_attacks_on_the_real_captures() {
    let Some(data) = std::env::var_os("KEYPRINT_DATASETS") else {
        eprintln!("skipped: KEYPRINT_DATASETS unset");
        return;
    };
    let out = keyprint()
        .args(["bench", "net", "--repeat", "1", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Part 1: the scan captures are flagged with their reasons.
    assert!(
        text.contains("10.0.2.112 -> *:80/tcp  [port_scan]"),
        "{text}"
    );
    assert!(
        text.contains("192.168.1.9 -> 45.33.32.156:*  [port_scan]"),
        "{text}"
    );
    assert!(
        text.contains("192.168.1.30 -> 192.168.1.1:67  [dhcp_scan]"),
        "{text}"
    );
    // Part 2: every configuration finds the beacons and the vertical scans; intel finds the blocklisted pairs.
    let rows: Vec<&str> = text.lines().filter(|l| l.contains("found: ")).collect();
    assert_eq!(rows.len(), 4, "{text}");
    for r in &rows {
        assert!(
            r.contains("beacon 2/2") && r.contains("vertical 2/2"),
            "{r}"
        );
        if r.starts_with("intel") {
            assert!(r.contains("blocklisted 4/4"), "{r}");
        }
    }
}

/// `keyprint net watch --server`: the camera's finding reaches a real server over HTTP and becomes a device
/// alert there (through the outbox, like every alert).
#[test]
fn watch_sends_findings_to_the_server_as_device_alerts() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = keyprint_server::ServeConfig::new(dir.path().to_path_buf());
    cfg.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let server = rt.block_on(keyprint_server::start(&cfg)).unwrap();
    let key = server
        .service
        .create_key("acme", keyprint_wire::Role::Ingest)
        .unwrap();
    let d = folder(true);
    let out = keyprint()
        .args([
            "net",
            "watch",
            d.path().to_str().unwrap(),
            "--intel",
            &fixture(),
            "--max-polls",
            "1",
            "--server",
            &server.url(),
            "--api-key",
            &key.token,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = server
        .service
        .alerts(
            "acme",
            0,
            None,
            &keyprint_server::service::PageRequest::max(),
        )
        .unwrap()
        .items;
    assert!(
        !alerts.is_empty(),
        "no alert; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(alerts.iter().all(|a| a.user == "device:192.168.1.50"));
    assert!(
        alerts.iter().any(|a| a
            .reasons
            .iter()
            .any(|r| r.code == keyprint_wire::ReasonCode::ThreatIntel)),
        "{alerts:?}"
    );
    server.stop();
}
