// History-API routing shared by the shell and the elements: navigate() pushes
// a URL and tells every listener on the page.
import { useEffect, useState } from "preact/hooks";

const NAVIGATED = "liaison-navigate";

export function navigate(url: string, replace = false) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event(NAVIGATED));
}

export function useLocation(): Location {
  const [, tick] = useState(0);
  useEffect(() => {
    const f = () => tick((n) => n + 1);
    window.addEventListener("popstate", f);
    window.addEventListener(NAVIGATED, f);
    return () => {
      window.removeEventListener("popstate", f);
      window.removeEventListener(NAVIGATED, f);
    };
  }, []);
  return window.location;
}

/** A click handler for in-page links: plain clicks navigate without a reload. */
export function linkClick(e: MouseEvent) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.currentTarget as HTMLElement).closest("a");
  if (!a || a.target) return;
  e.preventDefault();
  navigate(a.getAttribute("href") ?? "/");
}

export function joinPath(base: string, rest: string): string {
  return base.replace(/\/+$/, "") + rest;
}

export type Route =
  | { name: "list" }
  | { name: "new"; params: URLSearchParams }
  | { name: "thread"; id: string }
  | { name: "unknown" };

/** The route of the element below its base path. */
export function matchRoute(pathname: string, search: string, base: string): Route {
  const b = base.replace(/\/+$/, "");
  if (pathname !== b && !pathname.startsWith(b + "/")) return { name: "unknown" };
  const rest = pathname.slice(b.length).replace(/\/+$/, "");
  if (rest === "") return { name: "list" };
  if (rest === "/new") return { name: "new", params: new URLSearchParams(search) };
  const m = /^\/([^/]+)$/.exec(rest);
  if (m) return { name: "thread", id: decodeURIComponent(m[1]) };
  return { name: "unknown" };
}

/** `?settings=notifications` (the e-mails' link) opens the e-mail settings. */
export const SETTINGS_PARAM = "settings";
export const SETTINGS_NOTIFICATIONS = "notifications";

export function settingsRequested(search: string): boolean {
  return new URLSearchParams(search).get(SETTINGS_PARAM) === SETTINGS_NOTIFICATIONS;
}

/** The URL with the settings parameter added or removed, other parameters kept. */
export function withSettings(pathname: string, search: string, open: boolean): string {
  const sp = new URLSearchParams(search);
  if (open) sp.set(SETTINGS_PARAM, SETTINGS_NOTIFICATIONS);
  else sp.delete(SETTINGS_PARAM);
  const s = sp.toString();
  return s ? `${pathname}?${s}` : pathname;
}
