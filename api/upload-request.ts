// Reads an upload request into bytes and options: multipart field `image`, or a raw image body.
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { BinarizationMethod, BorderMode, DeskewMode } from "../imaging/method-names.ts";
import type { OutputFormat } from "../infra/messages.ts";
import { AppError } from "./errors.ts";
import { readMultipart } from "./multipart.ts";
import { uploadOptionsSchema } from "./schemas.ts";
import { largestUpload, tooLarge, type UploadIntake } from "./upload-limits.ts";
import { createSpool, type SpooledUpload } from "./upload-spool.ts";

export interface UploadRequest {
  /** The file, held until the caller disposes of it (see upload-spool.ts). */
  file: SpooledUpload;
  filename: string;
  method: BinarizationMethod;
  threshold?: number;
  format?: OutputFormat;
  dpi?: number;
  deskew: DeskewMode;
  borders: BorderMode;
}

// Room for the multipart envelope (boundaries, part headers, option fields) around an image of
// exactly MAX_UPLOAD_BYTES.
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/**
 * Which limit applies is known from the file's first bytes: a TIFF's or PDF's signature claims
 * the document limit, anything else the image limit, enforced as the bytes arrive. Validation
 * (upload-validation.ts) then checks what the content really is. The caller disposes of the
 * request's file; a refused request leaves none.
 */
export async function readUploadRequest(c: Context, limits: UploadIntake): Promise<UploadRequest> {
  const ceiling = largestUpload(limits);
  const contentType = c.req.header("content-type") ?? "";
  const isMultipart = /^multipart\/form-data\b/i.test(contentType);
  const maxBodyBytes = ceiling + (isMultipart ? MULTIPART_OVERHEAD_BYTES : 0);
  // Refused by its declared length, before a byte of it is read.
  if (Number(c.req.header("content-length") ?? 0) > maxBodyBytes) throw tooLarge(ceiling);
  let file: SpooledUpload;
  let filename = "";
  let fields: Record<string, string>;

  if (isMultipart) {
    const form = await readMultipart(requestBody(c), contentType, {
      imageField: "image",
      limits,
      maxBodyBytes,
    });
    file = form.image.file;
    filename = form.image.filename;
    fields = form.fields;
  } else if (/^(image\/|application\/(octet-stream|pdf)\b)/i.test(contentType)) {
    file = await readRawBody(requestBody(c), limits);
    filename = c.req.query("filename") ?? "";
    fields = {};
  } else {
    throw new AppError(
      "bad-request",
      "Send the image or document as multipart/form-data field `image`, or as a raw body (image/*, application/pdf or application/octet-stream).",
    );
  }

  try {
    const options = uploadOptionsSchema.safeParse(optionsFromFieldsAndQuery(fields, c.req.query()));
    if (!options.success) throw optionError(options.error);
    return { file, filename: sanitiseFilename(filename), ...options.data };
  } catch (error) {
    await file.dispose();
    throw error;
  }
}

/**
 * The body as a Node stream: the socket's own request when @hono/node-server serves the app
 * (measured: the web-stream round trip Hono's Request adds cost more than busboy's parsing),
 * the web body otherwise (app.request() in tests).
 */
function requestBody(c: Context): Readable {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) return incoming;
  const body = c.req.raw.body;
  return body ? Readable.fromWeb(body as WebReadableStream<Uint8Array>) : Readable.from([]);
}

/** The whole raw body, spooled (see upload-spool.ts), refused as soon as it passes its limit. */
async function readRawBody(body: Readable, limits: UploadIntake): Promise<SpooledUpload> {
  const spool = createSpool(limits, limits.uploadSpoolDir);
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        const exceeded = spool.write(chunk, body);
        if (exceeded === undefined) return;
        // Stop reading, but leave the stream whole: the answer goes out on its socket, with
        // Connection: close, and the rest is never read.
        body.off("data", onData);
        body.pause();
        reject(tooLarge(exceeded));
      };
      body.on("data", onData);
      body.once("end", resolve);
      // \`on\`: a client that aborts can make the stream fail more than once (see multipart.ts).
      body.on("error", reject);
    });
  } catch (error) {
    await spool.discard();
    throw error;
  }
  return spool.finish();
}

function optionError(error: z.ZodError): AppError {
  const issue = error.issues[0];
  return new AppError("bad-request", `Field \`${issue.path.join(".")}\` ${issue.message}.`);
}

/**
 * A multipart upload's options: its fields, and the query (which the OpenAPI document allows on
 * every upload). Both are validated, so a bad value is refused wherever it is (an empty one
 * too: the document allows none); where both give one option, the field wins.
 */
function optionsFromFieldsAndQuery(form: Record<string, string>, query: Record<string, string>) {
  const options: Record<string, string | undefined> = {};
  for (const name of Object.keys(uploadOptionsSchema.shape)) options[name] = query[name];
  const fromQuery = uploadOptionsSchema.safeParse(options);
  if (!fromQuery.success) throw optionError(fromQuery.error);
  for (const name of Object.keys(form)) {
    if (!(name in uploadOptionsSchema.shape)) {
      throw new AppError(
        "bad-request",
        `Field \`${name}\` is not an option; the options are ${Object.keys(uploadOptionsSchema.shape).join(", ")}.`,
      );
    }
    options[name] = form[name] ?? options[name];
  }
  return options;
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
