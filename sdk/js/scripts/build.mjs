// Builds dist/keyprint.mjs (ES module), dist/keyprint.iife.js (script tag, global `Keyprint`) and the
// type declarations, then prints the IIFE bundle's gzipped size (fails above 15 KB).
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { measure, BUDGET } from "./size.mjs";

const common = { entryPoints: ["src/index.ts"], bundle: true, minify: true, target: "es2020", legalComments: "none" };
await build({ ...common, format: "esm", outfile: "dist/keyprint.mjs" });
await build({ ...common, format: "iife", globalName: "Keyprint", outfile: "dist/keyprint.iife.js" });
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "."], { stdio: "inherit" });
const { raw, gzip } = measure();
console.log(`dist/keyprint.iife.js: ${raw} bytes, ${gzip} bytes gzipped (${(gzip / 1024).toFixed(2)} KB; budget 15 KB)`);
if (gzip > BUDGET) {
  console.error("bundle over the 15 KB gzip budget");
  process.exit(1);
}
