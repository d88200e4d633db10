// The one small store: state shared by the screens of one <liaison-messages>
// (who the caller is, account names, the API client). Screens keep their own
// view state locally; nothing else is global and mutable.
import { useEffect, useState } from "preact/hooks";
import type { Api } from "./api/client";
import { createPrefetch, type Prefetch } from "./prefetch";

export type Role = "client" | "manager";

export interface AppState {
  role: Role | null;
  /** A client's own account (from GET /catalog), or null for a manager. */
  ownAccount: { id: string; name: string } | null;
  /** Account id -> name, as far as the page knows them. */
  accountNames: Record<string, string>;
  /** Account ids a manager has seen (threads, host attribute). */
  accounts: string[];
  /** Said once by the next screen (e.g. the list after "Mark unread"), then cleared. */
  notice: { text: string; threadId?: string } | null;
}

export interface Store {
  api: Api;
  basePath: string;
  /** The first screen's data, started at mount (see prefetch.ts). */
  prefetch: Prefetch;
  get(): AppState;
  set(patch: Partial<AppState>): void;
  subscribe(fn: () => void): () => void;
  /** Tell badges elsewhere on the page that the unread count may have changed. */
  unreadChanged(): void;
}

export const UNREAD_CHANGED = "liaison-unread-changed";

export function createStore(api: Api, basePath: string, accounts: string[]): Store {
  let state: AppState = { role: null, ownAccount: null, accountNames: {}, accounts, notice: null };
  const subs = new Set<() => void>();
  return {
    api,
    basePath,
    prefetch: createPrefetch(),
    get: () => state,
    set(patch) {
      state = { ...state, ...patch };
      subs.forEach((f) => f());
    },
    subscribe(fn) {
      subs.add(fn);
      return () => subs.delete(fn);
    },
    unreadChanged: () => window.dispatchEvent(new Event(UNREAD_CHANGED)),
  };
}

/** Re-render when the store changes. */
export function useStore(store: Store): AppState {
  const [, tick] = useState(0);
  useEffect(() => store.subscribe(() => tick((n) => n + 1)), [store]);
  return store.get();
}

/** Adds account ids (e.g. from threads) a manager may narrow to. */
export function noteAccounts(store: Store, ids: string[]) {
  const known = store.get().accounts;
  const fresh = ids.filter((id, i) => !known.includes(id) && ids.indexOf(id) === i);
  if (fresh.length) store.set({ accounts: [...known, ...fresh] });
}
