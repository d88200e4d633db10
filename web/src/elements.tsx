// The embeddable custom elements. A host sets `api-url` (and, for the page,
// `base-path`) and the property `getToken: () => Promise<string>`; on a 401
// the element dispatches `liaison-auth-required` (bubbles, composed).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, createClient, type Api } from "./api/client";
import { createStore, UNREAD_CHANGED } from "./store";
import { Messages } from "./screens/Messages";

export const AUTH_REQUIRED = "liaison-auth-required";
const BADGE_POLL_MS = 15000;

type TokenFn = () => Promise<string> | string;

abstract class LiaisonElement extends HTMLElement {
  #getToken: TokenFn | null = null;
  #connected = false;

  get getToken(): TokenFn | null {
    return this.#getToken;
  }
  set getToken(fn: TokenFn | null) {
    const first = !this.#getToken;
    this.#getToken = fn;
    // A host that sets the token after attaching the element: start now.
    if (first && fn && this.#connected) this.mount();
  }

  protected api(): Api {
    return createClient({
      apiUrl: this.getAttribute("api-url") || location.origin,
      getToken: () => (this.#getToken ? this.#getToken() : ""),
      onAuthRequired: () => this.dispatchEvent(new CustomEvent(AUTH_REQUIRED, { bubbles: true, composed: true })),
    });
  }

  connectedCallback() {
    this.#connected = true;
    if (this.#getToken) this.mount();
  }
  disconnectedCallback() {
    this.#connected = false;
    render(null, this);
  }
  attributeChangedCallback(_name: string, old: string | null, value: string | null) {
    if (old !== value && this.#connected && this.#getToken) this.mount();
  }
  protected abstract mount(): void;
}

export class LiaisonMessages extends LiaisonElement {
  static observedAttributes = ["api-url", "base-path", "accounts"];
  protected mount() {
    const accounts = (this.getAttribute("accounts") ?? "").split(/[\s,]+/).filter(Boolean);
    const store = createStore(this.api(), this.getAttribute("base-path") || "/messages", accounts);
    // A fresh store per configuration: remount rather than reuse state.
    render(null, this);
    render(<Messages store={store} />, this);
  }
}

function Badge({ api }: { api: Api }) {
  // The API counts up to 9, then says there are more ("9+").
  const [count, setCount] = useState({ n: 0, more: false });
  useEffect(() => {
    let alive = true;
    const refresh = async () => {
      try {
        const r = await api.unread();
        if (alive) setCount({ n: r.unread_threads, more: r.more === true });
      } catch (e) {
        if (alive && e instanceof ApiError && e.kind === "auth") setCount({ n: 0, more: false });
      }
    };
    refresh();
    const timer = setInterval(refresh, BADGE_POLL_MS);
    window.addEventListener("focus", refresh);
    window.addEventListener(UNREAD_CHANGED, refresh);
    return () => {
      alive = false;
      clearInterval(timer);
      window.removeEventListener("focus", refresh);
      window.removeEventListener(UNREAD_CHANGED, refresh);
    };
  }, [api]);
  if (!count.n) return null;
  return (
    <span class="badge count" role="img" aria-label={count.more ? `more than ${count.n} unread` : `${count.n} unread`}>
      {count.more ? `${count.n}+` : count.n}
    </span>
  );
}

export class LiaisonUnreadBadge extends LiaisonElement {
  static observedAttributes = ["api-url"];
  protected mount() {
    render(<Badge api={this.api()} />, this);
  }
}

export function defineElements() {
  if (!customElements.get("liaison-messages")) customElements.define("liaison-messages", LiaisonMessages);
  if (!customElements.get("liaison-unread-badge")) customElements.define("liaison-unread-badge", LiaisonUnreadBadge);
}
