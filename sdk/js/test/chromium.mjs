// Debian's Chromium (/usr/bin/chromium), headless, on a fresh empty profile (--user-data-dir), driven by
// playwright-core over the DevTools protocol. Shared by the browser test files.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

/**
 * Launches Chromium; `close()` also removes the profile. A launch that times out (seen once on a clean-clone CI
 * run: Chromium started but did not answer within 20 s, while the same tests passed a minute later) is tried
 * once more on a fresh profile; test logic is never retried.
 */
export async function launch() {
  for (let attempt = 1; ; attempt++) {
    const profile = mkdtempSync(join(tmpdir(), "keyprint-chromium-"));
    try {
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: "/usr/bin/chromium",
        headless: true,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
          "--disable-component-update", "--disable-sync"],
        timeout: 60_000,
      });
      return { context, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
    } catch (e) {
      rmSync(profile, { recursive: true, force: true });
      if (attempt >= 2 || e?.name !== "TimeoutError") throw e;
      console.error(`# Chromium launch timed out (attempt ${attempt}); trying once more`);
    }
  }
}
