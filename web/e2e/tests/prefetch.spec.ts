// The first screen's data goes out with the role check (GET /catalog), not
// after it: on a cold load of the list, and of a thread's link, the screen's
// requests start before /catalog has answered, each is made once, and a
// failed prefetch is redone by the screen as usual.
import { expect, test, type Page, type Request } from "@playwright/test";
import { Api, CHRIS, DANA, SCOPES, conversation, messagesHeading, scopeHeading, signIn, threadItem, threadList } from "./support";

type Seen = { key: string; start: number; end?: number };

/** Records the API requests the page makes: start and end (ms), in event order. */
function record(page: Page) {
  const seen: Seen[] = [];
  const byRequest = new Map<Request, Seen>();
  const key = (r: Request) => {
    const u = new URL(r.url());
    return `${r.method()} ${u.pathname}${u.search}`;
  };
  page.on("request", (r) => {
    const s = { key: key(r), start: performance.now() };
    seen.push(s);
    byRequest.set(r, s);
  });
  const done = (r: Request) => {
    const s = byRequest.get(r);
    if (s) s.end = performance.now();
  };
  page.on("requestfinished", done);
  page.on("requestfailed", done);
  const find = (pattern: RegExp) => seen.filter((s) => pattern.test(s.key));
  const one = (pattern: RegExp) => {
    const found = find(pattern);
    expect(found.map((s) => s.key), `one request matching ${pattern}`).toHaveLength(1);
    return found[0];
  };
  return { seen, find, one };
}

/** `req` started before /catalog (the role check) finished. */
function beforeRoleKnown(req: Seen, catalog: Seen) {
  expect(catalog.end, "GET /catalog finished").toBeDefined();
  expect(req.start, `${req.key} starts before GET /catalog ends`).toBeLessThan(catalog.end!);
}

test.beforeAll(async ({ request }) => {
  // Chris (Acme Beauty) has a thread with a message, whichever specs ran before.
  const chris = await Api.as(request, CHRIS);
  const general = await chris.open({ kind: "general" });
  if ((await chris.messages(general)).length === 0) await chris.send(general, "Could we move our monthly call to Thursday?");
});

const CATALOG = /^GET \/catalog$/;
const FIRST_LIST = /^GET \/threads\?limit=30$/;

test("a cold load of the list asks for the threads alongside the role check", async ({ page }) => {
  await signIn(page, CHRIS);
  const r = record(page);
  await page.reload();
  await expect(threadItem(page, SCOPES.general.label)).toBeVisible();
  beforeRoleKnown(r.one(FIRST_LIST), r.one(CATALOG));
  console.log("waterfall (ms from the first request):");
  const t0 = r.seen[0]?.start ?? 0;
  for (const s of r.seen) console.log(`  ${s.key}: ${(s.start - t0).toFixed(0)} → ${s.end === undefined ? "…" : (s.end - t0).toFixed(0)}`);
});

test("a cold load of a thread's link asks for the thread and its messages alongside the role check", async ({ page, request }) => {
  const id = await (await Api.as(request, CHRIS)).open({ kind: "general" });
  await signIn(page, CHRIS);
  const r = record(page);
  await page.goto(`/messages/${id}`);
  await expect(scopeHeading(page, SCOPES.general.label)).toBeVisible();
  await expect(conversation(page).getByRole("article").first()).toBeVisible();
  const catalog = r.one(CATALOG);
  beforeRoleKnown(r.one(new RegExp(`^GET /threads/${id}$`)), catalog);
  beforeRoleKnown(r.one(new RegExp(`^GET /threads/${id}/messages\\?limit=50$`)), catalog);
  expect(r.find(/^GET \/threads\?/), "the list is not prefetched for a thread").toHaveLength(0);
});

test("a manager's cold load prefetches the list too and keeps the account filter", async ({ page }) => {
  await signIn(page, DANA);
  const r = record(page);
  await page.reload();
  await expect(threadList(page).getByRole("listitem").first()).toBeVisible();
  beforeRoleKnown(r.one(FIRST_LIST), r.one(CATALOG));
  const account = page.getByRole("combobox", { name: "Account", exact: true });
  await expect(account).toBeVisible();
  // Narrowing asks the API for that account (not the prefetched answer).
  const narrowed = page.waitForRequest((q) => /\/threads\?.*account_id=/.test(q.url()));
  await account.selectOption({ label: "Acme Beauty" });
  await narrowed;
});

test("a failed prefetch of the list is redone by the list itself", async ({ page }) => {
  await signIn(page, CHRIS);
  let failed = 0;
  await page.route(
    (url) => url.pathname === "/threads" && url.searchParams.get("limit") === "30",
    (route) => (failed++ === 0 ? route.abort("connectionrefused") : route.continue()),
  );
  const r = record(page);
  await page.reload();
  await expect(messagesHeading(page)).toBeVisible();
  await expect(threadItem(page, SCOPES.general.label)).toBeVisible();
  expect(failed, "the prefetch failed once, the list's own request got through").toBe(2);
  expect(r.find(FIRST_LIST)).toHaveLength(2);
});

test("a list that keeps failing says so, and Try again recovers", async ({ page }) => {
  await signIn(page, CHRIS);
  await page.route(
    (url) => url.pathname === "/threads",
    (route) => route.abort("connectionrefused"),
  );
  await page.reload();
  const alert = page.getByRole("alert").filter({ hasText: "Can't reach Liaison" });
  await expect(alert).toBeVisible();
  await page.unrouteAll();
  await page.getByRole("button", { name: "Try again", exact: true }).click();
  await expect(alert).toBeHidden();
  await expect(threadItem(page, SCOPES.general.label)).toBeVisible();
});
