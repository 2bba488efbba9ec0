/**
 * The edge (docs/EDGE.md, version 2): raw events in, content-free records out, in wire JSON. No I/O, no
 * clock: times arrive on the events, in µs. Port of `crates/keyprint-edge/src/lib.rs`; checked against
 * docs/edge-conformance/v2.json by `npm test`.
 *
 * Ordered key identities never leave an Edge: it holds at most one window of keys and one phrase's worth
 * of keys, and drops them once summarised.
 */
import { InjectionDetector, isModifier, type InjectionConfig } from "./injection.js";
import { actionFeatures, Segmenter, type Action, type MouseEvent_, type SegmentRules } from "./mouse.js";
import { MIN_WINDOW_KEYS, summarize, VOCAB_VERSION, type KeyEvent } from "./vocab.js";

/** A fixed phrase configured on the device: its public id and its keys as W3C codes (modifiers excluded). */
export interface Phrase {
  id: string;
  codes: string[];
}

/** Edge settings. */
export interface EdgeConfig {
  phrase?: Phrase | null;
  /** Keys per free-text window, 20–10000 (default 50). */
  window_keys?: number;
  /** Free-text windows on (default true). */
  free_text?: boolean;
  mouse_rules?: Partial<SegmentRules>;
  injection?: Partial<InjectionConfig>;
}

export interface DeviceEvent {
  at_us: number;
  action: "attach" | "detach";
  bus: string;
  vendor?: string | null;
  product?: string | null;
  synthetic?: boolean;
}

/** One record, as its wire JSON (`POST /v1/records`). */
export type WireRecord =
  | { fixed_text: { at_us: number; phrase: string; vector: number[] } }
  | { free_text: { at_us: number; vocab: number; keys: number; values: (number | null)[] } }
  | { mouse: { at_us: number; kind: Action["kind"]; features: number[] } }
  | { injection: { at_us: number; keystroke: number; rule: string; score: number } }
  | { device: { at_us: number; action: "attach" | "detach"; bus: string; vendor: string | null; product: string | null; synthetic: boolean } };

/** Where a keystroke counts (the Recorder feeds password-field keys to the phrase only). */
export interface KeyRouting {
  phrase?: boolean;
  freeText?: boolean;
}

/** 1 to 64 printable ASCII characters. */
export function validPhraseId(id: string): boolean {
  return id.length >= 1 && id.length <= 64 && /^[\x21-\x7e]+$/.test(id);
}

export class Edge {
  private phrase: Phrase | null;
  private phraseBuf: KeyEvent[] = [];
  private windowKeys: number;
  private freeText: boolean;
  private window: KeyEvent[] = [];
  private segmenter: Segmenter;
  private actions: Action[] = [];
  private injection: InjectionDetector;
  private injectionSent = false;
  /** Keys seen so far. */
  keysSeen = 0;

  /** @throws Error for a window outside 20..=10000 keys or a bad phrase. */
  constructor(cfg: EdgeConfig = {}) {
    const w = cfg.window_keys ?? 50;
    if (!Number.isInteger(w) || w < MIN_WINDOW_KEYS || w > 10_000) throw new Error(`window_keys ${w} outside ${MIN_WINDOW_KEYS}..=10000`);
    const p = cfg.phrase ?? null;
    if (p) {
      if (p.codes.length < 2 || p.codes.length > 256) throw new Error(`the phrase needs 2 to 256 keys, has ${p.codes.length}`);
      if (!validPhraseId(p.id)) throw new Error("phrase id must be 1 to 64 printable ASCII characters");
    }
    this.phrase = p ? { id: p.id, codes: p.codes.slice() } : null;
    this.windowKeys = w;
    this.freeText = cfg.free_text ?? true;
    this.segmenter = new Segmenter(cfg.mouse_rules);
    this.injection = new InjectionDetector(cfg.injection);
  }

  /** One complete keystroke (press and release), in press order. */
  key(e: KeyEvent, out: WireRecord[], route: KeyRouting = {}): void {
    const k: KeyEvent = { code: e.code, press_us: e.press_us, release_us: e.release_us };
    this.keysSeen += 1;
    const v = this.injection.observe(k);
    if (v && !this.injectionSent) {
      this.injectionSent = true;
      out.push({ injection: { at_us: v.t_us, keystroke: v.keystroke, rule: v.rule, score: this.injection.score() } });
    }
    if (route.phrase ?? true) this.phraseKey(k, out);
    if (this.freeText && (route.freeText ?? true)) {
      this.window.push(k);
      if (this.window.length >= this.windowKeys) this.flushWindow(out);
    }
  }

  private phraseKey(e: KeyEvent, out: WireRecord[]): void {
    const p = this.phrase;
    if (!p || isModifier(e.code)) return;
    const n = p.codes.length;
    this.phraseBuf.push(e);
    const buf = this.phraseBuf;
    if (buf.length < n) return;
    const tail = buf.slice(buf.length - n);
    if (tail.every((a, i) => a.code === p.codes[i])) {
      const typed = tail.slice().sort((a, b) => a.press_us - b.press_us);
      if (typed.every((a, i) => a.code === p.codes[i] && a.release_us >= a.press_us)) {
        const vector: number[] = [];
        for (let i = 0; i < n; i++) {
          const ev = typed[i];
          vector.push((ev.release_us - ev.press_us) / 1000);
          const next = typed[i + 1];
          if (next) vector.push((next.press_us - ev.press_us) / 1000, (next.press_us - ev.release_us) / 1000);
        }
        out.push({ fixed_text: { at_us: tail[n - 1].press_us, phrase: p.id, vector } });
        this.phraseBuf = [];
        return;
      }
    }
    if (buf.length >= 2 * n) buf.splice(0, buf.length - (n - 1));
  }

  private flushWindow(out: WireRecord[]): void {
    const values = summarize(this.window);
    if (values) {
      let at = 0;
      for (const e of this.window) at = Math.max(at, e.press_us);
      out.push({ free_text: { at_us: at, vocab: VOCAB_VERSION, keys: this.window.length, values } });
    }
    this.window = [];
  }

  /** One mouse sample, in time order. */
  mouse(e: MouseEvent_, out: WireRecord[]): void {
    this.segmenter.push(e, this.actions);
    this.drainActions(out);
  }

  private drainActions(out: WireRecord[]): void {
    for (const a of this.actions) {
      out.push({ mouse: { at_us: a.points[a.points.length - 1].t_us, kind: a.kind, features: actionFeatures(a) } });
    }
    this.actions = [];
  }

  /** A device event: forwarded as a record; an attach starts the typing-after-attach rule. */
  device(d: DeviceEvent, out: WireRecord[]): void {
    if (d.action === "attach") this.injection.deviceAttached(d.at_us);
    out.push({
      device: { at_us: d.at_us, action: d.action, bus: d.bus, vendor: d.vendor ?? null, product: d.product ?? null, synthetic: d.synthetic ?? false },
    });
  }

  /** A context change: the window is summarised if it holds ≥ 20 keys (else dropped); a phrase in progress is abandoned. */
  cut(out: WireRecord[]): void {
    this.flushWindow(out);
    this.phraseBuf = [];
  }

  /** End of the session: cut plus the mouse segmenter's last action. */
  finish(out: WireRecord[]): void {
    this.cut(out);
    this.segmenter.finish(this.actions);
    this.drainActions(out);
  }

  /** Keys currently held in memory (at most one window plus one phrase). */
  keysHeld(): number {
    return this.window.length + this.phraseBuf.length;
  }
}
