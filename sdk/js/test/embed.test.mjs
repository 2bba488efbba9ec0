// The server embeds the script-tag build (crates/keyprint-server/src/try_page/keyprint.iife.js, committed).
// This fails when that copy differs from a fresh build of the current sources: run `npm run embed` and commit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { EMBED_PATH, expected } from "../scripts/embed.mjs";

test("the server's embedded SDK equals a fresh build of the current sources", () => {
  const want = expected();
  const got = readFileSync(EMBED_PATH, "utf8");
  assert.ok(got === want, "crates/keyprint-server/src/try_page/keyprint.iife.js is stale: run `cd sdk/js && npm run build && npm run embed` and commit it");
  // The control: a changed byte is seen.
  assert.notEqual(got + " ", want);
});
