//! Dataset-backed tests on the real Zeek logs in `network-logs/` (Stratosphere Slips captures, Zeek btest
//! baselines). They run when `KEYPRINT_DATASETS` points at the unpacked data sets and print
//! `skipped: KEYPRINT_DATASETS unset` otherwise.

use std::path::PathBuf;

use keyprint_net::fs::read_dir;
use keyprint_net::zeek::parse_log;
use keyprint_net::{Analyzer, Baselines, Finding, IntelSet, ReasonKind, Settings};

fn logs_dir() -> Option<PathBuf> {
    match std::env::var_os("KEYPRINT_DATASETS") {
        Some(d) => Some(PathBuf::from(d).join("network-logs")),
        None => {
            eprintln!("skipped: KEYPRINT_DATASETS unset");
            None
        }
    }
}

fn scan(dir: &std::path::Path) -> Vec<Finding> {
    let read = read_dir(dir).unwrap();
    let (acc, rej, failed) = read.totals();
    assert!(
        acc > 0 && rej == 0 && failed == 0,
        "{dir:?}: {acc} accepted, {rej} rejected, {failed} failed"
    );
    Analyzer::new(
        Settings::default().check().unwrap(),
        IntelSet::new(),
        Baselines::default(),
    )
    .analyze(&read.logs)
    .findings
}

#[test]
fn the_horizontal_scan_capture_is_flagged_as_a_port_scan() {
    let Some(d) = logs_dir() else { return };
    let f = scan(&d.join("slips/port-scans/horizontal"));
    let hit = f
        .iter()
        .find(|x| x.device.to_string() == "10.0.2.112" && x.peer.to_string() == "*:80/tcp")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(hit.reasons[0].kind, ReasonKind::PortScan);
    assert!(
        hit.reasons[0]
            .detail
            .starts_with("horizontal scan of 80/tcp")
    );
    assert!(hit.targets.len() >= 10);
}

#[test]
fn the_vertical_scan_capture_is_flagged_as_a_port_scan() {
    let Some(d) = logs_dir() else { return };
    let f = scan(&d.join("slips/port-scans/vertical"));
    let hit = f
        .iter()
        .find(|x| x.device.to_string() == "192.168.1.9" && x.peer.to_string() == "45.33.32.156:*")
        .unwrap_or_else(|| panic!("{f:#?}"));
    assert_eq!(hit.reasons[0].kind, ReasonKind::PortScan);
    assert!(hit.reasons[0].detail.starts_with("vertical scan"));
    // The capture's other flows (DNS to the router, one HTTPS connection) are not findings.
    assert_eq!(f.len(), 1, "{f:#?}");
}

#[test]
fn the_dhcp_scan_capture_is_flagged() {
    let Some(d) = logs_dir() else { return };
    let f = scan(&d.join("slips/test13-malicious-dhcpscan-zeek-dir"));
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].reasons[0].kind, ReasonKind::DhcpScan);
    assert_eq!(f[0].device.to_string(), "192.168.1.30");
}

#[test]
fn the_mixed_captures_read_whole_including_the_stray_tab() {
    let Some(d) = logs_dir() else { return };
    let read = read_dir(&d.join("slips/test10-mixed-zeek-dir")).unwrap();
    let conn = read
        .files
        .iter()
        .find(|f| f.path.ends_with("conn.log"))
        .unwrap();
    assert_eq!(conn.report.repaired.get("leading_whitespace"), Some(&1));
    assert!(conn.report.rejected.is_empty());
    assert!(read.logs.conn.len() > 100 && !read.logs.ssl.is_empty() && !read.logs.dns.is_empty());
    let read9 = read_dir(&d.join("slips/test9-mixed-zeek-dir")).unwrap();
    assert_eq!(read9.totals().1, 0);
    assert!(read9.logs.conn.len() > 500);
}

#[test]
fn btest_baselines_masked_timestamps_are_located_rejections() {
    let Some(d) = logs_dir() else { return };
    let path = d.join("zeek-btest-baselines/opt.basic/dns.log");
    let p = parse_log("opt.basic/dns.log", &std::fs::read(path).unwrap()).unwrap();
    assert_eq!(p.report.accepted, 0);
    assert!(!p.report.rejected.is_empty());
    assert!(
        p.report
            .rejected
            .iter()
            .all(|r| r.field.as_deref() == Some("ts"))
    );
    // The first data row follows btest's comment line and the 8 header lines.
    assert_eq!(p.report.rejected[0].line, 10);
    assert_eq!(p.report.repaired.get("comment_line"), Some(&1));
}

#[test]
fn zeek_intel_input_files_from_the_btest_suite() {
    let Some(d) = logs_dir() else { return };
    let mut intel = IntelSet::new();
    let b = std::fs::read(d.join("zeek-btest-baselines/intel-input-example.intel.dat")).unwrap();
    let r = intel.add_file("intel-input-example.intel.dat", &b).unwrap();
    assert_eq!(r.accepted, 2);
    assert_eq!(
        intel.match_name("upload.wikimedia.org").unwrap().source,
        "source1"
    );
    let w =
        std::fs::read(d.join("zeek-btest-baselines/intel-input-example.whitelist.dat")).unwrap();
    intel.add_file("whitelist.dat", &w).unwrap();
    assert!(intel.match_name("meta.wikimedia.org").is_none());
    assert!(intel.match_name("upload.wikimedia.org").is_some());
    let list = std::fs::read(d.join("blocklists/maltrail-alphav.txt")).unwrap();
    let r = intel.add_file("maltrail-alphav.txt", &list).unwrap();
    assert!(r.accepted > 10 && r.rejected.is_empty(), "{:?}", r.rejected);
}

#[test]
fn the_mixed_captures_raise_only_slips_planted_scans() {
    let Some(d) = logs_dir() else { return };
    // test9: office traffic of one workstation — nothing device-independent fires.
    let f = scan(&d.join("slips/test9-mixed-zeek-dir"));
    assert!(f.is_empty(), "{f:#?}");
    // test10: Slips planted a TCP sweep (192.0.2.10) and an ICMP echo sweep (192.0.2.33) among real traffic.
    let f = scan(&d.join("slips/test10-mixed-zeek-dir"));
    let mut got: Vec<String> = f
        .iter()
        .map(|x| format!("{} {}", x.device, x.peer))
        .collect();
    got.sort();
    assert_eq!(
        got,
        ["192.0.2.10 *:1337/tcp", "192.0.2.33 *:0/icmp"],
        "{f:#?}"
    );
    assert!(f.iter().all(|x| x.reasons[0].kind == ReasonKind::PortScan));
}
