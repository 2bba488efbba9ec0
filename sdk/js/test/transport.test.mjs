// The Transport's delivery rules with a fake fetch: order and numbering, retry with back-off, rejected and
// dropped batches, the bounded queue without batch_seq gaps, keepalive on page hide.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Transport } from "../dist/keyprint.mjs";

const rec = (i) => ({ mouse: { at_us: i, kind: "mouse_move", features: new Array(46).fill(0) } });
const recs = (n) => Array.from({ length: n }, (_, i) => rec(i));

/** A fetch that answers with `answer(call)` (a status, or "throw"), recording every call. */
function fakeFetch(answer) {
  const calls = [];
  const f = async (url, init) => {
    const call = { url, init, body: JSON.parse(init.body) };
    calls.push(call);
    const a = answer(call, calls.length);
    if (a === "throw") throw new TypeError("network down");
    return { ok: a >= 200 && a < 300, status: a };
  };
  return { f, calls };
}

const base = { endpoint: "https://kp.test/v1/records", user: "u", session: "s", retryBaseMs: 2, retryMaxMs: 10 };

test("batches go out in order, numbered from firstBatchSeq, with the bearer token and the batch shape", async () => {
  const { f, calls } = fakeFetch(() => 200);
  const t = new Transport({ ...base, fetch: f, maxBatchRecords: 2, token: "tok", firstBatchSeq: 4, device: "d" });
  t.enqueue(recs(5));
  await t.drained();
  assert.deepEqual(calls.map((c) => c.body.batch_seq), [4, 5, 6]);
  assert.deepEqual(calls.map((c) => c.body.records.length), [2, 2, 1]);
  assert.deepEqual(Object.keys(calls[0].body), ["user", "session", "device", "batch_seq", "records"]);
  assert.equal(calls[0].init.headers.authorization, "Bearer tok");
  assert.equal(t.stats.batchesSent, 3);
  assert.equal(t.stats.recordsSent, 5);
});

test("network errors, 5xx, 429 and 401 are retried with the same batch_seq; the token function is asked again", async () => {
  const answers = ["throw", 503, 429, 401, 200];
  const { f, calls } = fakeFetch((_, n) => answers[n - 1] ?? 200);
  let asked = 0;
  const t = new Transport({ ...base, fetch: f, token: () => `t${++asked}` });
  t.enqueue(recs(3));
  await t.drained();
  assert.equal(calls.length, 5);
  assert.ok(calls.every((c) => c.body.batch_seq === 0));
  assert.equal(calls[4].init.headers.authorization, "Bearer t5");
  assert.equal(t.stats.retries, 4);
  assert.equal(t.stats.batchesSent, 1);
});

test("a 422 or 409 drops the batch and the next one follows", async () => {
  const { f, calls } = fakeFetch((c) => (c.body.batch_seq === 0 ? 422 : c.body.batch_seq === 1 ? 409 : 200));
  const t = new Transport({ ...base, fetch: f, maxBatchRecords: 1 });
  t.enqueue(recs(3));
  await t.drained();
  assert.deepEqual(calls.map((c) => c.body.batch_seq), [0, 1, 2]);
  assert.equal(t.stats.batchesRejected, 2);
  assert.equal(t.stats.batchesSent, 1);
});

test("the offline queue is bounded and dropping never leaves a batch_seq gap", async () => {
  let online = false;
  const { f, calls } = fakeFetch(() => (online ? 200 : "throw"));
  const t = new Transport({ ...base, fetch: f, maxBatchRecords: 1, maxQueuedBatches: 3 });
  t.enqueue(recs(10));
  assert.equal(t.stats.batchesDropped, 7);
  assert.equal(t.stats.recordsDropped, 7);
  assert.equal(t.pending(), 3);
  await new Promise((r) => setTimeout(r, 30));
  online = true;
  await t.drained();
  const sent = calls.filter((c, i) => i >= calls.length - 3).map((c) => c.body.batch_seq);
  assert.deepEqual(sent, [0, 1, 2]);
  assert.equal(t.stats.batchesSent, 3);
});

test("page hide sends every queued batch with keepalive, merged, without waiting", async () => {
  const { f, calls } = fakeFetch(() => "throw");
  const t = new Transport({ ...base, fetch: f, maxBatchRecords: 2, token: "tok", retryBaseMs: 1e6, retryMaxMs: 1e6 });
  t.enqueue(recs(1)); // goes out at once, fails: numbered 0, waits for its retry
  await new Promise((r) => setTimeout(r, 5));
  t.enqueue([rec(1)]);
  t.enqueue([rec(2)]);
  const before = calls.length;
  t.flushOnHide();
  const hide = calls.slice(before);
  assert.deepEqual(hide.map((c) => c.body.batch_seq), [0, 1]);
  assert.deepEqual(hide.map((c) => c.body.records.length), [1, 2]);
  assert.ok(hide.every((c) => c.init.keepalive === true && c.init.headers.authorization === "Bearer tok"));
  t.flushOnHide(); // a second hide event (visibilitychange, then pagehide) sends nothing again
  assert.equal(calls.length, before + 2);
  t.close();
});

test("after a page hide numbered every batch, the bound drops only batches never sent: no gap", async () => {
  let online = false;
  const { f, calls } = fakeFetch(() => (online ? 200 : "throw"));
  const t = new Transport({ ...base, fetch: f, maxBatchRecords: 1, maxQueuedBatches: 2, retryBaseMs: 1, retryMaxMs: 2 });
  t.enqueue(recs(1)); // in flight and failing: seq 0
  t.flushOnHide();
  t.enqueue([rec(1)]);
  t.flushOnHide(); // seq 1, sent with keepalive
  t.enqueue(recs(3)); // 5 queued, bound 2: the 3 never sent are dropped, not 0 or 1
  assert.equal(t.stats.batchesDropped, 3);
  assert.equal(t.pending(), 2);
  online = true;
  await t.drained();
  t.enqueue([rec(9)]); // numbered 2, right after the two kept
  await t.drained();
  const stored = new Set(calls.filter((c) => c.init.keepalive !== true).map((c) => c.body.batch_seq));
  assert.deepEqual([...stored].sort(), [0, 1, 2]);
});
