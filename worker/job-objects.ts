// What every job does with S3 besides its own results: read the original it was sent for,
// check that it still exists, and say when a failure is for good.
import { GetObjectCommand, NoSuchKey, type S3Client } from "@aws-sdk/client-s3";
import { decodeMetadata } from "../infra/image-objects.ts";
import { headObject } from "../infra/stored-results.ts";

/** A failure that retrying cannot fix: it is recorded and published, and the message acknowledged. */
export class PermanentJobError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface StoredOriginal {
  bytes: Uint8Array;
  contentType: string | undefined;
  metadata: Record<string, string>;
  lastModified: Date | undefined;
}

export async function readOriginal(
  s3: S3Client,
  { bucket, key }: { bucket: string; key: string },
  maxBytes: number,
): Promise<StoredOriginal> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!object.Body) throw new PermanentJobError("object-missing", `s3://${bucket}/${key} has no body`);
    // Objects put straight into the bucket never passed the API's size check.
    if ((object.ContentLength ?? 0) > maxBytes) {
      object.Body.transformToWebStream().cancel();
      throw new PermanentJobError("too-large", `s3://${bucket}/${key} is larger than ${maxBytes} bytes`);
    }
    const length = object.ContentLength;
    const bytes =
      object.ContentType === "application/pdf" && length
        ? await readIntoShared(object.Body as AsyncIterable<Uint8Array>, length)
        : await object.Body.transformToByteArray();
    return {
      bytes,
      contentType: object.ContentType,
      metadata: decodeMetadata(object.Metadata),
      lastModified: object.LastModified,
    };
  } catch (error) {
    if (error instanceof NoSuchKey) {
      throw new PermanentJobError("object-missing", `s3://${bucket}/${key} does not exist`);
    }
    throw error;
  }
}

/**
 * A PDF's body, straight into shared memory: the render threads read it where it is, block by
 * block (imaging/decode/pdf-pages.ts), instead of each holding a copy in PDFium's memory and
 * another on the way in. Measured, a worker running 2 page jobs of a 27 MiB scan: peak RSS
 * 718 MiB with those copies, 612 with the bytes shared (read straight in or copied in once
 * measured the same, 615: the transient copy was collected before the peak; one copy is kept).
 */
async function readIntoShared(body: AsyncIterable<Uint8Array>, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(new SharedArrayBuffer(length));
  let at = 0;
  for await (const chunk of body) {
    if (at + chunk.length > length) throw new Error("the object is longer than its Content-Length");
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (at !== length) throw new Error(`the object ended after ${at} of its ${length} bytes`);
  return bytes;
}

export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  return (await headObject(s3, bucket, key)) !== undefined;
}
