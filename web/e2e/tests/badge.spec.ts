// The sidebar badge past nine unread threads: the API counts up to 9 and
// says there are more (a count pays for every row it reads), and the badge
// says "9+" to the eye and "more than 9 unread" to assistive technology.
import { expect, test } from "@playwright/test";
import { CHRIS, expectSidebarUnread, sidebarLink, signIn } from "./support";

test("past nine unread threads the sidebar badge says 9+", async ({ page }) => {
  await signIn(page, CHRIS);
  await page.route(
    (url) => url.pathname.endsWith("/unread"),
    (route) =>
      route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ unread_threads: 9, more: true }) }),
  );
  await page.reload();
  const badge = sidebarLink(page).getByLabel("more than 9 unread", { exact: true });
  await expect(badge).toBeVisible();
  await expect(badge).toHaveText("9+");

  // Nine exactly is a plain 9.
  await page.unrouteAll();
  await page.route(
    (url) => url.pathname.endsWith("/unread"),
    (route) => route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ unread_threads: 9 }) }),
  );
  await page.reload();
  await expectSidebarUnread(page, 9);
  await expect(sidebarLink(page).getByLabel("9 unread", { exact: true })).toHaveText("9");
});
