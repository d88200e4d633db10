// The first screen's prefetch: used once, only while fresh, redone on failure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError, type Api } from "../src/api/client";
import { createPrefetch, FRESH_MS, LIST_KEY, messagesKey, prefetchRoute, threadKey } from "../src/prefetch";

function clock() {
  let t = 1_000;
  return { now: () => t, tick: (ms: number) => (t += ms) };
}

test("a prefetched answer is used once, then the screen fetches as usual", async () => {
  const c = clock();
  const p = createPrefetch(FRESH_MS, c.now);
  let calls = 0;
  p.start(LIST_KEY, async () => "prefetched");
  const fetch = async () => `fetched ${++calls}`;
  assert.equal(await p.use(LIST_KEY, fetch), "prefetched");
  assert.equal(calls, 0);
  assert.equal(await p.use(LIST_KEY, fetch), "fetched 1", "taken once");
  assert.equal(await p.use("other", fetch), "fetched 2", "another request is not served");
});

test("a stale answer is dropped and fetched afresh", async () => {
  const c = clock();
  const p = createPrefetch(FRESH_MS, c.now);
  p.start(LIST_KEY, async () => "old");
  c.tick(FRESH_MS + 1);
  assert.equal(await p.use(LIST_KEY, async () => "fresh"), "fresh");
  // At the limit it still counts as fresh.
  p.start(LIST_KEY, async () => "kept");
  c.tick(FRESH_MS);
  assert.equal(await p.use(LIST_KEY, async () => "fresh"), "kept");
});

test("a pending prefetch is awaited, not repeated", async () => {
  const p = createPrefetch();
  let resolve!: (v: string) => void;
  p.start(LIST_KEY, () => new Promise<string>((r) => (resolve = r)));
  let calls = 0;
  const got = p.use(LIST_KEY, async () => `fetched ${++calls}`);
  resolve("late");
  assert.equal(await got, "late");
  assert.equal(calls, 0);
});

test("a failed prefetch is redone by the screen's own request, whose error shows", async () => {
  const p = createPrefetch();
  p.start(LIST_KEY, () => Promise.reject(new ApiError("network", 0, "Can't reach Liaison")));
  assert.equal(await p.use(LIST_KEY, async () => "recovered"), "recovered");
  p.start(LIST_KEY, () => Promise.reject(new ApiError("network", 0, "Can't reach Liaison")));
  await assert.rejects(
    p.use(LIST_KEY, () => Promise.reject(new ApiError("problem", 500, "Broken"))),
    (e: ApiError) => e.status === 500,
  );
  // An expired sign-in was already reported: not asked again.
  p.start(LIST_KEY, () => Promise.reject(new ApiError("auth", 401, "expired")));
  let calls = 0;
  await assert.rejects(
    p.use(LIST_KEY, async () => `fetched ${++calls}`),
    (e: ApiError) => e.kind === "auth",
  );
  assert.equal(calls, 0);
});

test("an unused failed prefetch raises no unhandled rejection", async () => {
  const p = createPrefetch();
  p.start(LIST_KEY, () => Promise.reject(new Error("nobody asks")));
  await new Promise((r) => setTimeout(r, 10));
});

test("the route decides what is prefetched, exactly as the screens ask for it", async () => {
  const asked: string[] = [];
  const api = {
    listThreads: async (q: object) => asked.push(`list ${JSON.stringify(q)}`),
    thread: async (id: string) => asked.push(`thread ${id}`),
    messages: async (id: string, cursor: string | null, limit: number) => asked.push(`messages ${id} ${cursor} ${limit}`),
  } as unknown as Api;
  const p = createPrefetch();
  prefetchRoute(p, api, { name: "list" });
  prefetchRoute(p, api, { name: "thread", id: "thr_1" });
  prefetchRoute(p, api, { name: "new", params: new URLSearchParams("general") });
  assert.deepEqual(asked, ["list {}", "thread thr_1", "messages thr_1 null 50"]);
  // Each call replaces what an earlier one left: the list's answer is gone.
  let calls = 0;
  const fetch = async () => ++calls;
  await p.use(LIST_KEY, fetch);
  await p.use(threadKey("thr_1"), fetch);
  await p.use(messagesKey("thr_1"), fetch);
  assert.equal(calls, 3);
});
