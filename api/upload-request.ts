// Reads an upload request into bytes and options: multipart field `image`, or a raw image body.
import type { Context } from "hono";
import type { BinarizationMethod } from "../infra/messages.ts";
import { AppError } from "./errors.ts";
import { uploadOptionsSchema } from "./schemas.ts";

export interface UploadRequest {
  bytes: Uint8Array;
  filename: string;
  method: BinarizationMethod;
  threshold?: number;
}

const MAX_FILENAME_LENGTH = 200;

export async function readUploadRequest(c: Context, maxUploadBytes: number): Promise<UploadRequest> {
  const contentType = c.req.header("content-type") ?? "";
  let bytes: Uint8Array;
  let filename = "";
  let fields: Record<string, unknown>;

  if (contentType.startsWith("multipart/form-data")) {
    const form = await c.req.parseBody({ all: true });
    const image = form.image;
    if (Array.isArray(image)) throw new AppError("bad-request", "Field `image` must hold exactly one file.");
    if (!(image instanceof File)) throw new AppError("bad-request", "Field `image` with the image file is missing.");
    if (image.size > maxUploadBytes) throw tooLarge(maxUploadBytes);
    bytes = new Uint8Array(await image.arrayBuffer());
    filename = image.name;
    fields = { method: single(form.method, "method"), threshold: single(form.threshold, "threshold") };
  } else if (contentType.startsWith("image/") || contentType === "application/octet-stream") {
    bytes = new Uint8Array(await c.req.arrayBuffer());
    if (bytes.length > maxUploadBytes) throw tooLarge(maxUploadBytes);
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

function single(value: unknown, field: string): string | undefined {
  if (Array.isArray(value)) throw new AppError("bad-request", `Field \`${field}\` is given more than once.`);
  if (value instanceof File) throw new AppError("bad-request", `Field \`${field}\` must be text, not a file.`);
  return value === "" ? undefined : (value as string | undefined);
}

function tooLarge(maxUploadBytes: number): AppError {
  return new AppError("payload-too-large", `The upload is larger than ${maxUploadBytes} bytes.`);
}

/** Keeps a display name only: no path, no control characters, bounded length. */
export function sanitiseFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  return base
    .replace(/\p{Cc}/gu, "")
    .trim()
    .slice(0, MAX_FILENAME_LENGTH);
}
