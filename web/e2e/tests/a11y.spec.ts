// axe-core on every screen (no serious or critical violations), and the
// keyboard: everything reachable with Tab, focus visible, Enter sends.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import {
  Api,
  CHRIS,
  DANA,
  SCOPES,
  composer,
  messageArticle,
  messagesHeading,
  scopeHeading,
  signIn,
  tabTo,
  threadItem,
} from "./support";

async function expectNoSeriousViolations(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const report = serious
    .map((v) => `${v.impact} ${v.id}: ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(" ")}: ${n.failureSummary}`).join("\n")}`)
    .join("\n");
  expect(serious, `axe on ${screen}:\n${report}`).toEqual([]);
}

let generalId = "";

test.beforeAll(async ({ request }) => {
  // A thread with a message from each side, for the thread screens.
  const chris = await Api.as(request, CHRIS);
  const dana = await Api.as(request, DANA);
  generalId = await chris.open({ kind: "general" });
  await chris.send(generalId, "Could we move our monthly call to Thursday?");
  await dana.send(generalId, "Thursday works, 10:00?", { urgent: true });
});

for (const who of [CHRIS, DANA]) {
  test(`axe: sign-in, list, picker and thread as ${who.name}`, async ({ page }) => {
    await page.goto("/");
    await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
    await expectNoSeriousViolations(page, "the sign-in screen");

    await page.getByRole("button", { name: who.label, exact: true }).click();
    await expect(messagesHeading(page)).toBeVisible();
    await expect(threadItem(page, SCOPES.general.label)).toBeVisible();
    await expectNoSeriousViolations(page, `the thread list (${who.name})`);

    await page.getByRole("button", { name: "New", exact: true }).click();
    const picker = page.getByRole("dialog", { name: "New thread" });
    await expect(picker).toBeVisible();
    await expectNoSeriousViolations(page, `the picker (${who.name})`);
    await page.keyboard.press("Escape");
    await expect(picker).toBeHidden();

    await page.goto(`/messages/${generalId}`);
    await expect(scopeHeading(page, "General")).toBeVisible();
    await expect(messageArticle(page, "Thursday works")).toBeVisible();
    await expectNoSeriousViolations(page, `a thread (${who.name})`);
  });
}

test("the keyboard alone: sign in, open a thread, write and send; focus always visible", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  const stops = [];

  const person = page.getByRole("button", { name: CHRIS.label, exact: true });
  stops.push(...(await tabTo(page, person)));
  await page.keyboard.press("Enter");
  await expect(messagesHeading(page)).toBeVisible();

  // The picker opens from the keyboard and Escape closes it, focus back on New.
  const newButton = page.getByRole("button", { name: "New", exact: true });
  stops.push(...(await tabTo(page, newButton)));
  await page.keyboard.press("Enter");
  const picker = page.getByRole("dialog", { name: "New thread" });
  await expect(picker).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(picker).toBeHidden();
  await expect(newButton).toBeFocused();

  const link = threadItem(page, SCOPES.general.label).getByRole("link", { name: SCOPES.general.label, exact: true });
  stops.push(...(await tabTo(page, link)));
  await page.keyboard.press("Enter");
  await expect(scopeHeading(page, "General")).toBeVisible();

  const box = composer(page);
  stops.push(...(await tabTo(page, box)));
  await page.keyboard.type("Sent without a mouse");
  await page.keyboard.press("Enter");
  await expect(messageArticle(page, "Sent without a mouse")).toBeVisible();

  const invisible = stops.filter((s) => !s.visibleFocus);
  expect(invisible, `focus not visible on: ${JSON.stringify(invisible)}`).toEqual([]);
});
