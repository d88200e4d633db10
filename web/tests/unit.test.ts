// Unit tests of the page's pure rules: `npm test` (bundled by esbuild, run by node:test).
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkFile, MAX_FILES } from "../src/uploads";
import { matchRoute, settingsRequested, withSettings } from "../src/router";
import { createClient } from "../src/api/client";
import { EMAIL_CHOICES } from "../src/screens/Settings";
import { scopeFromParams } from "../src/screens/OpenScope";
import { scopeOf } from "../src/screens/Picker";
import { mergeMessages } from "../src/screens/ThreadView";
import type { Message } from "../src/api/client";

const MIB = 1024 * 1024;

test("checkFile follows the API's types, extensions and limits", () => {
  assert.deepEqual(checkFile("hook.PNG", 10), { ok: true, content_type: "image/png" });
  assert.deepEqual(checkFile("a.jpeg", 10), { ok: true, content_type: "image/jpeg" });
  assert.deepEqual(checkFile("cut.mov", 10), { ok: true, content_type: "video/quicktime" });
  assert.deepEqual(checkFile("brief.pdf", 50 * MIB), { ok: true, content_type: "application/pdf" });
  assert.equal(checkFile("brief.pdf", 50 * MIB + 1).ok, false);
  assert.equal(checkFile("big.png", 25 * MIB + 1).ok, false);
  assert.equal(checkFile("all.zip", 500 * MIB).ok, true);
  assert.equal(checkFile("logo.svg", 10).ok, false);
  assert.equal(checkFile(".png", 10).ok, false, "a name before the extension is needed");
  assert.equal(checkFile("empty.png", 0).ok, false);
  assert.equal(checkFile(`${"é".repeat(126)}.png`, 1).ok, false, "over 255 bytes of UTF-8");
  assert.equal(MAX_FILES, 10);
});

test("routes below the base path", () => {
  assert.deepEqual(matchRoute("/messages", "", "/messages"), { name: "list" });
  assert.deepEqual(matchRoute("/messages/", "", "/messages"), { name: "list" });
  assert.deepEqual(matchRoute("/messages/thr_01", "", "/messages"), { name: "thread", id: "thr_01" });
  const r = matchRoute("/app/inbox/new", "?client=cl_glow", "/app/inbox/");
  assert.equal(r.name, "new");
  assert.equal(matchRoute("/elsewhere", "", "/messages").name, "unknown");
});

test("deep-link scopes", () => {
  const p = (s: string) => new URLSearchParams(s);
  assert.deepEqual(scopeFromParams(p("general")), { kind: "general" });
  assert.deepEqual(scopeFromParams(p("client=cl_glow")), { kind: "client", client_id: "cl_glow" });
  assert.deepEqual(scopeFromParams(p("client=c&campaign=p")), { kind: "campaign", client_id: "c", campaign_id: "p" });
  assert.deepEqual(scopeFromParams(p("client=c&campaign=p&creative=r")), scopeOf("c", "p", "r"));
  assert.equal(scopeFromParams(p("client=c&creative=r")), null);
  assert.equal(scopeFromParams(p("")), null);
});

test("mergeMessages appends new ones in id order and keeps the old array when nothing is new", () => {
  const m = (id: string) => ({ id }) as Message;
  const old = [m("01A"), m("01C")];
  assert.equal(mergeMessages(old, [m("01A")]), old);
  assert.deepEqual(
    mergeMessages(old, [m("01D"), m("01B")]).map((x) => x.id),
    ["01A", "01B", "01C", "01D"],
  );
});

test("the e-mail settings deep link opens and closes without touching other parameters", () => {
  assert.equal(settingsRequested("?settings=notifications"), true);
  assert.equal(settingsRequested("?unread=1&settings=notifications"), true);
  assert.equal(settingsRequested("?settings=other"), false);
  assert.equal(settingsRequested(""), false);
  assert.equal(withSettings("/messages", "", true), "/messages?settings=notifications");
  assert.equal(withSettings("/messages", "?settings=notifications", false), "/messages");
  assert.equal(withSettings("/messages/new", "?client=c&settings=notifications", false), "/messages/new?client=c");
});

test("every e-mail preference of the spec has a choice with an explanation, in the spec's order", () => {
  assert.deepEqual(
    EMAIL_CHOICES.map((c) => c.value),
    ["all", "urgent_only", "off"],
  );
  for (const c of EMAIL_CHOICES) assert.ok(c.label && c.hint.length > 20, c.value);
});

test("mute, unmute, unread and preferences call the spec's routes", async () => {
  const calls: string[] = [];
  const answers: Record<string, unknown> = {
    "PUT /threads/thr_1/mute": { thread_id: "thr_1", muted: true },
    "DELETE /threads/thr_1/mute": { thread_id: "thr_1", muted: false },
    "POST /threads/thr_1/unread": { thread_id: "thr_1", last_read_message_id: null, unread: true },
    "GET /me/notifications": { email: "all" },
    "PUT /me/notifications": { email: "off" },
  };
  const real = globalThis.fetch;
  globalThis.fetch = (async (url: string, init: RequestInit) => {
    const key = `${init.method} ${url.replace("https://api.test", "")}`;
    calls.push(init.body ? `${key} ${init.body}` : key);
    const body = answers[key];
    return new Response(JSON.stringify(body ?? { code: "not_found", detail: "Not found." }), { status: body ? 200 : 404 });
  }) as typeof fetch;
  try {
    const api = createClient({ apiUrl: "https://api.test/", getToken: () => "t", onAuthRequired: () => {} });
    assert.equal((await api.setMuted("thr_1", true)).muted, true);
    assert.equal((await api.setMuted("thr_1", false)).muted, false);
    assert.equal((await api.markUnread("thr_1")).unread, true);
    assert.equal((await api.preferences()).email, "all");
    assert.equal((await api.setPreferences("off")).email, "off");
    await assert.rejects(api.setMuted("thr_2", true), (e: Error) => e.message === "Not found.");
  } finally {
    globalThis.fetch = real;
  }
  assert.deepEqual(calls, [
    "PUT /threads/thr_1/mute",
    "DELETE /threads/thr_1/mute",
    'POST /threads/thr_1/unread {}',
    "GET /me/notifications",
    'PUT /me/notifications {"email":"off"}',
    "PUT /threads/thr_2/mute",
  ]);
});
