//! The agent benchmark's parts (driven by `keyprint agent bench`): a synthetic live load written as kernel
//! `input_event` recordings in real time (keys at a steady rate with human-like holds, mouse motion at
//! another), and the measurement of a process's CPU time and peak resident set from `/proc`.

use crate::evdev::{EV_KEY, EV_REL, EV_SYN, InputEvent, REL_X, REL_Y, SYN_REPORT};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// A process's resource use.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcUsage {
    /// User + system CPU time, s.
    pub cpu_s: f64,
    /// Peak resident set (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// Resident set now (`VmRSS`), KiB.
    pub rss_kib: u64,
}

/// Reads `/proc/<pid>/stat` (utime, stime) and `/proc/<pid>/status` (VmHWM, VmRSS).
pub fn proc_usage(pid: u32) -> Option<ProcUsage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Some(ProcUsage {
        cpu_s: ticks / hz,
        peak_rss_kib: kib("VmHWM:"),
        rss_kib: kib("VmRSS:"),
    })
}

/// `seconds` of keys at `keys_per_s` (letters and spaces, holds 70–130 ms, gaps jittered ±40 %) starting at
/// `t0_us`, as `input_event`s in time order.
pub fn key_load(seconds: u64, keys_per_s: u32, t0_us: i64) -> Vec<InputEvent> {
    let letters = [30u16, 18, 20, 31, 19, 23, 24, 49, 57, 35, 38, 32];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let gap = 1_000_000 / i64::from(keys_per_s.max(1));
    let mut evs = Vec::new();
    let mut t = t0_us;
    let n = seconds * u64::from(keys_per_s);
    for i in 0..n {
        let code = letters[(i as usize * 7 + (rnd() * 3.0) as usize) % letters.len()];
        let hold = 70_000 + (rnd() * 60_000.0) as i64;
        for (at, v) in [(t, 1), (t + hold, 0)] {
            evs.push(InputEvent {
                time_us: at,
                kind: EV_KEY,
                code,
                value: v,
            });
            evs.push(InputEvent {
                time_us: at,
                kind: EV_SYN,
                code: SYN_REPORT,
                value: 0,
            });
        }
        t += (gap as f64 * (0.6 + 0.8 * rnd())) as i64;
    }
    evs.sort_by_key(|e| e.time_us);
    evs
}

/// `seconds` of relative mouse motion at `events_per_s` (a slow circle), starting at `t0_us`.
pub fn mouse_load(seconds: u64, events_per_s: u32, t0_us: i64) -> Vec<InputEvent> {
    let gap = 1_000_000 / i64::from(events_per_s.max(1));
    let n = seconds as i64 * i64::from(events_per_s);
    let mut evs = Vec::with_capacity(n as usize * 3);
    for i in 0..n {
        let t = t0_us + i * gap;
        let a = i as f64 / 40.0;
        evs.push(InputEvent {
            time_us: t,
            kind: EV_REL,
            code: REL_X,
            value: (6.0 * a.cos()) as i32,
        });
        evs.push(InputEvent {
            time_us: t,
            kind: EV_REL,
            code: REL_Y,
            value: (6.0 * a.sin()) as i32,
        });
        evs.push(InputEvent {
            time_us: t,
            kind: EV_SYN,
            code: SYN_REPORT,
            value: 0,
        });
    }
    evs
}

/// Appends `events` to the file at `path` as their times come (relative to the first event, from `start`):
/// a live device, for a reader that follows the file.
///
/// # Errors
/// I/O errors.
pub fn feed_realtime(path: &Path, events: &[InputEvent], start: Instant) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    let Some(t0) = events.first().map(|e| e.time_us) else {
        return Ok(());
    };
    let mut i = 0;
    while i < events.len() {
        let due = start + Duration::from_micros((events[i].time_us - t0) as u64);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let mut buf = Vec::new();
        let t = events[i].time_us;
        while i < events.len() && events[i].time_us == t {
            buf.extend_from_slice(&events[i].to_bytes());
            i += 1;
        }
        f.write_all(&buf)?;
    }
    Ok(())
}

fn key_of(c: char) -> keyprint_core::event::KeyId {
    keyprint_core::event::KeyId::code(if c == ' ' {
        "Space".to_string()
    } else {
        format!("Key{}", c.to_ascii_uppercase())
    })
}

/// Letters and spaces of `text` typed by a human-like hand from `t0_us`: holds 70–130 ms, press-to-press gaps
/// 120–300 ms (pseudo-random, fixed seed). Used by tests and replays.
pub fn human_keys(text: &str, t0_us: i64) -> Vec<keyprint_core::event::KeyEvent> {
    let mut x: u64 = 88_172_645_463_325_252;
    let mut rnd = move |n: i64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as i64
    };
    let mut p = t0_us;
    text.chars()
        .map(|c| {
            p += 120_000 + rnd(180_000);
            keyprint_core::event::KeyEvent::new(key_of(c), p, p + 70_000 + rnd(60_000))
                .expect("release after press")
        })
        .collect()
}

/// Letters and spaces of `text` typed at machine speed from `t0_us` (8 ms holds, 20 ms apart), as a
/// keystroke-injection device does.
pub fn machine_keys(text: &str, t0_us: i64) -> Vec<keyprint_core::event::KeyEvent> {
    text.chars()
        .enumerate()
        .map(|(i, c)| {
            let p = t0_us + i as i64 * 20_000;
            keyprint_core::event::KeyEvent::new(key_of(c), p, p + 8_000)
                .expect("release after press")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_have_the_asked_rates() {
        let k = key_load(10, 10, 0);
        assert_eq!(
            k.iter()
                .filter(|e| e.kind == EV_KEY && e.value == 1)
                .count(),
            100
        );
        assert!(k.windows(2).all(|w| w[0].time_us <= w[1].time_us));
        assert_eq!(mouse_load(10, 100, 0).len(), 3000);
        let me = proc_usage(std::process::id()).unwrap();
        assert!(me.peak_rss_kib > 0 && me.cpu_s >= 0.0);
    }
}
