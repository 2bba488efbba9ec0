/**
 * The page-side capture: keyboard and mouse listeners → Edge → Transport. Only records leave it.
 *
 * - keydown/keyup by `KeyboardEvent.code`, times from the event's `timeStamp` (the `performance.now()`
 *   clock) anchored at `performance.timeOrigin`, in µs; keystrokes reach the Edge complete and in press order.
 * - Key repeat (`repeat`, or a second keydown of a held code) is folded into the held keystroke.
 * - `isTrusted === false` events (made by `dispatchEvent`) are not typing and not mouse samples: they are
 *   dropped and counted (`stats.untrusted`). No injection record is sent for them: the record specification
 *   has no rule name for it, and the server refuses unknown rules.
 * - paste, drop, IME composition, autofill/replacement and text inserted without a key (`input` with no
 *   keydown before it) never pass as typing: each cuts the window and is counted.
 * - Focus moving to another element, window blur and the page becoming hidden cut the window; page hide
 *   also ends the session's mouse action and flushes the queue with keepalive.
 * - Keys typed into `<input type="password">` go to the fixed-text phrase matcher only (not into free-text
 *   windows); other keys go to free-text windows only.
 */
import { Edge, type DeviceEvent, type EdgeConfig, type KeyRouting, type WireRecord } from "./edge.js";
import type { MouseButton, MouseKind } from "./mouse.js";
import { Transport, type TransportConfig, type TransportStats } from "./transport.js";

export interface RecorderConfig extends EdgeConfig, TransportConfig {
  /** Where to listen (default `window`). */
  target?: Window;
  /** Mouse sampling on (default true). */
  mouse?: boolean;
  /** Shortest interval between two mouse move samples, ms (default 8). */
  mouseIntervalMs?: number;
  /** Records are shipped every this many ms (default 5000) or when a batch is full. */
  flushIntervalMs?: number;
  /** "password" (default): only password-field keys feed the phrase; "any": every key does. */
  fixedTextSource?: "password" | "any";
  /** Called with each record as the Edge emits it (debugging, tests). */
  onRecord?: (r: WireRecord) => void;
}

export interface RecorderStats {
  keys: number;
  repeatsFolded: number;
  untrusted: number;
  pastes: number;
  drops: number;
  compositions: number;
  insertionsWithoutKeys: number;
  cuts: number;
  keysAbandoned: number;
  records: number;
}

interface Pending {
  code: string;
  press_us: number;
  release_us: number | null;
  route: KeyRouting;
}

const MAX_PENDING = 64;
const NON_TYPED = new Set(["insertFromPaste", "insertFromDrop", "insertReplacementText", "insertFromYank", "insertFromPasteAsQuotation", "insertTranspose"]);

export class Recorder {
  readonly edge: Edge;
  readonly transport: Transport;
  private cfg: RecorderConfig;
  private win: Window;
  private origin: number;
  private pending: Pending[] = [];
  private out: WireRecord[] = [];
  private composing = false;
  private keySinceInput = false;
  private lastFocus: EventTarget | null = null;
  private lastMoveMs = -Infinity;
  private interval: ReturnType<typeof setInterval> | null = null;
  private off: (() => void)[] = [];
  stats: RecorderStats = { keys: 0, repeatsFolded: 0, untrusted: 0, pastes: 0, drops: 0, compositions: 0, insertionsWithoutKeys: 0, cuts: 0, keysAbandoned: 0, records: 0 };

  constructor(cfg: RecorderConfig) {
    this.cfg = cfg;
    this.edge = new Edge(cfg);
    this.transport = new Transport(cfg);
    this.win = cfg.target ?? window;
    this.origin = Math.round(this.win.performance.timeOrigin * 1000);
  }

  /** Transport counters. */
  get sent(): TransportStats {
    return this.transport.stats;
  }

  private us(ms: number): number {
    return this.origin + Math.round(ms * 1000);
  }

  private stamp(e: Event): number {
    return this.us(e.timeStamp > 0 ? e.timeStamp : this.win.performance.now());
  }

  /** Starts listening (capture phase, so the page's own handlers cannot hide events). */
  start(): this {
    const w = this.win;
    const d = w.document;
    const on = (t: EventTarget, type: string, f: (e: any) => void) => {
      t.addEventListener(type, f, { capture: true, passive: true });
      this.off.push(() => t.removeEventListener(type, f, { capture: true }));
    };
    on(w, "keydown", (e: KeyboardEvent) => this.keydown(e));
    on(w, "keyup", (e: KeyboardEvent) => this.keyup(e));
    on(w, "paste", () => this.nonTyped("pastes"));
    on(w, "drop", () => this.nonTyped("drops"));
    on(w, "compositionstart", () => {
      this.composing = true;
      this.nonTyped("compositions");
    });
    on(w, "compositionend", () => {
      this.composing = false;
    });
    on(w, "beforeinput", (e: InputEvent) => this.input(e));
    // Autofill fills fields with a plain `input` Event (no inputType): not typing.
    on(w, "input", (e: Event) => {
      const el = e.target as HTMLInputElement | null;
      const text = !!el && (el.tagName === "TEXTAREA" || (el.tagName === "INPUT" && !/^(checkbox|radio|range|color|file|button|submit|reset)$/.test(el.type)));
      if (e.isTrusted && text && !("inputType" in e)) this.nonTyped("insertionsWithoutKeys");
    });
    on(w, "focusin", (e: FocusEvent) => {
      if (this.lastFocus !== null && e.target !== this.lastFocus) this.cut();
      this.lastFocus = e.target;
    });
    on(w, "blur", (e: FocusEvent) => {
      if (e.target === w) this.cut();
    });
    on(d, "visibilitychange", () => {
      if (d.visibilityState === "hidden") {
        this.cut();
        this.ship(true);
      }
    });
    on(w, "pagehide", () => {
      this.pending = [];
      this.edge.finish(this.out);
      this.ship(true);
    });
    on(w, "online", () => this.transport.pump());
    if (this.cfg.mouse ?? true) {
      on(w, "mousemove", (e: MouseEvent) => this.mouse(e, e.buttons ? "drag" : "move"));
      on(w, "mousedown", (e: MouseEvent) => this.mouse(e, "press"));
      on(w, "mouseup", (e: MouseEvent) => this.mouse(e, "release"));
      on(w, "wheel", (e: WheelEvent) => this.mouse(e, e.deltaY < 0 ? "scroll_up" : "scroll_down"));
    }
    this.interval = setInterval(() => this.ship(false), this.cfg.flushIntervalMs ?? 5000);
    return this;
  }

  /** Stops listening, ends the session (last window and mouse action) and ships what is left. */
  async stop(): Promise<void> {
    for (const f of this.off) f();
    this.off = [];
    if (this.interval !== null) clearInterval(this.interval);
    this.interval = null;
    this.pending = [];
    this.edge.finish(this.out);
    this.ship(false);
    await this.transport.drained();
  }

  /** Ships the records emitted so far and resolves when the queue is empty. */
  flush(): Promise<void> {
    this.ship(false);
    return this.transport.drained();
  }

  private ship(hide: boolean): void {
    for (const r of this.out) this.cfg.onRecord?.(r);
    this.stats.records += this.out.length;
    if (this.out.length) this.transport.enqueue(this.out);
    this.out = [];
    if (hide) this.transport.flushOnHide();
  }

  private emitted(): void {
    if (this.out.length >= (this.cfg.maxBatchRecords ?? 200)) this.ship(false);
  }

  /** A context change: the window is summarised or dropped; keys still held are abandoned. */
  cut(): void {
    this.stats.keysAbandoned += this.pending.length;
    this.pending = [];
    this.stats.cuts += 1;
    this.edge.cut(this.out);
    this.emitted();
  }

  /** A device event the host knows of (a page cannot see USB devices): forwarded as a record. */
  device(d: DeviceEvent): void {
    this.edge.device(d, this.out);
    this.emitted();
  }

  private nonTyped(what: "pastes" | "drops" | "compositions" | "insertionsWithoutKeys"): void {
    this.stats[what] += 1;
    this.cut();
  }

  private input(e: InputEvent): void {
    const t = e.inputType || "";
    // A paste or drop was already counted by its own event; the insertion still cuts.
    if (t === "insertFromPaste" || t === "insertFromDrop") this.cut();
    else if (NON_TYPED.has(t) || t === "") this.nonTyped("insertionsWithoutKeys");
    else if (t.startsWith("insert") && t !== "insertCompositionText" && !this.keySinceInput) this.nonTyped("insertionsWithoutKeys");
    this.keySinceInput = false;
  }

  private route(e: Event): KeyRouting {
    const el = e.target as HTMLInputElement | null;
    const pw = !!el && el.tagName === "INPUT" && el.type === "password";
    if ((this.cfg.fixedTextSource ?? "password") === "any") return { phrase: true, freeText: !pw };
    return { phrase: pw, freeText: !pw };
  }

  private keydown(e: KeyboardEvent): void {
    if (!e.isTrusted) {
      this.stats.untrusted += 1;
      return;
    }
    if (this.composing || e.isComposing || e.keyCode === 229 || !e.code) return;
    this.keySinceInput = true;
    if (e.repeat || this.pending.some((p) => p.code === e.code && p.release_us === null)) {
      this.stats.repeatsFolded += 1;
      return;
    }
    this.pending.push({ code: e.code, press_us: this.stamp(e), release_us: null, route: this.route(e) });
    if (this.pending.length > MAX_PENDING) {
      this.pending.shift();
      this.stats.keysAbandoned += 1;
      this.drain();
    }
  }

  private keyup(e: KeyboardEvent): void {
    if (!e.isTrusted) {
      this.stats.untrusted += 1;
      return;
    }
    const p = this.pending.find((p) => p.code === e.code && p.release_us === null);
    if (!p) return;
    p.release_us = Math.max(p.press_us, this.stamp(e));
    this.drain();
  }

  private drain(): void {
    while (this.pending.length && this.pending[0].release_us !== null) {
      const p = this.pending.shift() as Pending;
      this.stats.keys += 1;
      this.edge.key({ code: p.code, press_us: p.press_us, release_us: p.release_us as number }, this.out, p.route);
    }
    this.emitted();
  }

  private mouse(e: MouseEvent, kind: MouseKind): void {
    if (!e.isTrusted) {
      this.stats.untrusted += 1;
      return;
    }
    if (kind === "move" || kind === "drag") {
      if (e.timeStamp - this.lastMoveMs < (this.cfg.mouseIntervalMs ?? 8)) return;
      this.lastMoveMs = e.timeStamp;
    }
    const button: MouseButton =
      kind === "move" ? "none" : kind.startsWith("scroll") ? "wheel" : e.button === 2 ? "right" : e.button === 1 ? "middle" : "left";
    this.edge.mouse({ t_us: this.stamp(e), x_px: e.clientX, y_px: e.clientY, button, kind }, this.out);
    this.emitted();
  }
}
