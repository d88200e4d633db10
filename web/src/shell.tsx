// The standalone shell: a sidebar with Messages and its unread badge, the
// sign-in screen (the local gateway's dev sign-in) and one <liaison-messages>.
// It is just a host of the custom elements, like any embedding page.
import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { forgetLocalWork } from "./drafts";
import { AUTH_REQUIRED } from "./elements";
import { finishHostedSignIn, startHostedSignIn, type CognitoConfig } from "./hosted-signin";
import { linkClick, navigate, useLocation } from "./router";

interface Config {
  api_url: string;
  dev_sign_in: boolean;
  /** Production: the user pool's hosted UI (see hosted-signin.ts). */
  cognito?: CognitoConfig;
}
interface Person {
  user_id: string;
  label: string;
}

const TOKEN_KEY = "liaison.token";
const BASE = "/messages";

const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? "",
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};
const getToken = async () => token.get();

async function loadConfig(): Promise<Config> {
  try {
    const r = await fetch("/config.json", { headers: { Accept: "application/json" } });
    if (r.ok) {
      const c = await r.json();
      const cognito = c.cognito?.domain && c.cognito?.client_id ? (c.cognito as CognitoConfig) : undefined;
      return { api_url: c.api_url || location.origin, dev_sign_in: !!c.dev_sign_in, cognito };
    }
  } catch {
    /* fall through: same origin, no dev sign-in */
  }
  return { api_url: location.origin, dev_sign_in: false };
}

declare module "preact" {
  namespace JSX {
    interface IntrinsicElements {
      "liaison-messages": { "api-url": string; "base-path": string; ref?: (el: HTMLElement | null) => void };
      "liaison-unread-badge": { "api-url": string; ref?: (el: HTMLElement | null) => void };
    }
  }
}

/** Gives a custom element the shell's token function. */
const withToken = (el: HTMLElement | null) => {
  if (el) (el as HTMLElement & { getToken: typeof getToken }).getToken = getToken;
};

function SignIn({ config, expired }: { config: Config; expired: boolean }) {
  const [people, setPeople] = useState<Person[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const api = config.api_url.replace(/\/+$/, "");

  async function load() {
    setError(null);
    try {
      const r = await fetch(`${api}/dev/people`);
      if (!r.ok) throw new Error(`The sign-in list is not available (${r.status}).`);
      setPeople((await r.json()).people);
    } catch (e) {
      setError(e instanceof TypeError ? "Can't reach Liaison" : (e as Error).message);
    }
  }
  const nextPath = () => {
    const next = new URLSearchParams(location.search).get("next");
    return next && next.startsWith("/") && !next.startsWith("//") ? next : BASE;
  };

  useEffect(() => {
    if (config.dev_sign_in) load();
    else if (config.cognito) {
      const c = config.cognito;
      setBusy(true);
      finishHostedSignIn(c, new URLSearchParams(location.search))
        .then((done) => {
          if (done) {
            token.set(done.token);
            navigate(done.next, true);
          } else setBusy(false);
        })
        .catch((e) => {
          setError((e as Error).message);
          setBusy(false);
        });
    }
  }, []);

  async function choose(p: Person) {
    setBusy(true);
    setError(null);
    try {
      const r = await fetch(`${api}/dev/token`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user_id: p.user_id }),
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok || !body.token) throw new Error(body.detail ?? `Signing in failed (${r.status}).`);
      token.set(body.token);
      navigate(nextPath(), true);
    } catch (e) {
      setError(e instanceof TypeError ? "Can't reach Liaison" : (e as Error).message);
      setBusy(false);
    }
  }

  return (
    <main class="signin" id="main">
      <h1>Sign in</h1>
      {expired && (
        <p class="notice" role="status">
          Your sign-in has expired. Sign in again: anything you were writing is kept.
        </p>
      )}
      {error && (
        <div class="error-box" role="alert">
          <p>{error}</p>
          {config.dev_sign_in && (
            <button type="button" class="button" onClick={load}>
              Try again
            </button>
          )}
        </div>
      )}
      {!config.dev_sign_in ? (
        config.cognito ? (
          <button type="button" class="button" disabled={busy} onClick={() => startHostedSignIn(config.cognito!, nextPath())}>
            Sign in with your agency account
          </button>
        ) : (
          <p>Sign in from your agency platform to see your messages.</p>
        )
      ) : people === null ? (
        !error && <p class="muted" role="status">Loading…</p>
      ) : (
        <>
          <p>Choose who you are. This list exists only on a local development machine.</p>
          <ul class="people">
            {people.map((p) => (
              <li key={p.user_id}>
                <button type="button" class="button secondary" disabled={busy} onClick={() => choose(p)}>
                  {p.label}
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </main>
  );
}

function Shell() {
  const loc = useLocation();
  const [config, setConfig] = useState<Config | null>(null);
  const [expired, setExpired] = useState(false);
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    loadConfig().then(setConfig);
  }, []);
  useEffect(() => {
    // The elements say when the token no longer works: back to sign-in;
    // drafts are in localStorage, so nothing typed is lost.
    const onAuth = () => {
      if (location.pathname === "/signin") return;
      token.clear();
      setExpired(true);
      navigate(`/signin?next=${encodeURIComponent(location.pathname + location.search)}`, true);
    };
    const el = root.current;
    el?.addEventListener(AUTH_REQUIRED, onAuth);
    return () => el?.removeEventListener(AUTH_REQUIRED, onAuth);
  }, []);

  const path = loc.pathname;
  useEffect(() => {
    if (!config) return;
    if (path !== "/signin" && !token.get()) navigate(`/signin?next=${encodeURIComponent(path + loc.search)}`, true);
    else if (path === "/" || path === "") navigate(BASE, true);
  }, [config, path]);

  let content;
  if (!config) content = <p class="muted" role="status">Loading…</p>;
  else if (path === "/signin") content = <SignIn config={config} expired={expired} />;
  else if (!token.get()) content = null;
  else
    content = (
      <div class="layout">
        <nav aria-label="Main" class="sidebar">
          <a href={BASE} onClick={linkClick} class="nav-link" aria-current={path.startsWith(BASE) ? "page" : undefined}>
            Messages <liaison-unread-badge api-url={config.api_url} ref={withToken} />
          </a>
          <button
            type="button"
            class="button secondary signout"
            onClick={() => {
              token.clear();
              forgetLocalWork();
              setExpired(false);
              navigate("/signin", true);
            }}
          >
            Sign out
          </button>
        </nav>
        <main id="main" class="content">
          <liaison-messages api-url={config.api_url} base-path={BASE} ref={withToken} />
        </main>
      </div>
    );
  return (
    <div ref={root} class="shell">
      {content}
    </div>
  );
}

export function mountShell(el: HTMLElement) {
  render(<Shell />, el);
}
