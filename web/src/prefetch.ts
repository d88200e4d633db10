// The first screen's data, started when the page mounts, alongside the role
// check (GET /catalog) instead of after it: one API round trip less before
// the list (or a linked thread) paints. Each answer is used at most once, by
// the screen's first request when it is exactly the one prefetched and still
// fresh; anything else fetches as usual. A failed prefetch is redone by the
// screen's own request (except an expired sign-in, already reported).
import { ApiError, type Api } from "./api/client";
import type { Route } from "./router";

/** How long a prefetched answer may wait for its screen (from its start). */
export const FRESH_MS = 10_000;

/** The keys of the requests a screen's first load makes. */
export const LIST_KEY = "threads";
export const threadKey = (id: string) => `thread:${id}`;
export const messagesKey = (id: string) => `messages:${id}`;
/** The page of messages a thread shows first. */
export const FIRST_MESSAGES = 50;

export type Prefetch = ReturnType<typeof createPrefetch>;

export function createPrefetch(maxAgeMs = FRESH_MS, now: () => number = Date.now) {
  const slots = new Map<string, { answer: Promise<unknown>; at: number }>();
  return {
    /** Starts `fetch` now; its answer waits for one `use` of `key`. */
    start(key: string, fetch: () => Promise<unknown>) {
      const answer = fetch();
      answer.catch(() => {}); // seen by `use`, or dropped
      slots.set(key, { answer, at: now() });
    },
    /** The prefetched answer for `key` (taken once) if fresh, else `fetch()`. */
    use<T>(key: string, fetch: () => Promise<T>): Promise<T> {
      const slot = slots.get(key);
      slots.delete(key);
      if (!slot || now() - slot.at > maxAgeMs) return fetch();
      return (slot.answer as Promise<T>).catch((e) => {
        if (e instanceof ApiError && e.kind === "auth") throw e;
        return fetch();
      });
    },
    clear() {
      slots.clear();
    },
  };
}

/** Starts what the screen for `route` will ask for first (list or thread). */
export function prefetchRoute(p: Prefetch, api: Api, route: Route) {
  p.clear();
  if (route.name === "thread") {
    const id = route.id;
    p.start(threadKey(id), () => api.thread(id));
    p.start(messagesKey(id), () => api.messages(id, null, FIRST_MESSAGES));
  } else if (route.name !== "new") {
    p.start(LIST_KEY, () => api.listThreads({}));
  }
}
