// HAND-WRITTEN API TYPES (issue 16), kept apart from the generated schema.d.ts.
//
// Written to the contract in the issue 16 plan (multipart uploads, scan states)
// while infra/openapi.yaml does not have them yet. Once the backends' spec is
// merged: run `npm run gen:api`, point these names at
// components["schemas"][...] in client.ts (the spec on i16/mp names them
// StartedUpload, PartUrls, CompletedUpload; UploadedPart is an item of
// CompleteUploadRequest["parts"]), and delete this file.

/** `POST /threads/{thread_id}/uploads` (201). */
export interface StartedUpload {
  attachment_id: string;
  /** Bytes per part (the last one may be smaller); at least 8 MiB. */
  part_size: number;
  part_count: number;
  expires_at: string;
}

/** `POST /threads/{thread_id}/uploads/{attachment_id}/parts` (200): presigned UploadPart PUTs. */
export interface PartUrls {
  parts: { part_number: number; url: string }[];
  /** When these URLs stop working (15 minutes); ask again to resume. */
  expires_at: string;
}

/** `POST /threads/{thread_id}/uploads/{attachment_id}/complete` (200). */
export interface CompletedUpload {
  attachment_id: string;
  size: number;
}

/** A part as the complete call lists it: the `ETag` its PUT answered. */
export interface UploadedPart {
  part_number: number;
  etag: string;
}

/** Every attachment of a message has one; only `clean` files have a download link. */
export type ScanState = "pending" | "clean" | "infected";
