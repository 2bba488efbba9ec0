//! Helpers shared by the agent's integration tests.

use keyprint_agent::config::{CheckedConfig, Config};
use std::path::Path;

/// A checked agent configuration: `policy`, spool at `spool`, quarantine released after 5 human-like
/// keystrokes, then `extra` TOML lines.
pub fn config(policy: &str, spool: &Path, extra: &str) -> CheckedConfig {
    let t = format!(
        "[sources]\n[upload]\n[spool]\ndir = {spool:?}\n[defence]\npolicy = \"{policy}\"\nquarantine_release_after = 5\n{extra}"
    );
    Config::parse(&t, Path::new("test.toml"))
        .unwrap()
        .validate()
        .unwrap()
}

/// Log lines an [`agent`] wrote.
pub type Logs = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// An agent reporting as `alice` from `laptop-7` under `cfg`, its spool opened from `cfg`, released keys to
/// `sink`, log lines kept.
pub fn agent(
    cfg: CheckedConfig,
    sink: Box<dyn keyprint_agent::quarantine::KeySink + Send>,
) -> (keyprint_agent::agent::Agent, Logs) {
    let spool = std::sync::Arc::new(std::sync::Mutex::new(
        keyprint_agent::spool::Spool::open(&cfg.spool.dir, cfg.spool.max_bytes).unwrap(),
    ));
    let logs = Logs::default();
    let l = logs.clone();
    let a = keyprint_agent::agent::Agent::new(
        cfg,
        "alice",
        Some("laptop-7"),
        1_000,
        spool,
        sink,
        Box::new(move |s| l.lock().unwrap().push(s.to_string())),
    );
    (a, logs)
}
