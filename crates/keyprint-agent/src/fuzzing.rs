//! Bodies of the agent's cargo-fuzz targets (`fuzz/fuzz_targets/agent_input_events.rs`,
//! `agent_spool.rs`): plain functions, so a proptest in every `cargo test` runs them too (`tests/readers.rs`).
//! Each takes any bytes and panics only when an invariant breaks.

use crate::evdev::{Assembler, Captured, Decoder, EVENT_SIZE, InputEvent};
use crate::spool::Spool;
use std::sync::atomic::{AtomicU64, Ordering};

/// Any bytes as an `input_event` stream (`/dev/input/eventN` or a recording), cut in two reads at a place
/// chosen by the first byte, then assembled; also through the uevent parser. Checks: every complete record
/// is either decoded or rejected and counted; the trailing partial record is kept; a decoded record encodes
/// back to the same 24 bytes; keystrokes have release ≥ press, and no more come out than presses went in;
/// the pointer stays on the 1920 × 1080 screen. (Keystrokes come in arrival order: a timestamp that goes
/// back — a `CLOCK_REALTIME` step — is passed on as it is, so press times need not increase.)
pub fn input_events(data: &[u8]) {
    let _ = crate::uevent::parse(data);
    let cut = data.first().map_or(0, |&b| usize::from(b)) % (data.len() + 1);
    let mut d = Decoder::new("fuzz");
    let mut evs = Vec::new();
    d.push(&data[..cut], &mut evs);
    d.push(&data[cut..], &mut evs);
    assert_eq!(
        evs.len() as u64 + d.rejected,
        (data.len() / EVENT_SIZE) as u64
    );
    assert_eq!(d.trailing_bytes(), data.len() % EVENT_SIZE);
    let mut k = 0;
    for chunk in data.chunks_exact(EVENT_SIZE) {
        let rec: &[u8; EVENT_SIZE] = chunk.try_into().expect("24 bytes");
        if let Ok(e) = InputEvent::parse(rec, "fuzz", 0) {
            assert_eq!(&e.to_bytes(), rec);
            assert_eq!(evs[k], e);
            k += 1;
        }
    }
    let mut a = Assembler::new(1920.0, 1080.0);
    let mut out = Vec::new();
    for e in &evs {
        a.push(e, &mut out);
    }
    let presses = evs
        .iter()
        .filter(|e| e.kind == crate::evdev::EV_KEY && e.value == 1)
        .count();
    let mut keys = 0;
    for c in &out {
        match c {
            Captured::Key(key) => {
                assert!(key.release_us >= key.press_us);
                keys += 1;
            }
            Captured::Mouse(m) => {
                assert!((0.0..=1920.0).contains(&m.x_px) && (0.0..=1080.0).contains(&m.y_px));
            }
        }
    }
    assert!(keys <= presses);
}

static RUN: AtomicU64 = AtomicU64::new(0);

/// Any bytes as a spool folder found at start: the parts between `0xff` bytes become, in order, the
/// `dropped` counts file, batch files `00…0.batch`, `00…1.batch`, …, and a leftover `tmp-` write. Checks:
/// the spool opens; the leftover is removed; every batch is pending and read back byte for byte, oldest
/// first; a batch that parses as `IngestBatch` survives a round trip; acknowledging empties it; a new batch
/// appends after the highest number.
pub fn spool_reader(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!(
        "keyprint-fuzz-spool-{}-{}",
        std::process::id(),
        RUN.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let mut parts = data.split(|&b| b == 0xff);
    std::fs::write(dir.join("dropped"), parts.next().unwrap_or_default()).expect("write");
    let batches: Vec<&[u8]> = parts.collect();
    let (tmp, batches) = match batches.split_last() {
        Some((t, b)) if !b.is_empty() => (Some(*t), b),
        _ => (None, &batches[..]),
    };
    for (i, b) in batches.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:020}.batch")), b).expect("write");
    }
    if let Some(t) = tmp {
        std::fs::write(dir.join("tmp-00000000000000000099"), t).expect("write");
    }
    let mut s = Spool::open(&dir, 1 << 20).expect("a spool folder always opens");
    assert!(!dir.join("tmp-00000000000000000099").exists());
    assert_eq!(s.pending(), batches.len());
    for b in batches {
        let (n, body) = s.oldest().expect("read").expect("pending");
        assert_eq!(&body[..], *b);
        if let Ok(batch) = serde_json::from_slice::<keyprint_wire::IngestBatch>(&body) {
            let again = serde_json::to_vec(&batch).expect("serialises");
            let back: keyprint_wire::IngestBatch =
                serde_json::from_slice(&again).expect("round trip");
            assert_eq!(back.batch_seq, batch.batch_seq);
        }
        s.ack(n);
    }
    assert_eq!(s.pending(), 0);
    let batch = keyprint_wire::IngestBatch {
        user: "u".into(),
        session: "s".into(),
        device: None,
        batch_seq: 0,
        records: Vec::new(),
    };
    assert_eq!(s.append(&batch).expect("append"), batches.len() as u64);
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
