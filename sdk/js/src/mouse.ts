/**
 * Port of keyprint-mouse's segmenter (crates/keyprint-mouse/src/segment.rs) and per-action features
 * (features.rs): MouseMove / PointClick / DragDrop actions, 46 features each. Same rules, same order of
 * floating-point operations, so the conformance vectors match.
 */

export type MouseButton = "none" | "left" | "right" | "middle" | "wheel";
export type MouseKind = "move" | "drag" | "press" | "release" | "scroll_up" | "scroll_down";
/** One mouse sample: time µs, position px. */
export interface MouseEvent_ {
  t_us: number;
  x_px: number;
  y_px: number;
  button: MouseButton;
  kind: MouseKind;
}
export type ActionKind = "mouse_move" | "point_click" | "drag_drop";
export interface Action {
  kind: ActionKind;
  points: MouseEvent_[];
  pressIndex: number | null;
}

/** Segmentation thresholds (defaults = `SegmentRules::default()`). */
export interface SegmentRules {
  max_pause_us: number;
  min_points: number;
  max_coord_px: number;
  jump_px: number;
  jump_max_dt_us: number;
}
export const DEFAULT_RULES: SegmentRules = {
  max_pause_us: 10_000_000,
  min_points: 4,
  max_coord_px: 16_384,
  jump_px: 800,
  jump_max_dt_us: 20_000,
};

const isMotion = (k: MouseKind) => k === "move" || k === "drag";
const same = (a: MouseEvent_, b: MouseEvent_) =>
  a.t_us === b.t_us && a.x_px === b.x_px && a.y_px === b.y_px && a.button === b.button && a.kind === b.kind;

/** Streaming segmenter: `push` samples in time order, `finish` at the end; finished actions go to `out`. */
export class Segmenter {
  private r: SegmentRules;
  private lastRaw: MouseEvent_ | null = null;
  private lastPos: [number, number] | null = null;
  private lastT: number | null = null;
  private pending: MouseEvent_ | null = null;
  private cur: MouseEvent_[] = [];
  private press: number | null = null;
  private dragged = false;

  constructor(rules: Partial<SegmentRules> = {}) {
    this.r = { ...DEFAULT_RULES, ...rules };
  }

  push(input: MouseEvent_, out: Action[]): void {
    const ev = { ...input };
    if (this.lastT !== null && ev.t_us < this.lastT) ev.t_us = this.lastT;
    const off = (v: number) => !(v >= 0 && v <= this.r.max_coord_px);
    if (off(ev.x_px) || off(ev.y_px)) {
      if (!isMotion(ev.kind) && this.lastPos) {
        ev.x_px = this.lastPos[0];
        ev.y_px = this.lastPos[1];
      } else return;
    }
    if (this.lastRaw && same(this.lastRaw, ev)) return;
    this.lastRaw = ev;
    this.lastT = ev.t_us;
    this.lastPos = [ev.x_px, ev.y_px];
    const p = this.pending;
    if (p) {
      this.pending = null;
      if (isMotion(ev.kind) && p.t_us === ev.t_us) {
        this.pending = ev;
        return;
      }
      this.step(p, out);
    }
    if (isMotion(ev.kind)) this.pending = ev;
    else this.step(ev, out);
  }

  finish(out: Action[]): void {
    const p = this.pending;
    this.pending = null;
    if (p) this.step(p, out);
    this.close(out);
  }

  private emit(kind: ActionKind, points: MouseEvent_[], press: number | null, out: Action[]): void {
    if (points.length < this.r.min_points) return;
    out.push({ kind, points, pressIndex: press });
  }

  private close(out: Action[]): void {
    let pts = this.cur;
    this.cur = [];
    if (this.press !== null) {
      pts = pts.slice(0, this.press);
      this.press = null;
    }
    this.dragged = false;
    this.emit("mouse_move", pts, null, out);
  }

  private step(ev: MouseEvent_, out: Action[]): void {
    const last = this.cur[this.cur.length - 1];
    if (last) {
      const dt = ev.t_us - last.t_us;
      if (dt > this.r.max_pause_us) this.close(out);
      else if (isMotion(ev.kind) && dt <= this.r.jump_max_dt_us && Math.hypot(ev.x_px - last.x_px, ev.y_px - last.y_px) >= this.r.jump_px)
        this.close(out);
    }
    switch (ev.kind) {
      case "move":
        this.cur.push(ev);
        break;
      case "drag":
        if (this.press !== null) this.dragged = true;
        this.cur.push(ev);
        break;
      case "press":
        if (this.press !== null) {
          this.cur.splice(this.press, 1);
          this.dragged = false;
        }
        this.press = this.cur.length;
        this.cur.push(ev);
        break;
      case "release": {
        const p = this.press;
        if (p === null) return;
        this.press = null;
        const pts = this.cur;
        this.cur = [];
        pts.push(ev);
        if (this.dragged) {
          this.dragged = false;
          const dd = pts.splice(p);
          this.emit("mouse_move", pts, null, out);
          this.emit("drag_drop", dd, 0, out);
        } else this.emit("point_click", pts, p, out);
        break;
      }
      default:
        this.close(out);
    }
  }
}

/** Number of features per action. */
export const N_FEATURES = 46;
const PAUSE_S = 0.1;
const CRITICAL_CURVATURE = 0.5;

function stats4(v: number[], out: number[]): void {
  if (v.length === 0) {
    out.push(0, 0, 0, 0);
    return;
  }
  const n = v.length;
  let s = 0;
  for (const x of v) s += x;
  const mean = s / n;
  let q = 0;
  for (const x of v) q += (x - mean) * (x - mean);
  let min = Infinity;
  let max = -Infinity;
  for (const x of v) {
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  out.push(mean, Math.sqrt(q / n), min, max);
}

function wrap(a: number): number {
  while (a > Math.PI) a -= 2 * Math.PI;
  while (a <= -Math.PI) a += 2 * Math.PI;
  return a;
}

/** The 46 features of one action (names and units: keyprint-mouse `FEATURE_NAMES`). */
export function actionFeatures(a: Action): number[] {
  const pts: [number, number, number][] = [];
  for (const p of a.points) {
    const t = p.t_us * 1e-6;
    const last = pts[pts.length - 1];
    if (last && last[0] >= t) {
      last[1] = p.x_px;
      last[2] = p.y_px;
    } else pts.push([t, p.x_px, p.y_px]);
  }
  const f: number[] = [a.kind === "mouse_move" ? 1 : 0, a.kind === "point_click" ? 1 : 0, a.kind === "drag_drop" ? 1 : 0];
  const startUs = a.points[0].t_us;
  const endUs = a.points[a.points.length - 1].t_us;
  const duration = (endUs - startUs) * 1e-6;
  const vx: number[] = [], vy: number[] = [], v: number[] = [], th: number[] = [], ts: number[] = [], ds: number[] = [];
  let path = 0;
  let pauses = 0;
  let pauseTime = 0;
  for (let i = 0; i + 1 < pts.length; i++) {
    const w0 = pts[i], w1 = pts[i + 1];
    const dt = w1[0] - w0[0];
    const dx = w1[1] - w0[1], dy = w1[2] - w0[2];
    const s = Math.hypot(dx, dy);
    path += s;
    if (dt > PAUSE_S) {
      pauses += 1;
      pauseTime += dt;
    }
    vx.push(dx / dt);
    vy.push(dy / dt);
    v.push(s / dt);
    th.push(Math.atan2(dy, dx));
    ts.push((w0[0] + w1[0]) / 2);
    ds.push(s);
  }
  const acc: number[] = [];
  for (let i = 0; i + 1 < v.length; i++) acc.push((v[i + 1] - v[i]) / Math.max(ts[i + 1] - ts[i], 1e-6));
  const tsAcc: number[] = [];
  for (let i = 0; i + 1 < ts.length; i++) tsAcc.push((ts[i] + ts[i + 1]) / 2);
  const jerk: number[] = [];
  for (let i = 0; i + 1 < acc.length && i + 1 < tsAcc.length; i++)
    jerk.push((acc[i + 1] - acc[i]) / Math.max(tsAcc[i + 1] - tsAcc[i], 1e-6));
  const omega: number[] = [];
  const curv: number[] = [];
  let sumAngles = 0;
  let critical = 0;
  for (let i = 1; i < th.length; i++) {
    if (ds[i] === 0 || ds[i - 1] === 0) continue;
    const d = wrap(th[i] - th[i - 1]);
    sumAngles += Math.abs(d);
    omega.push(d / Math.max(ts[i] - ts[i - 1], 1e-6));
    const c = d / ds[i];
    if (Math.abs(c) > CRITICAL_CURVATURE) critical += 1;
    curv.push(c);
  }
  const [, x0, y0] = pts[0];
  const [, x1, y1] = pts[pts.length - 1];
  const dist = Math.hypot(x1 - x0, y1 - y0);
  const dc = dist > 0 ? (x1 - x0) / dist : 0;
  const dsn = dist > 0 ? (y1 - y0) / dist : 0;
  let largestDev = 0;
  for (const p of pts) {
    const d = dist > 0 ? Math.abs((x1 - x0) * (y0 - p[2]) - (x0 - p[1]) * (y1 - y0)) / dist : Math.hypot(p[1] - x0, p[2] - y0);
    largestDev = Math.max(largestDev, d);
  }
  // Rust's Iterator::max_by keeps the last of equal maxima.
  let tPeak = 0;
  let best = -Infinity;
  for (let i = 0; i < v.length; i++) {
    if (v[i] >= best) {
      best = v[i];
      tPeak = ts[i] - pts[0][0];
    }
  }
  const pi = a.pressIndex;
  const click = pi !== null && pi < a.points.length ? (endUs - a.points[pi].t_us) * 1e-6 : 0;
  const right = pi !== null && a.points[pi] !== undefined && a.points[pi].button === "right";
  f.push(
    duration, path, dist, dc, dsn, path > 0 ? dist / path : 1, a.points.length, sumAngles, largestDev,
    critical, pauses, pauseTime, duration > 0 ? tPeak / duration : 0, click, right ? 1 : 0,
  );
  for (const s of [vx, vy, v, acc, jerk, omega, curv]) stats4(s, f);
  return f.map((x) => (Number.isFinite(x) ? x : 0));
}
