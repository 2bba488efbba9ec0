// The edge's conformance vectors (docs/edge-conformance/v2.json, written by the Rust edge): every case's
// inputs fed to the SDK's Edge must give the same records, in the same order, numbers within 1e-9 relative.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Edge } from "../dist/keyprint.mjs";

const doc = JSON.parse(readFileSync(new URL("../../../docs/edge-conformance/v2.json", import.meta.url), "utf8"));
const REL = 1e-9;
let worst = { rel: 0, where: "" };

/** Deep comparison; numbers within REL relative (absolute 1e-12 around 0). Returns the first difference. */
function diff(got, want, path, stats = { rel: 0, where: "" }) {
  if (typeof want === "number") {
    if (typeof got !== "number" || !Number.isFinite(got)) return `${path}: got ${JSON.stringify(got)}, want ${want}`;
    const d = Math.abs(got - want);
    const scale = Math.max(Math.abs(got), Math.abs(want));
    const rel = scale > 0 ? d / scale : 0;
    if (rel > stats.rel) Object.assign(stats, { rel, where: path });
    if (d > REL * scale && d > 1e-12) return `${path}: got ${got}, want ${want} (relative error ${rel})`;
    return null;
  }
  if (want === null || typeof want !== "object") {
    return got === want ? null : `${path}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got)) return `${path}: not an array`;
    if (got.length !== want.length) return `${path}: length ${got.length}, want ${want.length}`;
    for (let i = 0; i < want.length; i++) {
      const d = diff(got[i], want[i], `${path}[${i}]`, stats);
      if (d) return d;
    }
    return null;
  }
  if (got === null || typeof got !== "object" || Array.isArray(got)) return `${path}: not an object`;
  const gk = Object.keys(got).sort().join(","), wk = Object.keys(want).sort().join(",");
  if (gk !== wk) return `${path}: fields {${gk}}, want {${wk}}`;
  for (const k of Object.keys(want)) {
    const d = diff(got[k], want[k], `${path}.${k}`, stats);
    if (d) return d;
  }
  return null;
}

function run(c) {
  const edge = new Edge({ phrase: c.config.phrase, window_keys: c.config.window_keys });
  const out = [];
  for (const i of c.inputs) {
    if (i.key) edge.key(i.key, out);
    else if (i.mouse) edge.mouse(i.mouse, out);
    else if (i.device) edge.device(i.device, out);
    else if (i.cut) edge.cut(out);
    else throw new Error(`unknown input ${JSON.stringify(i)}`);
  }
  edge.finish(out);
  return out;
}

test("the vector file is version 2 and has the five cases", () => {
  assert.equal(doc.vocab, 2);
  assert.deepEqual(doc.cases.map((c) => c.name), [
    "free-text windows",
    "fixed phrase",
    "injection after attach",
    "mouse actions",
    "free-text every class, pauses, sparse window",
  ]);
});

for (const c of doc.cases) {
  test(`conformance: ${c.name}`, () => {
    const got = run(c);
    assert.ok(c.records.length > 0);
    const stats = { rel: 0, where: "" };
    const d = diff(got, c.records, "records", stats);
    if (stats.rel >= worst.rel) worst = { rel: stats.rel, where: `${c.name}: ${stats.where}` };
    assert.equal(d, null, d ?? "");
  });
}

test("the comparison itself fails on a perturbed record", () => {
  const c = doc.cases[0];
  const got = run(c);
  const v = got[0].free_text.values;
  const i = v.findIndex((x) => typeof x === "number" && x !== 0);
  v[i] *= 1 + 1e-7;
  assert.notEqual(diff(got, c.records, "records"), null);
});

test("report the largest relative error", () => {
  console.log(`largest relative error over all cases: ${worst.rel.toExponential(3)} at ${worst.where || "-"}`);
  assert.ok(worst.rel <= REL);
});
