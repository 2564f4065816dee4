// The API's view of S3: store an upload's original and derive an image's status from what is stored.
// Status comes from storage alone, so any number of API replicas answer alike.
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Config } from "../infra/config.ts";
import { encodeMetadata, type ImageExtension, inputKey, inputKeyPrefix } from "../infra/image-objects.ts";
import type { BinarizationMethod } from "../infra/messages.ts";
import { headObject, readFailureRecord, readOutputMetadata } from "../infra/stored-results.ts";

export interface StoredUpload {
  id: string;
  extension: ImageExtension;
  contentType: string;
  bytes: Uint8Array;
  filename: string;
  width: number;
  height: number;
  method: BinarizationMethod;
  threshold?: number;
  uploadedAt: string;
}

export interface ImageStatus {
  id: string;
  status: "queued" | "done" | "failed";
  filename: string | null;
  width: number | null;
  height: number | null;
  method: string | null;
  threshold: number | null;
  createdAt: string | null;
  completedAt: string | null;
  error?: { code: string; message: string };
}

type Deps = { s3: S3Client; config: Config };

export async function storeOriginal({ s3, config }: Deps, upload: StoredUpload): Promise<string> {
  const key = inputKey(upload.id, upload.extension);
  await s3.send(
    new PutObjectCommand({
      Bucket: config.inputBucket,
      Key: key,
      Body: upload.bytes,
      ContentType: upload.contentType,
      Metadata: encodeMetadata({
        filename: upload.filename,
        width: upload.width,
        height: upload.height,
        method: upload.method,
        threshold: upload.threshold,
        "uploaded-at": upload.uploadedAt,
      }),
    }),
  );
  return key;
}

export async function deleteOriginal({ s3, config }: Deps, key: string): Promise<void> {
  await s3.send(new DeleteObjectCommand({ Bucket: config.inputBucket, Key: key }));
}

/** The image's status, or undefined when nothing is stored under this id. */
export async function readImageStatus({ s3, config }: Deps, id: string): Promise<ImageStatus | undefined> {
  const output = await readOutputMetadata(s3, config.outputBucket, id);
  if (output) {
    const m = output.metadata;
    return {
      ...describe(id, "done", m),
      completedAt: m["completed-at"] ?? output.lastModified?.toISOString() ?? null,
    };
  }

  const failure = await readFailureRecord(s3, config.outputBucket, id);
  const inputKeyFound = (
    await s3.send(new ListObjectsV2Command({ Bucket: config.inputBucket, Prefix: inputKeyPrefix(id), MaxKeys: 1 }))
  ).Contents?.[0]?.Key;
  const input = inputKeyFound ? await headObject(s3, config.inputBucket, inputKeyFound) : undefined;
  if (!failure && !input) return undefined;

  const status = describe(id, failure ? "failed" : "queued", input?.metadata ?? {});
  return failure ? { ...status, completedAt: failure.completedAt, error: failure.error } : status;
}

function describe(id: string, status: ImageStatus["status"], m: Record<string, string>): ImageStatus {
  return {
    id,
    status,
    filename: m.filename ?? null,
    width: numberOrNull(m.width),
    height: numberOrNull(m.height),
    method: m.method ?? null,
    threshold: numberOrNull(m.threshold),
    createdAt: m["uploaded-at"] ?? null,
    completedAt: null,
  };
}

function numberOrNull(value: string | undefined): number | null {
  if (value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}
