//! Streaming clean-up of raw mouse events and their segmentation into actions.
//!
//! # Actions
//! After Ahmed & Traore (IEEE TDSC 2007) and Antal & Egyed-Zsigmond (IET Biometrics 2019, "Intrusion detection
//! using mouse dynamics"), a session is cut into three kinds of action:
//! * [`ActionKind::MouseMove`] — pointer movement with no button held, ended by a pause longer than
//!   [`SegmentRules::max_pause_us`] (Antal: 10 s), a scroll, a jump, or the end of the stream;
//! * [`ActionKind::PointClick`] — the movement since the previous action ended, followed by a button press
//!   and its release with no drag in between (left and right clicks alike);
//! * [`ActionKind::DragDrop`] — a press, drag samples, and the release. Movement before the press is emitted
//!   as a separate `MouseMove` (Antal's "sequence ending in a release is split into MM + DD").
//!
//! Actions with fewer than [`SegmentRules::min_points`] samples are discarded and counted (`too_short`):
//! velocity, acceleration and jerk need at least 4 samples.
//!
//! # Artefact rules (RDP captures)
//! Each rule fires on any source (Balabit, the generic files, live capture) and is counted in
//! [`SegmentCounts`]:
//! * `out_of_screen` — a coordinate below 0 or above [`SegmentRules::max_coord_px`] (Balabit logs 65535 when
//!   the pointer leaves the remote screen): a Move/Drag sample is dropped; a press, release or scroll keeps
//!   its kind and takes the last on-screen position (dropped only if there is none yet).
//! * `time_backwards` — a timestamp earlier than the previous one: clamped to the previous timestamp.
//! * `duplicate` — an event identical (time, position, button, kind) to the previous one: dropped.
//! * `repeated_timestamp` — a Move/Drag sample with the same timestamp as the previous Move/Drag sample but
//!   another position (RDP packs several samples in one packet): the earlier sample is superseded by the later
//!   one, so no velocity is ever computed over a zero time step.
//! * `jump` — a step longer than [`SegmentRules::jump_px`] completed in at most
//!   [`SegmentRules::jump_max_dt_us`] (no hand moves a pointer that far that fast; RDP re-syncs do): the
//!   current action ends before the jump, which starts the next one.
//! * `pause_split` — a gap longer than `max_pause_us` ends the current action (a segmentation rule, counted
//!   for the record).
//! * `release_without_press`, `press_without_release`, `drag_without_press` — unmatched button events: the
//!   release is ignored; a second press replaces the first (whose sample is removed); a press still open when
//!   the action ends is removed with the samples after it; a drag with no press is treated as a move.
//! * `scroll` — wheel events end the current action and are not themselves actions.

use keyprint_core::event::{MouseEvent, MouseEventKind};

/// Kind of mouse action (Ahmed & Traore 2007).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ActionKind {
    /// Movement with no button held.
    MouseMove,
    /// Movement followed by a click (press and release, no drag).
    PointClick,
    /// Press, drag, release.
    DragDrop,
}

impl ActionKind {
    /// Stable short name (`"MouseMove"`, `"PointClick"`, `"DragDrop"`).
    pub fn name(self) -> &'static str {
        match self {
            ActionKind::MouseMove => "MouseMove",
            ActionKind::PointClick => "PointClick",
            ActionKind::DragDrop => "DragDrop",
        }
    }
}

/// One action: its kind and its samples (cleaned events, time-ordered, no two Move/Drag samples sharing a
/// timestamp). For a `PointClick`/`DragDrop`, the last two relevant samples are the press (at
/// `press_index`) and the release (last sample).
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// Kind.
    pub kind: ActionKind,
    /// Samples, in time order.
    pub points: Vec<MouseEvent>,
    /// Index of the press in `points` for clicks and drags; `None` for moves.
    pub press_index: Option<usize>,
}

impl Action {
    /// Start time, µs.
    pub fn start_us(&self) -> i64 {
        self.points.first().map_or(0, |p| p.t_us)
    }
    /// End time, µs.
    pub fn end_us(&self) -> i64 {
        self.points.last().map_or(0, |p| p.t_us)
    }
}

/// Thresholds of the clean-up and segmentation rules (module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SegmentRules {
    /// A gap between two samples longer than this ends the current action, µs (Antal: 10 s).
    pub max_pause_us: i64,
    /// Minimum samples for an action to be kept (default 4).
    pub min_points: usize,
    /// Largest valid coordinate, px (default 16384; Balabit writes 65535 off-screen).
    pub max_coord_px: f64,
    /// A step at least this long, px ...
    pub jump_px: f64,
    /// ... made within at most this time, µs, is a jump (defaults 800 px within 20 ms, i.e. ≥ 40 000 px/s).
    pub jump_max_dt_us: i64,
}

impl Default for SegmentRules {
    fn default() -> Self {
        SegmentRules {
            max_pause_us: 10_000_000,
            min_points: 4,
            max_coord_px: 16_384.0,
            jump_px: 800.0,
            jump_max_dt_us: 20_000,
        }
    }
}

/// How often each clean-up and segmentation rule fired (module docs name the rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SegmentCounts {
    /// Events given to the segmenter.
    pub events_in: u64,
    /// Off-screen coordinates (sample dropped or position replaced).
    pub out_of_screen: u64,
    /// Timestamps clamped to the previous one.
    pub time_backwards: u64,
    /// Exact repeats of the previous event, dropped.
    pub duplicate: u64,
    /// Move/Drag samples superseded by a later sample with the same timestamp.
    pub repeated_timestamp: u64,
    /// Jumps that split an action.
    pub jump: u64,
    /// Pauses that split an action.
    pub pause_split: u64,
    /// Releases with no press, ignored.
    pub release_without_press: u64,
    /// Presses that followed a press with no release (click restarted).
    pub press_without_release: u64,
    /// Drag samples with no press, treated as moves.
    pub drag_without_press: u64,
    /// Wheel events (end the current action).
    pub scroll: u64,
    /// Actions discarded for having fewer than `min_points` samples, by kind (MouseMove, PointClick, DragDrop).
    pub too_short: [u64; 3],
    /// Actions emitted, by kind (MouseMove, PointClick, DragDrop).
    pub actions: [u64; 3],
}

impl SegmentCounts {
    /// Every counter as `(rule name, count)`, for reports.
    pub fn pairs(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = [
            ("events_in", self.events_in),
            ("out_of_screen", self.out_of_screen),
            ("time_backwards", self.time_backwards),
            ("duplicate", self.duplicate),
            ("repeated_timestamp", self.repeated_timestamp),
            ("jump", self.jump),
            ("pause_split", self.pause_split),
            ("release_without_press", self.release_without_press),
            ("press_without_release", self.press_without_release),
            ("drag_without_press", self.drag_without_press),
            ("scroll", self.scroll),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (i, k) in ["MouseMove", "PointClick", "DragDrop"].iter().enumerate() {
            v.push((format!("too_short_{k}"), self.too_short[i]));
        }
        for (i, k) in ["MouseMove", "PointClick", "DragDrop"].iter().enumerate() {
            v.push((format!("actions_{k}"), self.actions[i]));
        }
        v
    }

    /// Adds another segmenter's counts.
    pub fn merge(&mut self, o: &SegmentCounts) {
        self.events_in += o.events_in;
        self.out_of_screen += o.out_of_screen;
        self.time_backwards += o.time_backwards;
        self.duplicate += o.duplicate;
        self.repeated_timestamp += o.repeated_timestamp;
        self.jump += o.jump;
        self.pause_split += o.pause_split;
        self.release_without_press += o.release_without_press;
        self.press_without_release += o.press_without_release;
        self.drag_without_press += o.drag_without_press;
        self.scroll += o.scroll;
        for i in 0..3 {
            self.too_short[i] += o.too_short[i];
            self.actions[i] += o.actions[i];
        }
    }
}

fn is_motion(k: MouseEventKind) -> bool {
    matches!(k, MouseEventKind::Move | MouseEventKind::Drag)
}

/// Streaming segmenter: feed events one at a time with [`push`](Self::push), collect finished actions;
/// call [`finish`](Self::finish) at the end of the stream. Memory is one action's samples.
#[derive(Clone, Debug)]
pub struct Segmenter {
    rules: SegmentRules,
    counts: SegmentCounts,
    /// Last accepted raw event (after the clamp and off-screen rules), for the duplicate rule.
    last_raw: Option<MouseEvent>,
    /// Last on-screen position and time.
    last_pos: Option<(f64, f64)>,
    last_t: Option<i64>,
    /// A Move/Drag sample held back until we know no later sample shares its timestamp.
    pending: Option<MouseEvent>,
    cur: Vec<MouseEvent>,
    press: Option<usize>,
    dragged: bool,
}

impl Segmenter {
    /// A segmenter with these rules.
    pub fn new(rules: SegmentRules) -> Self {
        Segmenter {
            rules,
            counts: SegmentCounts::default(),
            last_raw: None,
            last_pos: None,
            last_t: None,
            pending: None,
            cur: Vec::new(),
            press: None,
            dragged: false,
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &SegmentCounts {
        &self.counts
    }

    /// Feeds one raw event; finished actions (zero, one or two) are appended to `out`.
    pub fn push(&mut self, ev: MouseEvent, out: &mut Vec<Action>) {
        self.counts.events_in += 1;
        let mut ev = ev;
        // Rule time_backwards.
        if let Some(t) = self.last_t
            && ev.t_us < t
        {
            ev.t_us = t;
            self.counts.time_backwards += 1;
        }
        // Rule out_of_screen.
        let off = |v: f64| !(0.0..=self.rules.max_coord_px).contains(&v);
        if off(ev.x_px) || off(ev.y_px) {
            self.counts.out_of_screen += 1;
            match (is_motion(ev.kind), self.last_pos) {
                (false, Some((x, y))) => {
                    ev.x_px = x;
                    ev.y_px = y;
                }
                _ => return,
            }
        }
        // Rule duplicate.
        if self.last_raw == Some(ev) {
            self.counts.duplicate += 1;
            return;
        }
        self.last_raw = Some(ev);
        self.last_t = Some(ev.t_us);
        self.last_pos = Some((ev.x_px, ev.y_px));
        // Rule repeated_timestamp: hold motion samples back one step.
        if let Some(p) = self.pending.take() {
            if is_motion(ev.kind) && p.t_us == ev.t_us {
                self.counts.repeated_timestamp += 1;
                self.pending = Some(ev);
                return;
            }
            self.step(p, out);
        }
        if is_motion(ev.kind) {
            self.pending = Some(ev);
        } else {
            self.step(ev, out);
        }
    }

    /// Ends the stream: flushes the held-back sample and the current action (an unreleased press is
    /// discarded with it, counted as `press_without_release`). Returns the final counts.
    pub fn finish(&mut self, out: &mut Vec<Action>) -> SegmentCounts {
        if let Some(p) = self.pending.take() {
            self.step(p, out);
        }
        self.close(out);
        self.counts.clone()
    }

    /// Feeds a whole event slice and finishes: the batch form of the segmenter.
    pub fn segment(events: &[MouseEvent], rules: SegmentRules) -> (Vec<Action>, SegmentCounts) {
        let mut s = Segmenter::new(rules);
        let mut out = Vec::new();
        for &e in events {
            s.push(e, &mut out);
        }
        let c = s.finish(&mut out);
        (out, c)
    }

    fn emit(
        &mut self,
        kind: ActionKind,
        points: Vec<MouseEvent>,
        press: Option<usize>,
        out: &mut Vec<Action>,
    ) {
        let k = kind as usize;
        if points.len() < self.rules.min_points {
            if !points.is_empty() {
                self.counts.too_short[k] += 1;
            }
            return;
        }
        self.counts.actions[k] += 1;
        out.push(Action {
            kind,
            points,
            press_index: press,
        });
    }

    /// Closes the current action as a move (an unreleased press is dropped with its samples after it).
    fn close(&mut self, out: &mut Vec<Action>) {
        let mut pts = std::mem::take(&mut self.cur);
        if let Some(p) = self.press.take() {
            self.counts.press_without_release += 1;
            pts.truncate(p);
        }
        self.dragged = false;
        self.emit(ActionKind::MouseMove, pts, None, out);
    }

    fn step(&mut self, ev: MouseEvent, out: &mut Vec<Action>) {
        if let Some(last) = self.cur.last() {
            let dt = ev.t_us - last.t_us;
            if dt > self.rules.max_pause_us {
                self.counts.pause_split += 1;
                self.close(out);
            } else if is_motion(ev.kind)
                && dt <= self.rules.jump_max_dt_us
                && (ev.x_px - last.x_px).hypot(ev.y_px - last.y_px) >= self.rules.jump_px
            {
                self.counts.jump += 1;
                self.close(out);
            }
        }
        match ev.kind {
            MouseEventKind::Move => self.cur.push(ev),
            MouseEventKind::Drag => {
                if self.press.is_some() {
                    self.dragged = true;
                } else {
                    self.counts.drag_without_press += 1;
                }
                self.cur.push(ev);
            }
            MouseEventKind::Press => {
                if let Some(p) = self.press {
                    self.counts.press_without_release += 1;
                    self.cur.remove(p);
                    self.dragged = false;
                }
                self.press = Some(self.cur.len());
                self.cur.push(ev);
            }
            MouseEventKind::Release => {
                let Some(p) = self.press.take() else {
                    self.counts.release_without_press += 1;
                    return;
                };
                let mut pts = std::mem::take(&mut self.cur);
                pts.push(ev);
                if std::mem::take(&mut self.dragged) {
                    let dd = pts.split_off(p);
                    self.emit(ActionKind::MouseMove, pts, None, out);
                    self.emit(ActionKind::DragDrop, dd, Some(0), out);
                } else {
                    self.emit(ActionKind::PointClick, pts, Some(p), out);
                }
            }
            MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
                self.counts.scroll += 1;
                self.close(out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_core::event::MouseButton;

    fn ev(t_ms: i64, x: f64, y: f64, kind: MouseEventKind) -> MouseEvent {
        let button = match kind {
            MouseEventKind::Move => MouseButton::None,
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => MouseButton::Wheel,
            _ => MouseButton::Left,
        };
        MouseEvent {
            t_us: t_ms * 1000,
            x_px: x,
            y_px: y,
            button,
            kind,
        }
    }
    use MouseEventKind::*;

    fn moves(t0: i64, n: usize, x0: f64) -> Vec<MouseEvent> {
        (0..n)
            .map(|i| ev(t0 + 10 * i as i64, x0 + 5.0 * i as f64, 100.0, Move))
            .collect()
    }

    #[test]
    fn move_click_drag_with_known_answer() {
        // 5 moves, pause 11 s, 4 moves + click, then 2 moves, press, 3 drags, release.
        let mut e = moves(0, 5, 0.0);
        e.extend(moves(11_100, 4, 100.0));
        e.push(ev(11_140, 120.0, 100.0, Press));
        e.push(ev(11_200, 120.0, 100.0, Release));
        e.extend(moves(11_300, 2, 200.0));
        e.push(ev(11_320, 205.0, 100.0, Press));
        for i in 1..=3 {
            e.push(ev(11_320 + 10 * i, 205.0 + 10.0 * i as f64, 100.0, Drag));
        }
        e.push(ev(11_400, 235.0, 100.0, Release));
        let (a, c) = Segmenter::segment(&e, SegmentRules::default());
        let kinds: Vec<_> = a.iter().map(|a| (a.kind, a.points.len())).collect();
        assert_eq!(
            kinds,
            vec![
                (ActionKind::MouseMove, 5),
                (ActionKind::PointClick, 6),
                (ActionKind::DragDrop, 5),
            ]
        );
        // The 2 moves before the drag are too short to be a MouseMove.
        assert_eq!(c.too_short, [1, 0, 0]);
        assert_eq!(c.pause_split, 1);
        assert_eq!(a[1].press_index, Some(4));
        assert_eq!(a[2].press_index, Some(0));
    }

    #[test]
    fn artefact_rules_counted() {
        let mut e = vec![ev(0, 10.0, 10.0, Move)];
        e.push(ev(10, 12.0, 10.0, Move));
        e.push(ev(10, 14.0, 10.0, Move)); // repeated timestamp, supersedes (12,10)
        e.push(ev(10, 14.0, 10.0, Move)); // duplicate
        e.push(ev(5, 16.0, 10.0, Move)); // time backwards -> t=10, then repeated timestamp
        e.push(ev(20, 65535.0, 65535.0, Move)); // off screen, dropped
        e.push(ev(30, 18.0, 10.0, Move));
        e.push(ev(40, 20.0, 10.0, Move));
        e.push(ev(45, 1500.0, 10.0, Move)); // jump: 1480 px in 5 ms
        e.push(ev(55, 1502.0, 10.0, Move));
        e.push(ev(56, 1502.0, 10.0, Release)); // release without press
        e.push(ev(60, 1503.0, 10.0, ScrollDown)); // scroll ends the 2-sample move (too short)
        let (a, c) = Segmenter::segment(&e, SegmentRules::default());
        assert_eq!(c.repeated_timestamp, 2);
        assert_eq!(c.duplicate, 1);
        assert_eq!(c.time_backwards, 1);
        assert_eq!(c.out_of_screen, 1);
        assert_eq!(c.jump, 1);
        assert_eq!(c.release_without_press, 1);
        assert_eq!(c.scroll, 1);
        assert_eq!(c.too_short, [1, 0, 0]);
        assert_eq!(a.len(), 1);
        let xs: Vec<f64> = a[0].points.iter().map(|p| p.x_px).collect();
        assert_eq!(xs, vec![10.0, 16.0, 18.0, 20.0]);
        // No two samples of an action share a timestamp.
        assert!(a[0].points.windows(2).all(|w| w[1].t_us > w[0].t_us));
    }

    #[test]
    fn unmatched_buttons() {
        let mut e = moves(0, 4, 0.0);
        e.push(ev(40, 20.0, 100.0, Press));
        e.extend(moves(50, 4, 20.0));
        e.push(ev(90, 40.0, 100.0, Press)); // second press: click restarted
        e.push(ev(95, 40.0, 100.0, Release));
        e.push(ev(200, 41.0, 100.0, Drag)); // drag without press
        let (a, c) = Segmenter::segment(&e, SegmentRules::default());
        assert_eq!(c.press_without_release, 1);
        assert_eq!(c.drag_without_press, 1);
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].kind, ActionKind::PointClick);
        assert_eq!(a[0].points.len(), 10);
        // Off-screen press takes the last on-screen position.
        let mut e = moves(0, 4, 0.0);
        e.push(ev(40, 70000.0, 5.0, Press));
        e.push(ev(50, 15.0, 100.0, Release));
        let (a, c) = Segmenter::segment(&e, SegmentRules::default());
        assert_eq!(c.out_of_screen, 1);
        assert_eq!(a[0].points[4].x_px, 15.0);
    }

    #[test]
    fn streaming_equals_batch() {
        let mut e = moves(0, 20, 0.0);
        e.push(ev(200, 100.0, 100.0, Press));
        e.push(ev(210, 100.0, 100.0, Release));
        let (batch, _) = Segmenter::segment(&e, SegmentRules::default());
        let mut s = Segmenter::new(SegmentRules::default());
        let mut out = Vec::new();
        let mut seen_before_finish = 0;
        for &x in &e {
            s.push(x, &mut out);
            seen_before_finish = out.len();
        }
        s.finish(&mut out);
        assert_eq!(
            seen_before_finish, 1,
            "the click is emitted as soon as it is released"
        );
        assert_eq!(out, batch);
    }
}
