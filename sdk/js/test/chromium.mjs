// Debian's Chromium (/usr/bin/chromium), headless, on a fresh empty profile (--user-data-dir), driven by
// playwright-core over the DevTools protocol. Shared by the browser test files.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/** Launches Chromium; `close()` also removes the profile. */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "keyprint-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
    timeout: 20_000,
  });
  return { context, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}
