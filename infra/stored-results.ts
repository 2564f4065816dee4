// Reads back what the worker stored for an image: the output object's metadata, or the
// failure record. The status API and the worker's redelivery check both start here.
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, type S3Client } from "@aws-sdk/client-s3";
import { decodeMetadata, resultKeys } from "./image-objects.ts";
import { type CompletionMessage, completionMessageSchema, parseMessage } from "./messages.ts";

export type FailedCompletion = Extract<CompletionMessage, { status: "failed" }>;

function isMissing(error: unknown): boolean {
  return error instanceof NotFound || error instanceof NoSuchKey;
}

/** Metadata of an existing object (decoded), with its LastModified; undefined when there is none. */
export async function headObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<{ metadata: Record<string, string>; lastModified: Date | undefined } | undefined> {
  try {
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return { metadata: decodeMetadata(head.Metadata), lastModified: head.LastModified };
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** The processed image's metadata (the upload's own, or a rendition's), when the worker has written it. */
export function readOutputMetadata(s3: S3Client, outputBucket: string, id: string, rendition?: string) {
  return headObject(s3, outputBucket, resultKeys(id, rendition).output);
}

/** The worker stores the `failed` completion message itself as the failure record. */
export async function readFailureRecord(
  s3: S3Client,
  outputBucket: string,
  id: string,
  rendition?: string,
): Promise<FailedCompletion | undefined> {
  try {
    const key = resultKeys(id, rendition).failure;
    const object = await s3.send(new GetObjectCommand({ Bucket: outputBucket, Key: key }));
    const record = parseMessage(completionMessageSchema, await object.Body?.transformToString());
    return record.status === "failed" ? record : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}
