// Renditions in S3: who makes each one's job (decided by conditional writes, so it holds
// across API replicas), and each one's status from its request record, result and failure record.
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { BinarizationMethod } from "../../imaging/method-names.ts";
import {
  documentOutput,
  isRenditionRequestKey,
  renditionOfKey,
  renditionRequestKey,
  renditionSlotKey,
  renditionsPrefix,
} from "../../infra/image-objects.ts";
import { listKeys } from "../../infra/inspect.ts";
import type { BordersReport, OutputFormat, SkewReport } from "../../infra/messages.ts";
import { conditionalPut, headObject, readFailureRecord, readOutputMetadata } from "../../infra/stored-results.ts";
import { type StoreDeps as Deps, deleteStored, geometryStatus, numberOrNull } from "./images.ts";

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
  /** A document rendition's (page jobs, assembled); null for an image's PNG. */
  format: OutputFormat | null;
  pages: number | null;
  skew: SkewReport | null;
  borders: BordersReport | null;
  error?: { code: string; message: string };
}

export interface RenditionRequest {
  id: string;
  rendition: string;
  method: BinarizationMethod;
  threshold?: number;
  requestedAt: string;
  /** A document rendition's: what it is written as, and how many pages it has. */
  format?: OutputFormat;
  pages?: number;
  /** The slot it holds (see claimRendition); absent while it is being claimed. */
  slot?: number;
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
  return conditionalPut(s3, {
    Bucket: bucket,
    Key: key,
    Body: body,
    ContentType: "application/json",
    IfNoneMatch: "*",
  });
}

/** Replaces the object only if it is still the version `etag` names. */
function putIfMatch(s3: S3Client, bucket: string, key: string, body: string, etag: string): Promise<boolean> {
  return conditionalPut(s3, { Bucket: bucket, Key: key, Body: body, ContentType: "application/json", IfMatch: etag });
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
  const [image, failure, request] = await Promise.all([
    readOutputMetadata(s3, config.outputBucket, id, rendition),
    readFailureRecord(s3, config.outputBucket, id, rendition),
    readRenditionRequest(s3, config.inputBucket, id, rendition).then((record) => record?.request),
  ]);
  // A document rendition's result is its assembled document, found once its request says what it is.
  const output = request?.format
    ? await headObject(s3, config.outputBucket, documentOutput(id, request.format, rendition).key)
    : image;
  const base = queuedRendition(request ?? { id, rendition });
  if (output) {
    const m = output.metadata;
    return {
      ...base,
      status: "done",
      method: m.method ?? base.method,
      appliedMethod: m["applied-method"] ?? null,
      reason: m.reason ?? null,
      threshold: numberOrNull(m.threshold) ?? base.threshold,
      completedAt: m["completed-at"] ?? output.lastModified?.toISOString() ?? null,
      ...geometryStatus(m),
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
    format: request.format ?? null,
    pages: request.pages ?? null,
    skew: null,
    borders: null,
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
