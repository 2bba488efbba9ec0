//! The durable local spool: every batch is written to its own file and fsync'd (file, then folder) before
//! the agent counts it as captured, and deleted only after the server acknowledged it (`200`, including
//! `duplicate: true`). A crash (kill -9, power loss) loses no spooled batch; a batch sent but not yet
//! deleted is sent again with the same `batch_seq`, which the server answers as a duplicate
//! (at-least-once delivery, applied exactly once).
//!
//! Layout: `<dir>/<20-digit spool number>.batch` (the batch's JSON, `keyprint_wire::IngestBatch`),
//! `<dir>/rejected/` (batches the server refused for good), `<dir>/dropped` (the persisted drop counts).
//! Files named `tmp-*` are incomplete writes and are removed at open.
//!
//! Bounded: when a new batch would take the spool over `max_bytes`, the oldest pending batches are
//! dropped to make room (the newest evidence, such as an injection verdict, is the most useful); a batch
//! that cannot be written (disk full) is dropped. Both are counted, persisted and logged.

use keyprint_wire::IngestBatch;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Drop and delivery counters (persisted in `<dir>/dropped`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpoolCounts {
    /// Batches written.
    pub spooled: u64,
    /// Batches acknowledged by the server and deleted.
    pub acked: u64,
    /// Oldest batches dropped because the spool was full.
    pub dropped_full: u64,
    /// Batches that could not be written (disk full, I/O error).
    pub dropped_write: u64,
    /// Batches the server refused for good (moved to `rejected/`).
    pub rejected: u64,
}

/// The spool.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    entries: std::collections::BTreeMap<u64, u64>,
    bytes: u64,
    next: u64,
    /// Counters.
    pub counts: SpoolCounts,
}

/// Why a batch was not spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// Writing failed (the batch is dropped and counted).
    #[error("spool write failed ({path}): {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The batch alone is larger than the spool.
    #[error("batch of {0} bytes exceeds the spool bound")]
    TooLarge(u64),
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Spool {
    /// Opens (creating) the spool at `dir`, bounded to `max_bytes` of pending batches.
    ///
    /// # Errors
    /// I/O errors creating or listing the folder.
    pub fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir.join("rejected"))?;
        let mut entries = std::collections::BTreeMap::new();
        let mut bytes = 0;
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("tmp-") {
                std::fs::remove_file(e.path())?;
            } else if let Some(n) = name
                .strip_suffix(".batch")
                .and_then(|n| n.parse::<u64>().ok())
            {
                let len = e.metadata()?.len();
                entries.insert(n, len);
                bytes += len;
            }
        }
        let counts = std::fs::read_to_string(dir.join("dropped"))
            .ok()
            .map(|s| {
                let v: Vec<u64> = s
                    .split_whitespace()
                    .filter_map(|w| w.split('=').nth(1)?.parse().ok())
                    .collect();
                SpoolCounts {
                    dropped_full: v.first().copied().unwrap_or(0),
                    dropped_write: v.get(1).copied().unwrap_or(0),
                    rejected: v.get(2).copied().unwrap_or(0),
                    ..SpoolCounts::default()
                }
            })
            .unwrap_or_default();
        Ok(Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            next: entries.keys().next_back().map_or(0, |n| n + 1),
            entries,
            bytes,
            counts,
        })
    }

    fn path(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n:020}.batch"))
    }

    fn persist_counts(&self) {
        let c = &self.counts;
        let text = format!(
            "dropped_full={} dropped_write={} rejected={}\n",
            c.dropped_full, c.dropped_write, c.rejected
        );
        // Best effort: the counts are also logged when they change.
        let _ = std::fs::write(self.dir.join("dropped"), text);
    }

    /// Writes a batch durably (fsync of the file and the folder) and returns its spool number.
    ///
    /// # Errors
    /// [`SpoolError`]; the batch is then dropped and counted.
    pub fn append(&mut self, batch: &IngestBatch) -> Result<u64, SpoolError> {
        let body = serde_json::to_vec(batch).expect("batches serialise");
        let len = body.len() as u64;
        if len > self.max_bytes {
            self.counts.dropped_write += 1;
            self.persist_counts();
            return Err(SpoolError::TooLarge(len));
        }
        while self.bytes + len > self.max_bytes {
            let (&n, _) = self.entries.iter().next().expect("bytes > 0 means entries");
            self.remove(n);
            self.counts.dropped_full += 1;
        }
        let n = self.next;
        let tmp = self.dir.join(format!("tmp-{n:020}"));
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&body)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.path(n))?;
            sync_dir(&self.dir)
        };
        if let Err(source) = write() {
            let _ = std::fs::remove_file(&tmp);
            self.counts.dropped_write += 1;
            self.persist_counts();
            return Err(SpoolError::Write {
                path: self.path(n),
                source,
            });
        }
        self.next += 1;
        self.entries.insert(n, len);
        self.bytes += len;
        self.counts.spooled += 1;
        if self.counts.dropped_full > 0 {
            self.persist_counts();
        }
        Ok(n)
    }

    fn remove(&mut self, n: u64) {
        if let Some(len) = self.entries.remove(&n) {
            self.bytes -= len;
            let _ = std::fs::remove_file(self.path(n));
            let _ = sync_dir(&self.dir);
        }
    }

    /// The oldest pending batch: its spool number and bytes (the batch's JSON).
    ///
    /// # Errors
    /// I/O errors reading it.
    pub fn oldest(&self) -> std::io::Result<Option<(u64, Vec<u8>)>> {
        match self.entries.keys().next() {
            None => Ok(None),
            Some(&n) => Ok(Some((n, std::fs::read(self.path(n))?))),
        }
    }

    /// The server acknowledged batch `n`: delete it.
    pub fn ack(&mut self, n: u64) {
        if self.entries.contains_key(&n) {
            self.remove(n);
            self.counts.acked += 1;
        }
    }

    /// The server refused batch `n` for good: move it to `rejected/` (kept for the operator) and count it.
    pub fn reject(&mut self, n: u64) {
        if let Some(len) = self.entries.remove(&n) {
            self.bytes -= len;
            let _ = std::fs::rename(
                self.path(n),
                self.dir.join("rejected").join(format!("{n:020}.batch")),
            );
            let _ = sync_dir(&self.dir);
            self.counts.rejected += 1;
            self.persist_counts();
        }
    }

    /// Pending batches.
    pub fn pending(&self) -> usize {
        self.entries.len()
    }

    /// Pending bytes.
    pub fn pending_bytes(&self) -> u64 {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(seq: u64, pad: usize) -> IngestBatch {
        IngestBatch {
            user: "u".into(),
            session: "x".repeat(pad.max(1)),
            device: None,
            batch_seq: seq,
            records: Vec::new(),
        }
    }

    #[test]
    fn survives_reopen_and_drops_oldest_when_full() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Spool::open(d.path(), 65_536).unwrap();
        for i in 0..3 {
            s.append(&batch(i, 10)).unwrap();
        }
        std::fs::write(d.path().join("tmp-00000000000000000009"), b"half").unwrap();
        drop(s);
        let mut s = Spool::open(d.path(), 65_536).unwrap();
        assert_eq!(s.pending(), 3);
        assert!(!d.path().join("tmp-00000000000000000009").exists());
        let (n, body) = s.oldest().unwrap().unwrap();
        let b: IngestBatch = serde_json::from_slice(&body).unwrap();
        assert_eq!((n, b.batch_seq), (0, 0));
        s.ack(0);
        assert_eq!(s.oldest().unwrap().unwrap().0, 1);
        // Fill: 30 KB batches in a 64 KB spool keep two.
        for i in 10..14 {
            s.append(&batch(i, 30_000)).unwrap();
        }
        assert_eq!(s.pending(), 2);
        assert_eq!(s.counts.dropped_full, 4);
        s.reject(s.oldest().unwrap().unwrap().0);
        drop(s);
        let s = Spool::open(d.path(), 65_536).unwrap();
        assert_eq!(
            (s.counts.dropped_full, s.counts.rejected, s.pending()),
            (4, 1, 1)
        );
        assert!(matches!(
            Spool::open(d.path(), 65_536)
                .unwrap()
                .append(&batch(1, 70_000)),
            Err(SpoolError::TooLarge(_))
        ));
    }
}
