/**
 * Batches of records to `POST /v1/records`: `{"user","session","device","batch_seq","records":[…]}`.
 *
 * - Batches are sent one at a time, in order; a batch gets its `batch_seq` when it is first sent and keeps it
 *   through retries (the server answers a resent, already stored `batch_seq` with `duplicate: true`).
 * - Network errors, 5xx, 429, 401 and 403 are retried with exponential back-off and jitter (the bearer
 *   credential is asked for again on every try, so a short-lived one can be renewed); 409 (stale) and other
 *   4xx drop the batch and count it.
 * - The queue is bounded (`maxQueuedBatches`): past it the oldest batch never sent is dropped and counted, so
 *   `batch_seq` never has a gap.
 * - On page hide, everything queued is sent with `fetch(…, {keepalive: true})`; `navigator.sendBeacon` is used
 *   instead only when a `beaconUrl` is configured (a beacon cannot carry the `Authorization` header).
 */
import type { WireRecord } from "./edge.js";

export interface TransportConfig {
  endpoint: string;
  user: string;
  session: string;
  device?: string | null;
  /** Bearer credential, or a function returning one (asked on every send). */
  token?: string | (() => string | null | Promise<string | null>) | null;
  /** First batch_seq (a page that resumes a session continues its numbering). */
  firstBatchSeq?: number;
  maxBatchRecords?: number;
  maxQueuedBatches?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** URL for navigator.sendBeacon on page hide (must accept the batch without an Authorization header). */
  beaconUrl?: string | null;
  fetch?: typeof fetch;
}

export interface TransportStats {
  batchesSent: number;
  recordsSent: number;
  batchesRejected: number;
  batchesDropped: number;
  recordsDropped: number;
  retries: number;
}

interface Batch {
  seq: number | null;
  records: WireRecord[];
  /** Already sent by a page-hide flush (visibilitychange then pagehide would send it twice). */
  hideSent?: boolean;
}

const KEEPALIVE_MAX = 60_000;

export class Transport {
  private c: Required<Omit<TransportConfig, "token" | "device" | "beaconUrl" | "fetch">> & TransportConfig;
  private queue: Batch[] = [];
  private nextSeq: number;
  private sending = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waiters: (() => void)[] = [];
  private lastToken: string | null = null;
  stats: TransportStats = { batchesSent: 0, recordsSent: 0, batchesRejected: 0, batchesDropped: 0, recordsDropped: 0, retries: 0 };

  constructor(cfg: TransportConfig) {
    this.c = { firstBatchSeq: 0, maxBatchRecords: 200, maxQueuedBatches: 50, retryBaseMs: 1000, retryMaxMs: 60_000, ...cfg };
    this.nextSeq = this.c.firstBatchSeq;
  }

  /** Records waiting to be sent (all queued batches). */
  pending(): number {
    let n = 0;
    for (const b of this.queue) n += b.records.length;
    return n;
  }

  /** Queues records as batches of at most maxBatchRecords and starts sending. */
  enqueue(records: WireRecord[]): void {
    for (let i = 0; i < records.length; i += this.c.maxBatchRecords) {
      this.queue.push({ seq: null, records: records.slice(i, i + this.c.maxBatchRecords) });
    }
    while (this.queue.length > this.c.maxQueuedBatches) {
      // Only a batch never sent is dropped (a numbered one may be stored already; dropping it would leave a
      // gap): the queue exceeds its bound by at most the batches numbered at a page hide.
      const i = this.queue.findIndex((b) => b.seq === null);
      if (i < 0) break;
      const [b] = this.queue.splice(i, 1);
      this.stats.batchesDropped += 1;
      this.stats.recordsDropped += b.records.length;
    }
    this.pump();
  }

  /** Resolves when the queue is empty (or never, while the endpoint is unreachable). */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private body(b: Batch): string {
    if (b.seq === null) b.seq = this.nextSeq++;
    return JSON.stringify({ user: this.c.user, session: this.c.session, device: this.c.device ?? null, batch_seq: b.seq, records: b.records });
  }

  private async headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = { "content-type": "application/json" };
    const t = typeof this.c.token === "function" ? await this.c.token() : this.c.token;
    if (t) h.authorization = `Bearer ${t}`;
    this.lastToken = t ?? null;
    return h;
  }

  /** Stops retrying (a pending retry timer is cleared); queued batches stay queued. */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Wakes the sender (e.g. when the browser comes back online). */
  pump(): void {
    if (this.sending || this.timer !== null) return;
    if (this.queue.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
      return;
    }
    this.sending = true;
    void this.sendHead().finally(() => {
      this.sending = false;
    });
  }

  private async sendHead(): Promise<void> {
    const b = this.queue[0];
    const body = this.body(b);
    const f = this.c.fetch ?? globalThis.fetch.bind(globalThis);
    let retry = false;
    try {
      const res = await f(this.c.endpoint, { method: "POST", headers: await this.headers(), body });
      if (res.ok) {
        this.stats.batchesSent += 1;
        this.stats.recordsSent += b.records.length;
      } else if (res.status >= 500 || res.status === 429 || res.status === 401 || res.status === 403) retry = true;
      else this.stats.batchesRejected += 1;
    } catch {
      retry = true;
    }
    if (retry) {
      this.stats.retries += 1;
      const d = Math.min(this.c.retryMaxMs, this.c.retryBaseMs * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt = Math.min(this.attempt + 1, 20);
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, d);
      return;
    }
    this.attempt = 0;
    if (this.queue[0] === b) this.queue.shift();
    this.sending = false;
    this.pump();
  }

  /**
   * Page hide: merges the batches not yet numbered, then sends every queued batch with keepalive (or a
   * beacon), without waiting for answers. Batches stay queued: if the page comes back, they are resent and
   * the server answers duplicates as such.
   */
  flushOnHide(): void {
    const head = this.queue.filter((b) => b.seq !== null);
    const fresh = this.queue.filter((b) => b.seq === null).flatMap((b) => b.records);
    const merged: Batch[] = [];
    for (let i = 0; i < fresh.length; i += this.c.maxBatchRecords) merged.push({ seq: null, records: fresh.slice(i, i + this.c.maxBatchRecords) });
    this.queue = head.concat(merged);
    const token = typeof this.c.token === "function" ? this.lastToken : this.c.token;
    for (const b of this.queue) {
      if (b.hideSent) continue;
      b.hideSent = true;
      const body = this.body(b);
      const beacon = this.c.beaconUrl && typeof navigator !== "undefined" && navigator.sendBeacon;
      if (body.length <= KEEPALIVE_MAX || !beacon) {
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (token) headers.authorization = `Bearer ${token}`;
        try {
          void (this.c.fetch ?? fetch)(this.c.endpoint, { method: "POST", headers, body, keepalive: body.length <= KEEPALIVE_MAX }).catch(() => undefined);
        } catch {
          /* the page is going away */
        }
      } else navigator.sendBeacon(this.c.beaconUrl as string, new Blob([body], { type: "application/json" }));
    }
  }
}
