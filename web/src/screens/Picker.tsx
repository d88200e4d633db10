// The "New thread" picker: General, or a Client, then optionally a Campaign,
// then optionally a Creative, from GET /catalog. Opening is idempotent, so
// choosing an existing scope reopens its thread.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, type Catalog, type ScopeInput } from "../api/client";
import { joinPath, navigate } from "../router";
import { useStore, type Store } from "../store";
import { errorText, LoadError } from "./common";

export function scopeOf(client: string, campaign: string, creative: string): ScopeInput {
  if (!client) return { kind: "general" };
  if (!campaign) return { kind: "client", client_id: client };
  if (!creative) return { kind: "campaign", client_id: client, campaign_id: campaign };
  return { kind: "creative", client_id: client, campaign_id: campaign, creative_id: creative };
}

export function Picker({ store, onClose }: { store: Store; onClose: () => void }) {
  const state = useStore(store);
  const manager = state.role === "manager";
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(document.activeElement);
  const [account, setAccount] = useState(manager ? (state.accounts[0] ?? "") : "");
  const [catalog, setCatalog] = useState<Catalog | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [client, setClient] = useState("");
  const [campaign, setCampaign] = useState("");
  const [creative, setCreative] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => {
      // Focus goes back to what opened the picker.
      (opener.current as HTMLElement | null)?.focus?.();
    };
  }, []);

  async function loadCatalog() {
    setLoadError(null);
    setCatalog(null);
    if (manager && !account) return;
    try {
      const c = await store.api.catalog(manager ? account : undefined);
      store.set({ accountNames: { ...store.get().accountNames, [c.account.id]: c.account.name } });
      setCatalog(c);
    } catch (e) {
      setLoadError(e);
    }
  }
  useEffect(() => {
    setClient("");
    setCampaign("");
    setCreative("");
    loadCatalog();
  }, [account]);

  const cl = catalog?.clients.find((c) => c.id === client);
  const cp = cl?.campaigns.find((c) => c.id === campaign);

  async function open(e: Event) {
    e.preventDefault();
    if (manager && !account) return;
    setBusy(true);
    setError(null);
    try {
      const t = await store.api.openThread(scopeOf(client, campaign, creative), manager ? account : undefined);
      onClose();
      navigate(joinPath(store.basePath, `/${t.id}`));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  const fieldError = (name: string) => (error instanceof ApiError ? error.field(name) : undefined);
  const fe = {
    client: fieldError("scope.client_id"),
    campaign: fieldError("scope.campaign_id"),
    creative: fieldError("scope.creative_id"),
    account: fieldError("account_id"),
  };
  const select = (v: (s: string) => void) => (e: Event) => v((e.target as HTMLSelectElement).value);

  return (
    <dialog
      ref={dialog}
      class="picker"
      aria-labelledby="liaison-picker-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form onSubmit={open} noValidate>
        <h2 id="liaison-picker-title">New thread</h2>
        {error != null && (
          <div class="error-summary" role="alert">
            <h3>There is a problem</h3>
            <p>{errorText(error)}</p>
          </div>
        )}
        {manager && (
          <div class={fe.account ? "field has-error" : "field"}>
            <label for="liaison-pick-account">Account</label>
            {fe.account && <p class="field-error" id="liaison-pick-account-error">{fe.account}</p>}
            {state.accounts.length ? (
              <select id="liaison-pick-account" value={account} onChange={select(setAccount)}>
                {state.accounts.map((id) => (
                  <option key={id} value={id}>
                    {state.accountNames[id] ?? id}
                  </option>
                ))}
              </select>
            ) : (
              <p class="hint">No accounts yet: open a thread from a link in the platform first.</p>
            )}
          </div>
        )}
        <fieldset>
          <legend>What is it about?</legend>
          {loadError != null ? (
            <LoadError error={loadError} retry={loadCatalog} />
          ) : !catalog ? (
            (!manager || account) && <p class="muted" role="status">Loading…</p>
          ) : (
            <>
              <div class={fe.client ? "field has-error" : "field"}>
                <label for="liaison-pick-client">Client</label>
                {fe.client && <p class="field-error">{fe.client}</p>}
                <select
                  id="liaison-pick-client"
                  value={client}
                  onChange={(e) => {
                    setClient((e.target as HTMLSelectElement).value);
                    setCampaign("");
                    setCreative("");
                  }}
                >
                  <option value="">General — not about a client</option>
                  {catalog.clients.map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name}
                    </option>
                  ))}
                </select>
              </div>
              {cl && (
                <div class={fe.campaign ? "field has-error" : "field"}>
                  <label for="liaison-pick-campaign">Campaign</label>
                  {fe.campaign && <p class="field-error">{fe.campaign}</p>}
                  <select
                    id="liaison-pick-campaign"
                    value={campaign}
                    onChange={(e) => {
                      setCampaign((e.target as HTMLSelectElement).value);
                      setCreative("");
                    }}
                  >
                    <option value="">Whole client</option>
                    {cl.campaigns.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.name}
                      </option>
                    ))}
                  </select>
                </div>
              )}
              {cp && (
                <div class={fe.creative ? "field has-error" : "field"}>
                  <label for="liaison-pick-creative">Creative</label>
                  {fe.creative && <p class="field-error">{fe.creative}</p>}
                  <select id="liaison-pick-creative" value={creative} onChange={select(setCreative)}>
                    <option value="">Whole campaign</option>
                    {cp.creatives.map((c) => (
                      <option key={c.id} value={c.id}>
                        {c.name}
                      </option>
                    ))}
                  </select>
                </div>
              )}
            </>
          )}
        </fieldset>
        <div class="actions">
          <button type="submit" class="button" disabled={busy || !catalog}>
            Open thread
          </button>
          <button type="button" class="button secondary" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </dialog>
  );
}
