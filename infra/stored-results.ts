// Reads back what the worker stored for an image: the output object's metadata, the failure
// record, a document's settled pages. The status API and the worker's redelivery checks and
// fan-in start here; so does every write that must not overwrite (conditionalPut).
import {
  GetObjectCommand,
  HeadObjectCommand,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
} from "@aws-sdk/client-s3";
import { type DocumentRun, decodeMetadata, pageKeys, pageOfKey, pagesPrefix, resultKeys } from "./image-objects.ts";
import { listKeys } from "./inspect.ts";
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

/**
 * A write under a condition (`IfNoneMatch: "*"`: only if absent; `IfMatch`: only over that
 * version); false when the condition failed or another conditional write to the key won.
 */
export async function conditionalPut(s3: S3Client, input: PutObjectCommandInput): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand(input));
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // 412: the condition failed; 409: S3 saw a concurrent conditional write to the key.
    if (status === 412 || status === 409) return false;
    throw error;
  }
}

/** What a page job stores for a page that failed for good. */
export interface PageFailure {
  page: number;
  code: string;
  message: string;
}

/** A document's pages settled so far: done (their PNG stored) or failed (their record stored). */
export async function settledPages(s3: S3Client, outputBucket: string, id: string, run?: DocumentRun) {
  const done = new Set<number>();
  const failed = new Set<number>();
  for (const key of await listKeys(s3, outputBucket, pagesPrefix(id, run))) {
    const of = pageOfKey(id, key, run);
    if (of?.kind === "png") done.add(of.page);
    else if (of?.kind === "failure") failed.add(of.page);
  }
  for (const page of done) failed.delete(page);
  return { done, failed };
}

/** A failed page's record; undefined when there is none (or it cannot be read). */
export async function readPageFailure(
  s3: S3Client,
  outputBucket: string,
  id: string,
  page: number,
  run?: DocumentRun,
): Promise<PageFailure | undefined> {
  try {
    const key = pageKeys(id, page, run).failure;
    const object = await s3.send(new GetObjectCommand({ Bucket: outputBucket, Key: key }));
    return JSON.parse((await object.Body?.transformToString()) ?? "null") ?? undefined;
  } catch (error) {
    if (isMissing(error) || error instanceof SyntaxError) return undefined;
    throw error;
  }
}
