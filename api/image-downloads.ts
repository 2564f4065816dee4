// Sends a stored image's bytes as a response: 304s, HEADs, small images whole, large ones
// streamed under the slow-reader guard, and a 429 when every streaming slot is taken.
import type { ServerResponse } from "node:http";
import type { S3Client } from "@aws-sdk/client-s3";
import type { Context } from "hono";
import type { Config } from "../infra/config.ts";
import { AppError, unavailableOnError } from "./errors.ts";
import { createStreamSlots, holdToMinimumRate, type StreamSlots } from "./slow-readers.ts";
import { type OpenedObject, openObject } from "./store/downloads.ts";

// Large downloads streaming at once, each holding a socket of the download pool for as long as
// its reader takes (see api/slow-readers.ts); one more is told to come back (429). The rest of
// that pool (50 sockets) stays free for HEADs and small images.
const STREAMED_DOWNLOADS = 16;
const BUSY_RETRY_AFTER_S = 5;
// Ids are keys and never reused, so what is stored under one never changes.
const IMMUTABLE = "max-age=31536000, immutable";

export interface ImageDownloads {
  /**
   * Answers with the object at `key`, or a 404 saying `missing`; `contentDisposition`, when
   * given, names the file a browser saves it as.
   */
  send(c: Context, bucket: string, key: string, missing: string, contentDisposition?: string): Promise<Response>;
}

/** `s3`: the client downloads use, with a pool of its own so that slow readers cannot starve the rest. */
export function createImageDownloads(s3: S3Client, config: Config): ImageDownloads {
  const slots = createStreamSlots(STREAMED_DOWNLOADS);
  // Private images are not for shared caches.
  const cacheControl = config.apiToken ? `private, ${IMMUTABLE}` : `public, ${IMMUTABLE}`;
  return {
    async send(c, bucket, key, missing, contentDisposition) {
      // Hono answers HEAD with the GET route and drops the body; the route must know, to open none.
      const options = { ifNoneMatch: c.req.header("if-none-match"), headOnly: c.req.method === "HEAD" };
      const opened = await unavailableOnError(() => openObject(s3, slots, bucket, key, options));
      if (contentDisposition) c.header("Content-Disposition", contentDisposition);
      return respond(c, opened, slots, missing, cacheControl);
    },
  };
}

function respond(c: Context, opened: OpenedObject, slots: StreamSlots, missing: string, cacheControl: string) {
  if (opened.state === "missing") throw new AppError("not-found", missing);
  if (opened.state === "busy") {
    c.header("Retry-After", String(BUSY_RETRY_AFTER_S));
    throw new AppError(
      "too-many-downloads",
      `${STREAMED_DOWNLOADS} large downloads are under way; try again in ${BUSY_RETRY_AFTER_S} s.`,
    );
  }
  const headers: Record<string, string> = { "Cache-Control": cacheControl };
  if (opened.etag) headers.ETag = opened.etag;
  if (opened.state === "not-modified") return c.body(null, 304, headers);
  if (opened.contentType) headers["Content-Type"] = opened.contentType;
  if (opened.contentLength !== undefined) headers["Content-Length"] = String(opened.contentLength);
  if (!opened.body) return c.body(null, 200, headers);
  if (opened.body instanceof Uint8Array) return c.body(opened.body, 200, headers);
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  return c.body(
    holdToMinimumRate(opened.body, outgoing, () => slots.give()),
    200,
    headers,
  );
}
