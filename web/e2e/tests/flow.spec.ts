// The two-sided flow of the issue: a client (Chris) and an account manager
// (Dana), each in a browser context of their own, signed in through the
// sign-in screen.
import { expect, test, type Browser, type Page } from "@playwright/test";
import {
  Api,
  CHRIS,
  DANA,
  SCOPES,
  POLL_MS,
  attachByButton,
  composer,
  conversation,
  dropFiles,
  expectSidebarUnread,
  expectUploaded,
  itemUnreadBadge,
  messageArticle,
  messagesHeading,
  openByLink,
  pdf,
  png,
  scopeHeading,
  sidebarLink,
  signIn,
  threadIdFromUrl,
  threadItem,
  type Person,
} from "./support";

async function personPage(browser: Browser, who: Person): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, who);
  return page;
}

test("a client opens a creative's thread, writes and attaches; the manager sees it, reads and replies", async ({
  browser,
  request,
}) => {
  test.setTimeout(240_000);
  const scope = SCOPES.hook;
  const chrisApi = await Api.as(request, CHRIS);
  const danaApi = await Api.as(request, DANA);
  const danaUnreadBefore = await danaApi.unread();

  // Both sides are signed in and looking at Messages.
  const dana = await personPage(browser, DANA);
  await expectSidebarUnread(dana, danaUnreadBefore, 10_000);
  const chris = await personPage(browser, CHRIS);

  // New → Client → Campaign → Creative (archived entries not offered).
  await chris.getByRole("button", { name: "New", exact: true }).click();
  const picker = chris.getByRole("dialog", { name: "New thread" });
  await expect(picker).toBeVisible();
  const client = picker.getByRole("combobox", { name: "Client", exact: true });
  await expect(client.getByRole("option").first()).toHaveText("General — not about a client");
  await client.selectOption({ label: "Glow Serum" });
  const campaign = picker.getByRole("combobox", { name: "Campaign", exact: true });
  await expect(campaign.getByRole("option").first()).toHaveText("Whole client");
  await expect(campaign.getByRole("option", { name: "Winter" })).toHaveCount(0);
  await campaign.selectOption({ label: "Spring launch" });
  const creative = picker.getByRole("combobox", { name: "Creative", exact: true });
  await expect(creative.getByRole("option").first()).toHaveText("Whole campaign");
  await expect(creative.getByRole("option", { name: "Old cut" })).toHaveCount(0);
  await creative.selectOption({ label: "Hook v2" });
  await picker.getByRole("button", { name: "Open thread", exact: true }).click();
  await expect(picker).toBeHidden();
  await expect(scopeHeading(chris, scope.label)).toBeVisible();
  const threadId = await threadIdFromUrl(chris);

  // Enter sends; Shift+Enter is a newline in the same message.
  const box = composer(chris);
  await box.click();
  await box.pressSequentially("The Hook scene needs a softer opening");
  await box.press("Shift+Enter");
  await box.pressSequentially("and a slower first cut");
  await expect(box).toHaveValue("The Hook scene needs a softer opening\nand a slower first cut");
  await box.press("Enter");
  const first = messageArticle(chris, "The Hook scene needs a softer opening");
  await expect(first).toBeVisible();
  await expect(first).toContainText("and a slower first cut");
  await expect(first).toContainText("Chris");
  await expect(first.locator("time")).toHaveCount(1);
  await expect(box).toHaveValue("");
  const sent = await chrisApi.messages(threadId);
  expect(sent.map((m) => m.body)).toEqual(["The Hook scene needs a softer opening\nand a slower first cut"]);

  // An image by the button (its upload held back a moment, so progress shows)…
  let holdUploads = true;
  await chris.route(
    (url) => !url.href.startsWith(new URL(chris.url()).origin),
    async (route) => {
      if (route.request().method() === "PUT" && holdUploads) await new Promise((r) => setTimeout(r, 1500));
      await route.fallback();
    },
  );
  await attachByButton(chris, [png("hook.png")]);
  await expect(chris.getByRole("progressbar", { name: "Uploading hook.png", exact: true })).toBeVisible();
  await expectUploaded(chris, "hook.png");
  holdUploads = false;

  // …and a PDF dropped onto the thread.
  await dropFiles(chris, conversation(chris), [pdf("brief.pdf")]);
  await expect(chris.getByRole("button", { name: "Remove brief.pdf", exact: true })).toBeVisible();
  await expectUploaded(chris, "brief.pdf");
  await box.fill("The new cut and the brief");
  await chris.getByRole("button", { name: "Send", exact: true }).click();
  const withFiles = messageArticle(chris, "The new cut and the brief");
  await expect(withFiles).toBeVisible();
  await expect(withFiles.getByRole("img", { name: "hook.png", exact: true })).toBeVisible();
  await expect(withFiles.getByRole("button", { name: "Download brief.pdf", exact: true })).toBeVisible();
  await expect(chris.getByRole("button", { name: "Remove hook.png" })).toHaveCount(0);
  await expect
    .poll(async () => (await chrisApi.messages(threadId))[0]?.attachments.map((a) => a.filename).sort())
    .toEqual(["brief.pdf", "hook.png"]);

  // The client goes back to the list: the thread is there, read by its author.
  await sidebarLink(chris).click();
  await expect(messagesHeading(chris)).toBeVisible();
  const chrisItem = threadItem(chris, scope.label);
  await expect(chrisItem).toBeVisible();
  await expect(itemUnreadBadge(chrisItem)).toHaveCount(0);

  // The manager, without reloading, sees both badges within the poll interval.
  await expectSidebarUnread(dana, danaUnreadBefore + 1, POLL_MS);
  const danaItem = threadItem(dana, scope.label);
  await expect(itemUnreadBadge(danaItem)).toBeVisible({ timeout: POLL_MS });
  await expect(danaItem).toContainText("The new cut and the brief", { timeout: POLL_MS });

  // Opening it shows the conversation and clears both badges.
  await danaItem.getByRole("link", { name: scope.label, exact: true }).click();
  await expect(scopeHeading(dana, scope.label)).toBeVisible();
  await expect(messageArticle(dana, "The Hook scene needs a softer opening")).toContainText("client");
  await expect(messageArticle(dana, "The new cut and the brief").getByRole("img", { name: "hook.png" })).toBeVisible();
  await expectSidebarUnread(dana, danaUnreadBefore, 10_000);
  expect(await danaApi.unread()).toBe(danaUnreadBefore);

  // The manager replies; the client sees the badges, then the reply.
  const chrisUnreadBefore = await chrisApi.unread();
  await composer(dana).fill("Thanks, a softer opening it is");
  await composer(dana).press("Enter");
  await expect(messageArticle(dana, "Thanks, a softer opening it is")).toContainText("account manager");
  await sidebarLink(dana).click();
  await expect(itemUnreadBadge(threadItem(dana, scope.label))).toHaveCount(0);

  await expectSidebarUnread(chris, chrisUnreadBefore + 1, POLL_MS);
  await expect(itemUnreadBadge(chrisItem)).toBeVisible({ timeout: POLL_MS });
  await expect(chrisItem).toContainText("Thanks, a softer opening it is", { timeout: POLL_MS });
  await chrisItem.getByRole("link", { name: scope.label, exact: true }).click();
  const reply = messageArticle(chris, "Thanks, a softer opening it is");
  await expect(reply).toContainText("Dana");
  await expect(reply).toContainText("account manager");
  await expectSidebarUnread(chris, chrisUnreadBefore, 10_000);

  // The "Message us about this variation" link reopens the same thread.
  await chris.goto(`/messages/new?${scope.query}`);
  await expect(scopeHeading(chris, scope.label)).toBeVisible();
  await expect(messageArticle(chris, "The Hook scene needs a softer opening")).toBeVisible();
  await expect(messageArticle(chris, "Thanks, a softer opening it is")).toBeVisible();
  expect((await chrisApi.messages(threadId)).length).toBe(3);
  const chrisThreads = await chrisApi.call<{ threads: { id: string; scope: { label: string } }[] }>(
    "GET",
    "/threads?limit=100",
  );
  expect(chrisThreads.threads.filter((t) => t.scope.label === scope.label).map((t) => t.id)).toEqual([threadId]);

  // A download link fetches a fresh link when clicked.
  const fresh = chris.waitForRequest((r) => /\/threads\/thr_[0-9a-z]{26}\/attachments\/[0-9A-Z]{26}$/.test(r.url()));
  await messageArticle(chris, "The new cut and the brief")
    .getByRole("button", { name: "Download brief.pdf", exact: true })
    .click();
  await fresh;

  await chris.context().close();
  await dana.context().close();
});

test("entry points open scoped threads without the picker", async ({ browser, request }) => {
  const chris = await (await browser.newContext()).newPage();
  await signIn(chris, CHRIS);

  // ?general, a campaign, a client: each opens its thread, twice the same one.
  for (const scope of [SCOPES.general, SCOPES.spring, SCOPES.glow]) {
    const id = await openByLink(chris, scope);
    await expect(chris.getByRole("dialog", { name: "New thread" })).toHaveCount(0);
    expect(await openByLink(chris, scope)).toBe(id);
  }

  // The link in a notification e-mail: /messages/{thread_id}, for the other side too.
  const chrisApi = await Api.as(request, CHRIS);
  const id = await chrisApi.open({ kind: "campaign", client_id: "cl_glow", campaign_id: "cp_spring" });
  await chrisApi.send(id, "About the Spring launch brief");
  const dana = await (await browser.newContext()).newPage();
  await signIn(dana, DANA);
  await dana.goto(`/messages/${id}`);
  await expect(scopeHeading(dana, SCOPES.spring.label)).toBeVisible();
  await expect(messageArticle(dana, "About the Spring launch brief")).toBeVisible();

  // A reload keeps the sign-in (sessionStorage) and the thread.
  await dana.reload();
  await expect(scopeHeading(dana, SCOPES.spring.label)).toBeVisible();

  // The Unread filter: the manager just read everything of this thread.
  await sidebarLink(dana).click();
  const unreadToggle = dana.getByRole("button", { name: "Unread", exact: true });
  await unreadToggle.click();
  await expect(unreadToggle).toHaveAttribute("aria-pressed", "true");
  await expect(threadItem(dana, SCOPES.spring.label)).toHaveCount(0);
  await unreadToggle.click();
  await expect(unreadToggle).toHaveAttribute("aria-pressed", "false");
  await expect(threadItem(dana, SCOPES.spring.label)).toBeVisible();

  // Managers can narrow the list to one account.
  const account = dana.getByRole("combobox", { name: "Account", exact: true });
  await expect(account.getByRole("option").first()).toHaveText("All accounts");
  await account.selectOption({ label: "Acme Beauty" });
  await expect(threadItem(dana, SCOPES.spring.label)).toBeVisible();

  await chris.context().close();
  await dana.context().close();
});
