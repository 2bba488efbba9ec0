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
