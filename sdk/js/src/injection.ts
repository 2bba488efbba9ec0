/**
 * Port of `keyprint_injection::InjectionDetector` (crates/keyprint-injection/src/detector.rs) without the
 * optional window checks (owner profile, key context, humanized timing), which need server-side models.
 * Rules: machine-chord, impossible-speed, constant-holds, machine-regularity, typing-after-attach.
 * Score polarity as everywhere in keyprint: higher = more machine-like; >= 1 exactly after a verdict.
 */
import type { KeyEvent } from "./vocab.js";

/** Codes the Rust core counts as modifiers (`KeyId::is_modifier`). */
const MODIFIERS = new Set([
  "ShiftLeft", "ShiftRight", "ControlLeft", "ControlRight", "AltLeft", "AltRight",
  "MetaLeft", "MetaRight", "CapsLock", "Fn",
]);
/** True for a modifier key code. */
export function isModifier(code: string): boolean {
  return MODIFIERS.has(code);
}

/** Settings (defaults = `InjectionConfig::default()`). */
export interface InjectionConfig {
  machine_hold_us: number;
  machine_gap_us: number;
  same_hold_us: number;
  machine_run_fresh: number;
  machine_run_established: number;
  human_hold_us: number;
  established_after: number;
  chord_tolerance_us: number;
  constant_hold_window: number;
  constant_hold_range_us: number;
  regularity_window: number;
  regularity_max_distinct: number;
  attach_window_us: number;
  attach_burst: number;
}

export const DEFAULT_INJECTION: InjectionConfig = {
  machine_hold_us: 15_000,
  machine_gap_us: 250_000,
  same_hold_us: 200,
  machine_run_fresh: 3,
  machine_run_established: 24,
  human_hold_us: 25_000,
  established_after: 3,
  chord_tolerance_us: 1_000,
  constant_hold_window: 24,
  constant_hold_range_us: 1_000,
  regularity_window: 16,
  regularity_max_distinct: 2,
  attach_window_us: 4_000_000,
  attach_burst: 8,
};

/** A verdict: the rule's name, the 1-based event index and the press time of that event. */
export interface Verdict {
  rule: string;
  keystroke: number;
  t_us: number;
}

const hold = (e: KeyEvent) => e.release_us - e.press_us;

export class InjectionDetector {
  private cfg: InjectionConfig;
  private attachedUs: number | null = null;
  private recent: KeyEvent[] = [];
  private seen = 0;
  private keystrokes = 0;
  private humanLike = 0;
  private run = 0;
  private lastShort: [number, number] | null = null;
  private samePair = false;
  private sinceAttach = 0;
  private soft = 0;
  verdict: Verdict | null = null;

  constructor(cfg: Partial<InjectionConfig> = {}) {
    this.cfg = { ...DEFAULT_INJECTION, ...cfg };
  }

  deviceAttached(tUs: number): void {
    this.attachedUs = tUs;
    this.sinceAttach = 0;
  }

  private sinceAttachUs(pressUs: number): number | null {
    if (this.attachedUs === null) return null;
    const d = pressUs - this.attachedUs;
    return d >= 0 && d <= this.cfg.attach_window_us ? d : null;
  }

  private isRepeat(e: KeyEvent): boolean {
    const p = this.recent[this.recent.length - 1];
    return p !== undefined && p.code === e.code && (e.press_us <= p.release_us || (hold(e) === 0 && hold(p) === 0));
  }

  /** Reads the next complete keystroke (press order); returns the verdict the first time one is raised. */
  observe(e: KeyEvent): Verdict | null {
    const c = this.cfg;
    this.seen += 1;
    if (this.isRepeat(e)) {
      const p = this.recent[this.recent.length - 1];
      if (hold(e) > 0) p.release_us = Math.max(p.release_us, e.release_us);
      return null;
    }
    this.keystrokes += 1;
    if (this.sinceAttachUs(e.press_us) !== null) this.sinceAttach += 1;
    const h = hold(e);
    if (h === 0) {
      // coalesced press/release: evidence of neither a machine nor a finger
    } else if (h <= c.machine_hold_us) {
      const same = this.lastShort !== null && Math.abs(this.lastShort[1] - h) <= c.same_hold_us;
      const cont = this.run > 0 && this.lastShort !== null && (e.press_us - this.lastShort[0] <= c.machine_gap_us || same);
      this.run = cont ? this.run + 1 : 1;
      this.samePair = cont && same;
      this.lastShort = [e.press_us, h];
    } else {
      if (h >= c.human_hold_us) this.humanLike += 1;
      if (!isModifier(e.code)) {
        this.run = 0;
        this.samePair = false;
      }
    }
    this.recent.push({ code: e.code, press_us: e.press_us, release_us: e.release_us });
    const keep = Math.max(c.constant_hold_window, c.regularity_window + 1, 8);
    while (this.recent.length > keep) this.recent.shift();
    this.updateSoft();
    if (this.verdict) return null;
    const rule = this.check(e);
    if (rule) {
      this.verdict = { rule, keystroke: this.seen, t_us: e.press_us };
      return this.verdict;
    }
    return null;
  }

  private check(e: KeyEvent): string | null {
    const c = this.cfg;
    const r = this.recent;
    const n = r.length;
    if (this.humanLike < c.established_after && hold(e) <= c.machine_hold_us) {
      for (let i = n - 2; i >= Math.max(0, n - 5); i--) {
        const p = r[i];
        if (
          isModifier(p.code) !== isModifier(e.code) &&
          Math.abs(p.press_us - e.press_us) <= c.chord_tolerance_us &&
          Math.abs(p.release_us - e.release_us) <= c.chord_tolerance_us &&
          hold(p) <= c.machine_hold_us
        )
          return "machine-chord";
      }
    }
    const need = this.humanLike >= c.established_after ? c.machine_run_established : c.machine_run_fresh;
    if (this.humanLike < c.established_after && this.keystrokes >= c.machine_run_fresh && this.run >= 2 && this.samePair)
      return "impossible-speed";
    if (this.run >= need) return "impossible-speed";
    const w = c.constant_hold_window;
    if (w >= 2 && n >= w) {
      let lo = Infinity;
      let hi = -Infinity;
      let rollover = false;
      for (let i = n - w; i < n; i++) {
        lo = Math.min(lo, hold(r[i]));
        hi = Math.max(hi, hold(r[i]));
        if (i + 1 < n && r[i + 1].press_us < r[i].release_us) rollover = true;
      }
      if (hi - lo <= c.constant_hold_range_us && !rollover) return "constant-holds";
    }
    const g = c.regularity_window;
    if (g >= 2 && n > g) {
      const vals = new Set<number>();
      let inRange = true;
      for (let i = n - g; i < n; i++) {
        const v = Math.trunc((r[i].press_us - r[i - 1].press_us) / 1000);
        if (v < 0 || v >= 2000) inRange = false;
        vals.add(v);
      }
      if (inRange && vals.size <= c.regularity_max_distinct) return "machine-regularity";
    }
    if (this.sinceAttachUs(e.press_us) !== null && this.sinceAttach >= c.attach_burst) return "typing-after-attach";
    return null;
  }

  private updateSoft(): void {
    const c = this.cfg;
    const n = this.recent.length;
    const need = this.humanLike >= c.established_after ? c.machine_run_established : c.machine_run_fresh;
    let ev = this.run / need;
    const k = Math.min(n, 3);
    if (k > 0) {
      let sum = 0;
      for (let i = n - k; i < n; i++) sum += hold(this.recent[i]);
      ev = Math.max(ev, c.machine_hold_us / Math.max(sum / k, 1));
    }
    this.soft = Math.max(this.soft, Math.min(ev, 0.99));
  }

  /** Continuous score: sub-threshold evidence below a verdict, `1 + evidence` after one. */
  score(): number {
    return this.verdict ? 1 + this.soft : this.soft;
  }
}
