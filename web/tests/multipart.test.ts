// The multipart upload client (issue 16) against a fake API and fake PUTs:
// part planning, 3 in flight, retries with fresh URLs, resume, expiry, abort.
// Also the scan-state refresh of the thread view. `npm test`.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { ApiError, createClient, type Message } from "../src/api/client";
import {
  CANCELLED,
  IN_FLIGHT,
  PART_TRIES,
  PutError,
  SINGLE_PUT_MAX,
  URL_BATCH,
  doneBytes,
  loadUploads,
  missingParts,
  partRange,
  sameFile,
  saveUpload,
  uploadMultipart,
  usesMultipart,
  xhrPut,
  type MultipartOptions,
  type PartPut,
  type Progress,
  type SavedUpload,
} from "../src/multipart";
import { checkFile } from "../src/uploads";
import { forgetLocalWork, loadDraft, saveDraft } from "../src/drafts";
import { partText } from "../src/screens/Composer";
import { oldestScanning, refreshMessages } from "../src/screens/ThreadView";

const MIB = 1024 * 1024;
const THREAD = "thr_01jd8x3v6m9q2r7t4w5y8z0abc";

// ------------------------------------------------------------------ fakes

class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string) {
    return this.m.has(k) ? this.m.get(k)! : null;
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  clear() {
    this.m.clear();
  }
  get length() {
    return this.m.size;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
}
const storage = new MemoryStorage();
(globalThis as any).localStorage = storage;
beforeEach(() => storage.clear());

/** A file of `size` bytes whose byte i is i % 251 (so slices can be checked). */
function file(size: number, name = "footage.mp4", lastModified = 1_700_000_000_000): File {
  const bytes = new Uint8Array(size).map((_, i) => i % 251);
  return new File([bytes], name, { type: "video/mp4", lastModified });
}

/** The API's multipart routes in memory: what was called, and knobs to fail. */
class FakeApi {
  calls: string[] = [];
  asked: number[][] = [];
  completed: { part_number: number; etag: string }[][] = [];
  started = 0;
  partSize: number;
  gone = new Set<string>();
  completeError: ApiError | null = null;
  constructor(partSize: number) {
    this.partSize = partSize;
  }
  startUpload = async (_t: string, f: { filename: string; content_type: string; size: number }) => {
    this.started++;
    this.calls.push(`start ${f.filename} ${f.size}`);
    return { attachment_id: `att${this.started}`, part_size: this.partSize, part_count: Math.ceil(f.size / this.partSize), expires_at: "2026-01-01T00:00:00Z" };
  };
  partUrls = async (_t: string, id: string, nums: number[]) => {
    this.calls.push(`parts ${id} ${nums.join(",")}`);
    this.asked.push(nums);
    if (this.gone.has(id)) throw new ApiError("problem", 404, "Not found.", "not_found");
    return { parts: nums.map((n) => ({ part_number: n, url: `https://s3.test/${id}?part=${n}&v=${this.asked.length}` })), expires_at: "2026-01-01T00:15:00Z" };
  };
  completeUpload = async (_t: string, id: string, parts: { part_number: number; etag: string }[]) => {
    this.calls.push(`complete ${id}`);
    if (this.completeError) throw this.completeError;
    this.completed.push(parts);
    return { attachment_id: id, size: 0 };
  };
}

/** PUTs that answer `"etag-{n}"` after a tick; `fail(n)` decides errors per try. */
function fakePut(opts: { fail?: (n: number, attempt: number) => Error | null; delay?: number } = {}) {
  const tries = new Map<number, number>();
  const urls: string[] = [];
  const bodies = new Map<number, Uint8Array>();
  let now = 0;
  let most = 0;
  const put: PartPut = async (url, body, onProgress, signal) => {
    const n = Number(new URL(url).searchParams.get("part"));
    urls.push(url);
    const attempt = (tries.get(n) ?? 0) + 1;
    tries.set(n, attempt);
    now++;
    most = Math.max(most, now);
    try {
      await new Promise((r) => setTimeout(r, opts.delay ?? 1));
      if (signal.aborted) throw new PutError(0, CANCELLED, false);
      const err = opts.fail?.(n, attempt);
      if (err) throw err;
      onProgress(body.size);
      bodies.set(n, new Uint8Array(await body.arrayBuffer()));
      return `"etag-${n}"`;
    } finally {
      now--;
    }
  };
  return { put, tries, urls, bodies, most: () => most };
}

function options(api: FakeApi, f: File, extra: Partial<MultipartOptions> = {}): MultipartOptions & { progress: Progress[]; sleeps: number[] } {
  const progress: Progress[] = [];
  const sleeps: number[] = [];
  return {
    api: api as unknown as MultipartOptions["api"],
    threadId: THREAD,
    file: f,
    contentType: "video/mp4",
    onProgress: (p) => progress.push({ ...p }),
    signal: new AbortController().signal,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    progress,
    sleeps,
    ...extra,
  };
}

// ---------------------------------------------------------------- planning

test("files over 64 MiB use the multipart upload; videos may be 5 GB", () => {
  assert.equal(SINGLE_PUT_MAX, 64 * MIB);
  assert.equal(usesMultipart(64 * MIB), false);
  assert.equal(usesMultipart(64 * MIB + 1), true);
  assert.equal(checkFile("raw.mp4", 5 * 1024 * MIB).ok, true);
  assert.equal(checkFile("raw.webm", 5 * 1024 * MIB + 1).ok, false);
  assert.deepEqual(checkFile("raw.mov", 5 * 1024 * MIB + 1), { ok: false, reason: "Videos must be 5 GB or smaller" });
});

test("parts cover the file exactly; the last one is the rest", () => {
  const size = 200 * MIB + 5;
  const partSize = 8 * MIB;
  const count = Math.ceil(size / partSize);
  assert.equal(count, 26);
  let covered = 0;
  for (let n = 1; n <= count; n++) {
    const [a, b] = partRange(n, partSize, size);
    assert.equal(a, covered, `part ${n} starts where the last ended`);
    assert.ok(b > a);
    covered = b;
  }
  assert.equal(covered, size);
  assert.deepEqual(partRange(26, partSize, size), [25 * partSize, size]);
});

const saved = (etags: Record<string, string>, over: Partial<SavedUpload> = {}): SavedUpload => ({
  thread_id: THREAD,
  attachment_id: "att_old",
  name: "footage.mp4",
  size: 10,
  lastModified: 1_700_000_000_000,
  content_type: "video/mp4",
  part_size: 3,
  part_count: 4,
  etags,
  started_at: "2026-01-01T00:00:00Z",
  ...over,
});

test("missing parts, bytes done and the same-file rule", () => {
  const s = saved({ 1: '"a"', 3: '"c"' });
  assert.deepEqual(missingParts(s), [2, 4]);
  assert.equal(doneBytes(s), 6);
  assert.equal(doneBytes(saved({ 4: '"d"' })), 1, "the last part is the rest");
  assert.equal(sameFile(s, { name: "footage.mp4", size: 10, lastModified: 1_700_000_000_000 }), true);
  assert.equal(sameFile(s, { name: "footage.mp4", size: 11, lastModified: 1_700_000_000_000 }), false, "size");
  assert.equal(sameFile(s, { name: "footage.mp4", size: 10, lastModified: 1_700_000_000_001 }), false, "changed since");
  assert.equal(sameFile(s, { name: "Footage.mp4", size: 10, lastModified: 1_700_000_000_000 }), false, "name");
});

test("saved uploads are kept per thread and damaged entries ignored", () => {
  saveUpload(saved({}));
  saveUpload(saved({ 1: '"a"' }));
  assert.equal(loadUploads(THREAD).length, 1, "saved again under the same id, not twice");
  assert.deepEqual(loadUploads(THREAD)[0].etags, { 1: '"a"' });
  assert.deepEqual(loadUploads("thr_other"), []);
  storage.setItem(`liaison.uploads.${THREAD}`, JSON.stringify([{ attachment_id: 1 }, saved({}, { part_count: 9 })]));
  assert.deepEqual(loadUploads(THREAD), [], "wrong shapes and parts that do not add up are dropped");
  storage.setItem(`liaison.uploads.${THREAD}`, "{not json");
  assert.deepEqual(loadUploads(THREAD), []);
});

test("the chip says the percentage and which part is uploading", () => {
  assert.equal(partText(0, { done: 0, count: 8 }), "0%, part 1 of 8");
  assert.equal(partText(0.4, { done: 3, count: 8 }), "40%, part 4 of 8");
  assert.equal(partText(1, { done: 8, count: 8 }), "100%, part 8 of 8");
});

// ----------------------------------------------------------------- upload

test("uploads every part, at most 3 at once, then completes with the ETags in order", async () => {
  const api = new FakeApi(4);
  const f = file(26); // 7 parts: 6 of 4 bytes, then 2
  const p = fakePut({ delay: 5 });
  const o = options(api, f, { put: p.put });
  let startedWith: SavedUpload | null = null;
  o.onStart = (s) => (startedWith = { ...s });
  const id = await uploadMultipart(o);
  assert.equal(id, "att1");
  assert.equal(startedWith!.part_count, 7);
  assert.deepEqual(api.calls[0], "start footage.mp4 26");
  assert.equal(p.most(), IN_FLIGHT);
  assert.deepEqual(api.completed, [Array.from({ length: 7 }, (_, i) => ({ part_number: i + 1, etag: `"etag-${i + 1}"` }))]);
  // Each PUT carried its own slice of the file.
  const whole = new Uint8Array(await f.arrayBuffer());
  for (let n = 1; n <= 7; n++) assert.deepEqual(p.bodies.get(n), whole.slice((n - 1) * 4, Math.min(n * 4, 26)));
  // URLs were asked for once per part, in batches.
  assert.deepEqual(api.asked.flat().sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
  // Progress only grows and ends at the whole file, all parts done.
  for (let i = 1; i < o.progress.length; i++) assert.ok(o.progress[i].loaded >= o.progress[i - 1].loaded, "progress never goes back");
  assert.deepEqual(o.progress.at(-1), { loaded: 26, total: 26, partsDone: 7, partCount: 7 });
  // Finished: nothing left to resume.
  assert.deepEqual(loadUploads(THREAD), []);
});

test("part URLs are asked for in batches of at most 10, each part once", async () => {
  const api = new FakeApi(1);
  const p = fakePut();
  await uploadMultipart(options(api, file(25), { put: p.put }));
  assert.ok(api.asked.every((b) => b.length >= 1 && b.length <= URL_BATCH), JSON.stringify(api.asked));
  assert.ok(api.asked.length <= 5, `${api.asked.length} batches for 25 parts`);
  assert.deepEqual(api.asked.flat().sort((a, b) => a - b), Array.from({ length: 25 }, (_, i) => i + 1));
});

test("a failed part is retried with a fresh URL, with growing pauses", async () => {
  const api = new FakeApi(4);
  const p = fakePut({ fail: (n, attempt) => (n === 2 && attempt <= 2 ? new PutError(503, "busy", true) : null) });
  const o = options(api, file(12), { put: p.put });
  await uploadMultipart(o);
  assert.equal(p.tries.get(2), 3);
  const forTwo = p.urls.filter((u) => u.includes("part=2&"));
  assert.equal(new Set(forTwo).size, 3, "each try of part 2 had a URL of its own");
  assert.deepEqual(o.sleeps, [1000, 2000]);
  assert.equal(api.completed.length, 1);
});

test("a part failing every try stops the upload with a recoverable error, keeping the parts done", async () => {
  const api = new FakeApi(4);
  const p = fakePut({ fail: (n) => (n === 3 ? new PutError(0, "Can't reach the file store.", true) : null) });
  const o = options(api, file(20), { put: p.put });
  await assert.rejects(uploadMultipart(o), /Can't reach the file store/);
  assert.equal(p.tries.get(3), PART_TRIES);
  assert.equal(api.completed.length, 0);
  const [s] = loadUploads(THREAD);
  assert.equal(s.attachment_id, "att1");
  assert.ok(s.etags[1] && s.etags[2] && !s.etags[3], JSON.stringify(s.etags));

  // Retry (as the chip's button does): only what is missing goes up.
  const again = fakePut();
  await uploadMultipart(options(api, file(20), { put: again.put, saved: s }));
  assert.ok(!again.tries.has(1) && !again.tries.has(2));
  assert.ok(again.tries.has(3));
  assert.equal(api.started, 1, "the same upload, not a new one");
  assert.equal(api.completed[0].length, 5);
});

test("an error no retry can fix is not retried", async () => {
  const api = new FakeApi(4);
  const p = fakePut({ fail: (n) => (n === 1 ? new PutError(200, "no ETag", false) : null) });
  await assert.rejects(uploadMultipart(options(api, file(8), { put: p.put })), /no ETag/);
  assert.equal(p.tries.get(1), 1);
});

test("resume after a reload uploads only the missing parts and completes with every ETag", async () => {
  const api = new FakeApi(3);
  const s = saved({ 1: '"kept-1"', 3: '"kept-3"' });
  saveUpload(s);
  const p = fakePut();
  const o = options(api, file(10), { put: p.put, saved: loadUploads(THREAD)[0] });
  const id = await uploadMultipart(o);
  assert.equal(id, "att_old");
  assert.equal(api.started, 0);
  assert.deepEqual([...p.tries.keys()].sort(), [2, 4]);
  assert.deepEqual(api.completed[0], [
    { part_number: 1, etag: '"kept-1"' },
    { part_number: 2, etag: '"etag-2"' },
    { part_number: 3, etag: '"kept-3"' },
    { part_number: 4, etag: '"etag-4"' },
  ]);
  assert.equal(o.progress[0].loaded, 6, "the parts done count from the start");
  assert.equal(o.progress[0].partsDone, 2);
  assert.deepEqual(loadUploads(THREAD), []);
});

test("a saved upload the server no longer has starts again from the first part", async () => {
  const api = new FakeApi(3);
  api.gone.add("att_old");
  saveUpload(saved({ 1: '"kept-1"' }));
  const p = fakePut();
  const id = await uploadMultipart(options(api, file(10), { put: p.put, saved: loadUploads(THREAD)[0] }));
  assert.equal(id, "att1");
  assert.equal(api.started, 1);
  assert.deepEqual([...p.tries.keys()].sort(), [1, 2, 3, 4]);
  assert.deepEqual(loadUploads(THREAD), []);
});

test("a saved upload aborted after a day (attachment_expired at complete) starts again", async () => {
  const api = new FakeApi(3);
  const real = api.completeUpload;
  api.completeUpload = async (t, id, parts) => {
    if (id === "att_old") throw new ApiError("problem", 422, "The upload expired.", "attachment_expired");
    return real(t, id, parts);
  };
  saveUpload(saved({ 1: '"a"', 2: '"b"', 3: '"c"', 4: '"d"' }));
  const p = fakePut();
  const id = await uploadMultipart(options(api, file(10), { put: p.put, saved: loadUploads(THREAD)[0] }));
  assert.equal(id, "att1");
  assert.deepEqual([...p.tries.keys()].sort(), [1, 2, 3, 4]);
  assert.deepEqual(loadUploads(THREAD), []);
});

test("URLs about to expire are asked for again", async () => {
  const api = new FakeApi(4);
  let clock = 0;
  const p = fakePut();
  const put: PartPut = async (...args) => {
    // Each part starts 10 minutes after the one before: the first batch
    // (parts 1-5, asked at 0) is stale by the time part 4 starts.
    clock += 10 * 60_000;
    return p.put(...args);
  };
  await uploadMultipart(options(api, file(20), { put, now: () => clock }));
  assert.deepEqual(api.asked[0], [1, 2, 3, 4, 5]);
  assert.ok(api.asked.length >= 2, `asked again: ${JSON.stringify(api.asked)}`);
  assert.ok(api.asked.slice(1).flat().includes(4), JSON.stringify(api.asked));
  assert.equal(api.completed.length, 1);
});

test("complete refusing the parts forgets them, so Retry uploads the file again", async () => {
  const api = new FakeApi(4);
  api.completeError = new ApiError("problem", 422, "Parts invalid.", "upload_parts_invalid", [{ field: "parts", message: "x" } as any]);
  await assert.rejects(uploadMultipart(options(api, file(8), { put: fakePut().put })), /Retry uploads the file again/);
  const [s] = loadUploads(THREAD);
  assert.deepEqual(s.etags, {});
  api.completeError = null;
  const p = fakePut();
  await uploadMultipart(options(api, file(8), { put: p.put, saved: s }));
  assert.deepEqual([...p.tries.keys()].sort(), [1, 2]);
});

test("complete is retried when Liaison can't be reached", async () => {
  const api = new FakeApi(4);
  let fails = 2;
  const real = api.completeUpload;
  api.completeUpload = async (...a) => {
    if (fails-- > 0) throw new ApiError("network", 0, "Can't reach Liaison");
    return real(...a);
  };
  const o = options(api, file(8), { put: fakePut().put });
  assert.equal(await uploadMultipart(o), "att1");
  assert.deepEqual(o.sleeps, [1000, 2000]);
});

test("cancelling stops the parts in flight and never completes", async () => {
  const api = new FakeApi(4);
  const ctl = new AbortController();
  const p = fakePut({ delay: 20 });
  const run = uploadMultipart(options(api, file(40), { put: p.put, signal: ctl.signal }));
  setTimeout(() => ctl.abort(), 5);
  await assert.rejects(run, (e: Error) => e.message === CANCELLED);
  assert.ok(p.tries.size <= IN_FLIGHT, "no part started after the cancel");
  assert.deepEqual(api.completed, []);
  assert.equal(loadUploads(THREAD).length, 1, "kept: the page may resume it (Remove also discards it)");
});

// --------------------------------------------------------------- the XHR PUT

class FakeXhr {
  static last: FakeXhr;
  static answer: { status: number; etag: string | null } = { status: 200, etag: '"abc"' };
  method = "";
  url = "";
  headers: Record<string, string> = {};
  status = 0;
  upload: { onprogress?: (e: { loaded: number; total: number; lengthComputable: boolean }) => void } = {};
  onload?: () => void;
  onerror?: () => void;
  onabort?: () => void;
  onloadend?: () => void;
  aborted = false;
  constructor() {
    FakeXhr.last = this;
  }
  open(m: string, u: string) {
    this.method = m;
    this.url = u;
  }
  setRequestHeader(k: string, v: string) {
    this.headers[k] = v;
  }
  getResponseHeader(k: string) {
    return k.toLowerCase() === "etag" ? FakeXhr.answer.etag : null;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
    this.onloadend?.();
  }
  send(body: Blob) {
    setTimeout(() => {
      if (this.aborted) return;
      this.upload.onprogress?.({ loaded: body.size / 2, total: body.size, lengthComputable: true });
      this.status = FakeXhr.answer.status;
      if (this.status === 0) this.onerror?.();
      else this.onload?.();
      this.onloadend?.();
    }, 1);
  }
}

test("a part's PUT reports progress and answers the ETag header", async () => {
  (globalThis as any).XMLHttpRequest = FakeXhr;
  const seen: number[] = [];
  FakeXhr.answer = { status: 200, etag: '"abc"' };
  assert.equal(await xhrPut("https://s3.test/p1", new Blob([new Uint8Array(8)]), (l) => seen.push(l), new AbortController().signal), '"abc"');
  assert.equal(FakeXhr.last.method, "PUT");
  assert.deepEqual(FakeXhr.last.headers, {}, "no headers: the URL is signed without them");
  assert.deepEqual(seen, [4]);

  FakeXhr.answer = { status: 200, etag: null };
  await assert.rejects(xhrPut("https://s3.test/p1", new Blob(["x"]), () => {}, new AbortController().signal), (e: PutError) => !e.retry);
  FakeXhr.answer = { status: 403, etag: null };
  await assert.rejects(xhrPut("https://s3.test/p1", new Blob(["x"]), () => {}, new AbortController().signal), (e: PutError) => e.retry && e.status === 403);
  FakeXhr.answer = { status: 0, etag: null };
  await assert.rejects(xhrPut("https://s3.test/p1", new Blob(["x"]), () => {}, new AbortController().signal), (e: PutError) => e.retry);
  const ctl = new AbortController();
  const run = xhrPut("https://s3.test/p1", new Blob(["x"]), () => {}, ctl.signal);
  ctl.abort();
  await assert.rejects(run, (e: PutError) => e.message === CANCELLED && !e.retry);
  delete (globalThis as any).XMLHttpRequest;
});

// ---------------------------------------------------------------- the API

test("the multipart routes are the contract's", async () => {
  const calls: string[] = [];
  const real = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    calls.push(`${init.method} ${url.replace("https://api.test", "")}${init.body ? ` ${init.body}` : ""}`);
    if (init.method === "DELETE") return new Response(null, { status: 204 });
    return new Response(JSON.stringify({ ok: true }), { status: init.method === "POST" && url.endsWith("/uploads") ? 201 : 200 });
  }) as typeof fetch;
  try {
    const api = createClient({ apiUrl: "https://api.test", getToken: () => "t", onAuthRequired: () => {} });
    await api.startUpload("thr_1", { filename: "a.mp4", content_type: "video/mp4", size: 100 * MIB });
    await api.partUrls("thr_1", "01ATT", [1, 2]);
    await api.completeUpload("thr_1", "01ATT", [{ part_number: 1, etag: '"e1"' }]);
    assert.equal(await api.abortUpload("thr_1", "01ATT"), null);
  } finally {
    globalThis.fetch = real;
  }
  assert.deepEqual(calls, [
    `POST /threads/thr_1/uploads {"filename":"a.mp4","content_type":"video/mp4","size":${100 * MIB}}`,
    'POST /threads/thr_1/uploads/01ATT/parts {"part_numbers":[1,2]}',
    'POST /threads/thr_1/uploads/01ATT/complete {"parts":[{"part_number":1,"etag":"\\"e1\\""}]}',
    "DELETE /threads/thr_1/uploads/01ATT",
  ]);
});

// ------------------------------------------------------------ scan states

const msg = (id: string, scans: ("pending" | "clean" | "infected")[]) =>
  ({ id, attachments: scans.map((scan, i) => ({ id: `a${i}`, filename: `f${i}.pdf`, content_type: "application/pdf", size: 1, scan })) }) as unknown as Message;

test("the poll swaps in messages whose files were scanned, and adds new ones", () => {
  const old = [msg("01A", ["clean"]), msg("01B", ["pending", "pending"]), msg("01C", [])];
  assert.equal(oldestScanning(old), "01B");
  assert.equal(oldestScanning([old[0], old[2]]), null);
  assert.equal(refreshMessages(old, [msg("01C", []), msg("01B", ["pending", "pending"])]), old, "nothing moved on");
  const scanned = msg("01B", ["clean", "infected"]);
  const next = refreshMessages(old, [msg("01D", []), msg("01C", []), scanned, msg("00Z", [])]);
  assert.deepEqual(
    next.map((m) => m.id),
    ["01A", "01B", "01C", "01D"],
    "older messages than those shown are left to 'Load older'",
  );
  assert.equal(next[1], scanned);
  assert.equal(next[0], old[0], "unchanged messages keep their object (no re-render)");
});

test("signing out forgets drafts and unfinished uploads, nothing else", () => {
  saveDraft("thr_a", { text: "for Dana only", urgent: false, client_message_id: "c-1", files: [] });
  storage.setItem("liaison.uploads.thr_a", "[]");
  storage.setItem("liaison.token", "kept-by-its-owner");
  forgetLocalWork();
  assert.equal(loadDraft("thr_a").text, "");
  assert.equal(storage.getItem("liaison.uploads.thr_a"), null);
  assert.equal(storage.getItem("liaison.token"), "kept-by-its-owner");
});
