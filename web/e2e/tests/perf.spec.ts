// A thread of 1,000 messages stays responsive: the page renders a page of
// messages (older ones on demand), a poll does not re-render what is shown,
// and typing in the composer stays fast.
//
// The thread is real (Beta Foods' general thread, so other specs' lists are
// untouched); its history of 1,000 messages is served to the page by
// page.route in the API's exact shape (newest first, limit, opaque cursors).
// Sending 1,000 messages through the local stack takes many minutes (moto
// serializes requests and copies the table per transaction), and what is
// measured here is the page, not the store.
import { expect, test, type Locator, type Page, type Route } from "@playwright/test";
import { Api, BEA, MAX, composer, conversation, scopeHeading, signIn } from "./support";

const COUNT = 1000;
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function ulid(timeMs: number, n: number): string {
  let t = "";
  for (let i = 0, v = timeMs; i < 10; i++, v = Math.floor(v / 32)) t = CROCKFORD[v % 32] + t;
  let r = "";
  for (let i = 0, v = n; i < 16; i++, v = Math.floor(v / 32)) r = CROCKFORD[v % 32] + r;
  return t + r;
}

function history(threadId: string) {
  const start = Date.now() - COUNT * 60_000;
  // Oldest first here; the API answers newest first.
  return Array.from({ length: COUNT }, (_, i) => {
    const n = i + 1;
    const at = start + i * 60_000;
    const manager = n % 10 === 0;
    return {
      id: ulid(at, n),
      thread_id: threadId,
      client_message_id: `seed-${n}`,
      author: manager ? { id: "u_max", name: "Max", role: "manager" } : { id: "u_bea", name: "Bea", role: "client" },
      body: `Message ${n} of ${COUNT}: notes on the crunch shoot, take ${n}.`,
      urgent: n % 97 === 0,
      attachments: [],
      created_at: new Date(at).toISOString(),
    };
  });
}

const TEXT = "The crunch shoot notes look good, one question about take 12. ".repeat(2);

/** Types `text` into `box` and answers how the key events went (Event Timing API). */
async function typingProfile(page: Page, box: Locator, text: string) {
  await box.click();
  await box.fill("");
  await page.evaluate(() => {
    const w = window as unknown as { __keyEvents: number[] };
    w.__keyEvents = [];
    new PerformanceObserver((entries) => {
      for (const e of entries.getEntries()) w.__keyEvents.push(e.duration);
    }).observe({ type: "event", durationThreshold: 16 } as PerformanceObserverInit);
  });
  const started = Date.now();
  await box.pressSequentially(text);
  const ms = Date.now() - started;
  await expect(box).toHaveValue(text);
  await page.waitForTimeout(300);
  const slow = await page.evaluate(() => (window as unknown as { __keyEvents: number[] }).__keyEvents);
  return {
    msPerChar: Math.round((ms / text.length) * 10) / 10,
    over100: slow.filter((d) => d > 100).length,
    worst: Math.round(Math.max(0, ...slow)),
  };
}

function cursorFor(offset: number): string {
  return `${Buffer.from(`e2e:${offset}`).toString("base64url")}.${"A".repeat(43)}`;
}

function offsetOf(cursor: string | null): number {
  if (!cursor) return 0;
  return Number(Buffer.from(cursor.split(".")[0], "base64url").toString().slice(4)) || 0;
}

test("a 1,000-message thread renders a page, pages on demand, and typing stays fast", async ({ page, request }) => {
  test.setTimeout(180_000);
  const bea = await Api.as(request, BEA);
  const max = await Api.as(request, MAX);
  const id = await bea.open({ kind: "general" });
  await bea.send(id, "A real message, so the thread has activity");
  await max.send(id, "And a real answer");
  const messages = history(id).reverse();
  const requested: { limit: number; offset: number }[] = [];
  await page.route(
    (url) => url.pathname === `/threads/${id}/messages` || url.pathname === `/threads/${id}/read`,
    async (route: Route) => {
      const req = route.request();
      const url = new URL(req.url());
      if (url.pathname.endsWith("/read")) {
        const body = req.postDataJSON() ?? {};
        return route.fulfill({
          json: { thread_id: id, last_read_message_id: body.message_id ?? messages[0].id, unread: false },
        });
      }
      if (req.method() !== "GET") return route.fallback();
      const limit = Math.min(100, Number(url.searchParams.get("limit") ?? 50) || 50);
      const offset = offsetOf(url.searchParams.get("cursor"));
      requested.push({ limit, offset });
      const slice = messages.slice(offset, offset + limit);
      const next = offset + limit < messages.length ? cursorFor(offset + limit) : null;
      return route.fulfill({ json: { messages: slice, next_cursor: next } });
    },
  );

  await signIn(page, BEA);
  // The baseline: a thread of two messages.
  const crunch = await bea.open({ kind: "client", client_id: "cl_crunch" });
  if ((await bea.messages(crunch)).length === 0) {
    await bea.send(crunch, "The crunch shoot is on Monday");
    await max.send(crunch, "Noted");
  }
  await page.goto(`/messages/${crunch}`);
  await expect(conversation(page).getByRole("article")).toHaveCount(2);
  const small = await typingProfile(page, composer(page), TEXT);

  const opened = Date.now();
  await page.goto(`/messages/${id}`);
  await expect(scopeHeading(page, "General")).toBeVisible();
  const articles = conversation(page).getByRole("article");
  await expect(articles.last()).toContainText(`Message ${COUNT} of ${COUNT}`);
  console.log(`thread shown in ${Date.now() - opened} ms`);

  // One page, not the whole thread; older messages on demand.
  const shown = await articles.count();
  expect(shown).toBeGreaterThan(0);
  expect(shown).toBeLessThanOrEqual(100);
  const older = page.getByRole("button", { name: "Load older messages", exact: true });
  await expect(older).toBeVisible();
  await older.click();
  await expect.poll(() => articles.count()).toBeGreaterThan(shown);
  const afterOlder = await articles.count();
  expect(afterOlder).toBeLessThanOrEqual(200);
  expect(requested.some((r) => r.offset > 0), "older messages fetched with the cursor").toBe(true);

  // Mark what is shown, and watch for articles being replaced.
  await conversation(page).evaluate((list) => {
    const w = window as unknown as { __e2e: { removed: number; marked: Element[] } };
    w.__e2e = { removed: 0, marked: [...list.querySelectorAll("article")] };
    new MutationObserver((records) => {
      for (const r of records)
        for (const n of r.removedNodes)
          if (n instanceof Element && (n.matches("article") || n.querySelector("article"))) w.__e2e.removed++;
    }).observe(list, { childList: true, subtree: true });
  });

  // Typing stays as fast as in a thread of two messages (same machine, same
  // moment: the machine's load cancels out), and never stalls.
  const box = composer(page);
  await conversation(page).evaluate((list) => {
    const w = window as unknown as { __typingMutations: number };
    w.__typingMutations = 0;
    const observer = new MutationObserver((records) => (w.__typingMutations += records.length));
    observer.observe(list, { childList: true, subtree: true, characterData: true, attributes: true });
    (window as unknown as { __stopTyping: () => void }).__stopTyping = () => observer.disconnect();
  });
  const big = await typingProfile(page, box, TEXT);
  const typingMutations = await page.evaluate(() => {
    (window as unknown as { __stopTyping: () => void }).__stopTyping();
    return (window as unknown as { __typingMutations: number }).__typingMutations;
  });
  expect(typingMutations, "changes to the conversation while typing").toBe(0);
  console.log(`typing, 1,000-message thread: ${JSON.stringify(big)}; small thread: ${JSON.stringify(small)}`);
  // Event Timing durations run to the next paint, which a loaded machine
  // and software rendering of a tall page stretch (seen: 0 to 120 of 124
  // key events over 100 ms, the same page, alone or after the other specs).
  // What must hold: no change to the conversation while typing (above), no
  // stall, and typing as fast as in a small thread.
  expect(big.worst, "the slowest key event (handling + paint), ms").toBeLessThan(Math.max(500, small.worst * 3));
  expect(big.msPerChar, "milliseconds per character typed").toBeLessThan(small.msPerChar * 1.5 + 10);

  // A poll (the badge's or the thread's) comes and goes without re-rendering the list.
  await page.waitForRequest(
    (r) => r.method() === "GET" && /\/unread$|\/threads\/thr_[0-9a-z]{26}(\/messages)?(\?.*)?$/.test(r.url()),
    { timeout: 20_000 },
  );
  await page.waitForTimeout(1500);
  const kept = await conversation(page).evaluate((list) => {
    const w = window as unknown as { __e2e: { removed: number; marked: Element[] } };
    const now = new Set<Element>(list.querySelectorAll("article"));
    return { removed: w.__e2e.removed, same: w.__e2e.marked.filter((a) => now.has(a)).length, marked: w.__e2e.marked.length };
  });
  expect(kept.removed, "articles removed by a poll").toBe(0);
  expect(kept.same, "articles kept (same DOM nodes) across a poll").toBe(kept.marked);
  // The draft survived all of it.
  await expect(box).toHaveValue(TEXT);
});
