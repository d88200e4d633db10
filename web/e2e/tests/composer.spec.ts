// The composer's rules: no send mid-IME composition, one message per draft
// however often it is retried, at most 10 attachments, rejected files said.
import { expect, test } from "@playwright/test";
import {
  Api,
  CHRIS,
  SCOPES,
  attachByButton,
  composer,
  expectUploaded,
  messageArticle,
  openByLink,
  png,
  signIn,
} from "./support";

test.beforeEach(async ({ page }) => {
  await signIn(page, CHRIS);
});

test("Enter during an IME composition does not send; Enter after it does", async ({ page, request }) => {
  const id = await openByLink(page, SCOPES.tonic);
  const api = await Api.as(request, CHRIS);
  const before = (await api.messages(id)).length;
  const posts: string[] = [];
  page.on("request", (r) => {
    if (r.method() === "POST" && /\/messages$/.test(new URL(r.url()).pathname)) posts.push(r.url());
  });

  const box = composer(page);
  await box.click();
  await box.pressSequentially("こんにちは");
  // What a browser sends while an IME composes: a keydown Enter with isComposing.
  await box.evaluate((el) => {
    el.dispatchEvent(new CompositionEvent("compositionstart", { bubbles: true, data: "" }));
    const down = new KeyboardEvent("keydown", {
      key: "Enter",
      code: "Enter",
      keyCode: 229,
      isComposing: true,
      bubbles: true,
      cancelable: true,
      composed: true,
    });
    el.dispatchEvent(down);
    el.dispatchEvent(new KeyboardEvent("keyup", { key: "Enter", code: "Enter", isComposing: true, bubbles: true }));
    el.dispatchEvent(new CompositionEvent("compositionend", { bubbles: true, data: "こんにちは" }));
  });
  await page.waitForTimeout(1000);
  expect(posts).toEqual([]);
  await expect(box).toHaveValue("こんにちは");
  expect((await api.messages(id)).length).toBe(before);

  // The composition is over: Enter sends.
  await box.press("Enter");
  await expect(messageArticle(page, "こんにちは")).toBeVisible();
  await expect(box).toHaveValue("");
  expect((await api.messages(id)).length).toBe(before + 1);
});

test("a send whose answer was lost is retried as one message", async ({ page, request }) => {
  const id = await openByLink(page, SCOPES.launch);
  const api = await Api.as(request, CHRIS);
  const text = `Please check the launch date ${Date.now()}`;

  // The first POST reaches the server, then the connection drops.
  const bodies: { client_message_id?: string }[] = [];
  let dropped = false;
  await page.route(
    (url) => /\/threads\/thr_[0-9a-z]{26}\/messages$/.test(url.pathname),
    async (route) => {
      if (route.request().method() !== "POST") return route.fallback();
      bodies.push(route.request().postDataJSON());
      if (!dropped) {
        dropped = true;
        const answer = await route.fetch();
        expect(answer.status()).toBe(201);
        return route.abort("connectionreset");
      }
      return route.fallback();
    },
  );

  const box = composer(page);
  await box.fill(text);
  await box.press("Enter");
  // The failure says why and offers a retry; the text stays in the box.
  const alert = page.getByRole("alert").filter({ has: page.getByRole("button", { name: "Retry" }) });
  await expect(alert).toBeVisible();
  await expect(box).toHaveValue(text);
  await alert.getByRole("button", { name: "Retry", exact: true }).click();

  await expect(messageArticle(page, text)).toHaveCount(1);
  await expect(box).toHaveValue("");
  await expect(page.getByRole("button", { name: "Retry", exact: true })).toHaveCount(0);
  expect(bodies.length).toBe(2);
  expect(bodies[1].client_message_id).toBe(bodies[0].client_message_id);
  const stored = (await api.messages(id)).filter((m) => m.body === text);
  expect(stored.length).toBe(1);

  // Still one after a reload.
  await page.reload();
  await expect(messageArticle(page, text)).toHaveCount(1);
});

test("the attach button is disabled at 10 attachments, with the reason shown", async ({ page }) => {
  await openByLink(page, SCOPES.teaser);
  const attach = page.getByRole("button", { name: "Attach files", exact: true });
  const files = Array.from({ length: 10 }, (_, i) => png(`frame-${i + 1}.png`, [40 + i * 20, 120, 200 - i * 15]));
  await attachByButton(page, files);
  for (const f of files) await expectUploaded(page, f.name);
  await expect(attach).toBeDisabled();
  await expect(page.getByText("10 attachments is the most per message")).toBeVisible();

  // One fewer, and it can be used again.
  await page.getByRole("button", { name: "Remove frame-10.png", exact: true }).click();
  await expect(attach).toBeEnabled();
  await expect(page.getByText("10 attachments is the most per message")).toBeHidden();
});

test("a file of a type that cannot be sent is rejected, saying which and why", async ({ page }) => {
  await openByLink(page, SCOPES.teaser);
  await attachByButton(page, [{ name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("plain text") }]);
  await expect(page.getByRole("alert").filter({ hasText: "notes.txt" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Remove notes.txt" })).toHaveCount(0);
  // The composer still works.
  await expect(page.getByRole("button", { name: "Attach files", exact: true })).toBeEnabled();
});
