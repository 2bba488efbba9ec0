// Gzipped size of the script-tag (IIFE) bundle; exits 1 above the 15 KB budget.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

export const BUDGET = 15 * 1024;
export function measure(path = new URL("../dist/keyprint.iife.js", import.meta.url)) {
  const raw = readFileSync(path);
  return { raw: raw.length, gzip: gzipSync(raw, { level: 9 }).length };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { raw, gzip } = measure();
  const ok = gzip <= BUDGET;
  console.log(`dist/keyprint.iife.js: ${raw} bytes, ${gzip} bytes gzipped (${(gzip / 1024).toFixed(2)} KB; budget 15 KB) ${ok ? "ok" : "OVER BUDGET"}`);
  if (!ok) process.exit(1);
}
