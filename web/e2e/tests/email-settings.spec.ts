// Issue 15 on the page: muting a thread's e-mails, marking it unread, and the
// E-mail settings dialog (also opened by the e-mails' link
// /messages?settings=notifications). Real endpoints only, no route mocks.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import {
  Api,
  CHRIS,
  DANA,
  SCOPES,
  expectSidebarUnread,
  itemUnreadBadge,
  messageArticle,
  messagesHeading,
  scopeHeading,
  signIn,
  tabTo,
  threadItem,
} from "./support";

const muteButton = (page: Page) => page.getByRole("button", { name: "Mute e-mails", exact: true });
const mutedIcon = (page: Page, label: string) => threadItem(page, label).getByRole("img", { name: "e-mails muted" });
const settingsButton = (page: Page) => page.getByRole("button", { name: "E-mail settings", exact: true });
const settingsDialog = (page: Page) => page.getByRole("dialog", { name: "E-mail settings" });
const choice = (page: Page, name: "All" | "Urgent only" | "Off") =>
  settingsDialog(page).getByRole("radio", { name, exact: true });

test("mute toggles, persists across a reload and shows in the list", async ({ page, request }) => {
  const chris = await Api.as(request, CHRIS);
  const id = await chris.open({ kind: "client", client_id: "cl_tonic" });
  await chris.call("DELETE", `/threads/${id}/mute`);

  await signIn(page, CHRIS);
  await page.goto(`/messages/${id}`);
  await expect(scopeHeading(page, SCOPES.tonic.label)).toBeVisible();
  await expect(muteButton(page)).toHaveAttribute("aria-pressed", "false");
  await muteButton(page).click();
  await expect(muteButton(page)).toHaveAttribute("aria-pressed", "true");
  await expect(muteButton(page)).toBeFocused();
  await expect(page.getByText("You get no e-mails about this thread.")).toBeVisible();
  expect((await chris.call("GET", `/threads/${id}`)).muted).toBe(true);

  await page.reload();
  await expect(muteButton(page)).toHaveAttribute("aria-pressed", "true");
  await page.getByRole("link", { name: "‹ All messages" }).click();
  await expect(mutedIcon(page, SCOPES.tonic.label)).toBeVisible();

  // Unmute from the keyboard.
  await threadItem(page, SCOPES.tonic.label).getByRole("link", { name: SCOPES.tonic.label, exact: true }).click();
  await muteButton(page).focus();
  await page.keyboard.press("Space");
  await expect(muteButton(page)).toHaveAttribute("aria-pressed", "false");
  await page.reload();
  await expect(muteButton(page)).toHaveAttribute("aria-pressed", "false");
  expect((await chris.call("GET", `/threads/${id}`)).muted).toBe(false);
  await page.goto("/messages");
  await expect(threadItem(page, SCOPES.tonic.label)).toBeVisible();
  await expect(mutedIcon(page, SCOPES.tonic.label)).toHaveCount(0);
});

test("Mark unread goes back to the list with the thread unread and the badge counting it", async ({ page, request }) => {
  const chris = await Api.as(request, CHRIS);
  const dana = await Api.as(request, DANA);
  const id = await chris.open({ kind: "client", client_id: "cl_tonic" });
  await dana.send(id, "The launch date moved to Friday.");

  await signIn(page, CHRIS);
  await page.goto(`/messages/${id}`);
  await expect(messageArticle(page, "The launch date moved to Friday.")).toBeVisible();
  // Opening it read it.
  await expect.poll(async () => (await chris.call("GET", `/threads/${id}`)).unread).toBe(false);
  const before = await chris.unread();
  await expectSidebarUnread(page, before);

  await page.getByRole("button", { name: "Mark unread", exact: true }).click();
  await expect(messagesHeading(page)).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: `Marked “${SCOPES.tonic.label}” as unread.` })).toBeVisible();
  const item = threadItem(page, SCOPES.tonic.label);
  await expect(itemUnreadBadge(item)).toBeVisible();
  await expect(item.getByRole("link", { name: SCOPES.tonic.label, exact: true })).toBeFocused();
  await expectSidebarUnread(page, before + 1, 5_000);
  expect(await chris.unread()).toBe(before + 1);

  // Still unread after a reload and some waiting (nothing marked it read).
  await page.waitForTimeout(1_000);
  await page.reload();
  await expect(itemUnreadBadge(threadItem(page, SCOPES.tonic.label))).toBeVisible();
  await expectSidebarUnread(page, before + 1, 5_000);

  // Opening it again reads it.
  await threadItem(page, SCOPES.tonic.label).getByRole("link", { name: SCOPES.tonic.label, exact: true }).click();
  await expect(scopeHeading(page, SCOPES.tonic.label)).toBeVisible();
  await expectSidebarUnread(page, before, 5_000);
});

test("E-mail settings: chosen by keyboard, saved, kept after a reload; a failed save is shown and retried", async ({
  page,
  request,
}) => {
  const chris = await Api.as(request, CHRIS);
  await chris.call("PUT", "/me/notifications", { email: "all" });
  await signIn(page, CHRIS);

  await tabTo(page, settingsButton(page));
  await page.keyboard.press("Enter");
  await expect(settingsDialog(page)).toBeVisible();
  await expect(page).toHaveURL(/\?settings=notifications$/);
  await expect(choice(page, "All")).toBeChecked();
  await expect(choice(page, "All")).toBeFocused();
  await expect(settingsDialog(page).getByText("E-mails only about messages marked urgent.")).toBeVisible();
  await page.keyboard.press("ArrowDown");
  await expect(choice(page, "Urgent only")).toBeChecked();

  // The network fails: the error is said, the choice stays, Save again works.
  await page.context().setOffline(true);
  await settingsDialog(page).getByRole("button", { name: "Save", exact: true }).click();
  await expect(settingsDialog(page).getByRole("alert")).toContainText("Your settings were not saved");
  await expect(choice(page, "Urgent only")).toBeChecked();
  await page.context().setOffline(false);
  await settingsDialog(page).getByRole("button", { name: "Save", exact: true }).click();
  await expect(settingsDialog(page).getByRole("status")).toHaveText("Saved: Urgent only.");
  await expect(settingsDialog(page).getByRole("alert")).toHaveCount(0);
  expect((await chris.call("GET", "/me/notifications")).email).toBe("urgent_only");

  await page.keyboard.press("Escape");
  await expect(settingsDialog(page)).toBeHidden();
  await expect(settingsButton(page)).toBeFocused();
  await expect(page).toHaveURL(/\/messages$/);

  await page.reload();
  await settingsButton(page).click();
  await expect(choice(page, "Urgent only")).toBeChecked();
  await choice(page, "Off").check();
  await settingsDialog(page).getByRole("button", { name: "Save", exact: true }).click();
  await expect(settingsDialog(page).getByRole("status")).toHaveText("Saved: Off.");
  await settingsDialog(page).getByRole("button", { name: "Close", exact: true }).click();
  await expect(settingsDialog(page)).toBeHidden();
  await expect(settingsButton(page)).toBeFocused();
  expect((await chris.call("GET", "/me/notifications")).email).toBe("off");
  await chris.call("PUT", "/me/notifications", { email: "all" });
});

test("the e-mails' settings link opens the dialog, through sign-in too", async ({ page, request }) => {
  const dana = await Api.as(request, DANA);
  await dana.call("PUT", "/me/notifications", { email: "urgent_only" });

  // Not signed in: sign in first, then the dialog.
  await page.goto("/messages?settings=notifications");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByRole("button", { name: DANA.label, exact: true }).click();
  await expect(settingsDialog(page)).toBeVisible();
  await expect(choice(page, "Urgent only")).toBeChecked();
  await page.keyboard.press("Escape");
  await expect(settingsDialog(page)).toBeHidden();
  await expect(settingsButton(page)).toBeFocused();

  // Signed in: straight to it.
  await page.goto("/messages?settings=notifications");
  await expect(settingsDialog(page)).toBeVisible();
  await expect(messagesHeading(page)).toBeAttached();
  await settingsDialog(page).getByRole("button", { name: "Close", exact: true }).click();
  await expect(page).toHaveURL(/\/messages$/);
  await dana.call("PUT", "/me/notifications", { email: "all" });
});

test("axe: the E-mail settings dialog and the thread header's controls", async ({ page, request }) => {
  const chris = await Api.as(request, CHRIS);
  const id = await chris.open({ kind: "client", client_id: "cl_tonic" });
  await signIn(page, CHRIS);

  const scan = async (what: string) => {
    const results = await new AxeBuilder({ page })
      .withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"])
      .analyze();
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    const report = serious.map((v) => `${v.impact} ${v.id}: ${v.help} ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    expect(serious, `axe on ${what}:\n${report.join("\n")}`).toEqual([]);
  };

  await page.goto("/messages?settings=notifications");
  await expect(choice(page, "All")).toBeVisible();
  await scan("the E-mail settings dialog");

  await page.goto(`/messages/${id}`);
  await expect(muteButton(page)).toBeVisible();
  await scan("a thread with Mute e-mails and Mark unread");
});
