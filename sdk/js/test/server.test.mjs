// The try page (`keyprint serve --try-page`) in real Chromium against the real server binary.
//
// The binary is $KEYPRINT_BIN, else target/release/keyprint, else target/debug/keyprint (.ci/run builds the
// release one first). It is started on 127.0.0.1 port 0 with a fresh data directory and an alerts file; the
// page is the server's own /try (the embedded SDK build), and the tests type into it through the DevTools
// protocol (playwright's keyboard: Input.dispatchKeyEvent) with the delays of real people: CMU Keystroke
// Dynamics Benchmark typings of `.tie5Roanl` (Killourhy & Maxion, DSN 2009;
// $KEYPRINT_DATASETS/DSL-StrongPasswordData.csv when present, else the excerpt committed with attribution in
// crates/keyprint-server/demo-data/cmu-demo.csv). Every request body the page posts to /v1/records is
// captured from the browser's side for the privacy checks.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launch } from "./chromium.mjs";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ENROL = 10; // fixed-text enrolment size given to the server (typings)
const OWNER = "s002";
const OTHER = "s003";
const PHRASE_CODES = ["Period", "KeyT", "KeyI", "KeyE", "Digit5", "KeyR", "KeyO", "KeyA", "KeyN", "KeyL", "Enter"];

function binary() {
  const cands = [process.env.KEYPRINT_BIN, join(ROOT, "target/release/keyprint"), join(ROOT, "target/debug/keyprint")];
  const b = cands.find((c) => c && existsSync(c));
  assert.ok(b, `no keyprint binary (set KEYPRINT_BIN or run cargo build -p keyprint-cli); looked at ${cands.filter(Boolean).join(", ")}`);
  return b;
}

/** CMU typings by subject: arrays of 31 values (s), in the file's order. */
function cmu() {
  const full = process.env.KEYPRINT_DATASETS
    ? [join(process.env.KEYPRINT_DATASETS, "DSL-StrongPasswordData.csv"), join(process.env.KEYPRINT_DATASETS, "cmu-dsl-strongpassword/DSL-StrongPasswordData.csv")].find(existsSync)
    : undefined;
  const path = full ?? join(ROOT, "crates/keyprint-server/demo-data/cmu-demo.csv");
  const [head, ...lines] = readFileSync(path, "utf8").trim().split(/\r?\n/);
  assert.equal(head.split(",").length, 34, `${path}: CMU header`);
  const by = new Map();
  for (const l of lines) {
    const f = l.split(",");
    if (!by.has(f[0])) by.set(f[0], []);
    by.get(f[0]).push(f.slice(3).map(Number));
  }
  return { path, by };
}

/** Key events (t in s from the start) that reproduce one CMU typing: holds, press-to-press times; Shift wraps R. */
function timeline(v) {
  const ev = [];
  let t = 0;
  for (let i = 0; i < PHRASE_CODES.length; i++) {
    const hold = v[3 * i];
    const code = PHRASE_CODES[i];
    if (code === "KeyR") {
      const before = Math.min(0.04, v[3 * (i - 1) + 1] / 2);
      ev.push({ t: t - before, type: "down", code: "ShiftLeft" }, { t: t + hold + 0.004, type: "up", code: "ShiftLeft" });
    }
    ev.push({ t, type: "down", code }, { t: t + hold, type: "up", code });
    if (i + 1 < PHRASE_CODES.length) t += v[3 * i + 1];
  }
  return ev.sort((a, b) => a.t - b.t);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `Input.dispatchKeyEvent` parameters per code (US layout): key, Windows virtual key code, text. */
const KEYS = { Period: [".", 190, "."], KeyT: ["t", 84, "t"], KeyI: ["i", 73, "i"], KeyE: ["e", 69, "e"], Digit5: ["5", 53, "5"],
  KeyR: ["R", 82, "R"], KeyO: ["o", 79, "o"], KeyA: ["a", 65, "a"], KeyN: ["n", 78, "n"], KeyL: ["l", 76, "l"], Enter: ["Enter", 13, "\r"],
  ShiftLeft: ["Shift", 16, ""] };

/**
 * Types one CMU typing through the DevTools protocol in real time: each `Input.dispatchKeyEvent` is sent at its
 * offset from the start (not awaited before the next is due) and carries that instant as its `timestamp`, which
 * Chromium gives the KeyboardEvent: the page measures the person's delays, not this machine's scheduling jitter
 * (two shared cores under a build would otherwise add tens of ms).
 */
async function typeCmu(cdp, v) {
  const wall0 = Date.now() + 20, t0 = performance.now() + 20;
  const sent = [];
  let shift = false;
  for (const e of timeline(v)) {
    const due = t0 + e.t * 1000;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait - 1);
    const [key, vk, text] = KEYS[e.code];
    if (e.code === "ShiftLeft") shift = e.type === "down";
    const p = { type: e.type === "up" ? "keyUp" : text ? "keyDown" : "rawKeyDown", code: e.code, key, windowsVirtualKeyCode: vk,
      modifiers: shift ? 8 : 0, timestamp: (wall0 + e.t * 1000) / 1000 };
    if (e.type === "down" && text) Object.assign(p, { text, unmodifiedText: text });
    if (e.code === "ShiftLeft") p.location = 1;
    sent.push(cdp.send("Input.dispatchKeyEvent", p));
  }
  await Promise.all(sent);
}

let proc, base, alertsPath, dir, browser, chrome, data;
/** Every body the pages posted to /v1/records, as the browser sent it. */
const bodies = [];

before(async () => {
  data = cmu();
  dir = mkdtempSync(join(tmpdir(), "keyprint-try-"));
  alertsPath = join(dir, "alerts.jsonl");
  proc = spawn(binary(), ["serve", "--data-dir", join(dir, "data"), "--bind", "127.0.0.1:0", "--try-page", "--enrol", String(ENROL),
    "--alerts-file", alertsPath], { stdio: ["ignore", "pipe", "inherit"] });
  base = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
    proc.stdout.on("data", (c) => {
      out += c;
      const m = out.match(/serving on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on("exit", (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
  chrome = await launch();
  browser = chrome.context;
  browser.on("request", (req) => {
    if (req.method() === "POST" && new URL(req.url()).pathname === "/v1/records") bodies.push({ raw: req.postData(), auth: req.headers().authorization });
  });
  console.log(`server ${base} (${binary()}), CMU typings from ${data.path}`);
});

after(async () => {
  await chrome?.close();
  proc?.kill("SIGINT");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Opens /try, starts as `user`; returns the page. */
async function start(user) {
  const page = await browser.newPage();
  await page.goto(`${base}/try`);
  await page.fill("#user", user);
  await page.click("#start");
  await page.waitForFunction(() => window.tryState.rec !== null, null, { timeout: 60_000 });
  return page;
}
const state = (page) => page.evaluate(() => ({ session: tryState.session, status: tryState.status, stats: tryState.rec.stats, sent: tryState.rec.sent }));
/** Flushes the page's recorder and waits until the page has shown a status newer than the flush. */
async function settle(page) {
  await page.evaluate(() => tryState.rec.flush());
  await page.evaluate(async () => {
    const q = `?session=${encodeURIComponent(tryState.session)}`;
    const r = await fetch(`/try/status${q}`, { headers: { authorization: `Bearer ${tryState.cred.token}` } });
    window.__last = await r.json();
  });
  return page.evaluate(() => window.__last);
}
/** The alerts the server delivered to its JSON Lines sink (`{"tenant","alert"}` a line), of the demo tenant. */
function alertsFile() {
  const lines = existsSync(alertsPath) ? readFileSync(alertsPath, "utf8").split("\n").filter(Boolean).map(JSON.parse) : [];
  return lines.map((l) => { assert.equal(l.tenant, "try"); return l.alert; });
}
// Waits are generous (a loaded CI host once made the server answer 15× slower than usual); they bound how long
// a failure takes, not how fast the product must be.
async function waitFor(what, f, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
const vectorsSent = (session) => bodies.map((b) => JSON.parse(b.raw)).filter((b) => b.session === session)
  .flatMap((b) => b.records).filter((r) => r.fixed_text).map((r) => r.fixed_text.vector);

test("the owner enrols and passes with CMU delays; another person's delays raise an alert at the server", { timeout: 600_000 }, async () => {
  const owner = data.by.get(OWNER), other = data.by.get(OTHER);
  assert.ok(owner?.length >= ENROL + 15 && other?.length >= 10, "CMU subjects present");
  const page = await start("alice");
  const cdp = await page.context().newCDPSession(page);
  await page.focus("#phrase");
  // Enrolment: typings 11–20 of s002 (after the first ten, while the person gets used to the phrase).
  const enrol = owner.slice(10, 10 + ENROL), probes = owner.slice(10 + ENROL, 10 + ENROL + 5);
  for (const v of enrol) { await typeCmu(cdp, v); await sleep(300); }
  let st = await settle(page);
  const fixed = () => st.enrolment.find((e) => e.engine === "fixed-text");
  await waitFor("enrolment", async () => { st = await settle(page); return fixed()?.enrolled; });
  // The browser reproduced the delays: the vectors it sent are the CMU ones within a few ms.
  const sent = vectorsSent((await state(page)).session);
  assert.equal(sent.length, ENROL, "one fixed_text record per typing");
  const err = Math.max(...sent.flatMap((v, i) => v.map((x, j) => Math.abs(x - enrol[i][j] * 1000))));
  console.log(`enrolled with ${ENROL} CMU ${OWNER} typings typed through CDP; largest timing error in what the page measured: ${err.toFixed(2)} ms`);
  assert.ok(err < 1, `typing harness off by ${err} ms`);

  // The owner goes on typing: trust stays above the threshold, no alert.
  for (const v of probes) { await typeCmu(cdp, v); await sleep(300); }
  st = await settle(page);
  const ownerTrust = st.session.info.trust;
  console.log(`owner (${OWNER}, 5 more typings): trust ${ownerTrust.trust.toFixed(1)}, state ${ownerTrust.state}, reasons ${JSON.stringify(ownerTrust.reasons.map((r) => r.code))}`);
  assert.equal(ownerTrust.state, "scoring");
  assert.ok(ownerTrust.trust >= 30, `owner trust ${ownerTrust.trust}`);
  assert.equal(st.alerts.length, 0, "no alert for the owner");

  // Hand over: a new session; s003 types on alice's account until the server alerts (at most 10 typings).
  const ownerSession = (await state(page)).session;
  await page.click("#handover");
  await page.waitForFunction((s) => tryState.session !== s, ownerSession);
  const handed = (await state(page)).session;
  await page.focus("#phrase");
  let typed = 0;
  for (const v of other.slice(0, 10)) {
    await typeCmu(cdp, v);
    typed += 1;
    await sleep(300);
    st = await settle(page);
    if (st.alerts.some((a) => a.session === handed)) break;
  }
  console.log(`other person (${OTHER}) on alice's account: alert after ${typed} typings; trust ${st.session.info.trust.trust.toFixed(1)}; reasons ${JSON.stringify(st.session.info.trust.reasons.map((r) => `${r.code}: ${r.detail}`))}`);
  // Delivered by the server's outbox to its alerts sink (a JSON Lines file here).
  const alert = await waitFor("the alert in the sink", () => alertsFile().find((a) => a.session === handed), 30_000).catch(() => null);
  assert.ok(alert, `the alerts sink received an alert for the handed-over session ${handed}; file: ${JSON.stringify(alertsFile())}`);
  assert.equal(alert.user, "alice");
  assert.ok(alert.reasons.some((r) => r.code === "keystroke_mismatch"), JSON.stringify(alert.reasons));
  // The page shows it too.
  await waitFor("the alert on the page", () => page.evaluate((s) => tryState.status?.alerts.some((a) => a.session === s), handed));
  assert.ok(!alertsFile().some((a) => a.session === ownerSession), "no alert on the owner's session");
  await page.close();
});

test("machine-speed typing is flagged as injection at the server", { timeout: 180_000 }, async () => {
  const page = await start("bot-target");
  await page.click("#free");
  await page.keyboard.type("the quick brown fox jumps over the lazy dog and keeps on going", { delay: 0 });
  const st = await waitFor("an injection reason", async () => {
    const s = await settle(page);
    return s.session?.info.trust.reasons.some((r) => r.code === "injection") && s;
  });
  const r = st.session.info.trust.reasons.find((x) => x.code === "injection");
  console.log(`machine speed: trust ${st.session.info.trust.trust.toFixed(1)}, ${r.code}: ${r.detail}; alerts ${st.alerts.length}`);
  const alert = await waitFor("an injection alert in the sink", () => alertsFile().find((a) => a.session === st.session.info.session), 30_000);
  assert.ok(alert.reasons.some((x) => x.code === "injection"), JSON.stringify(alert.reasons));
  await page.close();
});

test("dispatchEvent keys are synthetic: counted in the page, nothing reaches the server as typing", { timeout: 180_000 }, async () => {
  const page = await start("synthetic");
  await page.focus("#free");
  await page.evaluate(() => {
    const ta = document.getElementById("free");
    let t = 0;
    for (let i = 0; i < 300; i++) {
      const code = `Key${String.fromCharCode(65 + (i % 26))}`;
      ta.dispatchEvent(new KeyboardEvent("keydown", { code, key: code.slice(3).toLowerCase(), bubbles: true }));
      ta.dispatchEvent(new KeyboardEvent("keyup", { code, key: code.slice(3).toLowerCase(), bubbles: true }));
      t += 1;
    }
  });
  const s = await state(page);
  await settle(page);
  assert.equal(s.stats.untrusted, 600);
  assert.equal(s.stats.keys, 0);
  const recs = bodies.map((b) => JSON.parse(b.raw)).filter((b) => b.session === s.session).flatMap((b) => b.records);
  assert.equal(recs.length, 0, "no record for synthetic events");
  // A control: the same page, real (CDP) keys, gives typing records.
  await page.keyboard.type("a control sentence typed with real key events here", { delay: 20 });
  await page.mouse.move(50, 200);
  await page.mouse.move(300, 260, { steps: 12 });
  await page.mouse.down();
  await sleep(60);
  await page.mouse.up();
  await page.evaluate(() => tryState.rec.cut());
  await settle(page);
  const after = bodies.map((b) => JSON.parse(b.raw)).filter((b) => b.session === s.session).flatMap((b) => b.records);
  assert.ok(after.some((r) => r.free_text), "real keys give a free_text record");
  await waitFor("a mouse record", async () => { await page.evaluate(() => tryState.rec.stop()); return bodies.some((b) => b.raw.includes('"mouse"')); });
  console.log(`synthetic: ${s.stats.untrusted} dispatchEvent key events ignored, no record; control sent ${after.length} records`);
  await page.close();
});

test("pasted text produces no typing records at the server", { timeout: 180_000 }, async () => {
  const page = await start("paster");
  await page.focus("#free");
  const cdp = await page.context().newCDPSession(page);
  await page.keyboard.type("short", { delay: 60 });
  await cdp.send("Input.insertText", { text: "a long pasted paragraph ".repeat(20) });
  await page.evaluate(() => document.getElementById("free").dispatchEvent(new ClipboardEvent("paste", { bubbles: true })));
  await page.keyboard.type("end", { delay: 60 });
  await page.evaluate(() => tryState.rec.cut());
  const s = await state(page);
  const st = await settle(page);
  const recs = bodies.map((b) => JSON.parse(b.raw)).filter((b) => b.session === s.session).flatMap((b) => b.records);
  assert.ok(s.stats.insertionsWithoutKeys + s.stats.pastes >= 1, JSON.stringify(s.stats));
  assert.equal(recs.filter((r) => r.free_text || r.fixed_text).length, 0, "no typing record");
  assert.equal(st.session?.info.records ?? 0, 0, "the server stored no record for the session");
  await page.close();
});

const CODE_RE = /"(Key[A-Z]|Digit[0-9]|Numpad\w*|Space|Backspace|Enter|Tab|Shift(Left|Right)|Period|Comma)"|\.tie5Roanl|quick brown/;
const TOP = ["batch_seq", "device", "records", "session", "user"];
const KINDS = { free_text: ["at_us", "keys", "values", "vocab"], fixed_text: ["at_us", "phrase", "vector"], mouse: ["at_us", "features", "kind"], injection: ["at_us", "keystroke", "rule", "score"] };

/** Fails unless one posted body is content-free: a credential, the batch's fields, records of the specification only. */
function assertContentFree({ raw, auth }) {
  assert.match(auth ?? "", /^Bearer kp_/, "a credential, not a cookie");
  assert.doesNotMatch(raw, CODE_RE, "a key name or typed text in a body");
  const b = JSON.parse(raw);
  assert.deepEqual(Object.keys(b).sort(), TOP);
  for (const r of b.records) {
    const [kind, ...more] = Object.keys(r);
    assert.equal(more.length, 0);
    assert.ok(KINDS[kind], `record kind ${kind}`);
    assert.deepEqual(Object.keys(r[kind]).sort(), KINDS[kind], `fields of ${kind}`);
    // Only numbers, except the phrase id, the mouse action kind and the injection rule name.
    JSON.parse(JSON.stringify(r[kind]), (k, v) => {
      if (typeof v === "string") assert.ok(["phrase", "kind", "rule"].includes(k), `string in ${kind}.${k}`);
      return v;
    });
    // Fixed lengths: no per-key sequence can ride along. A free-text summary is the 162-entry vocabulary of
    // EDGE.md (version 2), numbers or null; a typing of the 11-key phrase is 31 timings; a mouse action 46 features.
    if (kind === "free_text") {
      assert.equal(r.free_text.vocab, 2);
      assert.equal(r.free_text.values.length, 162);
      assert.ok(r.free_text.values.every((x) => typeof x === "number" || x === null));
    }
    if (kind === "fixed_text") assert.equal(r.fixed_text.vector.length, 3 * PHRASE_CODES.length - 2);
    if (kind === "mouse") assert.equal(r.mouse.features.length, 46);
  }
  return b.records.length;
}

test("nothing the browser sent holds a key identity (every body the pages posted, checked structurally)", () => {
  assert.ok(bodies.length >= 10, `bodies captured: ${bodies.length}`);
  let n = 0;
  for (const b of bodies) n += assertContentFree(b);
  const kinds = new Set(bodies.flatMap((b) => JSON.parse(b.raw).records.map((r) => Object.keys(r)[0])));
  console.log(`privacy: ${bodies.length} bodies, ${n} records posted by the page (${[...kinds].join(", ")}), none with a key identity`);
  // The check itself fails on a body that carries keys, a field of an earlier wire, or a longer vector.
  const good = bodies.find((b) => b.raw.includes("fixed_text"));
  const bad = [
    good.raw.replace('"records":[', '"records":[{"free_text":{"at_us":1,"vocab":2,"keys":2,"values":["KeyA"]}},'),
    good.raw.replace('"records":[', '"keys":[{"code":"KeyA","press_us":1,"release_us":2}],"records":['),
    good.raw.replace('"vector":[', '"vector":[1,'),
  ];
  for (const raw of bad) assert.throws(() => assertContentFree({ raw, auth: good.auth }));
});
