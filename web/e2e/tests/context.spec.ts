// The scope's context: the thread header shows the links of the scope's
// client, campaign and creative (persona, brief, delivered video), for both
// sides, as the API gives them.
import { expect, test } from "@playwright/test";
import { Api, CHRIS, DANA, SCOPES, scopeHeading, signIn } from "./support";

type Link = { label: string; url: string; level: string };

for (const who of [CHRIS, DANA]) {
  test(`the thread header shows the scope's links (${who.name})`, async ({ page, request }) => {
    const chris = await Api.as(request, CHRIS);
    const id = await chris.open({
      kind: "creative",
      client_id: "cl_glow",
      campaign_id: "cp_spring",
      creative_id: "cr_hook2",
    });
    const thread = await chris.call<{ links?: Link[] }>("GET", `/threads/${id}`);
    test.skip(!thread.links?.length, "the API gives no scope links here (directory links not merged)");

    await signIn(page, who);
    await page.goto(`/messages/${id}`);
    await expect(scopeHeading(page, SCOPES.hook.label)).toBeVisible();
    for (const link of thread.links!) {
      const a = page.getByRole("link", { name: link.label, exact: true });
      await expect(a, `the ${link.level} link "${link.label}"`).toBeVisible();
      await expect(a).toHaveAttribute("href", link.url);
    }
  });
}
