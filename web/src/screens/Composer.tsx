// The composer: Enter sends, Shift+Enter is a newline, nothing is sent while
// an IME composition is active. The draft (text, urgency, uploaded files and
// its client_message_id) is saved per thread until its send succeeds.
// Files over 64 MiB upload in parts (multipart.ts); one left unfinished by a
// reload is offered again ("Resume upload of …") until it is finished or
// discarded.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, UNREACHABLE, type Message } from "../api/client";
import { clearDraft, emptyDraft, loadDraft, newMessageId, saveDraft, type Draft } from "../drafts";
import { fileSize } from "../format";
import type { Store } from "../store";
import {
  CANCELLED,
  doneBytes,
  forgetUpload,
  loadUploads,
  sameFile,
  uploadMultipart,
  usesMultipart,
  type SavedUpload,
} from "../multipart";
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
  /** A multipart upload: the file (for Retry), its id once started, its parts. */
  file?: File;
  upload_id?: string;
  parts?: { done: number; count: number };
}

/** "40%, part 3 of 8": the part now uploading (the next one when between parts). */
export function partText(progress: number, parts: { done: number; count: number }): string {
  return `${Math.floor(progress * 100)}%, part ${Math.min(parts.done + 1, parts.count)} of ${parts.count}`;
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
  // Multipart uploads saved by an earlier visit that are not running here.
  const [offers, setOffers] = useState<SavedUpload[]>(() => loadUploads(threadId));
  const [offerError, setOfferError] = useState<string | null>(null);
  const resumeInput = useRef<HTMLInputElement>(null);
  const resuming = useRef<SavedUpload | null>(null);
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
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
      itemsRef.current.forEach((i) => i.abort?.abort());
    },
    [],
  );

  const counted = items.filter((i) => i.status !== "failed").length;
  const full = counted >= MAX_FILES;

  function update(key: string, patch: Partial<Item>) {
    setItems((old) => old.map((i) => (i.key === key ? { ...i, ...patch } : i)));
  }

  /** Uploads a large file in parts (carrying on with `saved`, when given). */
  function runMultipart(key: string, file: File, contentType: Item["content_type"], saved?: SavedUpload) {
    const abort = new AbortController();
    update(key, { status: "uploading", error: undefined, abort });
    uploadMultipart({
      api: store.api,
      threadId,
      file,
      contentType: contentType as SavedUpload["content_type"],
      saved,
      signal: abort.signal,
      onStart: (s) => {
        // Removed while it was starting: drop it (leaving the page keeps it to resume).
        if (mounted.current && !itemsRef.current.some((i) => i.key === key)) {
          forgetUpload(threadId, s.attachment_id);
          store.api.abortUpload(threadId, s.attachment_id).catch(() => {});
        } else update(key, { upload_id: s.attachment_id });
      },
      onProgress: (p) => update(key, { progress: p.loaded / p.total, parts: { done: p.partsDone, count: p.partCount } }),
    }).then(
      (id) => update(key, { status: "done", progress: 1, attachment_id: id, upload_id: id, abort: undefined }),
      (e) => {
        const text = errorText(e);
        if (text === CANCELLED) return;
        update(key, { status: "failed", error: /Retry/.test(text) ? text : `${text} Retry carries on where it stopped.`, abort: undefined });
      },
    );
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
      if (usesMultipart(file.size)) {
        // The same file as an unfinished upload carries on with it.
        const saved = offers.find((o) => sameFile(o, file));
        if (saved) setOffers((old) => old.filter((o) => o !== saved));
        item.file = file;
        item.upload_id = saved?.attachment_id;
        const start = () => runMultipart(item.key, file, checked.content_type, saved);
        queueMicrotask(start);
        continue;
      }
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
    // A multipart upload is aborted on the server too (it frees the cap).
    if (item.upload_id) {
      forgetUpload(threadId, item.upload_id);
      store.api.abortUpload(threadId, item.upload_id).catch(() => {});
    }
    textbox.current?.focus();
  }

  function retry(item: Item) {
    if (!item.file) return;
    const saved = item.upload_id ? loadUploads(threadId).find((s) => s.attachment_id === item.upload_id) : undefined;
    runMultipart(item.key, item.file, item.content_type, saved);
  }

  function resume(offer: SavedUpload) {
    setOfferError(null);
    resuming.current = offer;
    resumeInput.current?.click();
  }

  function resumeWith(file: File | undefined) {
    const offer = resuming.current;
    resuming.current = null;
    if (!offer || !file) return;
    if (!sameFile(offer, file)) {
      setOfferError(
        `${file.name} is not the file that was uploading. Choose ${offer.name} (${fileSize(offer.size)}), unchanged since, to resume its upload.`,
      );
      return;
    }
    setOfferError(null);
    addFiles([file]);
  }

  async function discard(offer: SavedUpload) {
    setOfferError(null);
    try {
      await store.api.abortUpload(threadId, offer.attachment_id);
    } catch (e) {
      // 404: gone already; 409: it was sent. Anything else: keep the offer.
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 409))) {
        setOfferError(`The upload of ${offer.name} was not discarded: ${errorText(e)} Try again.`);
        return;
      }
    }
    forgetUpload(threadId, offer.attachment_id);
    setOffers((old) => old.filter((o) => o.attachment_id !== offer.attachment_id));
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
      setSendError("Retry or remove the files that failed to upload, then send.");
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
      // A file the API refused (not what its name says, gone): said on the file itself.
      if (e instanceof ApiError) {
        const sent = current.filter((i) => i.attachment_id);
        for (const fe of e.errors) {
          const m = /^attachment_ids\[(\d+)\]$/.exec(fe.field);
          const item = m ? sent[Number(m[1])] : undefined;
          if (item) update(item.key, { status: "failed", error: fe.message, file: undefined, upload_id: undefined });
        }
      }
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
      {(offers.length > 0 || offerError) && (
        <section class="resume" aria-label="Unfinished uploads">
          {offerError && (
            <p class="field-error" role="alert">
              {offerError}
            </p>
          )}
          {offers.length > 0 && (
            <>
              <p class="hint">Choose the same file again to upload only what is missing.</p>
              <ul class="uploads">
                {offers.map((o) => (
                  <li key={o.attachment_id}>
                    <span class="filename">{o.name}</span>{" "}
                    <span class="muted">
                      {fileSize(o.size)}, {Math.floor((doneBytes(o) / o.size) * 100)}% uploaded
                    </span>
                    <button type="button" class="button secondary" onClick={() => resume(o)}>
                      Resume upload of {o.name}
                    </button>
                    <button type="button" class="link-button" aria-label={`Discard upload of ${o.name}`} onClick={() => discard(o)}>
                      Discard
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </section>
      )}
      {items.length > 0 && (
        <ul class="uploads" aria-label="Attachments">
          {items.map((i) => (
            <li key={i.key}>
              <span class="filename">{i.filename}</span> <span class="muted">{fileSize(i.size)}</span>
              <progress
                aria-label={`Uploading ${i.filename}`}
                max={100}
                value={Math.round(i.progress * 100)}
                aria-valuetext={i.parts ? partText(i.progress, i.parts) : undefined}
              />
              {i.status === "uploading" && i.parts && <span class="muted">{partText(i.progress, i.parts)}</span>}
              {i.status === "done" && <span class="muted">Uploaded</span>}
              {i.status === "failed" && (
                <span class="field-error" role="alert">
                  {i.filename}: {i.error}
                </span>
              )}
              {i.status === "failed" && i.file && (
                <button type="button" class="button secondary" aria-label={`Retry upload of ${i.filename}`} onClick={() => retry(i)}>
                  Retry
                </button>
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
        <input
          ref={resumeInput}
          type="file"
          accept={ACCEPT}
          hidden
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => {
            const input = e.target as HTMLInputElement;
            resumeWith(input.files?.[0]);
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
