// Liaison's page in a real browser: Debian's chromium (no browser download),
// headless, against the local stack web/e2e/run.sh starts on its own ports.
import { defineConfig } from "@playwright/test";

const baseURL = process.env.LIAISON_E2E_BASE_URL;
if (!baseURL) {
  throw new Error("LIAISON_E2E_BASE_URL is not set: run the tests with web/e2e/run.sh (or make test-web)");
}

export default defineConfig({
  testDir: "./tests",
  // One stack, shared state (unread counts): one test at a time, in order.
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  // The manager's badge may take a whole poll interval (≤ 15 s) to move.
  timeout: 90_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL,
    headless: true,
    viewport: { width: 1280, height: 800 },
    locale: "en-GB",
    timezoneId: "UTC",
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
