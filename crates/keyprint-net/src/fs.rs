//! The only I/O of keyprint-net: reading a folder of Zeek logs, and following live logs through
//! rotation. Everything else in the crate works on bytes and records.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use keyprint_datasets::ReadReport;

use crate::record::Logs;
use crate::zeek::{LogError, LogKind, parse_log};

/// What reading one file gave.
#[derive(Clone, Debug)]
pub struct FileRead {
    /// The file's path.
    pub path: PathBuf,
    /// Its kind (`Other` for logs the engine does not read).
    pub kind: LogKind,
    /// Its rows' accounting (empty for skipped or failed files).
    pub report: ReadReport,
    /// Set when the whole file could not be read.
    pub error: Option<String>,
}

/// A folder's logs and the accounting of every file.
#[derive(Clone, Debug, Default)]
pub struct DirRead {
    /// All records of the readable logs.
    pub logs: Logs,
    /// One entry per file looked at, in name order.
    pub files: Vec<FileRead>,
}

impl DirRead {
    /// Rows accepted and rejected over all files, and files that failed whole.
    pub fn totals(&self) -> (u64, usize, usize) {
        let acc = self.files.iter().map(|f| f.report.accepted).sum();
        let rej = self.files.iter().map(|f| f.report.rejected.len()).sum();
        let failed = self.files.iter().filter(|f| f.error.is_some()).count();
        (acc, rej, failed)
    }
}

fn is_log_name(name: &str) -> bool {
    name.ends_with(".log") || name.ends_with(".log.labeled") || name.ends_with(".labeled")
}

/// Reads every `*.log` (and Stratosphere `*.log.labeled`) file of `dir` (not recursive). Files of a kind
/// the engine does not read are listed and skipped; a file that is not a Zeek log is listed with its
/// error and the others are still read.
///
/// # Errors
/// Only when the folder itself cannot be listed.
pub fn read_dir(dir: &Path) -> std::io::Result<DirRead> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_log_name)
        })
        .collect();
    paths.sort();
    let mut out = DirRead::default();
    for path in paths {
        let name = path.to_string_lossy().into_owned();
        let kind = LogKind::from_name(&name);
        if let LogKind::Other(_) = kind {
            out.files.push(FileRead {
                path,
                kind,
                report: ReadReport::default(),
                error: None,
            });
            continue;
        }
        let read = std::fs::read(&path).map_err(|e| e.to_string());
        let (kind, report, error) =
            match read.and_then(|b| parse_log(&name, &b).map_err(|e| e.to_string())) {
                Ok(p) => {
                    out.logs.extend(p.logs);
                    (p.kind, p.report, None)
                }
                Err(e) => (kind, ReadReport::default(), Some(e)),
            };
        out.files.push(FileRead {
            path,
            kind,
            report,
            error,
        });
    }
    Ok(out)
}

/// Follows the live logs of a Zeek folder (`conn.log`, `dns.log`, `ssl.log`, `http.log`, `dhcp.log`):
/// each [`Follower::poll`] returns the complete lines written since the last poll. Rotation (Zeek renames
/// `conn.log` to `conn.<time>.log` and starts a new one) is noticed by the file's identity (inode) or a
/// shrinking size; the rest of a renamed file, when it is still in the folder, is read before the new
/// file. Limit: a file truncated in place and rewritten past the old end between two polls is not
/// noticed (its identity and size give no sign); Zeek's own rotation renames, so it does not do that.
#[derive(Debug)]
pub struct Follower {
    dir: PathBuf,
    tails: HashMap<String, Tail>,
}

#[derive(Debug, Default)]
struct Tail {
    id: u64,
    offset: u64,
    header: Vec<u8>,
}

/// What one poll read.
#[derive(Debug, Default)]
pub struct Polled {
    /// New records.
    pub logs: Logs,
    /// Accounting of the new rows.
    pub report: ReadReport,
    /// Chunks that could not be parsed at all.
    pub errors: Vec<LogError>,
    /// Files noticed as rotated or truncated.
    pub rotated: Vec<String>,
}

const LIVE: &[&str] = &["conn.log", "dns.log", "ssl.log", "http.log", "dhcp.log"];

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.ino()
}

#[cfg(not(unix))]
fn file_id(_m: &std::fs::Metadata) -> u64 {
    0
}

impl Follower {
    /// Follows `dir` from the start of its current files (`from_end = false`) or from their current end.
    pub fn new(dir: &Path, from_end: bool) -> Follower {
        let mut tails = HashMap::new();
        if from_end {
            for name in LIVE {
                let p = dir.join(name);
                if let Ok(m) = std::fs::metadata(&p) {
                    let header = read_header(&p).unwrap_or_default();
                    tails.insert(
                        name.to_string(),
                        Tail {
                            id: file_id(&m),
                            offset: m.len(),
                            header,
                        },
                    );
                }
            }
        }
        Follower {
            dir: dir.to_path_buf(),
            tails,
        }
    }

    /// Reads what was appended since the last poll.
    ///
    /// # Errors
    /// I/O errors other than a file being absent.
    pub fn poll(&mut self) -> std::io::Result<Polled> {
        let mut out = Polled::default();
        for name in LIVE {
            let path = self.dir.join(name);
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let id = file_id(&meta);
            let tail = self.tails.entry(name.to_string()).or_insert_with(|| Tail {
                id,
                ..Tail::default()
            });
            if tail.id != id || meta.len() < tail.offset {
                out.rotated.push(name.to_string());
                if tail.id != id
                    && let Some(old) = find_by_id(&self.dir, tail.id, name)
                {
                    read_chunk(&old, name, tail, &mut out)?;
                }
                *tail = Tail {
                    id,
                    ..Tail::default()
                };
            }
            read_chunk(&path, name, tail, &mut out)?;
        }
        Ok(out)
    }
}

fn find_by_id(dir: &Path, id: u64, live: &str) -> Option<PathBuf> {
    let stem = live.trim_end_matches(".log");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(stem) && n != live)
                && std::fs::metadata(p).is_ok_and(|m| file_id(&m) == id)
        })
}

fn read_header(p: &Path) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(p)?;
    let mut buf = vec![0; 64 * 1024];
    let n = f.read(&mut buf)?;
    buf.truncate(n);
    Ok(header_of(&buf))
}

/// The leading `#` lines of a chunk (a TSV header), as bytes.
fn header_of(b: &[u8]) -> Vec<u8> {
    let mut end = 0;
    for line in b.split_inclusive(|&c| c == b'\n') {
        if line.trim_ascii_start().starts_with(b"#") && line.ends_with(b"\n") {
            end += line.len();
        } else {
            break;
        }
    }
    b[..end].to_vec()
}

fn read_chunk(path: &Path, name: &str, tail: &mut Tail, out: &mut Polled) -> std::io::Result<()> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(tail.offset))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let Some(last_nl) = buf.iter().rposition(|&c| c == b'\n') else {
        return Ok(());
    };
    buf.truncate(last_nl + 1);
    tail.offset += buf.len() as u64;
    let text = if tail.header.is_empty() {
        tail.header = header_of(&buf);
        buf
    } else {
        let mut t = tail.header.clone();
        t.extend_from_slice(&buf);
        t
    };
    if text.len() == tail.header.len() {
        return Ok(());
    }
    match parse_log(name, &text) {
        Ok(p) => {
            out.logs.extend(p.logs);
            out.report.merge(p.report);
        }
        Err(e) => out.errors.push(e),
    }
    Ok(())
}
