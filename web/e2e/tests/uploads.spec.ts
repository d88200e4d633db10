// Creative-sized files (issue 16): a video over 64 MiB goes up as a multipart
// upload with per-part progress; a part that keeps failing shows a Retry that
// uploads only what is missing; an upload cut short by a reload is offered
// again (Resume, Discard); and files in messages say their scan state:
// "Scanning for viruses…" (no link), "Removed: malware found" (never a
// link), or the download once clean. Needs the issue 16 backends (multipart
// routes, scan states, the local stand-in scanner).
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page, type Route } from "@playwright/test";
import { writeFileSync } from "node:fs";
import { Api, CHRIS, POLL_MS, SCOPES, composer, messageArticle, openByLink, pdf, signIn } from "./support";

const MIB = 1024 * 1024;
const PART = 8 * MIB;
/** Just over the single-PUT limit (64 MiB): 9 parts of 8 MiB, the last 3 MiB. */
const SIZE = 67 * MIB;
const PARTS = Math.ceil(SIZE / PART);

/** The EICAR test string: the stand-in scanner reports a file holding it infected. */
const EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/** axe-core finds nothing serious or critical on the page as it is. */
async function expectAccessible(page: Page, what: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`), `axe on ${what}`).toEqual([]);
}

/** A real MP4 to its first bytes (ftyp, then one mdat box of filler), written to disk. */
function bigVideo(path: string, size = SIZE): { path: string; name: string; bytes: Buffer } {
  const bytes = Buffer.alloc(size);
  const pattern = Buffer.from("liaison e2e footage 0123456789 ");
  for (let i = 0; i < size; i += pattern.length) pattern.copy(bytes, i);
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write("ftypisom", 4, "latin1");
  ftyp.writeUInt32BE(0x200, 12);
  ftyp.write("isommp41", 16, "latin1");
  ftyp.copy(bytes, 0);
  bytes.writeUInt32BE(size - 24, 24);
  bytes.write("mdat", 28, "latin1");
  writeFileSync(path, bytes);
  return { path, name: path.split("/").pop()!, bytes };
}

/** A presigned UploadPart PUT (its URL names the part and the upload). */
const partOf = (url: URL): number | null =>
  url.searchParams.has("uploadId") && url.searchParams.has("partNumber") ? Number(url.searchParams.get("partNumber")) : null;

/** Records the parts PUT (answered 2xx) and the calls to the uploads API. */
function watch(page: Page) {
  const w = { parts: [] as number[], api: [] as string[] };
  page.on("requestfinished", async (r) => {
    const url = new URL(r.url());
    const part = partOf(url);
    if (part !== null && r.method() === "PUT") {
      const res = await r.response();
      if (res && res.status() < 300) w.parts.push(part);
    }
    const m = /\/threads\/thr_[0-9a-z]{26}(\/uploads.*|\/attachments)$/.exec(url.pathname);
    if (m) w.api.push(`${r.method()} ${m[1].replace(/[0-9A-Z]{26}/, "{id}")}`);
  });
  return w;
}

async function chooseFile(page: Page, button: string, path: string) {
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: button, exact: true }).click();
  await (await chooser).setFiles(path);
}

/** The composer's entry for a file. */
const chip = (page: Page, name: string) =>
  page.getByRole("list", { name: "Attachments", exact: true }).getByRole("listitem").filter({ hasText: name });

async function expectChipUploaded(page: Page, name: string) {
  await expect(chip(page, name)).toContainText("Uploaded", { timeout: 120_000 });
  await expect(page.getByRole("progressbar", { name: `Uploading ${name}`, exact: true })).toHaveJSProperty("value", 100);
}

/** Sends what is in the composer with a text; answers the message's article. */
async function send(page: Page, text: string) {
  await composer(page).fill(text);
  await composer(page).press("Enter");
  const article = messageArticle(page, text);
  await expect(article).toBeVisible();
  await expect(composer(page)).toHaveValue("");
  return article;
}

/** The attachment ids of the message with this body, through the API. */
async function attachmentsOf(api: Api, threadId: string, body: string) {
  const m = (await api.messages(threadId)).find((x) => x.body === body);
  expect(m, `message "${body}"`).toBeTruthy();
  return m!.attachments as { id: string; filename: string; scan?: string; size?: number }[];
}

/** The status and problem code of a GET of an attachment's download link. */
async function downloadStatus(request: import("@playwright/test").APIRequestContext, threadId: string, id: string) {
  const { token } = await (await request.post("/dev/token", { data: { user_id: CHRIS.id } })).json();
  const res = await request.get(`/threads/${threadId}/attachments/${id}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json().catch(() => ({}));
  return { status: res.status(), code: body.code as string | undefined, url: body.download_url as string | undefined };
}

test.beforeEach(async ({ page }) => {
  await signIn(page, CHRIS);
});

test("a video over 64 MiB uploads in 8 MiB parts with per-part progress, and is downloadable once scanned clean", async ({
  page,
  request,
}, info) => {
  test.setTimeout(240_000);
  const threadId = await openByLink(page, SCOPES.teaser);
  const video = bigVideo(info.outputPath("spring-cut.mp4"));
  const w = watch(page);
  // What the progress bar said along the way (every render of it).
  await composer(page).evaluate((box) => {
    const form = box.closest("form")!;
    const seen: string[] = [];
    (window as any).__liaisonProgress = seen;
    new MutationObserver(() => {
      const bar = form.querySelector("progress");
      const text = bar?.getAttribute("aria-valuetext");
      if (text && seen.at(-1) !== text) seen.push(text);
    }).observe(form, { subtree: true, childList: true, attributes: true, characterData: true });
  });

  await chooseFile(page, "Attach files", video.path);
  await expect(page.getByRole("progressbar", { name: `Uploading ${video.name}`, exact: true })).toBeVisible();
  await expectChipUploaded(page, video.name);

  // Per part: "n%, part k of 9", k and n never going back, ending at 100%.
  const seen: string[] = await page.evaluate(() => (window as any).__liaisonProgress);
  const parsed = seen.map((s) => {
    const m = /^(\d+)%, part (\d+) of (\d+)$/.exec(s);
    expect(m, `progress text "${s}"`).toBeTruthy();
    return { pct: Number(m![1]), part: Number(m![2]), of: Number(m![3]) };
  });
  expect(parsed.every((p) => p.of === PARTS)).toBe(true);
  expect(new Set(parsed.map((p) => p.part)).size).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < parsed.length; i++) {
    expect(parsed[i].pct).toBeGreaterThanOrEqual(parsed[i - 1].pct);
    expect(parsed[i].part).toBeGreaterThanOrEqual(parsed[i - 1].part);
  }
  expect(parsed.at(-1)).toEqual({ pct: 100, part: PARTS, of: PARTS });

  // The multipart protocol, not the single PUT: each part once, then complete.
  expect([...w.parts].sort((a, b) => a - b)).toEqual(Array.from({ length: PARTS }, (_, i) => i + 1));
  expect(w.api.filter((c) => c === "POST /uploads")).toHaveLength(1);
  expect(w.api.filter((c) => c === "POST /uploads/{id}/parts").length).toBeGreaterThanOrEqual(1);
  expect(w.api.filter((c) => c === "POST /uploads/{id}/complete")).toHaveLength(1);
  expect(w.api).not.toContain("POST /attachments");

  // Sent: scanning first (no link), then the download once the stand-in scanner says clean.
  const text = `The full spring cut ${Date.now()}`;
  const article = await send(page, text);
  await expect(article).toContainText(video.name);
  const download = article.getByRole("button", { name: `Download ${video.name}`, exact: true });
  const scanning = article.getByText("Scanning for viruses…");
  await expect(scanning.or(download)).toBeVisible();
  if (await scanning.isVisible()) await expect(download).toHaveCount(0);
  await expect(download).toBeVisible({ timeout: POLL_MS + 15_000 });
  await expect(scanning).toHaveCount(0);

  // The object is the file, part boundaries and all.
  const api = await Api.as(request, CHRIS);
  const [att] = await attachmentsOf(api, threadId, text);
  expect(att.scan).toBe("clean");
  const link = await downloadStatus(request, threadId, att.id);
  expect(link.status).toBe(200);
  for (const [from, to] of [
    [0, 63],
    [PART - 16, PART + 15],
    [SIZE - 32, SIZE - 1],
  ]) {
    const res = await request.get(link.url!, { headers: { range: `bytes=${from}-${to}` } });
    expect(res.status()).toBe(206);
    expect(Buffer.compare(await res.body(), video.bytes.subarray(from, to + 1))).toBe(0);
  }
});

test("a part that keeps failing shows a recoverable error; Retry uploads only the missing parts", async ({ page }, info) => {
  test.setTimeout(240_000);
  await openByLink(page, SCOPES.launch);
  const video = bigVideo(info.outputPath("hotel-wifi.mp4"));
  const w = watch(page);
  // The connection drops for every part but the first.
  const dropping = (url: URL) => (partOf(url) ?? 0) > 1;
  await page.route(dropping, (route) => route.abort("connectionreset"));

  await chooseFile(page, "Attach files", video.path);
  const retry = page.getByRole("button", { name: `Retry upload of ${video.name}`, exact: true });
  await expect(retry).toBeVisible({ timeout: 60_000 });
  await expect(chip(page, video.name).getByRole("alert")).toContainText(video.name);
  await expectAccessible(page, "a failed upload with Retry");
  // It cannot be sent like this, and says why.
  await composer(page).fill("Not yet");
  await composer(page).press("Enter");
  await expect(page.getByRole("alert").filter({ hasText: "failed to upload" })).toBeVisible();

  // The connection is back: Retry carries on with the parts not done.
  await page.unroute(dropping);
  const before = [...w.parts];
  expect(before.length).toBeGreaterThanOrEqual(1);
  await retry.click();
  await expectChipUploaded(page, video.name);
  const after = w.parts.slice(before.length);
  expect(after.filter((p) => before.includes(p)), "no part uploaded twice").toEqual([]);
  expect([...before, ...after].sort((a, b) => a - b)).toEqual(Array.from({ length: PARTS }, (_, i) => i + 1));
  expect(w.api.filter((c) => c === "POST /uploads")).toHaveLength(1);

  const article = await send(page, `After the retry ${Date.now()}`);
  await expect(article).toContainText(video.name);
});

/** Starts an upload whose parts after the first hang; answers once part 1 is saved. */
async function interruptedUpload(page: Page, threadId: string, video: { path: string }) {
  const held: Route[] = [];
  const hang = (url: URL) => (partOf(url) ?? 0) > 1;
  await page.route(hang, (route) => {
    held.push(route);
  });
  await chooseFile(page, "Attach files", video.path);
  await expect
    .poll(
      () =>
        page.evaluate((key) => {
          const list = JSON.parse(localStorage.getItem(key) ?? "[]");
          return list.length === 1 && !!list[0].etags?.["1"];
        }, `liaison.uploads.${threadId}`),
      { message: "part 1 saved for resuming", timeout: 60_000 },
    )
    .toBe(true);
  // Cut short: the page goes away mid-upload.
  await page.reload();
  await page.unroute(hang);
  for (const r of held) await r.abort().catch(() => {});
}

test("an upload cut short by a reload is offered again; Resume uploads only the missing parts", async ({ page }, info) => {
  test.setTimeout(240_000);
  const threadId = await openByLink(page, SCOPES.spring);
  const video = bigVideo(info.outputPath("raw-footage.mp4"));
  await interruptedUpload(page, threadId, video);

  const offers = page.getByRole("region", { name: "Unfinished uploads", exact: true });
  await expect(offers).toContainText(video.name);
  await expect(offers).toContainText("% uploaded");
  const resume = page.getByRole("button", { name: `Resume upload of ${video.name}`, exact: true });
  await expect(resume).toBeVisible();

  // Another file is not taken for it.
  const other = bigVideo(info.outputPath("other-footage.mp4"), SIZE + 1);
  await chooseFile(page, `Resume upload of ${video.name}`, other.path);
  await expect(offers.getByRole("alert")).toContainText("is not the file that was uploading");
  await expectAccessible(page, "the unfinished uploads offered again");
  await expect(resume).toBeVisible();

  // The same file: only parts 2 to 9 go up, into the same upload.
  const w = watch(page);
  await chooseFile(page, `Resume upload of ${video.name}`, video.path);
  await expectChipUploaded(page, video.name);
  expect([...w.parts].sort((a, b) => a - b)).toEqual(Array.from({ length: PARTS - 1 }, (_, i) => i + 2));
  expect(w.api.filter((c) => c === "POST /uploads")).toEqual([]);
  expect(w.api.filter((c) => c === "POST /uploads/{id}/complete")).toHaveLength(1);
  await expect(resume).toHaveCount(0);

  const article = await send(page, `Resumed after a reload ${Date.now()}`);
  await expect(article).toContainText(video.name);
  // Nothing left to resume.
  await page.reload();
  await expect(article).toBeVisible();
  await expect(offers).toHaveCount(0);
});

test("Discard drops an unfinished upload on the server and on the page", async ({ page, request }, info) => {
  test.setTimeout(240_000);
  const threadId = await openByLink(page, SCOPES.hook);
  const video = bigVideo(info.outputPath("discarded.mp4"));
  await interruptedUpload(page, threadId, video);
  const saved: { attachment_id: string }[] = await page.evaluate(
    (key) => JSON.parse(localStorage.getItem(key) ?? "[]"),
    `liaison.uploads.${threadId}`,
  );
  const id = saved[0].attachment_id;

  const deleted = page.waitForResponse((r) => r.request().method() === "DELETE" && r.url().endsWith(`/uploads/${id}`));
  await page.getByRole("button", { name: `Discard upload of ${video.name}`, exact: true }).click();
  expect((await deleted).status()).toBe(204);
  await expect(page.getByRole("button", { name: `Resume upload of ${video.name}`, exact: true })).toHaveCount(0);
  await page.reload();
  await expect(composer(page)).toBeVisible();
  await expect(page.getByRole("region", { name: "Unfinished uploads", exact: true })).toHaveCount(0);

  // Gone: it cannot be sent.
  const { token } = await (await request.post("/dev/token", { data: { user_id: CHRIS.id } })).json();
  const res = await request.post(`/threads/${threadId}/messages`, {
    headers: { authorization: `Bearer ${token}` },
    data: { client_message_id: `e2e-discard-${Date.now()}`, body: "discarded", attachment_ids: [id] },
  });
  expect(res.status()).toBe(422);
  expect((await res.json()).code).toBe("attachment_not_uploaded");
});

test("a file whose bytes are not its type is refused at send, said on the file", async ({ page, request }) => {
  const threadId = await openByLink(page, SCOPES.tonic);
  const api = await Api.as(request, CHRIS);
  const before = (await api.messages(threadId)).length;
  const spoof = { name: "not-a-picture.png", mimeType: "image/png", buffer: Buffer.from("<!doctype html><html><body>hello</body></html>\n") };
  const chooser = page.waitForEvent("filechooser");
  await page.getByRole("button", { name: "Attach files", exact: true }).click();
  await (await chooser).setFiles(spoof);
  await expect(chip(page, spoof.name)).toContainText("Uploaded");
  const text = `Here is the picture ${Date.now()}`;
  await composer(page).fill(text);
  await composer(page).press("Enter");
  // Not sent; the file says why and can only be removed.
  await expect(page.getByRole("alert").filter({ hasText: "Your message was not sent" })).toBeVisible();
  await expect(chip(page, spoof.name).getByRole("alert")).toBeVisible();
  await expect(chip(page, spoof.name).getByRole("button", { name: /^Retry/ })).toHaveCount(0);
  expect((await api.messages(threadId)).length).toBe(before);
  await page.getByRole("button", { name: `Remove ${spoof.name}`, exact: true }).click();
  await composer(page).press("Enter");
  await expect(messageArticle(page, text)).toBeVisible();
});

test("files in messages: scanning shows no link, infected is never linked, clean downloads", async ({ page, request }) => {
  test.setTimeout(120_000);
  const api = await Api.as(request, CHRIS);
  const threadId = await api.open({ kind: "campaign", client_id: "cl_tonic", campaign_id: "cp_launch" });
  const clean = pdf("clean-brief.pdf");
  const bad = pdf("bad-brief.pdf");
  bad.buffer = Buffer.concat([bad.buffer, Buffer.from(`%${EICAR}\n`, "latin1")]);
  const ids = [await api.upload(threadId, clean), await api.upload(threadId, bad)];
  const text = `Two briefs ${Date.now()}`;
  await api.send(threadId, text, { attachment_ids: ids });

  // The API says "pending" until the scan: held so here (as it answers before the scanner ran).
  let pending = true;
  const list = (url: URL) => /\/threads\/thr_[0-9a-z]{26}\/messages$/.test(url.pathname);
  await page.route(list, async (route) => {
    if (route.request().method() !== "GET" || !pending) return route.fallback();
    const res = await route.fetch();
    const body = await res.json();
    for (const m of body.messages ?? [])
      for (const a of m.attachments ?? []) {
        a.scan = "pending";
        delete a.download_url;
        delete a.download_url_expires_at;
      }
    await route.fulfill({ response: res, json: body });
  });
  await page.goto(`/messages/${threadId}`);
  const article = messageArticle(page, text);
  await expect(article).toBeVisible();
  await expect(article.getByText("Scanning for viruses…")).toHaveCount(2);
  await expect(article.getByRole("button")).toHaveCount(0);
  await expect(article.getByRole("link")).toHaveCount(0);
  await expectAccessible(page, "files being scanned");

  // The real states come with the next poll.
  pending = false;
  const download = article.getByRole("button", { name: "Download clean-brief.pdf", exact: true });
  await expect(download).toBeVisible({ timeout: POLL_MS + 15_000 });
  await expect(article.getByText("Removed: malware found")).toBeVisible({ timeout: POLL_MS + 15_000 });
  await expect(article).toContainText("bad-brief.pdf");
  await expect(article.getByText("Scanning for viruses…")).toHaveCount(0);
  await expect(article.getByRole("button", { name: /bad-brief/ })).toHaveCount(0);
  await expect(article.getByRole("link")).toHaveCount(0);
  await expect(article.getByRole("img")).toHaveCount(0);
  await expectAccessible(page, "a clean and an infected file");

  // The API agrees: infected is refused, clean is served.
  const atts = await attachmentsOf(api, threadId, text);
  const byName = Object.fromEntries(atts.map((a) => [a.filename, a]));
  expect(byName["clean-brief.pdf"].scan).toBe("clean");
  expect(byName["bad-brief.pdf"].scan).toBe("infected");
  expect(await downloadStatus(request, threadId, byName["bad-brief.pdf"].id)).toMatchObject({ status: 403, code: "attachment_infected" });
  expect((await downloadStatus(request, threadId, byName["clean-brief.pdf"].id)).status).toBe(200);

  // The clean one downloads through the page.
  const fetched = page.waitForResponse((r) => r.url().includes(`/attachments/${byName["clean-brief.pdf"].id}`));
  await download.click();
  expect((await fetched).status()).toBe(200);
});
