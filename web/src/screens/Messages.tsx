// The whole page inside <liaison-messages>: works out who the caller is,
// then routes below the base path to the list, a deep link or a thread.
import { useEffect, useState } from "preact/hooks";
import { ApiError } from "../api/client";
import { prefetchRoute } from "../prefetch";
import { matchRoute, navigate, settingsRequested, useLocation, withSettings } from "../router";
import { useStore, type Store } from "../store";
import { LoadError } from "./common";
import { OpenScope } from "./OpenScope";
import { Settings } from "./Settings";
import { ThreadList } from "./ThreadList";
import { ThreadView } from "./ThreadView";

/** A client can read its own catalog; a manager must name an account. */
async function whoAmI(store: Store) {
  try {
    const c = await store.api.catalog();
    store.set({
      role: "client",
      ownAccount: c.account,
      accountNames: { ...store.get().accountNames, [c.account.id]: c.account.name },
    });
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) store.set({ role: "manager" });
    else throw e;
  }
}

/** Account names for a manager's filter, one catalog each (best effort). */
async function nameAccounts(store: Store, ids: string[]) {
  for (const id of ids) {
    if (store.get().accountNames[id]) continue;
    try {
      const c = await store.api.catalog(id);
      store.set({ accountNames: { ...store.get().accountNames, [id]: c.account.name } });
    } catch {
      /* the id stands in for the name */
    }
  }
}

export function Messages({ store }: { store: Store }) {
  const loc = useLocation();
  const state = useStore(store);
  const [error, setError] = useState<unknown>(null);

  async function start() {
    setError(null);
    // The first screen's data goes out with the role check, not after it.
    prefetchRoute(store.prefetch, store.api, matchRoute(location.pathname, location.search, store.basePath));
    try {
      await whoAmI(store);
    } catch (e) {
      setError(e);
    }
  }
  useEffect(() => {
    start();
  }, []);
  useEffect(() => {
    if (state.role === "manager") nameAccounts(store, state.accounts);
  }, [state.role, state.accounts]);

  if (error) return <LoadError error={error} retry={start} />;
  if (!state.role) {
    return (
      <p class="muted" role="status">
        Loading…
      </p>
    );
  }
  const route = matchRoute(loc.pathname, loc.search, store.basePath);
  let screen;
  switch (route.name) {
    case "thread":
      screen = <ThreadView key={route.id} store={store} id={route.id} />;
      break;
    case "new":
      screen = <OpenScope store={store} params={route.params} />;
      break;
    default:
      screen = <ThreadList store={store} />;
  }
  return (
    <>
      {screen}
      {settingsRequested(loc.search) && (
        <Settings store={store} onClose={() => navigate(withSettings(location.pathname, location.search, false), true)} />
      )}
    </>
  );
}
