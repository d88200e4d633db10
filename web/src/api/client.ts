// The one place the page talks to the API: Bearer token from getToken(),
// problem+json errors turned into ApiError, 401 reported as auth-required.
import type { components } from "./schema";

type S = components["schemas"];
export type StartedUpload = S["StartedUpload"];
export type PartUrls = S["PartUrls"];
export type CompletedUpload = S["CompletedUpload"];
export type UploadedPart = S["CompleteUploadRequest"]["parts"][number];
export type ScanState = S["ScanState"];
export type Thread = S["Thread"] & { links?: ScopeLink[] };
export type ThreadList = S["ThreadList"];
// Every attachment has a scan state; only a clean one carries a download link.
export type Attachment = S["Attachment"];
export type Message = S["Message"];
export type MessageList = S["MessageList"];
export type Catalog = S["Catalog"];
export type ScopeInput = S["ScopeInput"];
export type ContentType = S["ContentType"];
export type PresignedUpload = S["PresignedUpload"];
export type FieldError = S["FieldError"];
export type EmailPreference = S["NotificationPreferences"]["email"];
/** A link of the thread's scope (the directory's `links`), when the API sends them. */
export type ScopeLink = { label: string; url: string; level?: string };

export type ErrorKind = "auth" | "network" | "problem";

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly status: number,
    message: string,
    readonly code?: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
  }
  /** The message for one field (`scope.client_id`), if the API named it. */
  field(name: string): string | undefined {
    return this.errors.find((e) => e.field === name)?.message;
  }
}

export const UNREACHABLE = "Can't reach Liaison";

export interface ClientOptions {
  apiUrl: string;
  getToken: () => Promise<string> | string;
  onAuthRequired: () => void;
}

export type Api = ReturnType<typeof createClient>;

export function createClient(opts: ClientOptions) {
  const base = opts.apiUrl.replace(/\/+$/, "");

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      const token = await opts.getToken();
      const headers: Record<string, string> = { Accept: "application/json" };
      if (token) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers["Content-Type"] = "application/json";
      res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError("network", 0, UNREACHABLE);
    }
    if (res.status === 401) {
      opts.onAuthRequired();
      throw new ApiError("auth", 401, "Your sign-in has expired. Sign in again.", "unauthenticated");
    }
    let data: any = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const detail = data?.detail ?? data?.message ?? data?.title;
      const message = typeof detail === "string" && detail ? detail : `Something went wrong (${res.status}).`;
      const kind: ErrorKind = res.status >= 502 && res.status <= 504 && !data?.code ? "network" : "problem";
      throw new ApiError(kind, res.status, message, data?.code, Array.isArray(data?.errors) ? data.errors : []);
    }
    return data as T;
  }

  const q = (params: Record<string, string | number | boolean | undefined | null>) => {
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") sp.set(k, String(v));
    const s = sp.toString();
    return s ? `?${s}` : "";
  };
  const t = (id: string) => `/threads/${encodeURIComponent(id)}`;

  return {
    unread: () => call<S["Unread"]>("GET", "/unread"),
    catalog: (accountId?: string) => call<Catalog>("GET", `/catalog${q({ account_id: accountId })}`),
    listThreads: (p: { cursor?: string | null; unread?: boolean; accountId?: string; limit?: number }) =>
      call<ThreadList>(
        "GET",
        `/threads${q({ limit: p.limit ?? 30, cursor: p.cursor, unread: p.unread ? true : undefined, account_id: p.accountId })}`,
      ),
    openThread: (scope: ScopeInput, accountId?: string) =>
      call<Thread>("POST", "/threads", accountId ? { scope, account_id: accountId } : { scope }),
    thread: (id: string) => call<Thread>("GET", t(id)),
    messages: (id: string, cursor?: string | null, limit = 50) =>
      call<MessageList>("GET", `${t(id)}/messages${q({ limit, cursor })}`),
    send: (id: string, body: S["SendMessageRequest"]) => call<Message>("POST", `${t(id)}/messages`, body),
    markRead: (id: string) => call<S["ReadState"]>("POST", `${t(id)}/read`, {}),
    markUnread: (id: string) => call<S["ReadState"]>("POST", `${t(id)}/unread`, {}),
    setMuted: (id: string, muted: boolean) => call<S["MuteState"]>(muted ? "PUT" : "DELETE", `${t(id)}/mute`),
    preferences: () => call<S["NotificationPreferences"]>("GET", "/me/notifications"),
    setPreferences: (email: EmailPreference) =>
      call<S["NotificationPreferences"]>("PUT", "/me/notifications", { email }),
    presign: (id: string, file: { filename: string; content_type: ContentType; size: number }) =>
      call<PresignedUpload>("POST", `${t(id)}/attachments`, file),
    downloadLink: (id: string, attachmentId: string) =>
      call<S["DownloadLink"]>("GET", `${t(id)}/attachments/${encodeURIComponent(attachmentId)}`),
    // Multipart uploads (files over 64 MiB): start, part URLs, complete, abort.
    startUpload: (id: string, file: { filename: string; content_type: ContentType; size: number }) =>
      call<StartedUpload>("POST", `${t(id)}/uploads`, file),
    partUrls: (id: string, attachmentId: string, partNumbers: number[]) =>
      call<PartUrls>("POST", `${t(id)}/uploads/${encodeURIComponent(attachmentId)}/parts`, { part_numbers: partNumbers }),
    completeUpload: (id: string, attachmentId: string, parts: UploadedPart[]) =>
      call<CompletedUpload>("POST", `${t(id)}/uploads/${encodeURIComponent(attachmentId)}/complete`, { parts }),
    abortUpload: (id: string, attachmentId: string) =>
      call<null>("DELETE", `${t(id)}/uploads/${encodeURIComponent(attachmentId)}`),
  };
}
