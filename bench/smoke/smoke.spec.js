// The checks of hoist smoke, page by page: document status, console errors,
// uncaught exceptions, failed requests, fonts, expected text and selector,
// and a full-page screenshot.
const { test, expect } = require("@playwright/test");

const pages = (process.env.PAGES || "/").split(",");

for (const path of pages) {
  test(`smoke ${path}`, async ({ page }) => {
    const problems = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`exception: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400 && !r.url().endsWith("/favicon.ico")) problems.push(`HTTP ${r.status()} ${r.url()}`);
    });
    const started = Date.now();
    const resp = await page.goto(path, { waitUntil: "load" });
    const loadMs = Date.now() - started;
    expect(resp.status()).toBeLessThan(400);
    await page.evaluate(() => document.fonts.ready);
    await expect(page.locator("body")).toContainText("Shop");
    expect(await page.locator(".product").count()).toBeGreaterThan(0);
    const safe = path.replace(/[^a-z0-9]+/gi, "_");
    await page.screenshot({ path: `out/playwright-shots/${safe}.png`, fullPage: true, scale: "css" });
    expect(loadMs).toBeLessThan(5000);
    expect(problems).toEqual([]);
  });
}
