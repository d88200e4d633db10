// What may be attached (the API's rules: shared/src/attachments/policy.rs,
// check_upload) and the upload itself: presign, then PUT with progress.
// Files over 64 MiB (videos and ZIP) go up in parts instead: multipart.ts.
import type { Api, ContentType } from "./api/client";

const MIB = 1024 * 1024;
export const MAX_FILES = 10;

/** extension -> (content type, max bytes) */
const TYPES: Record<string, [ContentType, number]> = {
  jpg: ["image/jpeg", 25 * MIB],
  jpeg: ["image/jpeg", 25 * MIB],
  png: ["image/png", 25 * MIB],
  webp: ["image/webp", 25 * MIB],
  gif: ["image/gif", 25 * MIB],
  mp4: ["video/mp4", 5 * 1024 * MIB],
  mov: ["video/quicktime", 5 * 1024 * MIB],
  webm: ["video/webm", 5 * 1024 * MIB],
  pdf: ["application/pdf", 50 * MIB],
  zip: ["application/zip", 500 * MIB],
};

export const ACCEPT = Object.keys(TYPES).map((e) => `.${e}`).join(",");

const LIMIT_TEXT: Record<string, string> = {
  image: "Images must be 25 MB or smaller",
  video: "Videos must be 5 GB or smaller",
  "application/pdf": "PDFs must be 50 MB or smaller",
  "application/zip": "ZIP files must be 500 MB or smaller",
};

export type Checked = { ok: true; content_type: ContentType } | { ok: false; reason: string };

/** Checks a file as the API will; the reason is shown next to the file. */
export function checkFile(name: string, size: number): Checked {
  const dot = name.lastIndexOf(".");
  const ext = dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  const t = TYPES[ext];
  if (!t) return { ok: false, reason: "Only JPG, PNG, WebP, GIF, MP4, MOV, WebM, PDF and ZIP files can be attached" };
  if (size <= 0) return { ok: false, reason: "The file is empty" };
  if (new TextEncoder().encode(name).length > 255) return { ok: false, reason: "The file name must be 255 bytes or fewer" };
  if (size > t[1]) {
    const kind = t[0].startsWith("image/") ? "image" : t[0].startsWith("video/") ? "video" : t[0];
    return { ok: false, reason: LIMIT_TEXT[kind] };
  }
  return { ok: true, content_type: t[0] };
}

/** Presigns and uploads one file; resolves with the attachment id. */
export async function uploadFile(
  api: Api,
  threadId: string,
  file: File,
  contentType: ContentType,
  onProgress: (fraction: number) => void,
  signal: AbortSignal,
): Promise<string> {
  const presigned = await api.presign(threadId, { filename: file.name, content_type: contentType, size: file.size });
  await new Promise<void>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", presigned.upload.url);
    for (const [k, v] of Object.entries(presigned.upload.headers)) {
      // The browser sets Content-Length itself and refuses to be told.
      if (k.toLowerCase() !== "content-length" && typeof v === "string") xhr.setRequestHeader(k, v);
    }
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    // 412: this URL already took the upload (a retry after a lost answer).
    xhr.onload = () =>
      xhr.status < 300 || xhr.status === 412 ? resolve() : reject(new Error(`The upload failed (${xhr.status}). Remove the file and try again.`));
    xhr.onerror = () => reject(new Error("The upload failed: can't reach the file store. Remove the file and try again."));
    xhr.onabort = () => reject(new Error("Upload cancelled"));
    signal.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
  onProgress(1);
  return presigned.attachment_id;
}
