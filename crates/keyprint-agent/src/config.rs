//! The agent's TOML configuration: [`Config`] as written (serde), checked once into [`CheckedConfig`]
//! before anything runs. An example with every key: `packaging/keyprint-agent.toml`.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// What to do when a device's keystrokes are judged injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Report only (the verdict travels to the server, which alerts).
    Monitor,
    /// Report and de-authorize the USB device (`authorized` = 0 in sysfs).
    Block,
    /// Hold a newly attached keyboard's keys (`EVIOCGRAB`) and pass them on through the agent's uinput
    /// keyboard only once it has typed like a human, then release the grab; on a verdict discard them, keep
    /// the grab and block it. Without `/dev/uinput` this acts as [`Policy::Block`] (logged once).
    Quarantine,
}

/// A device allowed to type at machine speed (an OTP token, a barcode scanner). Fields left out match any
/// value.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// USB vendor id, 4 hex digits.
    pub vendor: String,
    /// USB product id, 4 hex digits.
    pub product: String,
    /// Serial (`uniq`); absent = any unit of this model.
    pub serial: Option<String>,
    /// Why (kept for the operator; logged when the entry matches).
    #[serde(default)]
    pub note: String,
}

/// Capture sources.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sources {
    /// Read `event*` nodes of `input_dir` (default true).
    #[serde(default = "yes")]
    pub evdev: bool,
    /// Folder of input nodes (default `/dev/input`; a folder of recordings for replays).
    #[serde(default = "default_input_dir")]
    pub input_dir: PathBuf,
    /// sysfs root (default `/sys`).
    #[serde(default = "default_sysfs")]
    pub sysfs: PathBuf,
    /// Capture the X server's input through XInput2 (default false); the display comes from `DISPLAY`
    /// unless given.
    #[serde(default)]
    pub x11: bool,
    /// X display (e.g. `:0`).
    pub display: Option<String>,
    /// Screen size for relative pointer motion, px.
    #[serde(default = "default_screen")]
    pub screen_px: [u32; 2],
    /// How often `input_dir` is scanned for new devices, ms (default 250): the hot-plug trigger when there are
    /// no uevents (another folder than `/dev/input`, no netlink); beside uevents, every 10 × this.
    #[serde(default = "default_scan_ms")]
    pub scan_ms: u64,
}

/// Injection defence.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defence {
    /// `monitor`, `block` or `quarantine` (default `monitor`).
    #[serde(default = "default_policy")]
    pub policy: Policy,
    /// Also act on verdicts against the X server's XTEST device (auto-type); default false: recognised
    /// and reported, not blocked.
    #[serde(default)]
    pub act_on_xtest: bool,
    /// Human-like keystrokes a quarantined keyboard must type before its keys pass (default 10).
    #[serde(default = "default_release_after")]
    pub quarantine_release_after: usize,
    /// Devices allowed to type at machine speed.
    #[serde(default)]
    pub allow: Vec<AllowEntry>,
}

/// The local spool.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Folder (default `/var/lib/keyprint-agent/spool`).
    #[serde(default = "default_spool_dir")]
    pub dir: PathBuf,
    /// Largest total size of pending batches, bytes (default 64 MiB); beyond it the oldest are dropped and
    /// counted.
    #[serde(default = "default_spool_bytes")]
    pub max_bytes: u64,
}

/// Where and as whom records go.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    /// Server URL (may be left out until `enroll`, which stores it in the credential).
    pub server: Option<String>,
    /// The user whose sessions this device reports (one of the credential's users; default: its first).
    pub user: Option<String>,
    /// File holding the device credential written by `keyprint agent enroll` (default
    /// `/var/lib/keyprint-agent/credential.json`).
    #[serde(default = "default_credential")]
    pub credential: PathBuf,
    /// Records per batch (default 50).
    #[serde(default = "default_batch_records")]
    pub batch_records: usize,
    /// A partly filled batch is spooled after this long, ms (default 2000).
    #[serde(default = "default_flush_ms")]
    pub flush_ms: u64,
    /// Longest back-off between upload attempts, ms (default 60000).
    #[serde(default = "default_backoff_ms")]
    pub max_backoff_ms: u64,
}

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Capture sources.
    pub sources: Sources,
    /// Injection defence.
    #[serde(default = "default_defence")]
    pub defence: Defence,
    /// Spool.
    #[serde(default = "default_spool")]
    pub spool: SpoolConfig,
    /// Upload.
    pub upload: Upload,
    /// Session id prefix (default `agent`); the agent appends its start time and each source's name.
    #[serde(default = "default_prefix")]
    pub session_prefix: String,
}

fn yes() -> bool {
    true
}
fn default_input_dir() -> PathBuf {
    "/dev/input".into()
}
fn default_sysfs() -> PathBuf {
    "/sys".into()
}
fn default_screen() -> [u32; 2] {
    [1920, 1080]
}
fn default_scan_ms() -> u64 {
    250
}
fn default_policy() -> Policy {
    Policy::Monitor
}
fn default_release_after() -> usize {
    10
}
fn default_defence() -> Defence {
    Defence {
        policy: Policy::Monitor,
        act_on_xtest: false,
        quarantine_release_after: 10,
        allow: Vec::new(),
    }
}
fn default_spool_dir() -> PathBuf {
    "/var/lib/keyprint-agent/spool".into()
}
fn default_spool_bytes() -> u64 {
    64 << 20
}
fn default_spool() -> SpoolConfig {
    SpoolConfig {
        dir: default_spool_dir(),
        max_bytes: default_spool_bytes(),
    }
}
fn default_credential() -> PathBuf {
    "/var/lib/keyprint-agent/credential.json".into()
}
fn default_batch_records() -> usize {
    50
}
fn default_flush_ms() -> u64 {
    2000
}
fn default_backoff_ms() -> u64 {
    60_000
}
fn default_prefix() -> String {
    "agent".into()
}

/// A configuration that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML or an unknown or mistyped key.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A value out of range.
    #[error("{field}: {problem}")]
    Invalid {
        /// Dotted key.
        field: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// A configuration whose values were checked ([`Config::validate`]).
#[derive(Clone, Debug)]
pub struct CheckedConfig(Config);

impl std::ops::Deref for CheckedConfig {
    type Target = Config;
    fn deref(&self) -> &Config {
        &self.0
    }
}

fn hex4(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Config {
    /// Reads and parses a TOML file (not yet checked).
    ///
    /// # Errors
    /// [`ConfigError::Read`], [`ConfigError::Parse`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses TOML text; `path` names it in errors.
    ///
    /// # Errors
    /// [`ConfigError::Parse`].
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn validate(mut self) -> Result<CheckedConfig, ConfigError> {
        let bad = |field, problem: String| Err(ConfigError::Invalid { field, problem });
        if !self.sources.evdev && !self.sources.x11 {
            return bad("sources", "neither evdev nor x11 is on".into());
        }
        if self.sources.screen_px.iter().any(|&v| v == 0 || v > 65_535) {
            return bad("sources.screen_px", "each side must be 1..=65535".into());
        }
        if !(10..=60_000).contains(&self.sources.scan_ms) {
            return bad("sources.scan_ms", "must be 10..=60000".into());
        }
        if !(1..=1000).contains(&self.defence.quarantine_release_after) {
            return bad(
                "defence.quarantine_release_after",
                "must be 1..=1000".into(),
            );
        }
        for a in &mut self.defence.allow {
            if !hex4(&a.vendor) || !hex4(&a.product) {
                return bad(
                    "defence.allow",
                    format!(
                        "vendor and product must be 4 hex digits, got {}:{}",
                        a.vendor, a.product
                    ),
                );
            }
            a.vendor.make_ascii_lowercase();
            a.product.make_ascii_lowercase();
        }
        if self.spool.max_bytes < 64 << 10 {
            return bad("spool.max_bytes", "must be at least 65536".into());
        }
        if !(1..=keyprint_wire::MAX_BATCH_RECORDS).contains(&self.upload.batch_records) {
            return bad(
                "upload.batch_records",
                format!("must be 1..={}", keyprint_wire::MAX_BATCH_RECORDS),
            );
        }
        if !(10..=3_600_000).contains(&self.upload.flush_ms) {
            return bad("upload.flush_ms", "must be 10..=3600000".into());
        }
        if !(100..=3_600_000).contains(&self.upload.max_backoff_ms) {
            return bad("upload.max_backoff_ms", "must be 100..=3600000".into());
        }
        if let Some(s) = &self.upload.server
            && !(s.starts_with("http://") || s.starts_with("https://"))
        {
            return bad("upload.server", format!("{s:?} is not an http(s) URL"));
        }
        let p = &self.session_prefix;
        if p.is_empty()
            || p.len() > 32
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return bad("session_prefix", "must be 1 to 32 of [A-Za-z0-9_-]".into());
        }
        Ok(CheckedConfig(self))
    }
}

impl CheckedConfig {
    /// The allowlist entry matching a device, if any.
    pub fn allowed(
        &self,
        vendor: Option<&str>,
        product: Option<&str>,
        serial: Option<&str>,
    ) -> Option<&AllowEntry> {
        self.defence.allow.iter().find(|a| {
            Some(a.vendor.as_str()) == vendor
                && Some(a.product.as_str()) == product
                && a.serial.as_deref().is_none_or(|s| Some(s) == serial)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "[sources]\n[upload]\n";

    #[test]
    fn defaults_and_checks() {
        let c = Config::parse(MIN, Path::new("a.toml"))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(c.defence.policy, Policy::Monitor);
        assert_eq!(c.sources.input_dir, PathBuf::from("/dev/input"));
        let e = Config::parse("[sources]\nevdev = false\n[upload]\n", Path::new("a.toml"))
            .unwrap()
            .validate();
        assert!(matches!(
            e,
            Err(ConfigError::Invalid {
                field: "sources",
                ..
            })
        ));
        let e = Config::parse("[sources]\nbogus = 1\n[upload]\n", Path::new("a.toml")).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
        let t = "[sources]\n[upload]\n[defence]\npolicy = \"block\"\n[[defence.allow]]\nvendor = \"1050\"\nproduct = \"0407\"\nnote = \"YubiKey OTP\"\n";
        let c = Config::parse(t, Path::new("a.toml"))
            .unwrap()
            .validate()
            .unwrap();
        assert_eq!(c.defence.policy, Policy::Block);
        assert!(c.allowed(Some("1050"), Some("0407"), Some("123")).is_some());
        assert!(c.allowed(Some("1050"), Some("0408"), None).is_none());
    }

    #[test]
    fn the_packaged_example_is_valid() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/keyprint-agent.toml");
        Config::load(&p).unwrap().validate().unwrap();
    }
}
