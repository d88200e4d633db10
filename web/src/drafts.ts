// Drafts per thread in localStorage, so nothing typed is lost (reloads,
// failed sends, an expired sign-in). Each draft has its own client_message_id
// until its send succeeds, so a retried send never makes two messages.
export interface DraftFile {
  attachment_id: string;
  filename: string;
  content_type: string;
  size: number;
}

export interface Draft {
  text: string;
  urgent: boolean;
  client_message_id: string;
  files: DraftFile[];
}

const key = (threadId: string) => `liaison.draft.${threadId}`;

export function newMessageId(): string {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function emptyDraft(): Draft {
  return { text: "", urgent: false, client_message_id: newMessageId(), files: [] };
}

export function loadDraft(threadId: string): Draft {
  try {
    const raw = localStorage.getItem(key(threadId));
    if (raw) {
      const d = JSON.parse(raw);
      if (d && typeof d.text === "string" && /^[A-Za-z0-9._:-]{1,100}$/.test(d.client_message_id)) {
        return { text: d.text, urgent: !!d.urgent, client_message_id: d.client_message_id, files: Array.isArray(d.files) ? d.files : [] };
      }
    }
  } catch {
    /* storage unavailable or damaged: start empty */
  }
  return emptyDraft();
}

export function saveDraft(threadId: string, d: Draft) {
  try {
    if (!d.text && !d.files.length && !d.urgent) localStorage.removeItem(key(threadId));
    else localStorage.setItem(key(threadId), JSON.stringify(d));
  } catch {
    /* storage full or blocked: the draft still lives in the page */
  }
}

export function clearDraft(threadId: string) {
  try {
    localStorage.removeItem(key(threadId));
  } catch {
    /* nothing to do */
  }
}

/** The prefixes of what a person leaves in this browser: drafts and
 * unfinished uploads (multipart.ts). */
const LOCAL_WORK = ["liaison.draft.", "liaison.uploads."];

/** On an explicit sign-out: forget the person's drafts and unfinished
 * uploads, so the next person to sign in on this browser (a colleague in
 * the same thread) never sees them. An expired sign-in keeps them. */
export function forgetLocalWork() {
  try {
    const keys: string[] = [];
    for (let i = 0; i < localStorage.length; i++) {
      const k = localStorage.key(i);
      if (k && LOCAL_WORK.some((p) => k.startsWith(p))) keys.push(k);
    }
    for (const k of keys) localStorage.removeItem(k);
  } catch {
    /* storage unavailable: nothing was kept */
  }
}
