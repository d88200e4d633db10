// host.js: the embedding page's own module (no inline script: CSP).
// getToken must resolve a current Cognito ID token (not the access token).
async function getToken() {
  const session = await window.platformAuth.currentSession(); // the host's own auth library
  return session.idToken;
}
for (const el of document.querySelectorAll("liaison-messages, liaison-unread-badge")) {
  el.getToken = getToken;
}
// Any call answered 401: the host signs the person in again. Drafts stay
// in localStorage, so nothing typed is lost.
document.addEventListener("liaison-auth-required", () => {
  window.platformAuth.signIn({ returnTo: location.href });
});
