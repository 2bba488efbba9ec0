/**
 * The free-text summary vocabulary, version 2 (docs/EDGE.md; Rust reference `crates/keyprint-edge/src/vocab.rs`):
 * key classes (letters split only by hand) and the 162-entry window summary. No I/O, no clock.
 */

/** Version of this vocabulary. */
export const VOCAB_VERSION = 2;
/** Number of key classes. */
export const CLASSES = 8;
/** Longest down-down latency still counted as a digraph, ms. */
export const MAX_DIGRAPH_MS = 5000;
/** A down-down latency above this, ms, is a pause (entry 150). */
export const PAUSE_MS = 1000;
/** Observations a class or class-pair entry needs to be present. */
export const MIN_SUPPORT = 2;
/** Length of a summary vector. */
export const SUMMARY_DIM = 2 * CLASSES + 2 * CLASSES * CLASSES + 8 + 10;
/** Probabilities of the quantile entries (ln-DD over all digraphs, then ln-hold over all keys). */
export const QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9];
/** Observations a quantile entry needs to be present. */
export const MIN_QUANTILE_SUPPORT = 5;

/** Quantile `p` of sorted `xs`, linear between order statistics at position p·(n − 1) (Hyndman & Fan type 7). */
function quantile(xs: readonly number[], p: number): number | null {
  if (xs.length < MIN_QUANTILE_SUPPORT) return null;
  const pos = p * (xs.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo);
}
/** Fewest keys a window may summarise. */
export const MIN_WINDOW_KEYS = 20;

/** One complete keystroke: W3C `KeyboardEvent.code`, press and release on one monotonic clock, µs. */
export interface KeyEvent {
  code: string;
  press_us: number;
  release_us: number;
}

const CLASS_OF: Record<string, number> = {};
const TABLE: [number, string][] = [
  [0, "Space"],
  [1, "Backspace Delete"],
  [2, "ShiftLeft ShiftRight"],
  [3, "Enter NumpadEnter"],
  [4, "KeyQ KeyW KeyE KeyR KeyT KeyA KeyS KeyD KeyF KeyG KeyZ KeyX KeyC KeyV KeyB"],
  [5, "KeyY KeyU KeyI KeyO KeyP KeyH KeyJ KeyK KeyL KeyN KeyM"],
];
for (const [c, codes] of TABLE) for (const k of codes.split(" ")) CLASS_OF[k] = c;

/** The class (0–7) of a W3C `KeyboardEvent.code`. */
export function keyClass(code: string): number {
  const c = CLASS_OF[code];
  if (c !== undefined) return c;
  if (/^(Digit|Numpad)[0-9]$/.test(code)) return 6;
  return 7;
}

/** Running count, mean and sum of squared deviations (Welford): an sd of equal values is exactly 0. */
class Acc {
  n = 0;
  mean = 0;
  m2 = 0;
  add(x: number): void {
    this.n += 1;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }
  meanOr(min: number): number | null {
    return this.n >= Math.max(min, 1) ? this.mean : null;
  }
  sdOr(min: number): number | null {
    return this.n >= Math.max(min, 2) ? Math.sqrt(Math.max(this.m2, 0) / (this.n - 1)) : null;
  }
}

/**
 * The summary (SUMMARY_DIM entries, `null` = absent) of a window of keystrokes, or `null` when the window
 * has fewer than MIN_WINDOW_KEYS keys. Keys are taken in press order (stable for equal press times).
 */
export function summarize(events: readonly KeyEvent[]): (number | null)[] | null {
  if (events.length < MIN_WINDOW_KEYS) return null;
  const ev = events.slice().sort((a, b) => a.press_us - b.press_us);
  const hold: Acc[] = [];
  for (let i = 0; i < CLASSES; i++) hold.push(new Acc());
  const dd: Acc[] = [];
  const ud: Acc[] = [];
  for (let i = 0; i < CLASSES * CLASSES; i++) {
    dd.push(new Acc());
    ud.push(new Acc());
  }
  const holdAll = new Acc();
  const ddAll = new Acc();
  const udAll = new Acc();
  let rollover = 0;
  let pauses = 0;
  let corrections = 0;
  const dds: number[] = [];
  const holds: number[] = [];
  const classes = ev.map((e) => keyClass(e.code));
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i];
    const c = classes[i];
    const h = Math.log(Math.min(Math.max((e.release_us - e.press_us) / 1000, 1), 2000));
    hold[c].add(h);
    holdAll.add(h);
    holds.push(h);
    if (c === 1) corrections += 1;
    if (i === 0) continue;
    const p = ev[i - 1];
    const ddMs = (e.press_us - p.press_us) / 1000;
    if (ddMs > PAUSE_MS) pauses += 1;
    if (ddMs <= MAX_DIGRAPH_MS) {
      const udMs = (e.press_us - p.release_us) / 1000;
      const pair = classes[i - 1] * CLASSES + c;
      const d = Math.log(Math.max(ddMs, 1));
      const u = Math.asinh(udMs / 20);
      dd[pair].add(d);
      ud[pair].add(u);
      ddAll.add(d);
      dds.push(d);
      udAll.add(u);
      if (udMs < 0) rollover += 1;
    }
  }
  const v: (number | null)[] = [];
  for (const a of hold) v.push(a.meanOr(MIN_SUPPORT));
  for (const a of hold) v.push(a.sdOr(MIN_SUPPORT));
  for (const a of dd) v.push(a.meanOr(MIN_SUPPORT));
  for (const a of ud) v.push(a.meanOr(MIN_SUPPORT));
  const pairs = ev.length - 1;
  v.push(holdAll.meanOr(1), holdAll.sdOr(2), ddAll.meanOr(1), ddAll.sdOr(2), udAll.meanOr(1));
  v.push(ddAll.n > 0 ? rollover / ddAll.n : null);
  v.push(pauses / pairs);
  v.push(corrections / ev.length);
  for (const xs of [dds, holds]) {
    xs.sort((a, b) => a - b);
    for (const p of QUANTILES) v.push(quantile(xs, p));
  }
  return v;
}
