// Errors and empty states: the API unreachable (retry, nothing lost), an
// expired sign-in (back to sign-in, the draft kept), nothing unread, no
// threads yet.
import { expect, test } from "@playwright/test";
import {
  Api,
  CHRIS,
  MAX,
  SCOPES,
  composer,
  messagesHeading,
  openByLink,
  signIn,
  threadItem,
  threadList,
} from "./support";

const API_PATH = /^\/(threads|unread|catalog)(\/|$)/;

test.beforeAll(async ({ request }) => {
  // Chris has a thread, whichever specs ran before.
  const chris = await Api.as(request, CHRIS);
  const general = await chris.open({ kind: "general" });
  if ((await chris.messages(general)).length === 0) await chris.send(general, "Could we move our monthly call to Thursday?");
});

test("the API unreachable: the page says so and Try again recovers", async ({ page }) => {
  await signIn(page, CHRIS);
  await page.route(
    (url) => API_PATH.test(url.pathname),
    (route) => route.abort("connectionrefused"),
  );
  await page.reload();
  const alert = page.getByRole("alert").filter({ hasText: "Can't reach Liaison" });
  await expect(alert).toBeVisible();
  await page.unrouteAll();
  await page.getByRole("button", { name: "Try again", exact: true }).click();
  await expect(alert).toBeHidden();
  await expect(messagesHeading(page)).toBeVisible();
  await expect(threadList(page).getByRole("listitem").first()).toBeVisible();
});

test("an expired sign-in goes back to sign-in and keeps the draft", async ({ page }) => {
  await signIn(page, CHRIS);
  const id = await openByLink(page, SCOPES.general);
  const draft = `A draft that must survive ${Date.now()}`;
  await composer(page).fill(draft);

  // Every API call now answers 401, as with an expired token.
  await page.route(
    (url) => API_PATH.test(url.pathname),
    (route) =>
      route.fulfill({
        status: 401,
        contentType: "application/problem+json",
        json: { type: "about:blank", title: "Unauthorized", status: 401, detail: "The token has expired.", code: "unauthenticated" },
      }),
  );
  // (A badge poll may get there first: then the composer is already gone.)
  await composer(page)
    .press("Enter", { timeout: 2_000 })
    .catch(() => undefined);
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible({ timeout: 20_000 });
  await page.unrouteAll();

  await page.getByRole("button", { name: CHRIS.label, exact: true }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeHidden();
  await page.goto(`/messages/${id}`);
  await expect(composer(page)).toHaveValue(draft);
  // Not sent meanwhile.
  const api = await Api.as(page.request, CHRIS);
  expect((await api.messages(id)).some((m) => m.body === draft)).toBe(false);
});

test("nothing unread: the Unread filter says so", async ({ page, request }) => {
  const api = await Api.as(request, CHRIS);
  const { threads } = await api.call<{ threads: { id: string }[] }>("GET", "/threads?unread=true&limit=100");
  for (const t of threads) await api.read(t.id);
  await signIn(page, CHRIS);
  await expect(threadItem(page, SCOPES.general.label)).toBeVisible();
  const unread = page.getByRole("button", { name: "Unread", exact: true });
  await unread.click();
  await expect(unread).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByText("Nothing unread")).toBeVisible();
});

test("no threads yet: a manager of an account without threads", async ({ page, request }) => {
  const max = await Api.as(request, MAX);
  const { threads } = await max.call<{ threads: unknown[] }>("GET", "/threads?limit=1");
  test.skip(threads.length > 0, "Beta Foods already has threads in this run");
  await signIn(page, MAX);
  await expect(page.getByText("No threads yet")).toBeVisible();
});
