//! The seed case: a video-surveillance camera with a learned baseline starts talking to a domain
//! on a ransomware blocklist → a finding naming the indicator and its source; its normal traffic →
//! nothing.

mod common;

use common::*;
use keyprint_net::json::BaselineFile;
use keyprint_net::{Analyzer, Baselines, IntelSet, ReasonKind, Settings};

const LIST: &str = "maltrail-alphav-excerpt.txt";

fn intel() -> IntelSet {
    let mut intel = IntelSet::new();
    let bytes = include_bytes!("fixtures/maltrail-alphav-excerpt.txt");
    let report = intel.add_file(LIST, bytes).unwrap();
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(report.accepted >= 4);
    intel
}

/// Learns the camera's baseline from day 1 and round-trips it through the JSON baseline file.
fn baseline() -> Baselines {
    let mut day1 = LogBuilder::default();
    camera_day(&mut day1, 1_700_000_000.0);
    let learned = Baselines::learn(&day1.logs());
    let text = serde_json::to_string(&BaselineFile::from(&learned)).unwrap();
    let back = BaselineFile::parse(&text).unwrap();
    assert_eq!(back, learned);
    back
}

fn analyzer(baselines: Baselines) -> Analyzer {
    Analyzer::new(Settings::default().check().unwrap(), intel(), baselines)
}

#[test]
fn camera_contacting_a_listed_ransomware_domain_is_reported_with_indicator_and_source() {
    let mut day2 = LogBuilder::default();
    let t0 = 1_700_086_400.0;
    camera_day(&mut day2, t0);
    let bad_ip = "203.0.113.66";
    day2.dns(
        t0 + 4000.0,
        CAMERA,
        RESOLVER,
        "hosting-global-it-ss.com",
        "NOERROR",
        &[bad_ip],
    );
    day2.conn(t0 + 4000.2, CAMERA, bad_ip, 443, "ssl", 1200, 5400);
    let findings = analyzer(baseline()).analyze(&day2.logs()).findings;

    let lookup = findings
        .iter()
        .find(|f| f.peer.to_string() == "hosting-global-it-ss.com")
        .expect("the lookup is a finding");
    assert_eq!(lookup.device.to_string(), CAMERA);
    let r = &lookup.reasons[0];
    assert_eq!(r.kind, ReasonKind::ThreatIntel);
    assert!(
        r.detail.contains("hosting-global-it-ss.com"),
        "{}",
        r.detail
    );
    assert!(r.detail.contains(LIST), "source named: {}", r.detail);

    let conn = findings
        .iter()
        .find(|f| f.peer.to_string() == format!("{bad_ip}:443"))
        .expect("the connection is a finding");
    assert_eq!(conn.peer_name.as_deref(), Some("hosting-global-it-ss.com"));
    let kinds: Vec<ReasonKind> = conn.reasons.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&ReasonKind::ThreatIntel));
    assert!(kinds.contains(&ReasonKind::NewDestination), "{kinds:?}");
    assert!(conn.score >= 95.0);
    assert_eq!(conn.flows, 1);
    // Nothing else: the camera's own traffic stays quiet.
    assert_eq!(findings.len(), 2, "{findings:#?}");
}

#[test]
fn the_same_cameras_normal_traffic_raises_nothing() {
    let mut day2 = LogBuilder::default();
    camera_day(&mut day2, 1_700_086_400.0);
    let findings = analyzer(baseline()).analyze(&day2.logs()).findings;
    assert!(findings.is_empty(), "{findings:#?}");
}

#[test]
fn without_its_baseline_the_cameras_heartbeat_looks_like_a_beacon() {
    // The device-independent beacon rule cannot know the upload timer is normal; the baseline can.
    let mut day2 = LogBuilder::default();
    camera_day(&mut day2, 1_700_086_400.0);
    let findings = analyzer(Baselines::default())
        .analyze(&day2.logs())
        .findings;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].peer.to_string(), format!("{CLOUD}:443"));
    assert_eq!(findings[0].reasons[0].kind, ReasonKind::Beaconing);
}

#[test]
fn a_new_destination_on_a_new_port_departs_from_the_baseline_without_intel() {
    let mut day2 = LogBuilder::default();
    let t0 = 1_700_086_400.0;
    camera_day(&mut day2, t0);
    day2.conn(t0 + 5000.0, CAMERA, "203.0.113.200", 4444, "-", 300, 300);
    let a = Analyzer::new(
        Settings::default().check().unwrap(),
        IntelSet::new(),
        baseline(),
    );
    let findings = a.analyze(&day2.logs()).findings;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let kinds: Vec<&str> = findings[0].reasons.iter().map(|r| r.kind.name()).collect();
    assert_eq!(kinds, ["new_destination", "new_port"]);
}

#[test]
fn hour_of_day_and_volume_departures_are_named_but_need_company_to_be_reported() {
    // A camera seen only between 08:00 and 17:59 UTC.
    let day = 1_700_006_400.0; // 2023-11-15T00:00:00Z
    let mut learn = LogBuilder::default();
    for h in 8..18 {
        for k in 0..6 {
            learn.conn(
                day + h as f64 * 3600.0 + k as f64 * 600.0,
                CAMERA,
                CLOUD,
                443,
                "ssl",
                50_000 + k * 100,
                900,
            );
        }
    }
    let base = Baselines::learn(&learn.logs());
    // At 03:00, a 40 MB upload to its usual cloud.
    let mut night = LogBuilder::default();
    night.conn(
        day + 86_400.0 + 3.0 * 3600.0,
        CAMERA,
        CLOUD,
        443,
        "ssl",
        40_000_000,
        900,
    );
    let strict = Analyzer::new(
        Settings::default().check().unwrap(),
        IntelSet::new(),
        base.clone(),
    );
    assert!(strict.analyze(&night.logs()).findings.is_empty());
    let s = Settings {
        min_score: 10.0,
        ..Settings::default()
    };
    let f = Analyzer::new(s.check().unwrap(), IntelSet::new(), base)
        .analyze(&night.logs())
        .findings;
    assert_eq!(f.len(), 1, "{f:#?}");
    let kinds: Vec<&str> = f[0].reasons.iter().map(|r| r.kind.name()).collect();
    assert_eq!(kinds, ["volume", "unusual_hour"]);
    assert!(f[0].reasons[1].detail.contains("03:00 UTC"));
}
