// What the specs share: the demo directory's people, signing in through the
// sign-in screen, the API as a person (dev tokens from the local gateway) for
// seeding and checking, and small files to attach. Controls are found by role
// and accessible name only (docs: /work/issue13-plan.md, "Accessible names").
import { expect, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { deflateSync } from "node:zlib";

export type Person = { id: string; name: string; label: string; role: "client" | "manager" };

// The demo directory (infra/local/demo-directory.json) as the sign-in screen names it.
export const CHRIS: Person = { id: "u_chris", name: "Chris", label: "Chris — Acme Beauty, client", role: "client" };
export const ALEX: Person = { id: "u_alex", name: "Alex", label: "Alex — Acme Beauty, client", role: "client" };
export const DANA: Person = { id: "u_dana", name: "Dana", label: "Dana — account manager", role: "manager" };
export const BEA: Person = { id: "u_bea", name: "Bea", label: "Bea — Beta Foods, client", role: "client" };
export const MAX: Person = { id: "u_max", name: "Max", label: "Max — account manager", role: "manager" };

export const SCOPES = {
  hook: { label: "Glow Serum › Spring launch › Hook v2", query: "client=cl_glow&campaign=cp_spring&creative=cr_hook2" },
  spring: { label: "Glow Serum › Spring launch", query: "client=cl_glow&campaign=cp_spring" },
  glow: { label: "Glow Serum", query: "client=cl_glow" },
  tonic: { label: "Night Tonic", query: "client=cl_tonic" },
  launch: { label: "Night Tonic › Launch", query: "client=cl_tonic&campaign=cp_launch" },
  teaser: { label: "Night Tonic › Launch › Teaser", query: "client=cl_tonic&campaign=cp_launch&creative=cr_teaser" },
  general: { label: "General", query: "general" },
} as const;

/** The poll interval the issue allows (≤ 15 s), with room for a slow machine. */
export const POLL_MS = 20_000;

// ------------------------------------------------------------------ page

/** Signs in through the sign-in screen (GET /dev/people, POST /dev/token). */
export async function signIn(page: Page, who: Person): Promise<void> {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByRole("button", { name: who.label, exact: true }).click();
  await expect(messagesHeading(page)).toBeVisible();
}

export function messagesHeading(page: Page): Locator {
  return page.getByRole("heading", { name: "Messages", exact: true });
}

export function sidebarLink(page: Page): Locator {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /^Messages\b/ });
}

/** The sidebar badge shows `n unread`, or nothing when n is 0. */
export async function expectSidebarUnread(page: Page, n: number, timeout = POLL_MS): Promise<void> {
  const link = sidebarLink(page);
  if (n === 0) {
    await expect(link.getByLabel(/^\d+ unread$/)).toBeHidden({ timeout });
  } else {
    await expect(link.getByLabel(`${n} unread`, { exact: true })).toBeVisible({ timeout });
  }
}

export function threadList(page: Page): Locator {
  return page.getByRole("list", { name: "Threads", exact: true });
}

/** The thread list's item for a scope label. */
export function threadItem(page: Page, scopeLabel: string): Locator {
  return threadList(page)
    .getByRole("listitem")
    .filter({ has: page.getByRole("link", { name: scopeLabel, exact: true }) });
}

export function itemUnreadBadge(item: Locator): Locator {
  return item.getByLabel("unread", { exact: true });
}

export function conversation(page: Page): Locator {
  return page.getByRole("list", { name: "Conversation", exact: true });
}

export function messageArticle(page: Page, text: string | RegExp): Locator {
  return conversation(page).getByRole("article").filter({ hasText: text });
}

export function composer(page: Page): Locator {
  return page.getByRole("textbox", { name: "Message", exact: true });
}

export function scopeHeading(page: Page, label: string): Locator {
  return page.getByRole("heading", { level: 1, name: label, exact: true });
}

/** Opens (or reopens) a scoped thread through the entry-point URL; answers its id. */
export async function openByLink(page: Page, scope: { label: string; query: string }): Promise<string> {
  await page.goto(`/messages/new?${scope.query}`);
  await expect(scopeHeading(page, scope.label)).toBeVisible();
  return threadIdFromUrl(page);
}

/** The thread id in /messages/{thread_id}, once the page shows a thread. */
export async function threadIdFromUrl(page: Page): Promise<string> {
  await expect(page).toHaveURL(/\/messages\/thr_[0-9a-z]{26}(?:[?#].*)?$/);
  const m = /\/messages\/(thr_[0-9a-z]{26})/.exec(page.url());
  return m![1];
}

/** Types a message and sends it with Enter; waits until it shows. */
export async function sendWithEnter(page: Page, text: string): Promise<void> {
  const box = composer(page);
  await box.fill(text);
  await box.press("Enter");
  await expect(messageArticle(page, text)).toBeVisible();
  await expect(box).toHaveValue("");
}

/** Builds a DataTransfer holding the files in the page and drops it on `target`. */
export async function dropFiles(
  page: Page,
  target: Locator,
  files: { name: string; mimeType: string; buffer: Buffer }[],
): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, type: f.mimeType, bytes: [...f.buffer] }));
  const dataTransfer = await page.evaluateHandle((fs) => {
    const dt = new DataTransfer();
    for (const f of fs) dt.items.add(new File([new Uint8Array(f.bytes)], f.name, { type: f.type }));
    return dt;
  }, payload);
  await target.dispatchEvent("dragenter", { dataTransfer });
  await target.dispatchEvent("dragover", { dataTransfer });
  await target.dispatchEvent("drop", { dataTransfer });
}

/** Chooses files through the "Attach files" button's file chooser. */
export async function attachByButton(
  page: Page,
  files: { name: string; mimeType: string; buffer: Buffer }[],
): Promise<void> {
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Attach files", exact: true }).click();
  await (await chooser).setFiles(files);
}

/** A pending file is uploaded: its progress bar is gone or full. */
export async function expectUploaded(page: Page, filename: string): Promise<void> {
  await expect(page.getByRole("button", { name: `Remove ${filename}`, exact: true })).toBeVisible();
  const bar = page.getByRole("progressbar", { name: `Uploading ${filename}`, exact: true });
  await expect
    .poll(
      async () => {
        if ((await bar.count()) === 0 || !(await bar.isVisible())) return true;
        return bar.evaluate((el) => {
          if (el instanceof HTMLProgressElement) return el.value >= el.max;
          const now = Number(el.getAttribute("aria-valuenow"));
          const max = Number(el.getAttribute("aria-valuemax") ?? "100");
          return el.hasAttribute("aria-valuenow") && now >= max;
        });
      },
      { message: `upload of ${filename} finished`, timeout: 20_000 },
    )
    .toBe(true);
}

/** The deepest focused element (through open shadow roots), described. */
export async function focusedElement(page: Page) {
  return page.evaluate(() => {
    let el: Element | null = document.activeElement;
    while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
    if (!el || el === document.body) return null;
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0;
    const ring = s.boxShadow !== "none" && s.boxShadow !== "";
    return {
      tag: el.tagName.toLowerCase(),
      role: el.getAttribute("role"),
      name: el.getAttribute("aria-label") ?? (el.textContent ?? "").trim().slice(0, 60),
      visibleFocus: outline || ring,
    };
  });
}

/** Presses Tab until `target` has focus (at most `max` times); answers the stops passed. */
export async function tabTo(page: Page, target: Locator, max = 60) {
  const stops: NonNullable<Awaited<ReturnType<typeof focusedElement>>>[] = [];
  for (let i = 0; i < max; i++) {
    const focused = await target.evaluate((el) => (el.getRootNode() as Document | ShadowRoot).activeElement === el).catch(() => false);
    if (focused) return stops;
    await page.keyboard.press("Tab");
    const f = await focusedElement(page);
    if (f) stops.push(f);
  }
  throw new Error(`Tab never reached the target after ${max} presses; stops: ${JSON.stringify(stops.map((s) => `${s.tag}:${s.name}`))}`);
}

// ------------------------------------------------------------------- API

export type Message = {
  id: string;
  client_message_id: string;
  body: string;
  author: { id: string; name: string; role: string };
  attachments: { id: string; filename: string; content_type: string }[];
};

/** The API as one person, with a dev token from the local gateway. */
export class Api {
  private constructor(
    private readonly request: APIRequestContext,
    private readonly token: string,
    readonly who: Person,
  ) {}

  static async as(request: APIRequestContext, who: Person): Promise<Api> {
    const res = await request.post("/dev/token", { data: { user_id: who.id } });
    expect(res.status(), `POST /dev/token for ${who.id}: ${await res.text()}`).toBe(200);
    const { token } = await res.json();
    expect(typeof token).toBe("string");
    return new Api(request, token, who);
  }

  async call<T = any>(method: "GET" | "POST" | "PUT" | "DELETE", path: string, data?: unknown): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.request.fetch(path, {
        method,
        headers: { authorization: `Bearer ${this.token}` },
        data: method === "POST" || method === "PUT" ? (data ?? {}) : undefined,
      });
      // The local AWS can be briefly busy under a burst; a retry is safe
      // (every write here is idempotent).
      if (res.status() === 503 && attempt < 3) continue;
      expect(res.ok(), `${method} ${path} (${this.who.id}) answered ${res.status()}: ${await res.text()}`).toBe(true);
      return res.json();
    }
  }

  async unread(): Promise<number> {
    return (await this.call<{ unread_threads: number }>("GET", "/unread")).unread_threads;
  }

  /** Opens a scope's thread; managers name the account. */
  async open(scope: Record<string, string>, accountId?: string): Promise<string> {
    const body: Record<string, unknown> = { scope };
    if (accountId) body.account_id = accountId;
    return (await this.call<{ id: string }>("POST", "/threads", body)).id;
  }

  async send(threadId: string, body: string, extra: Record<string, unknown> = {}): Promise<Message> {
    const client_message_id = `e2e-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    return this.call("POST", `/threads/${threadId}/messages`, { body, client_message_id, ...extra });
  }

  async read(threadId: string): Promise<void> {
    await this.call("POST", `/threads/${threadId}/read`, {});
  }

  /** Every message of a thread, newest first. */
  async messages(threadId: string): Promise<Message[]> {
    const out: Message[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const page: { messages: Message[]; next_cursor: string | null } = await this.call(
        "GET",
        `/threads/${threadId}/messages?limit=100${q}`,
      );
      out.push(...page.messages);
      cursor = page.next_cursor;
    } while (cursor);
    return out;
  }

  /** Presigns and uploads a file (as the page does); answers the attachment id. */
  async upload(threadId: string, file: { name: string; mimeType: string; buffer: Buffer }): Promise<string> {
    const p = await this.call<{ attachment_id: string; upload: { url: string; headers: Record<string, string> } }>(
      "POST",
      `/threads/${threadId}/attachments`,
      { filename: file.name, content_type: file.mimeType, size: file.buffer.length },
    );
    const headers = { ...p.upload.headers };
    delete headers["content-length"];
    const res = await this.request.put(p.upload.url, { headers, data: file.buffer });
    expect(res.ok(), `PUT upload of ${file.name}: ${res.status()} ${await res.text()}`).toBe(true);
    return p.attachment_id;
  }
}

/** Runs `work` over `items` with at most `limit` at once. */
export async function pool<T>(items: T[], limit: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i], i);
    }
  });
  await Promise.all(runners);
}

// ----------------------------------------------------------------- files

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A small valid PNG of one colour (so thumbnails really render). */
export function png(name: string, rgb: [number, number, number] = [214, 92, 122], size = 48) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(size * 3).map((_, i) => rgb[i % 3])]);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  const buffer = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  return { name, mimeType: "image/png", buffer };
}

/** A small valid one-page PDF. */
export function pdf(name: string) {
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] >>",
  ];
  let out = "%PDF-1.4\n";
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const off of offsets) out += `${String(off).padStart(10, "0")} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return { name, mimeType: "application/pdf", buffer: Buffer.from(out, "latin1") };
}
