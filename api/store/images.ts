// Images in S3 as the API sees them: store an upload's original, list them, read an image's
// status from what is stored, delete one with everything made from it. Status comes from
// storage alone, so any number of API replicas answer alike.

import type { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { BinarizationMethod } from "../../imaging/method-names.ts";
import type { Config } from "../../infra/config.ts";
import {
  decodeMetadata,
  documentOutput,
  documentPrefix,
  encodeMetadata,
  failureKey,
  type ImageExtension,
  idFromIndexKey,
  indexKey,
  indexPrefix,
  inputKey,
  inputKeyPrefix,
  outputKey,
  pageKeys,
  readGeometry,
  renditionsPrefix,
} from "../../infra/image-objects.ts";
import { listKeys } from "../../infra/inspect.ts";
import { type BordersReport, OUTPUT_FORMATS, type OutputFormat, type SkewReport } from "../../infra/messages.ts";
import {
  headObject,
  readFailureRecord,
  readOutputMetadata,
  readPageFailure,
  settledPages,
} from "../../infra/stored-results.ts";

/** What every store function stands on. */
export type StoreDeps = { s3: S3Client; config: Config };
type Deps = StoreDeps;

export interface StoredUpload {
  id: string;
  extension: ImageExtension;
  contentType: string;
  /** The bytes: in memory, or a new stream of them each time it is called. */
  body(): Uint8Array | Readable;
  size: number;
  filename: string;
  width: number;
  height: number;
  method: BinarizationMethod;
  threshold?: number;
  uploadedAt: string;
  /** A document's: its page count and what its result is written as. */
  document?: { pages: number; format: OutputFormat };
}

export interface ImageStatus {
  id: string;
  status: "queued" | "done" | "failed";
  filename: string | null;
  width: number | null;
  height: number | null;
  method: string | null;
  /** What made the pixels: for `auto`, the method it chose. */
  appliedMethod: string | null;
  /** Why `auto` chose it. */
  reason: string | null;
  threshold: number | null;
  createdAt: string | null;
  completedAt: string | null;
  error?: { code: string; message: string };
  /** What deskew found and did; null when it was not asked for (or the result is not there yet). */
  skew: SkewReport | null;
  /** The frame found, when borders were to be cleaned or cropped. */
  borders: BordersReport | null;
  /** A document's alone. */
  document?: DocumentStatus;
}

export interface DocumentStatus {
  pages: number;
  format: OutputFormat;
  /** Pages settled so far: binarized, or failed. */
  progress: { done: number; failed: number; total: number };
  /** Once assembled: the output's size, the input's, and whether the output is the larger. */
  bytes: number | null;
  inputBytes: number;
  largerThanInput: boolean | null;
  /** Once assembled: how many pages were turned level, and on how many a frame was found. */
  pagesDeskewed: number | null;
  pagesFramed: number | null;
}

/** Stores the original and its listing marker; returns the keys written, for a rollback. */
// At most 4 × 8 MiB of a document in the API's memory while it goes to S3.
const ORIGINAL_UPLOAD_PART_BYTES = 5 * 1024 * 1024;
const ORIGINAL_UPLOAD_PARTS_AT_ONCE = 2;

export async function storeOriginal({ s3, config }: Deps, upload: StoredUpload): Promise<string[]> {
  const key = inputKey(upload.id, upload.extension);
  const marker = indexKey(upload.id, Date.parse(upload.uploadedAt));
  const putMarker = s3.send(new PutObjectCommand({ Bucket: config.inputBucket, Key: marker, Body: new Uint8Array(0) }));
  // lib-storage's Upload: one PutObject for a small file, a multipart upload of a few parts at
  // a time for a document streamed from disk, each part retried on its own.
  const putOriginal = new Upload({
    client: s3,
    queueSize: ORIGINAL_UPLOAD_PARTS_AT_ONCE,
    partSize: ORIGINAL_UPLOAD_PART_BYTES,
    params: {
      Bucket: config.inputBucket,
      Key: key,
      Body: upload.body(),
      ContentType: upload.contentType,
      Metadata: encodeMetadata({
        filename: upload.filename,
        width: upload.width,
        height: upload.height,
        method: upload.method,
        threshold: upload.threshold,
        "uploaded-at": upload.uploadedAt,
        pages: upload.document?.pages,
        format: upload.document?.format,
        bytes: upload.document ? upload.size : undefined,
      }),
    },
  }).done();
  const results = await Promise.allSettled([putOriginal, putMarker]);
  const failed = results.find((r) => r.status === "rejected");
  if (failed) {
    await deleteStored({ s3, config }, [key, marker]).catch(() => {});
    throw failed.reason;
  }
  return [key, marker];
}

/** Best-effort removal of what storeOriginal wrote (a missing key is not an error in S3). */
export async function deleteStored({ s3, config }: Deps, keys: string[]): Promise<void> {
  await Promise.all(keys.map((Key) => s3.send(new DeleteObjectCommand({ Bucket: config.inputBucket, Key }))));
}

/**
 * Removes everything stored for an image: its original, listing marker, result and failure
 * record, a document's pages. Idempotent: deleting what is not there is not an error in S3.
 */
export async function deleteImage({ s3, config }: Deps, id: string): Promise<void> {
  const originals = await s3.send(
    new ListObjectsV2Command({ Bucket: config.inputBucket, Prefix: inputKeyPrefix(id), MaxKeys: 10 }),
  );
  const originalKeys = (originals.Contents ?? []).map((o) => o.Key as string);
  // The marker's key holds the upload time: from the original's metadata while it exists, and
  // from the id itself (a v7 id is its upload time) once it is gone, so a repeated delete still
  // finds a marker that a first, interrupted one left behind.
  const uploadTimes = new Set<number>();
  const stamped = uuidV7Time(id);
  if (stamped !== undefined) uploadTimes.add(stamped);
  for (const key of originalKeys) {
    const uploadedAt = (await headObject(s3, config.inputBucket, key))?.metadata["uploaded-at"];
    if (uploadedAt && Number.isFinite(Date.parse(uploadedAt))) uploadTimes.add(Date.parse(uploadedAt));
  }
  const markerKeys = [...uploadTimes].map((time) => indexKey(id, time));
  const remove = (Bucket: string) => (Key: string) => s3.send(new DeleteObjectCommand({ Bucket, Key }));
  // The original first: a job still queued for it then ends without recreating anything.
  await Promise.all(originalKeys.map(remove(config.inputBucket)));
  const [requests, renditions, pages] = await Promise.all([
    listKeys(s3, config.inputBucket, renditionsPrefix(id)),
    listKeys(s3, config.outputBucket, renditionsPrefix(id)),
    listKeys(s3, config.outputBucket, documentPrefix(id)),
  ]);
  const documents = OUTPUT_FORMATS.map((format) => documentOutput(id, format).key);
  await Promise.all([
    ...[...markerKeys, ...requests].map(remove(config.inputBucket)),
    ...[...new Set([outputKey(id), ...documents]), failureKey(id), ...renditions, ...pages].map(
      remove(config.outputBucket),
    ),
  ]);
}

export type StoredOriginal = NonNullable<Awaited<ReturnType<typeof readOriginal>>>;

/** What an input message says of a stored original, from its object; undefined when there is none. */
export async function readOriginal(deps: Deps, id: string) {
  const key = await findOriginalKey(deps, id);
  if (!key) return undefined;
  try {
    const head = await deps.s3.send(new HeadObjectCommand({ Bucket: deps.config.inputBucket, Key: key }));
    const m = decodeMetadata(head.Metadata);
    return {
      key,
      contentType: head.ContentType ?? "application/octet-stream",
      bytes: head.ContentLength ?? 0,
      width: Number(m.width) || 1,
      height: Number(m.height) || 1,
      filename: m.filename ?? "",
      uploadedAt: m["uploaded-at"] ?? head.LastModified?.toISOString() ?? new Date().toISOString(),
      /**
       * A document's page count and the format its result was asked for; undefined for an
       * image (processed as one image job, not as page jobs).
       */
      document:
        m.pages === undefined ? undefined : { pages: Number(m.pages), format: (m.format ?? "png") as OutputFormat },
    };
  } catch (error) {
    if (error instanceof NotFound) return undefined;
    throw error;
  }
}

/** A document's page count, format and filename, from its original; undefined for an image or none. */
export async function readDocumentInfo(
  deps: Deps,
  id: string,
): Promise<{ pages: number; format: OutputFormat; filename: string } | undefined> {
  const key = await findOriginalKey(deps, id);
  const original = key ? await headObject(deps.s3, deps.config.inputBucket, key) : undefined;
  const m = original?.metadata;
  if (!m || m.pages === undefined) return undefined;
  return { pages: Number(m.pages), format: m.format as OutputFormat, filename: m.filename ?? "" };
}

/** The millisecond timestamp in a version-7 UUID (its first 48 bits); undefined for other versions. */
export function uuidV7Time(id: string): number | undefined {
  if (id[14] !== "7") return undefined;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/** The key of an image's original, whatever its extension; undefined when there is none. */
export async function findOriginalKey({ s3, config }: Deps, id: string): Promise<string | undefined> {
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: config.inputBucket, Prefix: inputKeyPrefix(id), MaxKeys: 1 }),
  );
  return listed.Contents?.[0]?.Key;
}

/** A page of image ids, newest first, and the cursor of the next page (undefined at the end). */
export async function listImageIds(
  { s3, config }: Deps,
  limit: number,
  cursor: string | undefined,
): Promise<{ ids: string[]; nextCursor: string | undefined }> {
  const page = await s3.send(
    new ListObjectsV2Command({
      Bucket: config.inputBucket,
      Prefix: indexPrefix(),
      MaxKeys: limit,
      StartAfter: cursor ? `${indexPrefix()}${cursor}` : undefined,
    }),
  );
  const keys = (page.Contents ?? []).map((o) => o.Key as string);
  const last = keys.at(-1);
  return {
    ids: keys.map(idFromIndexKey),
    nextCursor: page.IsTruncated && last ? last.slice(indexPrefix().length) : undefined,
  };
}

/** The image's status, or undefined when nothing is stored under this id. */
export async function readImageStatus({ s3, config }: Deps, id: string): Promise<ImageStatus | undefined> {
  const output = await readOutputMetadata(s3, config.outputBucket, id);
  // A document asked for as PNG is stored where an image's result is; its metadata says pages.
  if (output && output.metadata.pages === undefined) {
    const m = output.metadata;
    return {
      ...describe(id, "done", m),
      completedAt: m["completed-at"] ?? output.lastModified?.toISOString() ?? null,
    };
  }

  const failure = await readFailureRecord(s3, config.outputBucket, id);
  const inputKeyFound = await findOriginalKey({ s3, config }, id);
  const input = inputKeyFound ? await headObject(s3, config.inputBucket, inputKeyFound) : undefined;
  if (input?.metadata.pages !== undefined) return readDocumentStatus({ s3, config }, id, input.metadata, failure);
  if (!failure && !input) return undefined;

  const status = describe(id, failure ? "failed" : "queued", input?.metadata ?? {});
  return failure ? { ...status, completedAt: failure.completedAt, error: failure.error } : status;
}

/** A document's status: done once assembled, failed once a page has failed for good, else its progress. */
async function readDocumentStatus(
  { s3, config }: Deps,
  id: string,
  original: Record<string, string>,
  failure: Awaited<ReturnType<typeof readFailureRecord>>,
): Promise<ImageStatus> {
  const pages = Number(original.pages);
  const format = original.format as OutputFormat;
  const assembled = await headObject(s3, config.outputBucket, documentOutput(id, format).key);
  const settled = await listPageStatuses({ s3, config }, id, pages);
  const done = settled.filter((p) => p.status === "done").length;
  const failed = settled.filter((p) => p.status === "failed").length;
  const inputBytes = Number(original.bytes) || 0;
  const bytes = assembled ? Number(assembled.metadata.bytes) : null;
  const status = describe(id, assembled ? "done" : failure ? "failed" : "queued", original);
  return {
    ...status,
    completedAt: assembled?.metadata["completed-at"] ?? failure?.completedAt ?? null,
    ...(failure && !assembled ? { error: failure.error } : {}),
    document: {
      pages,
      format,
      progress: { done, failed, total: pages },
      bytes,
      inputBytes,
      largerThanInput: bytes === null ? null : bytes > inputBytes,
      pagesDeskewed: assembled ? numberOrNull(assembled.metadata["pages-deskewed"]) : null,
      pagesFramed: assembled ? numberOrNull(assembled.metadata["pages-framed"]) : null,
    },
  };
}

export interface PageStatus {
  /** From 1. */
  page: number;
  status: "queued" | "done" | "failed";
  error?: { code: string; message: string };
  skew?: SkewReport;
  borders?: BordersReport;
}

/** Every page of a document, in order: done (its PNG stored), failed (its record stored) or queued. */
export async function listPageStatuses({ s3, config }: Deps, id: string, pages: number): Promise<PageStatus[]> {
  const { done, failed } = await settledPages(s3, config.outputBucket, id);
  return Promise.all(
    Array.from({ length: pages }, async (_, n): Promise<PageStatus> => {
      const page = n + 1;
      if (done.has(page)) {
        // What was done to the page's geometry, from its result's metadata.
        const png = await headObject(s3, config.outputBucket, pageKeys(id, page).png);
        return { page, status: "done", ...(png ? readGeometry(png.metadata) : {}) };
      }
      if (!failed.has(page)) return { page, status: "queued" };
      // Failed pages are few, and what a person wants to know of them is why.
      const record = await readPageFailure(s3, config.outputBucket, id, page);
      return { page, status: "failed", error: { code: record?.code ?? "page-failed", message: record?.message ?? "" } };
    }),
  );
}

function describe(id: string, status: ImageStatus["status"], m: Record<string, string>): ImageStatus {
  return {
    id,
    status,
    filename: m.filename ?? null,
    width: numberOrNull(m.width),
    height: numberOrNull(m.height),
    method: m.method ?? null,
    appliedMethod: m["applied-method"] ?? null,
    reason: m.reason ?? null,
    threshold: numberOrNull(m.threshold),
    createdAt: m["uploaded-at"] ?? null,
    completedAt: null,
    ...geometryStatus(m),
  };
}

/** A result's geometry as a status says it: null where nothing was asked for or found. */
export function geometryStatus(m: Record<string, string>): { skew: SkewReport | null; borders: BordersReport | null } {
  const { skew, borders } = readGeometry(m);
  return { skew: skew ?? null, borders: borders ?? null };
}

export function numberOrNull(value: string | undefined): number | null {
  if (value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}
