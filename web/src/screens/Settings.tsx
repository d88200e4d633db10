// "E-mail settings": which messages from the other side the person is
// e-mailed about (GET/PUT /me/notifications). A modal dialog opened by the
// button in the list header or by `?settings=notifications`, the link at the
// foot of every e-mail. Escape or Close closes it; focus goes back to where
// it was (or to the button, after a deep link).
import { useEffect, useRef, useState } from "preact/hooks";
import type { EmailPreference } from "../api/client";
import type { Store } from "../store";
import { errorText, LoadError } from "./common";

export const SETTINGS_BUTTON_ID = "liaison-email-settings";

export const EMAIL_CHOICES: { value: EmailPreference; label: string; hint: string }[] = [
  {
    value: "all",
    label: "All",
    hint: "An e-mail about every new message from the other side that you have not read here first.",
  },
  {
    value: "urgent_only",
    label: "Urgent only",
    hint: "E-mails only about messages marked urgent. Everything else waits here for you.",
  },
  {
    value: "off",
    label: "Off",
    hint: "No e-mails at all. Check this page for new messages.",
  },
];

export function Settings({ store, onClose }: { store: Store; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(document.activeElement);
  const [saved, setSaved] = useState<EmailPreference | null>(null);
  const [choice, setChoice] = useState<EmailPreference | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => {
      // Back to what opened it; after a deep link, to the settings button.
      const back = opener.current as HTMLElement | null;
      if (back && back !== document.body && back.isConnected) back.focus();
      else document.getElementById(SETTINGS_BUTTON_ID)?.focus();
    };
  }, []);

  async function load() {
    setLoadError(null);
    try {
      const p = await store.api.preferences();
      setSaved(p.email);
      setChoice(p.email);
      // Focus the chosen option, so arrow keys change it at once.
      requestAnimationFrame(() =>
        dialog.current?.querySelector<HTMLInputElement>("input[type=radio]:checked")?.focus(),
      );
    } catch (e) {
      setLoadError(e);
    }
  }
  useEffect(() => {
    load();
  }, []);

  async function save(e: Event) {
    e.preventDefault();
    if (!choice) return;
    setBusy(true);
    setError(null);
    setDone(false);
    try {
      const p = await store.api.setPreferences(choice);
      setSaved(p.email);
      setChoice(p.email);
      setDone(true);
    } catch (err) {
      // The choice stays selected: Save again once the problem is fixed.
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <dialog
      ref={dialog}
      class="picker settings"
      aria-labelledby="liaison-settings-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form onSubmit={save} noValidate>
        <h2 id="liaison-settings-title">E-mail settings</h2>
        {error != null && (
          <div class="error-summary" role="alert">
            <h3>Your settings were not saved</h3>
            <p>{errorText(error)}</p>
            <p>Your choice is still selected: press Save to try again.</p>
          </div>
        )}
        {loadError != null ? (
          <LoadError error={loadError} retry={load} />
        ) : !choice ? (
          <p class="muted" role="status">
            Loading…
          </p>
        ) : (
          <fieldset>
            <legend>E-mail me about new messages</legend>
            <p class="hint">For every conversation you are in. Muted conversations stay muted.</p>
            {EMAIL_CHOICES.map((c) => (
              <div class="radio" key={c.value}>
                <input
                  type="radio"
                  name="liaison-email"
                  id={`liaison-email-${c.value}`}
                  value={c.value}
                  checked={choice === c.value}
                  aria-describedby={`liaison-email-${c.value}-hint`}
                  onChange={() => {
                    setChoice(c.value);
                    setDone(false);
                  }}
                />
                <label for={`liaison-email-${c.value}`}>{c.label}</label>
                <p class="hint" id={`liaison-email-${c.value}-hint`}>
                  {c.hint}
                </p>
              </div>
            ))}
          </fieldset>
        )}
        <p class="saved" role="status">
          {done && saved ? `Saved: ${EMAIL_CHOICES.find((c) => c.value === saved)?.label}.` : ""}
        </p>
        <div class="actions">
          <button type="submit" class="button" disabled={busy || !choice}>
            Save
          </button>
          <button type="button" class="button secondary" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </dialog>
  );
}
