// One thread: the scope at the top (with its links), messages oldest to
// newest, older pages on demand, a poll for new ones that appends without
// re-rendering the loaded messages, and the composer. Opening marks it read.
// The header mutes its e-mails and marks it unread (which leaves the thread,
// so that being open does not mark it read again).
// A file is downloadable only once scanned clean: until then it says so, and
// the poll refreshes the messages whose files are still being scanned.
import { Component } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type Attachment, type Message, type Thread } from "../api/client";
import { fullTime, shortTime, sideName } from "../format";
import { linkClick, navigate } from "../router";
import { FIRST_MESSAGES, messagesKey, threadKey } from "../prefetch";
import type { Store } from "../store";
import { errorText, LoadError } from "./common";
import { Composer } from "./Composer";

const POLL_MS = 5000;
const PAGE = FIRST_MESSAGES;

/** Appends messages not yet shown, keeping ascending id (= time) order. */
export function mergeMessages(old: Message[], fresh: Message[]): Message[] {
  const seen = new Set(old.map((m) => m.id));
  const add = fresh.filter((m) => !seen.has(m.id));
  if (!add.length) return old;
  return [...old, ...add].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Whether a fresh copy of a message says something new about its files' scans. */
function scansChanged(a: Message, b: Message): boolean {
  return a.attachments.length !== b.attachments.length || a.attachments.some((x, i) => x.scan !== b.attachments[i].scan);
}

/**
 * What a poll shows: the messages newer than the newest shown, added; those
 * shown whose scans moved on, swapped for the fresh copy; the old array when
 * nothing changed.
 */
export function refreshMessages(old: Message[], fresh: Message[]): Message[] {
  const newest = old.at(-1)?.id ?? "";
  const byId = new Map(fresh.map((m) => [m.id, m]));
  let changed = false;
  const kept = old.map((m) => {
    const f = byId.get(m.id);
    if (f && scansChanged(m, f)) {
      changed = true;
      return f;
    }
    return m;
  });
  const merged = mergeMessages(
    kept,
    fresh.filter((m) => m.id > newest),
  );
  return merged === kept && !changed ? old : merged;
}

/** The oldest message with a file still being scanned, if any. */
export function oldestScanning(messages: Message[]): string | null {
  return messages.find((m) => m.attachments.some((a) => a.scan === "pending"))?.id ?? null;
}

function AttachmentView({ store, threadId, att }: { store: Store; threadId: string; att: Attachment }) {
  const [src, setSrc] = useState(att.download_url);
  const [error, setError] = useState<string | null>(null);
  const retried = useRef(false);

  async function download() {
    setError(null);
    try {
      const link = await store.api.downloadLink(threadId, att.id);
      const a = document.createElement("a");
      a.href = link.download_url;
      a.rel = "noopener";
      a.download = att.filename;
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (e) {
      setError(errorText(e));
    }
  }

  if (att.scan === "pending" || att.scan === "infected") {
    return (
      <span class={`file scan-${att.scan}`}>
        <span class="filename">{att.filename}</span>{" "}
        {att.scan === "pending" ? <span class="muted">Scanning for viruses…</span> : <strong class="bad">Removed: malware found</strong>}
      </span>
    );
  }
  if (att.content_type.startsWith("image/")) {
    return (
      <figure class="thumb">
        <img
          src={src}
          alt={att.filename}
          loading="lazy"
          onError={async () => {
            // The listed link lives 15 minutes: fetch a fresh one once.
            if (retried.current) return;
            retried.current = true;
            try {
              setSrc((await store.api.downloadLink(threadId, att.id)).download_url);
            } catch {
              /* the alt text stays */
            }
          }}
        />
      </figure>
    );
  }
  return (
    <span class="file">
      <button type="button" class="button secondary" onClick={download}>
        Download {att.filename}
      </button>
      {error && (
        <span class="field-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** One message; re-renders only when its own data changes. */
class MessageItem extends Component<{ store: Store; message: Message }> {
  shouldComponentUpdate(next: { message: Message }) {
    return next.message !== this.props.message;
  }
  render() {
    const { message: m, store } = this.props;
    return (
      <li class={`message side-${m.author.role}`}>
        <article aria-label={`${m.author.name}, ${sideName(m.author.role)}, ${shortTime(m.created_at)}`}>
          <header>
            <span class="author">{m.author.name}</span> <span class="side">{sideName(m.author.role)}</span>{" "}
            <time dateTime={m.created_at} title={fullTime(m.created_at)}>
              {shortTime(m.created_at)}
            </time>
            {m.urgent && <strong class="urgent">Urgent</strong>}
          </header>
          {m.body && <p class="body">{m.body}</p>}
          {m.attachments.length > 0 && (
            <div class="attachments">
              {m.attachments.map((a) => (
                <AttachmentView key={`${a.id}:${a.scan}`} store={store} threadId={m.thread_id} att={a} />
              ))}
            </div>
          )}
        </article>
      </li>
    );
  }
}

export function ThreadView({ store, id }: { store: Store; id: string }) {
  const [thread, setThread] = useState<Thread | null>(null);
  const [messages, setMessages] = useState<Message[] | null>(null);
  const [older, setOlder] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [olderError, setOlderError] = useState<unknown>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [dragging, setDragging] = useState(false);
  const list = useRef<HTMLOListElement>(null);
  const addFiles = useRef<((files: File[]) => void) | null>(null);
  const messagesRef = useRef<Message[]>([]);
  const stickToEnd = useRef(true);
  const [muted, setMuted] = useState(false);
  const [busy, setBusy] = useState<"mute" | "unread" | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  // Set by "Mark unread": from then on nothing here marks the thread read.
  const leaving = useRef(false);
  const reading = useRef<Promise<void>>(Promise.resolve());
  messagesRef.current = messages ?? [];

  function markRead() {
    if (leaving.current) return;
    reading.current = (async () => {
      try {
        await store.api.markRead(id);
        store.unreadChanged();
      } catch {
        /* the badge catches up at the next poll */
      }
    })();
  }

  async function toggleMute() {
    // Not `disabled` while busy: that would drop the keyboard's focus.
    if (busy) return;
    setBusy("mute");
    setActionError(null);
    try {
      setMuted((await store.api.setMuted(id, !muted)).muted);
    } catch (e) {
      setActionError(`${muted ? "E-mails were not turned back on" : "E-mails were not muted"}: ${errorText(e)} Try again.`);
    } finally {
      setBusy(null);
    }
  }

  async function markUnread() {
    if (busy) return;
    setBusy("unread");
    setActionError(null);
    leaving.current = true;
    try {
      // A read still on its way would land after this and undo it.
      await reading.current;
      const state = await store.api.markUnread(id);
      if (!state.unread) {
        // Nothing from the other side yet: nothing to mark.
        leaving.current = false;
        setActionError("There is no message from the other side to mark unread yet.");
        setBusy(null);
        return;
      }
      store.unreadChanged();
      store.set({ notice: { text: `Marked “${thread?.scope.label ?? "the thread"}” as unread.`, threadId: id } });
      navigate(store.basePath.replace(/\/+$/, "") || "/");
    } catch (e) {
      leaving.current = false;
      setActionError(`The thread was not marked unread: ${errorText(e)} Try again.`);
      setBusy(null);
    }
  }

  async function load() {
    setError(null);
    try {
      const { prefetch, api } = store;
      const [t, page] = await Promise.all([
        prefetch.use(threadKey(id), () => api.thread(id)),
        prefetch.use(messagesKey(id), () => api.messages(id, null, PAGE)),
      ]);
      setThread(t);
      setMuted(t.muted);
      setMessages(page.messages.slice().reverse());
      setOlder(page.next_cursor ?? null);
      stickToEnd.current = true;
      markRead();
    } catch (e) {
      setError(e);
    }
  }

  async function poll() {
    if (!messagesRef.current.length && messages === null) return;
    try {
      const newest = messagesRef.current.at(-1)?.id ?? "";
      const scanning = oldestScanning(messagesRef.current);
      let got: Message[] = [];
      let cursor: string | null = null;
      // Page back until the newest shown message (a burst may exceed a page),
      // and the oldest whose files are being scanned.
      for (let i = 0; i < 5; i++) {
        const page = await store.api.messages(id, cursor, PAGE);
        got = got.concat(page.messages);
        cursor = page.next_cursor ?? null;
        const reached = (to: string) => page.messages.some((m) => m.id <= to);
        if (!cursor || (reached(newest) && (scanning === null || reached(scanning)))) break;
      }
      const fresh = got.filter((m) => m.id > newest);
      if (refreshMessages(messagesRef.current, got) === messagesRef.current) return;
      const el = list.current;
      stickToEnd.current = !el || el.scrollHeight - el.scrollTop - el.clientHeight < 80;
      setMessages((old) => refreshMessages(old ?? [], got));
      if (fresh.some((m) => m.author.role !== store.get().role) && document.visibilityState === "visible") markRead();
    } catch {
      /* a failed poll is retried at the next tick */
    }
  }

  useEffect(() => {
    setThread(null);
    setMessages(null);
    load();
    const timer = setInterval(poll, POLL_MS);
    // Back on the page: catch up, and count what arrived unseen as read.
    const focus = () => {
      poll();
      markRead();
    };
    window.addEventListener("focus", focus);
    return () => {
      clearInterval(timer);
      window.removeEventListener("focus", focus);
    };
  }, [id]);

  // Keep the newest message in view when the reader is at the end.
  useEffect(() => {
    const el = list.current;
    if (el && stickToEnd.current) el.scrollTop = el.scrollHeight;
  }, [messages]);

  async function loadOlder() {
    if (!older) return;
    setLoadingOlder(true);
    setOlderError(null);
    try {
      const page = await store.api.messages(id, older, PAGE);
      const el = list.current;
      const fromEnd = el ? el.scrollHeight - el.scrollTop : 0;
      stickToEnd.current = false;
      setMessages((old) => mergeMessages(old ?? [], page.messages));
      setOlder(page.next_cursor ?? null);
      // Keep the reader's place after the older page goes in above it.
      requestAnimationFrame(() => {
        if (el) el.scrollTop = el.scrollHeight - fromEnd;
      });
    } catch (e) {
      setOlderError(e);
    } finally {
      setLoadingOlder(false);
    }
  }

  const back = (
    <a href={store.basePath.replace(/\/+$/, "") || "/"} onClick={linkClick} class="back">
      ‹ All messages
    </a>
  );

  if (error) {
    return (
      <section class="thread-view">
        {back}
        {error instanceof ApiError && error.status === 404 ? (
          <div class="error-box" role="alert">
            <h1>Thread not found</h1>
            <p>This thread does not exist, or it is not one of yours. Check the link, or go back to all messages.</p>
          </div>
        ) : (
          <LoadError error={error} retry={load} />
        )}
      </section>
    );
  }
  if (!thread || !messages) {
    return (
      <section class="thread-view">
        {back}
        <p class="muted" role="status">
          Loading…
        </p>
      </section>
    );
  }

  const links = thread.links ?? [];
  return (
    <section
      class={dragging ? "thread-view dragging" : "thread-view"}
      aria-labelledby="liaison-thread-heading"
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes("Files")) {
          e.preventDefault();
          setDragging(true);
        }
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        const files = Array.from(e.dataTransfer?.files ?? []);
        if (files.length) addFiles.current?.(files);
      }}
    >
      {back}
      <header class="thread-head">
        <h1 id="liaison-thread-heading">{thread.scope.label}</h1>
        {links.length > 0 && (
          <ul class="scope-links" aria-label="About this scope">
            {links.map((l, i) => (
              <li key={i}>
                <a href={l.url} target="_blank" rel="noopener noreferrer">
                  {l.label}
                </a>
              </li>
            ))}
          </ul>
        )}
        <div class="thread-actions">
          <button
            type="button"
            class="toggle"
            aria-pressed={muted}
            aria-describedby="liaison-mute-hint"
            aria-disabled={busy !== null}
            onClick={toggleMute}
          >
            Mute e-mails
          </button>
          <span class="hint" id="liaison-mute-hint">
            {muted ? "You get no e-mails about this thread." : "You get e-mails about new messages here."}
          </span>
          <button type="button" class="button secondary" aria-disabled={busy !== null} onClick={markUnread}>
            Mark unread
          </button>
        </div>
        {actionError && (
          <p class="field-error" role="alert">
            {actionError}
          </p>
        )}
      </header>
      {older && (
        <button type="button" class="button secondary older" onClick={loadOlder} disabled={loadingOlder}>
          Load older messages
        </button>
      )}
      {olderError != null && <LoadError error={olderError} retry={loadOlder} />}
      {messages.length === 0 ? (
        <p class="empty">No messages yet. Write the first one below.</p>
      ) : null}
      <ol class="conversation" aria-label="Conversation" ref={list} tabIndex={0}>
        {messages.map((m) => (
          <MessageItem key={m.id} store={store} message={m} />
        ))}
      </ol>
      <p class="drop-hint muted">You can also drop files here to attach them.</p>
      <Composer
        key={id}
        store={store}
        threadId={id}
        addFilesRef={addFiles}
        onSent={(m) => {
          stickToEnd.current = true;
          setMessages((old) => mergeMessages(old ?? [], [m]));
          store.unreadChanged();
        }}
      />
    </section>
  );
}

