// Screenshots of the list, a thread and the picker, for a client and for a
// manager, into web/e2e/screenshots/ (`make screenshots` copies them to
// docs/screenshots/ for the README).
import { expect, test, type Page, type TestInfo } from "@playwright/test";
import { resolve } from "node:path";
import {
  Api,
  CHRIS,
  DANA,
  SCOPES,
  conversation,
  messagesHeading,
  scopeHeading,
  signIn,
  threadList,
  png,
  type Person,
} from "./support";

function shot(page: Page, testInfo: TestInfo, name: string) {
  return page.screenshot({ path: resolve(testInfo.project.testDir, "..", "screenshots", `${name}.png`) });
}

let hookId = "";

test.beforeAll(async ({ request }) => {
  // Content for the screens when this file runs alone (the other specs
  // leave their own conversations behind when the whole suite runs).
  const chris = await Api.as(request, CHRIS);
  const dana = await Api.as(request, DANA);
  hookId = await chris.open({ kind: "creative", client_id: "cl_glow", campaign_id: "cp_spring", creative_id: "cr_hook2" });
  if ((await chris.messages(hookId)).length === 0) {
    const still = await chris.upload(hookId, png("hook-frame.png", [230, 120, 140], 96));
    await chris.send(hookId, "The Hook scene needs a softer opening. Here is the frame I mean.", {
      attachment_ids: [still],
    });
    await dana.send(hookId, "Thanks, a softer opening it is. New cut by Thursday.");
    await chris.send(hookId, "Perfect. Could the end card show the new price?", { urgent: true });
  }
  const general = await chris.open({ kind: "general" });
  if ((await chris.messages(general)).length === 0) {
    await chris.send(general, "Could we move our monthly call to Thursday?");
  }
});

for (const [who, role] of [
  [CHRIS, "client"],
  [DANA, "manager"],
] as [Person, string][]) {
  test(`screenshots as the ${role}`, async ({ page }, testInfo) => {
    await signIn(page, who);
    await expect(threadList(page).getByRole("listitem").first()).toBeVisible();
    await expect(messagesHeading(page)).toBeVisible();
    await shot(page, testInfo, `${role}-list`);

    await page.getByRole("button", { name: "New", exact: true }).click();
    const picker = page.getByRole("dialog", { name: "New thread" });
    await expect(picker).toBeVisible();
    const client = picker.getByRole("combobox", { name: "Client", exact: true });
    // (A manager's picker starts with the account; its catalog loads first.)
    await expect(client).toBeVisible();
    await client.selectOption({ label: "Glow Serum" });
    await picker.getByRole("combobox", { name: "Campaign", exact: true }).selectOption({ label: "Spring launch" });
    await expect(picker.getByRole("combobox", { name: "Creative", exact: true })).toBeVisible();
    await shot(page, testInfo, `${role}-picker`);
    await picker.getByRole("button", { name: "Cancel", exact: true }).click();
    await expect(picker).toBeHidden();

    await page.goto(`/messages/${hookId}`);
    await expect(scopeHeading(page, SCOPES.hook.label)).toBeVisible();
    await expect(conversation(page).getByRole("article").first()).toBeVisible();
    // Thumbnails loaded before the picture is taken.
    await expect
      .poll(() =>
        conversation(page)
          .locator("img")
          .evaluateAll((imgs) => imgs.every((i) => (i as HTMLImageElement).complete)),
      )
      .toBe(true);
    await shot(page, testInfo, `${role}-thread`);
  });
}
