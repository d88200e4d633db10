// Small pieces every screen uses: error boxes and the unreachable state.
import { ApiError, UNREACHABLE } from "../api/client";

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return "Something went wrong.";
}

/** An error that stopped a screen loading, with a way to try again. */
export function LoadError({ error, retry }: { error: unknown; retry: () => void }) {
  const unreachable = error instanceof ApiError && error.kind === "network";
  return (
    <div class="error-box" role="alert">
      <h2>{unreachable ? UNREACHABLE : "Something went wrong"}</h2>
      <p>{unreachable ? "Check your connection. Nothing you typed is lost." : errorText(error)}</p>
      <button type="button" class="button" onClick={retry}>
        Try again
      </button>
    </div>
  );
}
