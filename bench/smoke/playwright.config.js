// Playwright Test doing what `hoist smoke` does for the benchmark: same
// pages, same checks, one desktop viewport, two workers, the system's
// Chromium (no browser download).
const { defineConfig } = require("@playwright/test");

module.exports = defineConfig({
  testDir: ".",
  testMatch: "smoke.spec.js",
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: "dot",
  outputDir: "out/playwright-results",
  use: {
    baseURL: process.env.BASE_URL,
    viewport: { width: 1280, height: 800 },
    launchOptions: {
      executablePath: process.env.PW_CHROMIUM || "/usr/lib/chromium/chromium-headless-shell",
      args: ["--disable-gpu", "--disable-component-update", "--disable-quic", "--disable-background-networking"],
    },
    trace: "off",
    screenshot: "off",
    video: "off",
  },
});
