// One image's journey through the worker: the one place that knows both S3 and pixels.
import { randomUUID } from "node:crypto";
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { binarize, ImageError } from "../imaging/binarize.ts";
import type { PdfRenderer } from "../imaging/decode/pdf-renderer.ts";
import type { Config } from "../infra/config.ts";
import { encodeMetadata, geometryMetadata, readGeometry, resultKeys } from "../infra/image-objects.ts";
import type { Logger } from "../infra/logger.ts";
import {
  type CompletionMessage,
  completionMessageSchema,
  type InputMessage,
  jobGeometry,
  type QueueMessage,
  sendCompletionMessage,
} from "../infra/messages.ts";
import type { QueueUrls } from "../infra/resources.ts";
import { readFailureRecord, readOutputMetadata } from "../infra/stored-results.ts";
import type { DocumentCache } from "./document-cache.ts";
import { processPage } from "./document-jobs.ts";
import { objectExists, PermanentJobError, readOriginal } from "./job-objects.ts";

export interface JobDeps {
  config: Config;
  s3: S3Client;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  logger: Logger;
  /** Where PDF pages are rendered (createWorker makes one, a thread a job, when not given). */
  pdf: PdfRenderer;
  /** Documents whose pages this worker works through, kept between pages (createWorker makes one). */
  documents?: DocumentCache;
}

/**
 * Processes one input message (an image's job, or a page of a document) to a durable
 * result: the output object (or failure record)
 * and the completion message both exist when this resolves, so the caller may delete the
 * input message. Transient errors (S3, SQS) are thrown for SQS to redeliver.
 */
export async function processJob(
  job: QueueMessage,
  deps: JobDeps,
  attempt: { receiveCount: number },
): Promise<{ status: "done" | "failed"; assembled?: boolean }> {
  return job.version === 3 ? processPage(job, deps, attempt) : processImageJob(job, deps, attempt);
}

async function processImageJob(
  job: InputMessage,
  deps: JobDeps,
  { receiveCount }: { receiveCount: number },
): Promise<CompletionMessage> {
  const { config, s3, sqs, queueUrls, logger } = deps;
  const started = performance.now();
  const stages: Record<string, number> = {};
  const lap = (() => {
    let last = started;
    return (stage: string) => {
      const now = performance.now();
      stages[stage] = Math.round((now - last) * 10) / 10;
      last = now;
    };
  })();
  const log = logger.child({ id: job.id, ...(job.rendition ? { rendition: job.rendition } : {}) });
  const input = { bucket: job.bucket, key: job.key };
  const processingId = randomUUID();
  const keys = resultKeys(job.id, job.rendition);
  // A rendition's messages are version 2, and so are its completions.
  const about = {
    version: job.rendition ? 2 : 1,
    id: job.id,
    ...(job.rendition ? { rendition: job.rendition } : {}),
  } as const;

  // A redelivered message (a worker died after its effects, before its delete) republishes
  // the stored result instead of redoing the work: one output, no conflicting completion.
  // On a message's first receive no worker can have stored anything yet, so the two reads
  // that look (HEAD of the result, GET of a failure record) are skipped.
  const stored = receiveCount > 1 ? await storedCompletion(s3, config, job) : undefined;
  if (stored) {
    await sendCompletionMessage(sqs, queueUrls.output, stored, { republishedOnReceive: receiveCount });
    log.info({ status: stored.status }, "already processed; completion republished");
    return stored;
  }

  // At debug level, so an operator (or a test) can tell a job begun from one only received.
  log.debug({ receiveCount }, "job started");
  let completion: CompletionMessage;
  try {
    const original = await readOriginal(s3, job, config.maxUploadBytes);
    // What the output's metadata says comes from the stored original (written by the API),
    // never from the message: a message is input like any other.
    const uploadedAt = original.metadata["uploaded-at"] ?? original.lastModified?.toISOString() ?? "";
    stages.queue = Math.max(0, Date.now() - (Date.parse(uploadedAt) || Date.now()));
    lap("get");
    const geometry = jobGeometry(job);
    const result = await binarize(original.bytes, {
      method: job.method,
      threshold: job.threshold,
      maxInputPixels: config.maxInputPixels,
      deskew: geometry.deskew === "auto",
      borders: geometry.borders,
    }).catch((error) => {
      throw error instanceof ImageError ? new PermanentJobError(error.code, error.message) : error;
    });
    lap("binarize");
    const completedAt = new Date().toISOString();
    const durationMs = Math.round(performance.now() - started);
    const output = { bucket: config.outputBucket, key: keys.output };
    await s3.send(
      new PutObjectCommand({
        Bucket: output.bucket,
        Key: output.key,
        Body: result.png,
        ContentType: "image/png",
        Metadata: encodeMetadata({
          filename: original.metadata.filename ?? "",
          width: result.width,
          height: result.height,
          method: result.method,
          "applied-method": result.appliedMethod,
          reason: result.reason,
          threshold: result.threshold ?? undefined,
          rendition: job.rendition,
          "uploaded-at": uploadedAt || undefined,
          "completed-at": completedAt,
          "duration-ms": durationMs,
          "processing-id": processingId,
          geometry: geometryMetadata(result),
        }),
      }),
    );
    lap("put");
    completion = {
      ...about,
      status: "done",
      input,
      output,
      width: result.width,
      height: result.height,
      method: result.method,
      appliedMethod: result.appliedMethod,
      ...(result.reason ? { reason: result.reason } : {}),
      threshold: result.threshold,
      durationMs,
      completedAt,
      stages,
      processingId,
      ...(result.skew ? { skew: result.skew } : {}),
      ...(result.borders ? { borders: result.borders } : {}),
    };
  } catch (error) {
    if (!(error instanceof PermanentJobError)) throw error;
    completion = {
      ...about,
      status: "failed",
      input,
      error: { code: error.code, message: error.message },
      completedAt: new Date().toISOString(),
      processingId,
    };
    if (error.code === "object-missing") {
      // The image was deleted while its job waited: publish the outcome, store nothing, so
      // that nothing of a deleted image is recreated.
      await sendCompletionMessage(sqs, queueUrls.output, completion);
      log.info("original is gone (deleted?); nothing stored");
      return completion;
    }
    // The failed completion is itself the record the status API reads.
    await s3.send(
      new PutObjectCommand({
        Bucket: config.outputBucket,
        Key: keys.failure,
        Body: JSON.stringify(completion),
        ContentType: "application/json",
      }),
    );
    log.warn({ code: error.code, reason: error.message }, "image failed");
  }

  // A DELETE that ran while this job worked removed the original first, then the results;
  // what was stored after that would bring a deleted image back. Deletes remove the original
  // first, so if it is still here now, any later delete also removes what was just stored.
  if (!(await objectExists(s3, job.bucket, job.key))) {
    const stored = completion.status === "done" ? keys.output : keys.failure;
    await s3.send(new DeleteObjectCommand({ Bucket: config.outputBucket, Key: stored }));
    completion = {
      ...about,
      status: "failed",
      input,
      error: { code: "object-missing", message: `s3://${job.bucket}/${job.key} was deleted while it was processed` },
      completedAt: new Date().toISOString(),
      processingId,
    };
    await sendCompletionMessage(sqs, queueUrls.output, completion);
    log.info("deleted while processed; its result was removed");
    return completion;
  }

  await sendCompletionMessage(sqs, queueUrls.output, completion);
  if (completion.status === "done") {
    log.info(
      {
        durationMs: completion.durationMs,
        method: completion.method,
        appliedMethod: completion.appliedMethod,
        reason: completion.reason,
        threshold: completion.threshold,
      },
      "image done",
    );
  }
  return completion;
}

async function storedCompletion(
  s3: S3Client,
  config: Config,
  job: InputMessage,
): Promise<CompletionMessage | undefined> {
  const output = await readOutputMetadata(s3, config.outputBucket, job.id, job.rendition);
  if (!output) return readFailureRecord(s3, config.outputBucket, job.id, job.rendition);
  const m = output.metadata;
  return completionMessageSchema.parse({
    version: job.rendition ? 2 : 1,
    id: job.id,
    status: "done",
    input: { bucket: job.bucket, key: job.key },
    output: { bucket: config.outputBucket, key: resultKeys(job.id, job.rendition).output },
    width: Number(m.width),
    height: Number(m.height),
    method: m.method,
    appliedMethod: m["applied-method"],
    reason: m.reason,
    threshold: m.threshold === undefined ? null : Number(m.threshold),
    rendition: job.rendition,
    durationMs: Number(m["duration-ms"] ?? 0),
    completedAt: m["completed-at"],
    processingId: m["processing-id"],
    ...readGeometry(m),
  });
}
