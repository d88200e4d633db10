// Budgets: the page's JavaScript is at most 60 KB gzip — all of web/dist's,
// and what the browser actually loads on the way from sign-in to a thread.
import { expect, test } from "@playwright/test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Api, CHRIS, composer, signIn } from "./support";

const BUDGET = 60 * 1024;

function gz(bytes: Buffer): number {
  return gzipSync(bytes, { level: 9 }).length;
}

function jsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return jsFiles(path);
    return /\.m?js$/.test(name) ? [path] : [];
  });
}

test("all JavaScript in web/dist is at most 60 KB gzip", async () => {
  const dist = process.env.LIAISON_E2E_WEB_DIST;
  test.skip(!dist, "LIAISON_E2E_WEB_DIST is not set (run.sh sets it)");
  const files = jsFiles(dist!);
  expect(files.length, "web/dist holds the page's JavaScript").toBeGreaterThan(0);
  const sizes = files.map((f) => ({ file: f.slice(dist!.length + 1), gzip: gz(readFileSync(f)) }));
  const total = sizes.reduce((n, s) => n + s.gzip, 0);
  console.log(`web/dist JavaScript: ${(total / 1024).toFixed(1)} KB gzip (${sizes.map((s) => `${s.file} ${(s.gzip / 1024).toFixed(1)} KB`).join(", ")})`);
  test.info().annotations.push({ type: "js-gzip-bytes", description: String(total) });
  expect(total).toBeLessThanOrEqual(BUDGET);
});

test("the JavaScript loaded from sign-in to a thread is at most 60 KB gzip", async ({ page, request }) => {
  const scripts = new Map<string, number>();
  page.on("response", async (res) => {
    if (res.request().resourceType() !== "script") return;
    try {
      scripts.set(res.url(), gz(await res.body()));
    } catch {
      // A response without a body (e.g. a redirect) holds no script.
    }
  });
  await signIn(page, CHRIS);
  await page.getByRole("button", { name: "New", exact: true }).click();
  await expect(page.getByRole("dialog", { name: "New thread" })).toBeVisible();
  await page.keyboard.press("Escape");
  const api = await Api.as(request, CHRIS);
  const id = await api.open({ kind: "general" });
  await page.goto(`/messages/${id}`);
  await expect(composer(page)).toBeVisible();
  await page.waitForLoadState("networkidle");
  const total = [...scripts.values()].reduce((a, b) => a + b, 0);
  console.log(`JavaScript loaded: ${(total / 1024).toFixed(1)} KB gzip in ${scripts.size} file(s)`);
  expect(scripts.size).toBeGreaterThan(0);
  expect(total).toBeLessThanOrEqual(BUDGET);
});
