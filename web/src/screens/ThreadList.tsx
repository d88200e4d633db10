// The thread list: newest activity first, an "Unread" filter, cursor paging,
// and for managers an "Account" filter. Polls its first page while open.
import { useEffect, useRef, useState } from "preact/hooks";
import type { Thread } from "../api/client";
import { shortTime } from "../format";
import { LIST_KEY } from "../prefetch";
import { joinPath, linkClick, navigate, withSettings } from "../router";
import { noteAccounts, useStore, type Store } from "../store";
import { LoadError } from "./common";
import { Picker } from "./Picker";
import { SETTINGS_BUTTON_ID } from "./Settings";

/** A bell, struck through: the thread's e-mails are muted. */
const MutedIcon = () => (
  <span class="muted-icon" role="img" aria-label="e-mails muted" title="E-mails muted">
    <svg viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path
        d="M8 1.5a4 4 0 0 0-4 4v3L2.5 11h11L12 8.5v-3a4 4 0 0 0-4-4ZM6.5 12.5a1.5 1.5 0 0 0 3 0M1.5 1.5l13 13"
        fill="none"
        stroke="currentColor"
        stroke-width="1.5"
      />
    </svg>
  </span>
);

const POLL_MS = 15000;

function byActivity(a: Thread, b: Thread) {
  return a.last_activity_at < b.last_activity_at ? 1 : a.last_activity_at > b.last_activity_at ? -1 : 0;
}

function merge(old: Thread[], fresh: Thread[]): Thread[] {
  const byId = new Map(old.map((t) => [t.id, t]));
  for (const t of fresh) byId.set(t.id, t);
  return [...byId.values()].sort(byActivity);
}

export function ThreadList({ store }: { store: Store }) {
  const state = useStore(store);
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [account, setAccount] = useState("");
  const [threads, setThreads] = useState<Thread[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [pickerOpen, setPickerOpen] = useState(false);
  const generation = useRef(0);
  const section = useRef<HTMLElement>(null);
  // What the previous screen asked to say (after "Mark unread"), said once.
  const [notice] = useState(() => store.get().notice);
  const [said, setSaid] = useState("");
  useEffect(() => {
    if (notice) store.set({ notice: null });
  }, []);
  useEffect(() => {
    if (!notice || !threads) return;
    setSaid(notice.text);
    if (notice.threadId) {
      const link = section.current?.querySelector<HTMLAnchorElement>(`a[href="${joinPath(store.basePath, `/${notice.threadId}`)}"]`);
      link?.focus();
    }
  }, [threads !== null]);

  const filters = () => ({ unread: unreadOnly, accountId: account || undefined });

  function note(list: Thread[]) {
    if (store.get().role === "manager") noteAccounts(store, list.map((t) => t.account_id));
  }

  async function loadFirst(replace: boolean) {
    const gen = generation.current;
    try {
      const f = filters();
      const fetch = () => store.api.listThreads(f);
      // The default first page may already be on its way (prefetch.ts).
      const page = await (replace && !f.unread && !f.accountId ? store.prefetch.use(LIST_KEY, fetch) : fetch());
      if (gen !== generation.current) return;
      setError(null);
      note(page.threads);
      if (replace) {
        setThreads(page.threads);
        setCursor(page.next_cursor ?? null);
      } else {
        // A poll: bring the first page up to date and keep what was paged in.
        setThreads((old) => {
          const kept = (old ?? []).filter((t) => !unreadOnly || page.threads.some((p) => p.id === t.id) || t.last_activity_at < (page.threads.at(-1)?.last_activity_at ?? ""));
          return merge(kept, page.threads);
        });
      }
    } catch (e) {
      if (gen === generation.current && replace) setError(e);
    }
  }

  useEffect(() => {
    generation.current++;
    setThreads(null);
    setError(null);
    loadFirst(true);
    const poll = setInterval(() => loadFirst(false), POLL_MS);
    const focus = () => loadFirst(false);
    window.addEventListener("focus", focus);
    return () => {
      clearInterval(poll);
      window.removeEventListener("focus", focus);
    };
  }, [unreadOnly, account]);

  async function loadMore() {
    if (!cursor) return;
    setLoadingMore(true);
    const gen = generation.current;
    try {
      const page = await store.api.listThreads({ ...filters(), cursor });
      if (gen !== generation.current) return;
      note(page.threads);
      setThreads((old) => merge(old ?? [], page.threads));
      setCursor(page.next_cursor ?? null);
      setMoreError(null);
    } catch (e) {
      setMoreError(e);
    } finally {
      setLoadingMore(false);
    }
  }

  const manager = state.role === "manager";
  const base = store.basePath;

  return (
    <section class="thread-list" aria-labelledby="liaison-messages-heading" ref={section}>
      <div class="list-head">
        <h1 id="liaison-messages-heading">Messages</h1>
        <div class="list-actions">
          <button
            type="button"
            class="button secondary"
            id={SETTINGS_BUTTON_ID}
            onClick={() => navigate(withSettings(location.pathname, location.search, true), true)}
          >
            E-mail settings
          </button>
          <button type="button" class="button" onClick={() => setPickerOpen(true)} disabled={!state.role}>
            New
          </button>
        </div>
      </div>
      <p class={said ? "notice" : "status-slot"} role="status">
        {said}
      </p>
      <div class="filters">
        <button type="button" class="toggle" aria-pressed={unreadOnly} onClick={() => setUnreadOnly(!unreadOnly)}>
          Unread
        </button>
        {manager && (
          <label class="field-inline">
            <span>Account</span>
            <select value={account} onChange={(e) => setAccount((e.target as HTMLSelectElement).value)}>
              <option value="">All accounts</option>
              {state.accounts.map((id) => (
                <option key={id} value={id}>
                  {state.accountNames[id] ?? id}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      {error ? (
        <LoadError error={error} retry={() => { setError(null); loadFirst(true); }} />
      ) : threads === null ? (
        <p class="muted" role="status">Loading…</p>
      ) : threads.length === 0 ? (
        <div class="empty" role="status">
          {unreadOnly ? (
            <p>
              <strong>Nothing unread</strong>
              <br />
              You have read every message.
            </p>
          ) : (
            <p>
              <strong>No threads yet</strong>
              <br />
              Press New to start a conversation about a client, a campaign or a creative.
            </p>
          )}
        </div>
      ) : (
        <ul class="threads" aria-label="Threads">
          {threads.map((t) => (
            <li key={t.id} class={t.unread ? "thread unread" : "thread"}>
              <a href={joinPath(base, `/${t.id}`)} onClick={linkClick} class="thread-link">
                {t.scope.label}
              </a>
              {manager && <span class="account">{state.accountNames[t.account_id] ?? t.account_id}</span>}
              <span class="preview">
                {t.last_message
                  ? `${t.last_message.author.name}: ${t.last_message.preview || "sent attachments"}`
                  : "No messages yet"}
              </span>
              <time dateTime={t.last_activity_at}>{shortTime(t.last_activity_at)}</time>
              {t.unread && <span class="badge" role="img" aria-label="unread">•</span>}
              {t.muted && <MutedIcon />}
            </li>
          ))}
        </ul>
      )}
      {threads && cursor && (
        <button type="button" class="button secondary" onClick={loadMore} disabled={loadingMore}>
          Load more
        </button>
      )}
      {moreError != null && <LoadError error={moreError} retry={loadMore} />}
      {pickerOpen && <Picker store={store} onClose={() => setPickerOpen(false)} />}
    </section>
  );
}
