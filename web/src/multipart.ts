// Files over 64 MiB (videos, ZIP) go up as an S3 multipart upload:
// POST …/uploads, part URLs in batches, a PUT per part (3 at a time, each
// retried with a fresh URL), then POST …/complete with the parts' ETags.
// What is done is kept in localStorage per thread, so that after a reload
// (or a crash) picking the same file again uploads only the missing parts.
import { ApiError, type Api, type ContentType, type UploadedPart } from "./api/client";

const MIB = 1024 * 1024;
/** Larger files use the multipart upload (the API's `SINGLE_PUT_MAX`). */
export const SINGLE_PUT_MAX = 64 * MIB;
/** Parts uploading at once. */
export const IN_FLIGHT = 3;
/** Tries per part (and for `complete`) before the upload shows an error. */
export const PART_TRIES = 4;
/** Part URLs asked for at once (the API takes up to 100). */
export const URL_BATCH = 10;
/** Part URLs live 15 minutes; one is not used in its last minute. */
const URL_LIFE_MS = 15 * 60_000;
const URL_MARGIN_MS = 60_000;

/** What survives a reload: enough to ask for the missing parts' URLs and complete. */
export interface SavedUpload {
  thread_id: string;
  attachment_id: string;
  name: string;
  size: number;
  lastModified: number;
  content_type: ContentType;
  part_size: number;
  part_count: number;
  /** part number -> the ETag its PUT answered */
  etags: Record<string, string>;
  started_at: string;
}

/** A file as far as matching goes (a File, or its description). */
export interface FileLike {
  name: string;
  size: number;
  lastModified: number;
}

export const usesMultipart = (size: number) => size > SINGLE_PUT_MAX;

/** The byte range [start, end) of part `n` (1-based). */
export function partRange(n: number, partSize: number, size: number): [number, number] {
  const start = (n - 1) * partSize;
  return [start, Math.min(start + partSize, size)];
}

/** Part numbers not uploaded yet, in order. */
export function missingParts(s: SavedUpload): number[] {
  const out: number[] = [];
  for (let n = 1; n <= s.part_count; n++) if (!s.etags[n]) out.push(n);
  return out;
}

/** Bytes of the parts already uploaded. */
export function doneBytes(s: SavedUpload): number {
  let total = 0;
  for (let n = 1; n <= s.part_count; n++) {
    if (s.etags[n]) {
      const [a, b] = partRange(n, s.part_size, s.size);
      total += b - a;
    }
  }
  return total;
}

/** Only the very same file resumes an upload: name, size and last change must match. */
export function sameFile(s: SavedUpload, f: FileLike): boolean {
  return s.name === f.name && s.size === f.size && s.lastModified === f.lastModified;
}

// ------------------------------------------------------------ localStorage

const key = (threadId: string) => `liaison.uploads.${threadId}`;

function valid(s: any, threadId: string): s is SavedUpload {
  return (
    !!s &&
    s.thread_id === threadId &&
    typeof s.attachment_id === "string" &&
    typeof s.name === "string" &&
    Number.isSafeInteger(s.size) &&
    typeof s.lastModified === "number" &&
    typeof s.content_type === "string" &&
    Number.isSafeInteger(s.part_size) &&
    s.part_size > 0 &&
    Number.isSafeInteger(s.part_count) &&
    s.part_count === Math.ceil(s.size / s.part_size) &&
    !!s.etags &&
    typeof s.etags === "object"
  );
}

/** The unfinished multipart uploads of a thread, oldest first. */
export function loadUploads(threadId: string): SavedUpload[] {
  try {
    const list = JSON.parse(localStorage.getItem(key(threadId)) ?? "[]");
    return Array.isArray(list) ? list.filter((s) => valid(s, threadId)) : [];
  } catch {
    return [];
  }
}

function write(threadId: string, list: SavedUpload[]) {
  try {
    if (list.length) localStorage.setItem(key(threadId), JSON.stringify(list));
    else localStorage.removeItem(key(threadId));
  } catch {
    /* storage full or blocked: the upload still runs, it just cannot resume */
  }
}

export function saveUpload(s: SavedUpload) {
  const list = loadUploads(s.thread_id).filter((x) => x.attachment_id !== s.attachment_id);
  write(s.thread_id, [...list, s]);
}

export function forgetUpload(threadId: string, attachmentId: string) {
  write(
    threadId,
    loadUploads(threadId).filter((x) => x.attachment_id !== attachmentId),
  );
}

// -------------------------------------------------------------- one part

/** A part's PUT failed; `retry` says whether trying again can help. */
export class PutError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** PUTs one part; answers its ETag. */
export type PartPut = (url: string, body: Blob, onProgress: (loaded: number) => void, signal: AbortSignal) => Promise<string>;

export const CANCELLED = "Upload cancelled";

/** The browser's PUT, with upload progress (fetch has none). */
export const xhrPut: PartPut = (url, body, onProgress, signal) =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new PutError(0, CANCELLED, false));
    const xhr = new XMLHttpRequest();
    const abort = () => xhr.abort();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        const etag = xhr.getResponseHeader("ETag");
        if (etag) resolve(etag);
        // Only when the bucket's CORS rules do not expose it: no retry helps.
        else reject(new PutError(xhr.status, "The file store did not say what it received (no ETag).", false));
      } else {
        reject(new PutError(xhr.status, `The file store refused a part (${xhr.status}).`, xhr.status !== 400));
      }
    };
    xhr.onerror = () => reject(new PutError(0, "Can't reach the file store.", true));
    xhr.onabort = () => reject(new PutError(0, CANCELLED, false));
    xhr.onloadend = () => signal.removeEventListener("abort", abort);
    signal.addEventListener("abort", abort);
    xhr.send(body);
  });

// ------------------------------------------------------------ the upload

export interface Progress {
  /** Bytes uploaded, counting the parts in flight. */
  loaded: number;
  total: number;
  partsDone: number;
  partCount: number;
}

export interface MultipartOptions {
  api: Pick<Api, "startUpload" | "partUrls" | "completeUpload">;
  threadId: string;
  file: Blob & FileLike;
  contentType: ContentType;
  /** An upload to carry on with (the same file: check with sameFile). */
  saved?: SavedUpload;
  /** The upload exists (its attachment id is known) and is saved. */
  onStart?: (s: SavedUpload) => void;
  onProgress: (p: Progress) => void;
  signal: AbortSignal;
  put?: PartPut;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const wait = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Whether trying the same call again may work (the network, a busy server). */
function retryable(e: unknown): boolean {
  if (e instanceof PutError) return e.retry;
  if (e instanceof ApiError) return e.kind === "network" || e.status === 429 || e.status >= 500;
  return false;
}

/** The upload is gone on the server (aborted after a day, or discarded elsewhere). */
const gone = (e: unknown) => e instanceof ApiError && (e.status === 404 || e.code === "attachment_expired");

/** Uploads (or resumes) a file in parts; resolves with its attachment id once complete. */
export async function uploadMultipart(o: MultipartOptions): Promise<string> {
  const sleep = o.sleep ?? wait;
  const now = o.now ?? Date.now;
  const put = o.put ?? xhrPut;

  async function start(): Promise<SavedUpload> {
    const r = await o.api.startUpload(o.threadId, { filename: o.file.name, content_type: o.contentType, size: o.file.size });
    if (r.part_count !== Math.ceil(o.file.size / r.part_size)) throw new Error("The upload could not start: the parts do not add up.");
    const s: SavedUpload = {
      thread_id: o.threadId,
      attachment_id: r.attachment_id,
      name: o.file.name,
      size: o.file.size,
      lastModified: o.file.lastModified,
      content_type: o.contentType,
      part_size: r.part_size,
      part_count: r.part_count,
      etags: {},
      started_at: new Date(now()).toISOString(),
    };
    saveUpload(s);
    o.onStart?.(s);
    return s;
  }

  /** Retries a call to the API that is safe to repeat. */
  async function again<T>(f: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await f();
      } catch (e) {
        if (o.signal.aborted || !retryable(e) || attempt >= PART_TRIES) throw e;
        await sleep(1000 * 2 ** (attempt - 1));
      }
    }
  }

  async function run(s: SavedUpload): Promise<string> {
    const id = s.attachment_id;
    const order = missingParts(s);
    let done = doneBytes(s);
    let finished = 0;
    const inFlight = new Map<number, number>();
    const report = () => {
      let loaded = done;
      inFlight.forEach((b) => (loaded += b));
      o.onProgress({ loaded, total: s.size, partsDone: s.part_count - order.length + finished, partCount: s.part_count });
    };
    report();

    // Part URLs, asked for in batches; a part waits for a batch already asked.
    const urls = new Map<number, { url: string; until: number }>();
    const asked = new Map<number, Promise<void>>();
    const fresh = (n: number) => {
      const u = urls.get(n);
      return u && u.until - now() > URL_MARGIN_MS ? u.url : null;
    };
    let next = 0;
    async function urlFor(n: number): Promise<string> {
      let u = fresh(n);
      if (u) return u;
      const pending = asked.get(n);
      if (pending) {
        await pending.catch(() => {});
        if ((u = fresh(n))) return u;
      }
      const batch = [n, ...order.slice(next).filter((p) => p !== n && !fresh(p) && !asked.has(p))].slice(0, URL_BATCH);
      const sent = now();
      const req = o.api.partUrls(o.threadId, id, batch).then((r) => {
        for (const p of r.parts) urls.set(p.part_number, { url: p.url, until: sent + URL_LIFE_MS });
      });
      batch.forEach((p) => asked.set(p, req));
      try {
        await req;
      } finally {
        batch.forEach((p) => asked.get(p) === req && asked.delete(p));
      }
      if (!(u = fresh(n))) throw new Error(`The upload could not go on: no address for part ${n}.`);
      return u;
    }

    const inner = new AbortController();
    const cancel = () => inner.abort();
    o.signal.addEventListener("abort", cancel);
    if (o.signal.aborted) inner.abort();

    async function putPart(n: number) {
      const [a, b] = partRange(n, s.part_size, s.size);
      for (let attempt = 1; ; attempt++) {
        if (inner.signal.aborted) throw new PutError(0, CANCELLED, false);
        try {
          const url = await urlFor(n);
          inFlight.set(n, 0);
          const etag = await put(url, o.file.slice(a, b), (loaded) => {
            inFlight.set(n, Math.min(loaded, b - a));
            report();
          }, inner.signal);
          inFlight.delete(n);
          s.etags[n] = etag;
          done += b - a;
          finished++;
          saveUpload(s);
          report();
          return;
        } catch (e) {
          inFlight.delete(n);
          report();
          if (inner.signal.aborted || !retryable(e) || attempt >= PART_TRIES) throw e;
          // A fresh URL for the next try: this one may have expired.
          urls.delete(n);
          await sleep(1000 * 2 ** (attempt - 1));
        }
      }
    }

    let failure: unknown = null;
    const worker = async () => {
      while (!failure && next < order.length) await putPart(order[next++]);
    };
    try {
      await Promise.all(
        Array.from({ length: Math.min(IN_FLIGHT, order.length) }, () =>
          worker().catch((e) => {
            // The first failure stops the other parts (they would fail alike).
            if (!failure) {
              failure = e;
              inner.abort();
            }
          }),
        ),
      );
    } finally {
      o.signal.removeEventListener("abort", cancel);
    }
    if (o.signal.aborted) throw new PutError(0, CANCELLED, false);
    if (failure) throw failure;

    const parts: UploadedPart[] = [];
    for (let n = 1; n <= s.part_count; n++) parts.push({ part_number: n, etag: s.etags[n] });
    try {
      await again(() => o.api.completeUpload(o.threadId, id, parts));
    } catch (e) {
      if (e instanceof ApiError && e.code === "upload_parts_invalid") {
        // Nothing was completed: upload every part again on the next try.
        s.etags = {};
        saveUpload(s);
        throw new Error("The file store did not accept the parts. Retry uploads the file again.");
      }
      throw e;
    }
    forgetUpload(o.threadId, id);
    return id;
  }

  // Not retried on its own: a lost answer would leave an upload nobody uses.
  const resumed = !!o.saved;
  const s = o.saved ?? (await start());
  try {
    return await run(s);
  } catch (e) {
    // A saved upload the server no longer has: start it again, once.
    if (resumed && gone(e) && !o.signal.aborted) {
      forgetUpload(o.threadId, s.attachment_id);
      return run(await start());
    }
    throw e;
  }
}
