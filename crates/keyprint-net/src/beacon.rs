//! Beaconing statistics on one (device, peer) series of connection attempts (times in seconds).
//!
//! Two methods, side by side on the same series:
//!
//! - [`regularity`] — keyprint's, built to speak within minutes. Attempts closer than `merge_gap_s` to
//!   the previous one are merged (a browser's parallel connections are one event). With `n` events and
//!   the `n − 1` intervals Δ, the statistic is the **robust coefficient of variation**
//!   `rCV = 1.4826 · MAD(Δ) / median(Δ)` (MAD = median absolute deviation about the median; 1.4826 makes
//!   it a standard-deviation estimate for normal data). For a memoryless (Poisson) arrival process the
//!   intervals are exponential and `rCV ≈ 1.03`; a timer with ±20 % uniform jitter gives `rCV ≈ 0.15`;
//!   a missed beat or two moves the median and MAD little. Every attempt counts, failed ones included
//!   (a beacon whose server is down still knocks). It needs only `min_events` events (6 by default: five
//!   minutes of a one-minute beacon).
//! - [`rita_score`] — RITA's beacon score (Active Countermeasures, `activecm/rita`, beacon analyzer,
//!   v3/v4 formulas): timestamp score = mean of `1 − |Bowley skew(Δ)|`, `max(0, 1 − MADM(Δ)/30 s)` and the
//!   connection-count score `min(1, n / (dataset span / 10 s))`; data-size score = mean of
//!   `1 − |Bowley skew(sent bytes)|`, `max(0, 1 − MADM(bytes)/32)` and smallness `max(0, 1 − mode/65535)`.
//!   keyprint adds RITA v5's **duration coverage** `(last − first) / dataset span` as a third sub-score and
//!   reports the mean of the three (RITA v5's histogram score is not implemented). The count score is
//!   why RITA needs hours: over a 24 h span a one-minute beacon reaches only 1440/8640 ≈ 0.17.

use keyprint_core::stats::quantile_sorted;

/// Median of values (sorted copy); NaN when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    quantile_sorted(&s, 0.5)
}

/// Median absolute deviation about the median (unscaled); NaN when empty.
pub fn mad(v: &[f64]) -> f64 {
    let m = median(v);
    let d: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
    median(&d)
}

/// Bowley's quartile skewness `(Q3 + Q1 − 2·Q2) / (Q3 − Q1)`, or 0 when it is undefined (as RITA does:
/// when `Q3 = Q1`, `Q2 = Q1` or `Q2 = Q3`).
pub fn bowley_skew(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let (q1, q2, q3) = (
        quantile_sorted(&s, 0.25),
        quantile_sorted(&s, 0.5),
        quantile_sorted(&s, 0.75),
    );
    let den = q3 - q1;
    if den == 0.0 || q2 == q1 || q2 == q3 {
        0.0
    } else {
        (q3 + q1 - 2.0 * q2) / den
    }
}

/// keyprint's beacon statistic for one series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularity {
    /// Events after merging attempts closer than the merge gap.
    pub events: usize,
    /// Median interval, seconds.
    pub median_interval_s: f64,
    /// Robust coefficient of variation of the intervals (dimensionless, ≥ 0; lower = more regular).
    pub rcv: f64,
}

/// keyprint's regularity statistic over attempt times `ts_s` (any order). `None` with fewer than 3 events.
pub fn regularity(ts_s: &[f64], merge_gap_s: f64) -> Option<Regularity> {
    let mut t = ts_s.to_vec();
    t.sort_by(f64::total_cmp);
    let mut events: Vec<f64> = Vec::with_capacity(t.len());
    for x in t {
        match events.last() {
            Some(&last) if x - last < merge_gap_s => {}
            _ => events.push(x),
        }
    }
    if events.len() < 3 {
        return None;
    }
    let d: Vec<f64> = events.windows(2).map(|w| w[1] - w[0]).collect();
    let m = median(&d);
    if m.is_nan() || m <= 0.0 {
        return None;
    }
    Some(Regularity {
        events: events.len(),
        median_interval_s: m,
        rcv: 1.4826 * mad(&d) / m,
    })
}

/// RITA's beacon score and its parts for one series (all in `[0, 1]`, higher = more beacon-like).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RitaScore {
    /// Connections.
    pub connections: usize,
    /// Timestamp score (skew, MADM, connection count).
    pub ts_score: f64,
    /// Data-size score (skew, MADM, smallness) of sent bytes.
    pub ds_score: f64,
    /// Duration coverage of the dataset's span.
    pub dur_score: f64,
    /// Mean of the three.
    pub score: f64,
}

/// RITA's score for attempt times `ts_s` with sent bytes `bytes` (same order), in a dataset spanning
/// `span_s` seconds. `None` with fewer than 3 connections.
pub fn rita_score(ts_s: &[f64], bytes: &[f64], span_s: f64) -> Option<RitaScore> {
    if ts_s.len() < 3 {
        return None;
    }
    let mut t = ts_s.to_vec();
    t.sort_by(f64::total_cmp);
    let d: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let span = span_s.max(1e-9);
    let ts_skew = 1.0 - bowley_skew(&d).abs();
    let ts_madm = (1.0 - mad(&d) / 30.0).max(0.0);
    let ts_count = (t.len() as f64 / (span / 10.0)).min(1.0);
    let ts_score = (ts_skew + ts_madm + ts_count) / 3.0;
    let ds_skew = 1.0 - bowley_skew(bytes).abs();
    let ds_madm = (1.0 - mad(bytes) / 32.0).max(0.0);
    let ds_small = (1.0 - mode(bytes) / 65535.0).max(0.0);
    let ds_score = if bytes.is_empty() {
        0.0
    } else {
        (ds_skew + ds_madm + ds_small) / 3.0
    };
    let dur_score = ((t[t.len() - 1] - t[0]) / span).clamp(0.0, 1.0);
    Some(RitaScore {
        connections: t.len(),
        ts_score,
        ds_score,
        dur_score,
        score: (ts_score + ds_score + dur_score) / 3.0,
    })
}

/// The most frequent value (smallest among ties); 0 when empty.
fn mode(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let (mut best, mut best_n, mut i) = (0.0, 0, 0);
    while i < s.len() {
        let j = s[i..].iter().take_while(|&&x| x == s[i]).count();
        if j > best_n {
            best = s[i];
            best_n = j;
        }
        i += j;
    }
    best
}
