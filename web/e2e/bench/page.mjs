// The Messages page's speed, for `make bench` (bench/src/page.rs starts the
// local stack, seeds it and runs this with node): prints one JSON object on
// stdout, progress on stderr.
//
// - Cold load: a fresh browser context each time (empty HTTP cache, no open
//   connections), signed in (the token in sessionStorage, as the sign-in
//   screen leaves it), from navigation start to the thread list painted
//   (Element Timing on its first items' text). Beside it
//   the floor: a plain HTML page with the same visible content (the
//   rendered page, saved without its scripts; same stylesheet), served by
//   the same gateway, loaded the same way.
// - A thread of many messages: from a click on it in the thread list (the
//   app already loaded) to its first screen of messages rendered, and cold
//   by its link; the page's memory (JS heap after a forced GC, DOM nodes)
//   after the first screen and after paging back through every message.
//
// Environment: LIAISON_BENCH_BASE_URL (the gateway), LIAISON_BENCH_USER,
// LIAISON_BENCH_THREAD (the long thread's id), LIAISON_BENCH_THREAD_LABEL
// (its name in the list), LIAISON_BENCH_FLOOR (where to write the floor page:
// a file the gateway serves as /floor.html), LIAISON_BENCH_RUNS (cold loads
// of each page, default 7 here, 5 from make bench), LIAISON_BENCH_THREAD_RUNS (default 3), CHROMIUM.
import { chromium } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const env = (name, fallback) => {
  const v = process.env[name];
  if (v === undefined || v === "") {
    if (fallback === undefined) throw new Error(`${name} is not set`);
    return fallback;
  }
  return v;
};
const BASE = env("LIAISON_BENCH_BASE_URL").replace(/\/+$/, "");
const USER = env("LIAISON_BENCH_USER");
const THREAD = env("LIAISON_BENCH_THREAD");
const THREAD_LABEL = env("LIAISON_BENCH_THREAD_LABEL");
const FLOOR = env("LIAISON_BENCH_FLOOR");
const RUNS = Number(env("LIAISON_BENCH_RUNS", "7"));
const THREAD_RUNS = Number(env("LIAISON_BENCH_THREAD_RUNS", "3"));
const TOKEN_KEY = "liaison.token";
const LIST = 'ul[aria-label="Threads"] > li';
const ARTICLE = 'ol[aria-label="Conversation"] article';
const TIMEOUT = 30_000;

const log = (...a) => console.error("page bench:", ...a);
const gz = (buf) => gzipSync(buf, { level: 9 }).length;
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

// Runs in the page before any of its scripts: notes when the first element
// matching a selector is in the DOM, the animation frame after, and when its
// text is painted (Element Timing: the text-holding elements found then get
// an `elementtiming` attribute before the next paint), in ms since
// navigation start.
function watch(selectors) {
  const seen = {};
  window.__bench = { seen, t0: null };
  const mark = (root, name) => {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (n.textContent.trim() && el && !el.hasAttribute("elementtiming")) el.setAttribute("elementtiming", name);
    }
  };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const s = seen[e.identifier];
      const at = e.renderTime || e.loadTime;
      if (s && at && (s.paint === undefined || at < s.paint)) s.paint = at;
    }
  }).observe({ type: "element", buffered: true });
  const check = () => {
    for (const [name, sel] of Object.entries(selectors)) {
      if (seen[name] || !document.querySelector(sel)) continue;
      const dom = performance.now();
      seen[name] = { dom, t0: window.__bench.t0 };
      for (const el of document.querySelectorAll(sel)) mark(el, name);
      requestAnimationFrame(() => {
        seen[name].frame = performance.now();
      });
    }
  };
  new MutationObserver(check).observe(document, { childList: true, subtree: true });
  document.addEventListener("DOMContentLoaded", check);
}

async function token() {
  const r = await fetch(`${BASE}/dev/token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: USER }),
  });
  if (!r.ok) throw new Error(`POST /dev/token answered ${r.status}`);
  return (await r.json()).token;
}

async function freshPage(browser, tok, selectors) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  // Signed in as the sign-in screen leaves it.
  await context.addInitScript(([k, t]) => sessionStorage.setItem(k, t), [TOKEN_KEY, tok]);
  await context.addInitScript(watch, selectors);
  const page = await context.newPage();
  const weights = { script: [], stylesheet: [], document: [], fetch: [] };
  page.on("response", async (res) => {
    const type = res.request().resourceType();
    const into = weights[type === "xhr" ? "fetch" : type];
    if (!into) return;
    try {
      const body = await res.body();
      into.push({ url: new URL(res.url()).pathname, bytes: body.length, gzip: gz(body) });
    } catch {
      /* a redirect or an aborted response: no body */
    }
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Performance.enable");
  return { context, page, cdp, weights };
}

/** When `name` showed: `dom`, `frame` and `paint` (Element Timing; the frame if no paint entry came within 2 s), ms. */
async function seen(page, name) {
  await page.waitForFunction((n) => window.__bench.seen[n]?.frame !== undefined, name, { timeout: TIMEOUT });
  await page
    .waitForFunction((n) => window.__bench.seen[n]?.paint !== undefined, name, { timeout: 2000 })
    .catch(() => {});
  const s = await page.evaluate((n) => window.__bench.seen[n], name);
  return { ...s, painted: s.paint ?? s.frame, by: s.paint !== undefined ? "element timing" : "frame" };
}

/** Where a cold load's time went: HTML and script received, the API's requests, ms since navigation start. */
async function waterfall(page) {
  return page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0];
    const res = performance.getEntriesByType("resource");
    const scripts = res.filter((r) => r.initiatorType === "script" || r.name.endsWith(".js"));
    const api = res.filter((r) => r.initiatorType === "fetch" || r.initiatorType === "xmlhttprequest");
    return {
      html_end: nav?.responseEnd ?? null,
      script_start: scripts.length ? Math.min(...scripts.map((r) => r.startTime)) : null,
      script_end: scripts.length ? Math.max(...scripts.map((r) => r.responseEnd)) : null,
      api_start: api.length ? Math.min(...api.map((r) => r.startTime)) : null,
      api_end: api.length ? Math.max(...api.map((r) => r.responseEnd)) : null,
      api: api.map((r) => ({ path: new URL(r.name).pathname, start: r.startTime, end: r.responseEnd })),
    };
  });
}

async function paints(page) {
  return page.evaluate(() => {
    const fcp = performance.getEntriesByName("first-contentful-paint")[0];
    const nav = performance.getEntriesByType("navigation")[0];
    return { fcp: fcp?.startTime ?? null, dcl: nav?.domContentLoadedEventEnd ?? null };
  });
}

/** JS heap used after a forced GC, and DOM nodes (in the document, and alive in the renderer). */
async function memory(page, cdp) {
  await cdp.send("HeapProfiler.collectGarbage");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  const dom = await page.evaluate(() => document.getElementsByTagName("*").length);
  return {
    heap_used_bytes: m.JSHeapUsedSize,
    heap_total_bytes: m.JSHeapTotalSize,
    nodes: m.Nodes,
    elements_in_document: dom,
    listeners: m.JSEventListeners,
  };
}

const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const weight = (w) => ({
  js_bytes: sum(w.script.map((x) => x.bytes)),
  js_gzip: sum(w.script.map((x) => x.gzip)),
  css_bytes: sum(w.stylesheet.map((x) => x.bytes)),
  css_gzip: sum(w.stylesheet.map((x) => x.gzip)),
  html_bytes: sum(w.document.map((x) => x.bytes)),
  html_gzip: sum(w.document.map((x) => x.gzip)),
  api_requests: w.fetch.length,
  api_bytes: sum(w.fetch.map((x) => x.bytes)),
  files: [...w.document, ...w.script, ...w.stylesheet].map((x) => x.url),
});

async function coldApp(browser, tok) {
  const { context, page, cdp, weights } = await freshPage(browser, tok, { list: LIST });
  await page.goto(`${BASE}/messages`);
  const list = await seen(page, "list");
  await page.waitForLoadState("networkidle");
  const p = await paints(page);
  const items = await page.locator(LIST).count();
  const w = await waterfall(page);
  const mem = await memory(page, cdp);
  await context.close();
  return { list_ms: list.painted, list_by: list.by, list_dom_ms: list.dom, list_frame_ms: list.frame, ...p, items, waterfall: w, memory: mem, weight: weight(weights) };
}

async function coldFloor(browser, tok) {
  const { context, page, cdp, weights } = await freshPage(browser, tok, { list: LIST });
  await page.goto(`${BASE}/floor.html`);
  const list = await seen(page, "list");
  await page.waitForLoadState("networkidle");
  const p = await paints(page);
  const items = await page.locator(LIST).count();
  const w = await waterfall(page);
  const mem = await memory(page, cdp);
  await context.close();
  return { list_ms: list.painted, list_by: list.by, list_dom_ms: list.dom, list_frame_ms: list.frame, ...p, items, waterfall: w, memory: mem, weight: weight(weights) };
}

/** Saves the signed-in page's thread list as plain HTML: the floor. */
async function writeFloor(browser, tok) {
  const { context, page } = await freshPage(browser, tok, { list: LIST });
  await page.goto(`${BASE}/messages`);
  await seen(page, "list");
  await page.waitForLoadState("networkidle");
  const html = await page.evaluate(() => {
    const d = document.documentElement.cloneNode(true);
    d.querySelectorAll("script, link[rel=modulepreload]").forEach((e) => e.remove());
    return `<!doctype html>\n${d.outerHTML}`;
  });
  await context.close();
  writeFileSync(FLOOR, html);
  return html.length;
}

async function longThread(browser, tok) {
  const { context, page, cdp } = await freshPage(browser, tok, { list: LIST, article: ARTICLE });
  await page.goto(`${BASE}/messages`);
  await seen(page, "list");
  await page.waitForLoadState("networkidle");
  const before = await memory(page, cdp);
  // A click on the thread in the list, timed in the page.
  const link = page.locator(LIST).getByRole("link", { name: THREAD_LABEL, exact: true });
  await link.evaluate((a) => {
    window.__bench.t0 = performance.now();
    a.click();
  });
  const first = await seen(page, "article");
  const articles = page.locator(ARTICLE);
  const shown = await articles.count();
  const open_ms = first.painted - first.t0;
  const afterFirst = await memory(page, cdp);

  // Back through the whole thread as a reader does: to the top, "Load older
  // messages", until there is nothing older.
  const older = page.getByRole("button", { name: "Load older messages", exact: true });
  const pages = [];
  let empty = 0;
  const started = Date.now();
  while ((await older.count()) > 0) {
    const n = await articles.count();
    await page.locator('ol[aria-label="Conversation"]').evaluate((el) => (el.scrollTop = 0));
    const t = Date.now();
    await older.click();
    // More messages, or no button any more (an empty page would be a bug:
    // the API sets a cursor only when older messages exist; counted below).
    await page
      .waitForFunction(
        ([sel, n]) =>
          document.querySelectorAll(sel).length > n ||
          ![...document.querySelectorAll("button")].some((b) => b.textContent.trim() === "Load older messages"),
        [ARTICLE, n],
        { timeout: TIMEOUT },
      )
      .catch(async (e) => {
        const alerts = await page.getByRole("alert").allTextContents();
        throw new Error(`page ${pages.length + 1} of older messages never showed (${n} messages shown; alerts: ${JSON.stringify(alerts)}): ${e.message}`);
      });
    pages.push(Date.now() - t);
    if ((await articles.count()) === n) empty++;
    if (pages.length > 100) throw new Error("more than 100 pages of older messages");
  }
  const all_ms = Date.now() - started;
  const total = await articles.count();
  const afterAll = await memory(page, cdp);
  await context.close();
  return { open_ms, open_by: first.by, shown_first: shown, total, pages: pages.length, empty_pages: empty, page_ms: pages, all_ms, before, after_first: afterFirst, after_all: afterAll };
}

async function coldThread(browser, tok) {
  const { context, page } = await freshPage(browser, tok, { article: ARTICLE });
  await page.goto(`${BASE}/messages/${THREAD}`);
  const first = await seen(page, "article");
  await context.close();
  return { open_ms: first.painted, open_by: first.by };
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      // performance.memory with exact figures, and a forced GC through CDP.
      "--enable-precise-memory-info",
    ],
  });
  try {
    const tok = await token();
    log("saving the floor page");
    const floorBytes = await writeFloor(browser, tok);
    // One load of each first, not counted: the gateway's and moto's first
    // requests, the browser's own start-up.
    await coldApp(browser, tok);
    await coldFloor(browser, tok);
    const app = [];
    const floor = [];
    // Interleaved, so load that comes and goes on the machine touches both alike.
    for (let i = 0; i < RUNS; i++) {
      app.push(await coldApp(browser, tok));
      floor.push(await coldFloor(browser, tok));
      log(`cold load ${i + 1}/${RUNS}: page ${round(app.at(-1).list_ms)} ms, floor ${round(floor.at(-1).list_ms)} ms`);
    }
    const thread = [];
    const threadCold = [];
    for (let i = 0; i < THREAD_RUNS; i++) {
      thread.push(await longThread(browser, tok));
      threadCold.push(await coldThread(browser, tok));
      const t = thread.at(-1);
      log(`long thread ${i + 1}/${THREAD_RUNS}: first screen ${round(t.open_ms)} ms, ${t.total} messages in ${t.all_ms} ms`);
    }
    process.stdout.write(
      JSON.stringify({
        chromium: browser.version(),
        runs: RUNS,
        thread_runs: THREAD_RUNS,
        floor_html_bytes: floorBytes,
        app,
        floor,
        thread,
        thread_cold: threadCold,
      }) + "\n",
    );
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`page bench: ${e?.stack ?? e}`);
  process.exit(1);
});
