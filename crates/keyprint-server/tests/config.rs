//! `ServeConfig::validate` refuses settings that would silently misbehave.

use keyprint_server::ServeConfig;

#[test]
fn bad_settings_are_refused_before_start() {
    let ok = ServeConfig::new(std::env::temp_dir());
    ok.validate().unwrap();
    let cases: Vec<(&str, Box<dyn Fn(&mut ServeConfig)>)> = vec![
        (
            "threshold",
            Box::new(|c| c.service.fusion.threshold = f64::NAN),
        ),
        (
            "threshold",
            Box::new(|c| c.service.fusion.threshold = 150.0),
        ),
        ("rate", Box::new(|c| c.service.rate_per_key = f64::NAN)),
        ("rate", Box::new(|c| c.service.rate_per_key = 0.0)),
        ("enrolment", Box::new(|c| c.enrolment_samples = 0)),
        (
            "webhook",
            Box::new(|c| c.sinks.webhook = Some("notaurl".into())),
        ),
        // A missing folder of the alerts file is created at start; a folder in its place is refused.
        (
            "alerts file",
            Box::new(|c| c.sinks.file = Some(std::env::temp_dir())),
        ),
        (
            "alert sinks",
            Box::new(|c| c.sinks.ca_file = Some("/nonexistent/ca.pem".into())),
        ),
        ("engine", Box::new(|c| c.engines.push("telepathy".into()))),
    ];
    for (what, change) in cases {
        let mut c = ServeConfig::new(std::env::temp_dir());
        change(&mut c);
        let e = c.validate().expect_err(what).to_string();
        assert!(e.contains(what), "{what}: {e}");
    }
}
