// The API's view of S3: store an upload's original and derive an image's status from what is stored.
// Status comes from storage alone, so any number of API replicas answer alike.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { BinarizationMethod } from "../imaging/method-names.ts";
import type { Config } from "../infra/config.ts";
import {
  decodeMetadata,
  encodeMetadata,
  failureKey,
  type ImageExtension,
  idFromIndexKey,
  indexKey,
  indexPrefix,
  inputKey,
  inputKeyPrefix,
  isRenditionRequestKey,
  outputKey,
  renditionOfKey,
  renditionRequestKey,
  renditionSlotKey,
  renditionsPrefix,
} from "../infra/image-objects.ts";
import { listKeys } from "../infra/inspect.ts";
import { headObject, readFailureRecord, readOutputMetadata } from "../infra/stored-results.ts";
import type { StreamSlots } from "./slow-readers.ts";

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
  /** What made the pixels: for `auto`, the method it chose. */
  appliedMethod: string | null;
  /** Why `auto` chose it. */
  reason: string | null;
  threshold: number | null;
  createdAt: string | null;
  completedAt: string | null;
  error?: { code: string; message: string };
}

export interface RenditionStatus {
  id: string;
  rendition: string;
  status: "queued" | "done" | "failed";
  method: string | null;
  appliedMethod: string | null;
  reason: string | null;
  threshold: number | null;
  requestedAt: string | null;
  completedAt: string | null;
  error?: { code: string; message: string };
}

export interface RenditionRequest {
  id: string;
  rendition: string;
  method: BinarizationMethod;
  threshold?: number;
  requestedAt: string;
  /** The slot it holds (see claimRendition); absent while it is being claimed. */
  slot?: number;
}

type Deps = { s3: S3Client; config: Config };

/** Stores the original and its listing marker; returns the keys written, for a rollback. */
export async function storeOriginal({ s3, config }: Deps, upload: StoredUpload): Promise<string[]> {
  const key = inputKey(upload.id, upload.extension);
  const marker = indexKey(upload.id, Date.parse(upload.uploadedAt));
  const putMarker = s3.send(new PutObjectCommand({ Bucket: config.inputBucket, Key: marker, Body: new Uint8Array(0) }));
  const putOriginal = s3.send(
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
 * record. Idempotent: deleting what is not there is not an error in S3.
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
  const [requests, renditions] = await Promise.all([
    listKeys(s3, config.inputBucket, renditionsPrefix(id)),
    listKeys(s3, config.outputBucket, renditionsPrefix(id)),
  ]);
  await Promise.all([
    ...[...markerKeys, ...requests].map(remove(config.inputBucket)),
    ...[outputKey(id), failureKey(id), ...renditions].map(remove(config.outputBucket)),
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
    };
  } catch (error) {
    if (error instanceof NotFound) return undefined;
    throw error;
  }
}

export type RenditionClaim =
  /** This request made the job: send its message, or `release` what it stored if that fails. */
  | { outcome: "claimed"; release(): Promise<void> }
  /** Asked for before, and queued or done: nothing to do. */
  | { outcome: "existing"; status: RenditionStatus }
  /** Every slot is held: the image has as many renditions as it may. */
  | { outcome: "full" };

// A winner stores its request record, then claims a slot and notes it in the record; one who
// finds a record without a slot waits this long for it (or for the record to go, refused).
const SLOT_WAIT_MS = 5_000;
const CLAIM_ATTEMPTS = 200;

/**
 * Decides, once for however many requests race, whether this one makes the rendition's job.
 * Both decisions are S3 conditional writes, so they hold across API replicas: the request
 * record is created only if absent (one job per rendition; a retry of a failed one replaces
 * the record only if it is unchanged, so one retry per failure), and each rendition holds one
 * of `maxRenditions` slot objects, created only if absent (never more renditions than slots).
 */
export async function claimRendition(
  deps: Deps,
  request: RenditionRequest,
  maxRenditions: number,
): Promise<RenditionClaim> {
  const { s3, config } = deps;
  const bucket = config.inputBucket;
  const recordKey = renditionRequestKey(request.id, request.rendition);
  for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
    if (await putIfAbsent(s3, bucket, recordKey, JSON.stringify(request))) {
      const slot = await claimSlot(deps, request, maxRenditions);
      if (slot === undefined) {
        await deleteStored(deps, [recordKey]);
        return { outcome: "full" };
      }
      await putJson(s3, bucket, recordKey, { ...request, slot });
      return { outcome: "claimed", release: () => deleteStored(deps, [recordKey, renditionSlotKey(request.id, slot)]) };
    }
    const record = await readRenditionRequest(s3, bucket, request.id, request.rendition);
    if (!record) continue; // refused or deleted meanwhile: decide again
    const claiming = record.request.slot === undefined && Date.now() - record.lastModified < SLOT_WAIT_MS;
    if (claiming) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      continue;
    }
    const status = await readRenditionStatus(deps, request.id, request.rendition);
    if (status?.status !== "failed") {
      if (status) return { outcome: "existing", status };
      continue;
    }
    // Asked again after a failure: a new request record marks the retry, written only over
    // the record read above, so of the requests racing here exactly one retries.
    const retry = { ...request, slot: record.request.slot };
    if (await putIfMatch(s3, bucket, recordKey, JSON.stringify(retry), record.etag)) {
      return { outcome: "claimed", release: () => putJson(s3, bucket, recordKey, record.request) };
    }
  }
  throw new Error(`rendition ${request.rendition} of ${request.id} could not be decided`);
}

/** The first free slot, claimed; undefined when every slot is held. */
async function claimSlot(deps: Deps, request: RenditionRequest, maxRenditions: number) {
  const held = new Set(await listKeys(deps.s3, deps.config.inputBucket, renditionsPrefix(request.id)));
  for (let slot = 0; slot < maxRenditions; slot++) {
    const key = renditionSlotKey(request.id, slot);
    if (!held.has(key) && (await putIfAbsent(deps.s3, deps.config.inputBucket, key, request.rendition))) return slot;
  }
  return undefined;
}

async function putJson(s3: S3Client, bucket: string, key: string, value: unknown): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: JSON.stringify(value), ContentType: "application/json" }),
  );
}

/** Creates the object only if no object has the key; false when one has (or another write won the race). */
function putIfAbsent(s3: S3Client, bucket: string, key: string, body: string): Promise<boolean> {
  return conditionalPut(s3, { Bucket: bucket, Key: key, Body: body, IfNoneMatch: "*" });
}

/** Replaces the object only if it is still the version `etag` names. */
function putIfMatch(s3: S3Client, bucket: string, key: string, body: string, etag: string): Promise<boolean> {
  return conditionalPut(s3, { Bucket: bucket, Key: key, Body: body, IfMatch: etag });
}

async function conditionalPut(
  s3: S3Client,
  input: { Bucket: string; Key: string; Body: string; IfNoneMatch?: string; IfMatch?: string },
): Promise<boolean> {
  try {
    await s3.send(new PutObjectCommand({ ...input, ContentType: "application/json" }));
    return true;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    // 412: the condition failed; 409: S3 saw a concurrent conditional write to the key.
    if (status === 412 || status === 409) return false;
    throw error;
  }
}

/**
 * A rendition's status: done when its result is stored, failed when its failure record is newer
 * than its latest request, queued when only a request is; undefined when it was never asked for.
 */
export async function readRenditionStatus(
  { s3, config }: Deps,
  id: string,
  rendition: string,
): Promise<RenditionStatus | undefined> {
  const [output, failure, request] = await Promise.all([
    readOutputMetadata(s3, config.outputBucket, id, rendition),
    readFailureRecord(s3, config.outputBucket, id, rendition),
    readRenditionRequest(s3, config.inputBucket, id, rendition).then((record) => record?.request),
  ]);
  const base = queuedRendition(request ?? { id, rendition });
  if (output) {
    const m = output.metadata;
    return {
      ...base,
      status: "done",
      method: m.method ?? base.method,
      appliedMethod: m["applied-method"] ?? null,
      reason: m.reason ?? null,
      threshold: numberOrNull(m.threshold),
      completedAt: m["completed-at"] ?? output.lastModified?.toISOString() ?? null,
    };
  }
  const retried = failure && request && Date.parse(request.requestedAt) > Date.parse(failure.completedAt);
  if (failure && !retried) return { ...base, status: "failed", completedAt: failure.completedAt, error: failure.error };
  return request ? base : undefined;
}

/** What a rendition's status says from its request alone: queued, as asked. */
export function queuedRendition(
  request: Pick<RenditionRequest, "id" | "rendition"> & Partial<RenditionRequest>,
): RenditionStatus {
  return {
    id: request.id,
    rendition: request.rendition,
    status: "queued",
    method: request.method ?? null,
    appliedMethod: null,
    reason: null,
    threshold: request.threshold ?? null,
    requestedAt: request.requestedAt ?? null,
    completedAt: null,
  };
}

async function readRenditionRequest(s3: S3Client, bucket: string, id: string, rendition: string) {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: renditionRequestKey(id, rendition) }));
    return {
      request: JSON.parse((await object.Body?.transformToString()) ?? "") as RenditionRequest,
      etag: object.ETag ?? "",
      lastModified: object.LastModified?.getTime() ?? 0,
    };
  } catch (error) {
    if (error instanceof NoSuchKey) return undefined;
    throw error;
  }
}

/** Every rendition asked for of an image, in the order of their names. */
export async function listRenditions(deps: Deps, id: string): Promise<RenditionStatus[]> {
  const requests = (await listKeys(deps.s3, deps.config.inputBucket, renditionsPrefix(id))).filter(
    isRenditionRequestKey,
  );
  const statuses = await Promise.all(requests.map((key) => readRenditionStatus(deps, id, renditionOfKey(id, key))));
  return statuses.filter((status) => status !== undefined);
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
  if (output) {
    const m = output.metadata;
    return {
      ...describe(id, "done", m),
      completedAt: m["completed-at"] ?? output.lastModified?.toISOString() ?? null,
    };
  }

  const failure = await readFailureRecord(s3, config.outputBucket, id);
  const inputKeyFound = await findOriginalKey({ s3, config }, id);
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
    appliedMethod: m["applied-method"] ?? null,
    reason: m.reason ?? null,
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
