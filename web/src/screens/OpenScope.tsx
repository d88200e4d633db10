// Deep links from elsewhere in the platform: /messages/new?client=&campaign=
// &creative= (or ?general) opens or reopens that thread without the picker.
import { useEffect, useState } from "preact/hooks";
import type { ScopeInput } from "../api/client";
import { joinPath, linkClick, navigate } from "../router";
import type { Store } from "../store";
import { LoadError } from "./common";
import { scopeOf } from "./Picker";

export function scopeFromParams(p: URLSearchParams): ScopeInput | null {
  const client = p.get("client") ?? "";
  const campaign = p.get("campaign") ?? "";
  const creative = p.get("creative") ?? "";
  if (p.has("general") && !client) return { kind: "general" };
  if (!client || (creative && !campaign)) return null;
  return scopeOf(client, campaign, creative);
}

export function OpenScope({ store, params }: { store: Store; params: URLSearchParams }) {
  const [error, setError] = useState<unknown>(null);
  const scope = scopeFromParams(params);
  const account = params.get("account") ?? undefined;

  async function open() {
    if (!scope) return;
    setError(null);
    try {
      const t = await store.api.openThread(scope, account);
      navigate(joinPath(store.basePath, `/${t.id}`), true);
    } catch (e) {
      setError(e);
    }
  }
  useEffect(() => {
    open();
  }, [params.toString()]);

  const back = (
    <a href={store.basePath.replace(/\/+$/, "") || "/"} onClick={linkClick} class="back">
      ‹ All messages
    </a>
  );
  if (!scope) {
    return (
      <section>
        {back}
        <div class="error-box" role="alert">
          <h1>This link does not name a thread</h1>
          <p>A link to a new thread names a client (and optionally its campaign and creative), or says general.</p>
        </div>
      </section>
    );
  }
  return (
    <section>
      {back}
      {error ? <LoadError error={error} retry={open} /> : <p class="muted" role="status">Opening the thread…</p>}
    </section>
  );
}
