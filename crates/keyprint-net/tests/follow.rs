//! Following live logs: appended lines, partial lines, rotation (rename + new file) and truncation.

mod common;

use std::io::Write;

use common::CONN_HEADER;
use keyprint_net::fs::{Follower, read_dir};

fn row(ts: f64, resp: &str) -> String {
    format!(
        "{ts:.6}\tC{ts}\t10.0.0.5\t40000\t{resp}\t443\ttcp\tssl\t0.1\t100\t200\tSF\t-\t-\t0\tShADadFf\t5\t400\t5\t600\t(empty)\n"
    )
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn follows_appends_partial_lines_and_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("conn.log");
    append(&live, &format!("{CONN_HEADER}{}", row(1.0, "192.0.2.1")));
    let mut f = Follower::new(dir.path(), false);
    assert_eq!(f.poll().unwrap().logs.conn.len(), 1);
    assert_eq!(f.poll().unwrap().logs.conn.len(), 0);

    // A partial line waits for its end.
    let r2 = row(2.0, "192.0.2.2");
    append(&live, &r2[..20]);
    assert_eq!(f.poll().unwrap().logs.conn.len(), 0);
    append(&live, &r2[20..]);
    let p = f.poll().unwrap();
    assert_eq!(p.logs.conn.len(), 1);
    assert_eq!(p.logs.conn[0].resp_h.to_string(), "192.0.2.2");
    assert!(p.report.rejected.is_empty());

    // Zeek rotates: the old file is renamed after one more row, a new one starts with its header.
    append(&live, &row(3.0, "192.0.2.3"));
    std::fs::rename(&live, dir.path().join("conn.2024-01-01-00-00-00.log")).unwrap();
    append(&live, &format!("{CONN_HEADER}{}", row(4.0, "192.0.2.4")));
    let p = f.poll().unwrap();
    assert_eq!(p.rotated, ["conn.log"]);
    let peers: Vec<String> = p.logs.conn.iter().map(|c| c.resp_h.to_string()).collect();
    assert_eq!(peers, ["192.0.2.3", "192.0.2.4"]);

    // Truncated in place (copytruncate): noticed by the shrinking size, then read from the top.
    std::fs::write(&live, "").unwrap();
    assert_eq!(f.poll().unwrap().rotated, ["conn.log"]);
    append(&live, &format!("{CONN_HEADER}{}", row(5.0, "192.0.2.5")));
    let p = f.poll().unwrap();
    assert_eq!(p.logs.conn.len(), 1);
    assert!(p.rotated.is_empty());

    // Both files are read by a folder scan, rotated names included.
    let read = read_dir(dir.path()).unwrap();
    assert_eq!(read.logs.conn.len(), 4);
}

#[test]
fn from_end_skips_what_is_already_there() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("conn.log");
    append(&live, &format!("{CONN_HEADER}{}", row(1.0, "192.0.2.1")));
    let mut f = Follower::new(dir.path(), true);
    assert_eq!(f.poll().unwrap().logs.conn.len(), 0);
    append(&live, &row(2.0, "192.0.2.2"));
    let p = f.poll().unwrap();
    assert_eq!(p.logs.conn.len(), 1, "{:?}", p.errors);
}
