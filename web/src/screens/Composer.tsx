// The composer: Enter sends, Shift+Enter is a newline, nothing is sent while
// an IME composition is active. The draft (text, urgency, uploaded files and
// its client_message_id) is saved per thread until its send succeeds.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, UNREACHABLE, type Message } from "../api/client";
import { clearDraft, emptyDraft, loadDraft, newMessageId, saveDraft, type Draft } from "../drafts";
import { fileSize } from "../format";
import type { Store } from "../store";
import { ACCEPT, checkFile, MAX_FILES, uploadFile } from "../uploads";
import { errorText } from "./common";

interface Item {
  key: string;
  filename: string;
  size: number;
  content_type: string;
  status: "uploading" | "done" | "failed";
  progress: number;
  attachment_id?: string;
  error?: string;
  abort?: AbortController;
}

let keys = 0;

export function Composer(props: {
  store: Store;
  threadId: string;
  onSent: (m: Message) => void;
  addFilesRef: { current: ((files: File[]) => void) | null };
}) {
  const { store, threadId } = props;
  const [draft, setDraftState] = useState<Draft>(() => loadDraft(threadId));
  const [items, setItems] = useState<Item[]>(() =>
    draft.files.map((f) => ({ key: `k${keys++}`, ...f, status: "done" as const, progress: 1 })),
  );
  const [rejected, setRejected] = useState<{ name: string; reason: string }[]>([]);
  const [sendError, setSendError] = useState<string | null>(null);
  const [textError, setTextError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const textbox = useRef<HTMLTextAreaElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const draftRef = useRef(draft);
  draftRef.current = draft;

  // Keep the saved draft in step with what is on screen.
  function setDraft(patch: Partial<Draft>) {
    const next = { ...draftRef.current, ...patch };
    draftRef.current = next;
    setDraftState(next);
    saveDraft(threadId, next);
  }
  useEffect(() => {
    const files = items
      .filter((i) => i.status === "done" && i.attachment_id)
      .map((i) => ({ attachment_id: i.attachment_id!, filename: i.filename, content_type: i.content_type, size: i.size }));
    setDraft({ files });
  }, [items]);
  useEffect(() => () => itemsRef.current.forEach((i) => i.abort?.abort()), []);

  const counted = items.filter((i) => i.status !== "failed").length;
  const full = counted >= MAX_FILES;

  function update(key: string, patch: Partial<Item>) {
    setItems((old) => old.map((i) => (i.key === key ? { ...i, ...patch } : i)));
  }

  function addFiles(files: File[]) {
    const rejects: { name: string; reason: string }[] = [];
    let room = MAX_FILES - itemsRef.current.filter((i) => i.status !== "failed").length;
    const added: Item[] = [];
    for (const file of files) {
      const checked = checkFile(file.name, file.size);
      if (!checked.ok) {
        rejects.push({ name: file.name, reason: checked.reason });
        continue;
      }
      if (room <= 0) {
        rejects.push({ name: file.name, reason: "10 attachments is the most per message" });
        continue;
      }
      room--;
      const item: Item = {
        key: `k${keys++}`,
        filename: file.name,
        size: file.size,
        content_type: checked.content_type,
        status: "uploading",
        progress: 0,
        abort: new AbortController(),
      };
      added.push(item);
      uploadFile(store.api, threadId, file, checked.content_type, (p) => update(item.key, { progress: p }), item.abort!.signal).then(
        (id) => update(item.key, { status: "done", progress: 1, attachment_id: id, abort: undefined }),
        (e) => update(item.key, { status: "failed", error: errorText(e), abort: undefined }),
      );
    }
    setRejected(rejects);
    if (added.length) setItems((old) => [...old, ...added]);
  }
  props.addFilesRef.current = addFiles;

  function remove(item: Item) {
    item.abort?.abort();
    setItems((old) => old.filter((i) => i.key !== item.key));
    textbox.current?.focus();
  }

  async function send() {
    if (sending) return;
    const d = draftRef.current;
    const current = itemsRef.current;
    setSendError(null);
    setTextError(null);
    if (current.some((i) => i.status === "uploading")) {
      setSendError("Wait until every file has finished uploading.");
      return;
    }
    if (current.some((i) => i.status === "failed")) {
      setSendError("Remove the files that failed to upload, then send.");
      return;
    }
    const ids = current.map((i) => i.attachment_id!).filter(Boolean);
    if (!d.text.trim() && !ids.length) {
      setTextError("Enter a message or attach a file");
      textbox.current?.focus();
      return;
    }
    setSending(true);
    let cmid = d.client_message_id;
    try {
      let message: Message;
      const body = (id: string) => ({ client_message_id: id, body: d.text, urgent: d.urgent, attachment_ids: ids.length ? ids : undefined });
      try {
        message = await store.api.send(threadId, body(cmid));
      } catch (e) {
        // The key was used for different content (an earlier try that did
        // arrive, then an edit): that one is sent, this text is a new message.
        if (e instanceof ApiError && e.code === "idempotency_conflict") {
          cmid = newMessageId();
          setDraft({ client_message_id: cmid });
          message = await store.api.send(threadId, body(cmid));
        } else throw e;
      }
      clearDraft(threadId);
      const fresh = emptyDraft();
      draftRef.current = fresh;
      setDraftState(fresh);
      setItems([]);
      setRejected([]);
      props.onSent(message);
      textbox.current?.focus();
    } catch (e) {
      if (e instanceof ApiError && e.kind === "network") setSendError(`${UNREACHABLE}, so your message may not have been sent. It is kept here: Retry sends it once, never twice.`);
      else if (e instanceof ApiError && e.field("body")) setTextError(e.field("body")!);
      else setSendError(`Your message was not sent: ${errorText(e)}`);
    } finally {
      setSending(false);
    }
  }

  function onKeyDown(e: KeyboardEvent) {
    // keyCode 229: a key handled by an IME (some browsers say so on Enter
    // ending a composition without setting isComposing).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  }

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
      noValidate
    >
      {sendError && (
        <div class="error-box inline" role="alert">
          <p>{sendError}</p>
          <button type="button" class="button secondary" onClick={send} disabled={sending}>
            Retry
          </button>
        </div>
      )}
      <div class={textError ? "field has-error" : "field"}>
        <label for={`liaison-message-${threadId}`}>Message</label>
        {textError && (
          <p class="field-error" role="alert" id={`liaison-message-error-${threadId}`}>
            {textError}
          </p>
        )}
        <textarea
          id={`liaison-message-${threadId}`}
          ref={textbox}
          rows={3}
          value={draft.text}
          aria-describedby={textError ? `liaison-message-error-${threadId}` : undefined}
          onInput={(e) => setDraft({ text: (e.target as HTMLTextAreaElement).value })}
          onKeyDown={onKeyDown}
        />
        <p class="hint">Enter sends. Shift+Enter starts a new line.</p>
      </div>
      {rejected.length > 0 && (
        <div class="error-box inline" role="alert">
          <ul>
            {rejected.map((r, i) => (
              <li key={i}>
                {r.name} can't be attached: {r.reason}.
              </li>
            ))}
          </ul>
        </div>
      )}
      {items.length > 0 && (
        <ul class="uploads" aria-label="Attachments">
          {items.map((i) => (
            <li key={i.key}>
              <span class="filename">{i.filename}</span> <span class="muted">{fileSize(i.size)}</span>
              <progress aria-label={`Uploading ${i.filename}`} max={100} value={Math.round(i.progress * 100)} />
              {i.status === "done" && <span class="muted">Uploaded</span>}
              {i.status === "failed" && (
                <span class="field-error" role="alert">
                  {i.filename}: {i.error}
                </span>
              )}
              <button type="button" class="link-button" onClick={() => remove(i)}>
                Remove {i.filename}
              </button>
            </li>
          ))}
        </ul>
      )}
      <div class="composer-actions">
        <label class="checkbox">
          <input
            type="checkbox"
            checked={draft.urgent}
            onChange={(e) => setDraft({ urgent: (e.target as HTMLInputElement).checked })}
          />
          <span>Urgent</span>
        </label>
        <input
          ref={fileInput}
          type="file"
          multiple
          accept={ACCEPT}
          hidden
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => {
            const input = e.target as HTMLInputElement;
            addFiles(Array.from(input.files ?? []));
            input.value = "";
          }}
        />
        <button
          type="button"
          class="button secondary"
          disabled={full}
          aria-describedby={full ? `liaison-full-${threadId}` : undefined}
          onClick={() => fileInput.current?.click()}
        >
          Attach files
        </button>
        {full && (
          <span class="hint" id={`liaison-full-${threadId}`}>
            10 attachments is the most per message
          </span>
        )}
        <button type="submit" class="button" disabled={sending}>
          Send
        </button>
      </div>
    </form>
  );
}
