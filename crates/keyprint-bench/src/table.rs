//! Result tables: one struct per benchmark row, written as JSON and as a Markdown table.

use serde::Serialize;
use std::path::Path;

/// A rendered table: header cells and rows of cells.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// Rows, each as long as `header`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with the given header.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row.
    pub fn push<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) {
        self.rows.push(row.into_iter().map(Into::into).collect());
    }

    /// GitHub-flavoured Markdown.
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "| {} |\n|{}\n",
            self.header.join(" | "),
            "---|".repeat(self.header.len())
        );
        for r in &self.rows {
            s.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        s
    }
}

/// Writes `value` as pretty JSON to `dir/<stem>.json` and `markdown` to `dir/<stem>.md`.
///
/// # Errors
/// When a file cannot be written.
pub fn write_report<T: Serialize>(
    dir: &Path,
    stem: &str,
    value: &T,
    markdown: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(format!("{stem}.json")),
        serde_json::to_string_pretty(value)?,
    )?;
    std::fs::write(dir.join(format!("{stem}.md")), markdown)?;
    Ok(())
}

/// A progress bar on stderr for `n` steps (hidden when stderr is not a terminal).
pub fn progress(n: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new(n);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>14} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}
