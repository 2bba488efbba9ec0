//! Per-action features: one fixed-length vector of [`N_FEATURES`] values per [`Action`].
//!
//! After Antal & Egyed-Zsigmond (IET Biometrics 2019, Table 1) and Ahmed & Traore (2007). From the action's
//! samples `(t_i, x_i, y_i)` (seconds, px; consecutive samples with equal time are merged, keeping the
//! later position) the step series are: horizontal/vertical velocity `vx, vy` (px/s), speed `v`,
//! acceleration `a = Δv/Δt` (px/s²), jerk `Δa/Δt` (px/s³), direction `θ = atan2(Δy, Δx)`, angular
//! velocity `ω = Δθ/Δt` (rad/s, θ unwrapped into (−π, π]), curvature `Δθ/Δs` (rad/px, steps with
//! `Δs > 0`). Each series contributes mean, standard deviation, minimum and maximum (0 when empty).
//! Scalar features, in order, are listed in [`FEATURE_NAMES`]. Every value is finite.

use crate::segment::{Action, ActionKind};

/// Number of features per action.
pub const N_FEATURES: usize = 46;

/// Name of every feature, in vector order.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    "is_mouse_move",
    "is_point_click",
    "is_drag_drop",
    "duration_s",
    "path_length_px",
    "distance_px",
    "direction_cos",
    "direction_sin",
    "straightness",
    "num_points",
    "sum_of_angles_rad",
    "largest_deviation_px",
    "num_critical_points",
    "num_pauses",
    "pause_time_s",
    "time_to_peak_speed_ratio",
    "click_duration_s",
    "right_button",
    "vx_mean",
    "vx_sd",
    "vx_min",
    "vx_max",
    "vy_mean",
    "vy_sd",
    "vy_min",
    "vy_max",
    "v_mean",
    "v_sd",
    "v_min",
    "v_max",
    "a_mean",
    "a_sd",
    "a_min",
    "a_max",
    "jerk_mean",
    "jerk_sd",
    "jerk_min",
    "jerk_max",
    "omega_mean",
    "omega_sd",
    "omega_min",
    "omega_max",
    "curvature_mean",
    "curvature_sd",
    "curvature_min",
    "curvature_max",
];

/// A step gap longer than this is a pause inside the action, seconds.
pub const PAUSE_S: f64 = 0.1;
/// Curvature above this (rad/px) marks a critical point (a sharp turn; keyprint's threshold).
pub const CRITICAL_CURVATURE: f64 = 0.5;

fn stats4(v: &[f64], out: &mut Vec<f64>) {
    if v.is_empty() {
        out.extend([0.0; 4]);
        return;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    out.extend([mean, var.sqrt(), min, max]);
}

fn wrap(a: f64) -> f64 {
    let mut a = a;
    while a > std::f64::consts::PI {
        a -= 2.0 * std::f64::consts::PI;
    }
    while a <= -std::f64::consts::PI {
        a += 2.0 * std::f64::consts::PI;
    }
    a
}

/// The feature vector of one action (shape `(N_FEATURES,)`, names in [`FEATURE_NAMES`]).
pub fn action_features(a: &Action) -> Vec<f64> {
    // Samples with strictly increasing time (merge equal times, keep the later position).
    let mut pts: Vec<(f64, f64, f64)> = Vec::with_capacity(a.points.len());
    for p in &a.points {
        let t = p.t_us as f64 * 1e-6;
        match pts.last_mut() {
            Some(last) if last.0 >= t => {
                last.1 = p.x_px;
                last.2 = p.y_px;
            }
            _ => pts.push((t, p.x_px, p.y_px)),
        }
    }
    let mut f = Vec::with_capacity(N_FEATURES);
    f.extend([
        (a.kind == ActionKind::MouseMove) as u8 as f64,
        (a.kind == ActionKind::PointClick) as u8 as f64,
        (a.kind == ActionKind::DragDrop) as u8 as f64,
    ]);
    let duration = (a.end_us() - a.start_us()) as f64 * 1e-6;
    let (mut vx, mut vy, mut v, mut th, mut ts, mut ds) = (
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    );
    let mut path = 0.0;
    let (mut pauses, mut pause_time) = (0.0, 0.0);
    for w in pts.windows(2) {
        let dt = w[1].0 - w[0].0;
        let (dx, dy) = (w[1].1 - w[0].1, w[1].2 - w[0].2);
        let s = dx.hypot(dy);
        path += s;
        if dt > PAUSE_S {
            pauses += 1.0;
            pause_time += dt;
        }
        vx.push(dx / dt);
        vy.push(dy / dt);
        v.push(s / dt);
        th.push(dy.atan2(dx));
        ts.push((w[0].0 + w[1].0) / 2.0);
        ds.push(s);
    }
    let diff = |s: &[f64]| -> Vec<f64> {
        s.windows(2)
            .zip(ts.windows(2))
            .map(|(a, t)| (a[1] - a[0]) / (t[1] - t[0]).max(1e-6))
            .collect()
    };
    let acc = diff(&v);
    let ts_acc: Vec<f64> = ts.windows(2).map(|t| (t[0] + t[1]) / 2.0).collect();
    let jerk: Vec<f64> = acc
        .windows(2)
        .zip(ts_acc.windows(2))
        .map(|(a, t)| (a[1] - a[0]) / (t[1] - t[0]).max(1e-6))
        .collect();
    let mut omega = Vec::new();
    let mut curv = Vec::new();
    let mut sum_angles = 0.0;
    let mut critical = 0.0;
    for i in 1..th.len() {
        // Direction is undefined on a zero-length step.
        if ds[i] == 0.0 || ds[i - 1] == 0.0 {
            continue;
        }
        let d = wrap(th[i] - th[i - 1]);
        sum_angles += d.abs();
        omega.push(d / (ts[i] - ts[i - 1]).max(1e-6));
        let c = d / ds[i];
        if c.abs() > CRITICAL_CURVATURE {
            critical += 1.0;
        }
        curv.push(c);
    }
    let (x0, y0) = (pts[0].1, pts[0].2);
    let (x1, y1) = (pts[pts.len() - 1].1, pts[pts.len() - 1].2);
    let dist = (x1 - x0).hypot(y1 - y0);
    let (dc, dsn) = if dist > 0.0 {
        ((x1 - x0) / dist, (y1 - y0) / dist)
    } else {
        (0.0, 0.0)
    };
    let largest_dev = if dist > 0.0 {
        pts.iter()
            .map(|p| ((x1 - x0) * (y0 - p.2) - (x0 - p.1) * (y1 - y0)).abs() / dist)
            .fold(0.0, f64::max)
    } else {
        pts.iter()
            .map(|p| (p.1 - x0).hypot(p.2 - y0))
            .fold(0.0, f64::max)
    };
    let t_peak = v
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0.0, |(i, _)| ts[i] - pts[0].0);
    let click = match a.press_index {
        Some(p) if p < a.points.len() => (a.end_us() - a.points[p].t_us) as f64 * 1e-6,
        _ => 0.0,
    };
    let right = a
        .press_index
        .and_then(|p| a.points.get(p))
        .is_some_and(|p| p.button == keyprint_core::event::MouseButton::Right);
    f.extend([
        duration,
        path,
        dist,
        dc,
        dsn,
        if path > 0.0 { dist / path } else { 1.0 },
        a.points.len() as f64,
        sum_angles,
        largest_dev,
        critical,
        pauses,
        pause_time,
        if duration > 0.0 {
            t_peak / duration
        } else {
            0.0
        },
        click,
        right as u8 as f64,
    ]);
    for s in [&vx, &vy, &v, &acc, &jerk, &omega, &curv] {
        stats4(s, &mut f);
    }
    debug_assert_eq!(f.len(), N_FEATURES);
    for x in f.iter_mut() {
        if !x.is_finite() {
            *x = 0.0;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyprint_core::event::{MouseButton, MouseEvent, MouseEventKind};

    fn line(n: usize, dt_ms: i64, step: f64) -> Action {
        Action {
            kind: ActionKind::MouseMove,
            points: (0..n)
                .map(|i| MouseEvent {
                    t_us: i as i64 * dt_ms * 1000,
                    x_px: step * i as f64,
                    y_px: 0.0,
                    button: MouseButton::None,
                    kind: MouseEventKind::Move,
                })
                .collect(),
            press_index: None,
        }
    }

    fn get(f: &[f64], name: &str) -> f64 {
        f[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()]
    }

    #[test]
    fn straight_line_at_constant_speed() {
        // 5 samples, 10 px every 10 ms: 1000 px/s, no acceleration, straight.
        let f = action_features(&line(5, 10, 10.0));
        assert_eq!(f.len(), N_FEATURES);
        assert!((get(&f, "duration_s") - 0.04).abs() < 1e-12);
        assert!((get(&f, "path_length_px") - 40.0).abs() < 1e-12);
        assert!((get(&f, "straightness") - 1.0).abs() < 1e-12);
        assert!((get(&f, "v_mean") - 1000.0).abs() < 1e-9);
        assert!(get(&f, "v_sd").abs() < 1e-9);
        assert!(get(&f, "a_max").abs() < 1e-6);
        assert!(get(&f, "sum_of_angles_rad").abs() < 1e-12);
        assert_eq!(get(&f, "direction_cos"), 1.0);
        assert_eq!(get(&f, "is_mouse_move"), 1.0);
    }

    #[test]
    fn right_angle_turn_and_pause() {
        let mut a = line(3, 10, 10.0);
        a.points.push(MouseEvent {
            t_us: 220_000,
            x_px: 20.0,
            y_px: 10.0,
            button: MouseButton::None,
            kind: MouseEventKind::Move,
        });
        let f = action_features(&a);
        assert!((get(&f, "sum_of_angles_rad") - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
        assert_eq!(get(&f, "num_pauses"), 1.0);
        assert!((get(&f, "pause_time_s") - 0.2).abs() < 1e-12);
        assert!((get(&f, "largest_deviation_px") - 10.0 * 20.0 / 500f64.sqrt()).abs() < 1e-9);
        assert!(f.iter().all(|x| x.is_finite()));
    }
}
