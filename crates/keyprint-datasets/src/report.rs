//! What a reader accepted, rejected and repaired: every bad row is named by file, line and field.

use std::collections::BTreeMap;
use std::fmt;

/// One rejected (or repaired) input row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowIssue {
    /// File (or stream name) the row came from.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
    /// The offending field, when one field is to blame.
    pub field: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for RowIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "{}:{}: field `{}`: {}",
                self.file, self.line, field, self.reason
            ),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.reason),
        }
    }
}

/// The accounting of one read: rows accepted, rows rejected (each with its [`RowIssue`]), and counts of
/// documented repair rules that were applied (e.g. `"reordered"`), keyed by rule name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Data rows turned into events or samples.
    pub accepted: u64,
    /// Every rejected row, in input order.
    pub rejected: Vec<RowIssue>,
    /// Number of times each named repair rule fired (rows kept, but changed or re-ordered).
    pub repaired: BTreeMap<String, u64>,
}

impl ReadReport {
    /// Records a rejected row.
    pub fn reject(
        &mut self,
        file: &str,
        line: u64,
        field: Option<&str>,
        reason: impl Into<String>,
    ) {
        self.rejected.push(RowIssue {
            file: file.to_string(),
            line,
            field: field.map(str::to_string),
            reason: reason.into(),
        });
    }

    /// Counts one application of a repair rule.
    pub fn repair(&mut self, rule: &str) {
        self.repair_n(rule, 1);
    }

    /// Counts `n` applications of a repair rule.
    pub fn repair_n(&mut self, rule: &str, n: u64) {
        if n > 0 {
            *self.repaired.entry(rule.to_string()).or_default() += n;
        }
    }

    /// Adds another report's counts and issues to this one.
    pub fn merge(&mut self, other: ReadReport) {
        self.accepted += other.accepted;
        self.rejected.extend(other.rejected);
        for (k, v) in other.repaired {
            *self.repaired.entry(k).or_default() += v;
        }
    }

    /// One-line summary, e.g. `20400 rows accepted, 0 rejected`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} rows accepted, {} rejected",
            self.accepted,
            self.rejected.len()
        );
        for (k, v) in &self.repaired {
            s.push_str(&format!(", {v} {k}"));
        }
        s
    }
}

/// A reader's result: the data plus its [`ReadReport`].
#[derive(Clone, Debug)]
pub struct Loaded<T> {
    /// What was read.
    pub data: T,
    /// What was accepted, rejected and repaired.
    pub report: ReadReport,
}

/// A file could not be read at all (missing, unreadable, wrong header). Row-level problems are not
/// errors: they go to the [`ReadReport`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// I/O failure.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The header does not match the format.
    #[error("{path}: bad header: {reason}")]
    Header {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a whole file to a string, mapping the error to [`ReadError::Io`].
///
/// # Errors
/// [`ReadError::Io`].
pub fn read_to_string(path: &std::path::Path) -> Result<String, ReadError> {
    std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads a text file line by line, tolerating lines that are not valid UTF-8: each such line is blanked in the
/// returned text (so line numbers are kept) and reported as a rejected row (`not valid UTF-8`). Readers call
/// this instead of [`read_to_string`], so one bad byte rejects one row, not the whole file.
///
/// # Errors
/// [`ReadError::Io`] when the file cannot be read.
pub fn read_lines_lossless(path: &std::path::Path) -> Result<(String, ReadReport), ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut report = ReadReport::default();
    match String::from_utf8(bytes) {
        Ok(text) => Ok((text, report)),
        Err(e) => {
            let name = path.display().to_string();
            let bytes = e.into_bytes();
            let mut text = String::with_capacity(bytes.len());
            for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
                if i > 0 {
                    text.push('\n');
                }
                match std::str::from_utf8(line) {
                    Ok(l) => text.push_str(l),
                    Err(_) => report.reject(&name, i as u64 + 1, None, "not valid UTF-8"),
                }
            }
            Ok((text, report))
        }
    }
}
