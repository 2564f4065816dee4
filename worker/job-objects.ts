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
    return {
      bytes: await object.Body.transformToByteArray(),
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

export async function objectExists(s3: S3Client, bucket: string, key: string): Promise<boolean> {
  return (await headObject(s3, bucket, key)) !== undefined;
}
