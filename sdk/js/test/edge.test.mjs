// Edge behaviour beyond the conformance vectors: checked settings, bounded memory, key routing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Edge, keyClass, SUMMARY_DIM } from "../dist/keyprint.mjs";

const key = (code, i) => ({ code, press_us: i * 150_000, release_us: i * 150_000 + 90_000 });

test("bad settings are refused", () => {
  assert.throws(() => new Edge({ window_keys: 19 }), /window_keys/);
  assert.throws(() => new Edge({ window_keys: 10_001 }), /window_keys/);
  assert.throws(() => new Edge({ phrase: { id: "p", codes: ["KeyA"] } }), /2 to 256/);
  assert.throws(() => new Edge({ phrase: { id: "has space", codes: ["KeyA", "KeyB"] } }), /phrase id/);
  assert.doesNotThrow(() => new Edge({ window_keys: 20, phrase: { id: "p-1", codes: ["KeyA", "KeyB"] } }));
});

test("key classes follow the table; letters only by hand (15 left, 11 right)", () => {
  assert.equal(keyClass("Space"), 0);
  assert.equal(keyClass("KeyB"), 4);
  assert.equal(keyClass("KeyN"), 5);
  assert.equal(keyClass("Comma"), 7);
  assert.equal(keyClass("Numpad0"), 6);
  assert.equal(keyClass("NumpadAdd"), 7);
  assert.equal(keyClass("Digits"), 7);
  const letters = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"].map((c) => `Key${c}`);
  const count = (c) => letters.filter((l) => keyClass(l) === c).length;
  assert.deepEqual([count(4), count(5)], [15, 11]);
});

test("memory holds at most one window and one phrase of keys", () => {
  const edge = new Edge({ window_keys: 20, phrase: { id: "p", codes: ["KeyQ", "KeyZ", "KeyX"] } });
  const out = [];
  let most = 0;
  for (let i = 0; i < 500; i++) {
    edge.key(key(i % 3 ? "KeyE" : "Space", i), out);
    most = Math.max(most, edge.keysHeld());
  }
  assert.ok(most <= 20 + 2 * 3, `held ${most}`);
  assert.equal(out.filter((r) => r.free_text).length, 25);
  for (const r of out.filter((r) => r.free_text)) assert.equal(r.free_text.values.length, SUMMARY_DIM);
});

test("routing: phrase-only keys give a fixed_text and no window; free-text-only keys give no fixed_text", () => {
  const phrase = { id: "p", codes: ["KeyA", "KeyB", "KeyC"] };
  const a = new Edge({ window_keys: 20, phrase });
  const out = [];
  for (let i = 0; i < 30; i++) a.key(key(phrase.codes[i % 3], i), out, { phrase: true, freeText: false });
  a.finish(out);
  assert.equal(out.filter((r) => r.fixed_text).length, 10);
  assert.equal(out.filter((r) => r.free_text).length, 0);
  const b = new Edge({ window_keys: 20, phrase });
  const out2 = [];
  for (let i = 0; i < 30; i++) b.key(key(phrase.codes[i % 3], i), out2, { phrase: false, freeText: true });
  b.finish(out2);
  assert.equal(out2.filter((r) => r.fixed_text).length, 0);
  assert.equal(out2.filter((r) => r.free_text).length, 1);
});
