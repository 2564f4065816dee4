// Opening a stored image for a download, so that slow readers cannot hold S3 sockets for long
// (see api/slow-readers.ts).
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, type S3Client } from "@aws-sdk/client-s3";
import type { StreamSlots } from "../slow-readers.ts";

export type OpenedObject =
  | { state: "missing" }
  /** Every slot for large downloads is taken: try again shortly. */
  | { state: "busy" }
  | { state: "not-modified"; etag: string | undefined }
  | {
      state: "found";
      /**
       * Bytes when small; a stream otherwise, holding a slot until it ends; absent for a HEAD
       * request: no body was opened, so none can be left unread.
       */
      body: ReadableStream | Uint8Array<ArrayBuffer> | undefined;
      contentType: string | undefined;
      contentLength: number | undefined;
      etag: string | undefined;
    };

// Slow readers (see api/slow-readers.ts): an object this small (every processed page, most
// originals) is read whole at once, so its socket returns at once whatever the client does;
// only larger ones stream, each in one of a few slots.
const READ_WHOLE_MAX_BYTES = 512 * 1024;

/**
 * Opens an object for a download; honours If-None-Match through S3 itself. It asks for the
 * headers first (HeadObject): that answers HEAD, 304 and 404 without a body, and says how large
 * the object is. A small one is then read whole; a larger one is opened as a stream if a slot is
 * free (give it back when the stream ends), or refused as busy.
 */
export async function openObject(
  s3: S3Client,
  slots: StreamSlots,
  bucket: string,
  key: string,
  { ifNoneMatch, headOnly }: { ifNoneMatch: string | undefined; headOnly: boolean },
): Promise<OpenedObject> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key, IfNoneMatch: ifNoneMatch }));
    if (headOnly) return found(undefined, head);
    // The version just described, not one written since.
    const request = { Bucket: bucket, Key: key, IfMatch: head.ETag };
    if ((head.ContentLength ?? Number.POSITIVE_INFINITY) <= READ_WHOLE_MAX_BYTES) {
      const object = await s3.send(new GetObjectCommand(request));
      // The SDK reads into a plain ArrayBuffer, never a shared one.
      const bytes = (await object.Body?.transformToByteArray()) as Uint8Array<ArrayBuffer> | undefined;
      return bytes ? found(bytes, object) : { state: "missing" };
    }
    if (!slots.tryTake()) return { state: "busy" };
    try {
      const object = await s3.send(new GetObjectCommand(request));
      if (!object.Body) throw new NoSuchKey({ message: "no body", $metadata: {} });
      return found(object.Body.transformToWebStream(), object);
    } catch (error) {
      slots.give();
      throw error;
    }
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 304) return { state: "not-modified", etag: ifNoneMatch };
    // 412: replaced between the two calls (a rendition tried again); as good as not there yet.
    if (error instanceof NoSuchKey || error instanceof NotFound || status === 404 || status === 412) {
      return { state: "missing" };
    }
    throw error;
  }
}

function found(
  body: ReadableStream | Uint8Array<ArrayBuffer> | undefined,
  headers: { ContentType?: string; ContentLength?: number; ETag?: string },
): OpenedObject {
  return {
    state: "found",
    body,
    contentType: headers.ContentType,
    contentLength: headers.ContentLength,
    etag: headers.ETag,
  };
}
