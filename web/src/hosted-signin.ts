// Production sign-in for the standalone shell: the Cognito user pool's hosted
// UI, authorization code + PKCE (no client secret), redirecting back to
// {origin}/signin. The API wants the ID token (it carries the claims).
export interface CognitoConfig {
  /** The hosted UI's origin, e.g. https://liaison.auth.eu-west-1.amazoncognito.com */
  domain: string;
  client_id: string;
  /** Default "openid email profile". */
  scope?: string;
}

const PENDING = "liaison.signin";
const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n: number) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/signin`;
const base = (c: CognitoConfig) => c.domain.replace(/\/+$/, "");

export async function startHostedSignIn(c: CognitoConfig, next: string) {
  const verifier = random(32);
  const state = random(16);
  const challenge = b64url(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, next }));
  const q = new URLSearchParams({
    response_type: "code",
    client_id: c.client_id,
    redirect_uri: redirectUri(),
    scope: c.scope ?? "openid email profile",
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  location.assign(`${base(c)}/oauth2/authorize?${q}`);
}

/** On return to /signin?code=…&state=…: the ID token and where to go next. */
export async function finishHostedSignIn(c: CognitoConfig, params: URLSearchParams): Promise<{ token: string; next: string } | null> {
  const code = params.get("code");
  if (params.get("error")) throw new Error(params.get("error_description") || "Signing in was cancelled.");
  if (!code) return null;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? "null");
  sessionStorage.removeItem(PENDING);
  if (!pending || pending.state !== params.get("state")) throw new Error("This sign-in link has already been used. Sign in again.");
  const r = await fetch(`${base(c)}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: c.client_id,
      code,
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
    }),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok || typeof body.id_token !== "string") throw new Error("Signing in failed. Try again.");
  return { token: body.id_token, next: pending.next || "/messages" };
}
