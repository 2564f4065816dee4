// Reads an upload request into bytes and options: multipart field `image`, or a raw image body.
import type { Context } from "hono";
import type { BinarizationMethod } from "../infra/messages.ts";
import { AppError } from "./errors.ts";
import { readMultipart } from "./multipart.ts";
import { uploadOptionsSchema } from "./schemas.ts";

export interface UploadRequest {
  bytes: Uint8Array;
  filename: string;
  method: BinarizationMethod;
  threshold?: number;
}

export async function readUploadRequest(c: Context, maxUploadBytes: number): Promise<UploadRequest> {
  const contentType = c.req.header("content-type") ?? "";
  let bytes: Uint8Array;
  let filename = "";
  let fields: Record<string, unknown>;

  if (/^multipart\/form-data\b/i.test(contentType)) {
    const form = await readMultipart(c.req.raw.body, contentType, {
      imageField: "image",
      maxFileBytes: maxUploadBytes,
    });
    bytes = form.image.bytes;
    filename = form.image.filename;
    fields = { method: emptyAsUnset(form.fields.method), threshold: emptyAsUnset(form.fields.threshold) };
  } else if (contentType.startsWith("image/") || contentType === "application/octet-stream") {
    bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.length > maxUploadBytes) {
      throw new AppError("payload-too-large", `The upload is larger than ${maxUploadBytes} bytes.`);
    }
    filename = c.req.query("filename") ?? "";
    fields = { method: c.req.query("method"), threshold: c.req.query("threshold") };
  } else {
    throw new AppError("bad-request", "Send the image as multipart/form-data field `image`, or as a raw image body.");
  }

  const options = uploadOptionsSchema.safeParse(fields);
  if (!options.success) {
    const issue = options.error.issues[0];
    throw new AppError("bad-request", `Field \`${issue.path.join(".")}\` ${issue.message}.`);
  }
  return { bytes, filename: sanitiseFilename(filename), ...options.data };
}

function emptyAsUnset(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}

// The name is shown back to people and stored as S3 user metadata, percent-encoded. S3 allows
// 2 KB of user metadata in all; 1 KiB for the name leaves room for the rest.
const MAX_FILENAME_GRAPHEMES = 200;
const MAX_FILENAME_ENCODED_BYTES = 1024;
const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });

/**
 * Keeps a display name only, safe whatever a client sends: no path, no control or
 * bidirectional-format characters, no lone surrogates (which no encoder accepts), never cut
 * inside a character, and short enough for S3 metadata. Never throws.
 */
export function sanitiseFilename(name: string): string {
  const base = (name.split(/[\\/]/).pop() ?? "")
    .toWellFormed()
    .normalize("NFC")
    // Controls and NUL, and the bidirectional overrides that make "gpj.exe" read as "exe.jpg".
    .replace(/[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\uFEFF]/gu, "")
    .trim();
  if (/^\.*$/.test(base)) return "";
  let kept = "";
  let count = 0;
  let encodedBytes = 0;
  for (const { segment } of graphemes.segment(base)) {
    encodedBytes += encodeURIComponent(segment).length;
    if (count === MAX_FILENAME_GRAPHEMES || encodedBytes > MAX_FILENAME_ENCODED_BYTES) break;
    kept += segment;
    count += 1;
  }
  return kept;
}
