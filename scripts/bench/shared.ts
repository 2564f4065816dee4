// Pieces the benchmarks share: fresh resource names, the kernel on all cores, a bare enqueue.
import { randomBytes } from "node:crypto";
import { availableParallelism } from "node:os";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { v7 as uuidv7 } from "uuid";
import { binarize, configureSharpForJobs } from "../../imaging/binarize.ts";
import { BINARIZATION_METHODS } from "../../imaging/method-names.ts";
import type { Config } from "../../infra/config.ts";
import { inputKey } from "../../infra/image-objects.ts";
import { sendInputMessage } from "../../infra/messages.ts";
import type { QueueUrls } from "../../infra/resources.ts";
import { forEachInParallel } from "../in-parallel.ts";

/** Environment naming a fresh set of buckets and queues, so runs never see each other's messages. */
export function freshResourceEnv(label: string): Record<string, string> {
  const run = `${label}${randomBytes(3).toString("hex")}`;
  return {
    INPUT_BUCKET: `${run}-in`,
    OUTPUT_BUCKET: `${run}-out`,
    INPUT_QUEUE: `${run}-in.fifo`,
    OUTPUT_QUEUE: `${run}-out.fifo`,
    DLQ: `${run}-dlq.fifo`,
  };
}

/**
 * Environment for the API and worker processes a benchmark starts: its own resources on the
 * endpoint, quiet logs, a free metrics port, short polls (so that they stop quickly).
 */
export function benchProcessEnv(endpoint: string, label: string, extra: Record<string, string> = {}) {
  return {
    AWS_ENDPOINT_URL: endpoint,
    ...freshResourceEnv(label),
    LOG_LEVEL: "warn",
    WORKER_METRICS_PORT: "0",
    WORKER_POLL_WAIT_S: "1",
    ...extra,
  };
}

/** binarize() alone, one job per core, methods in turn: images per second. */
export async function kernelOnAllCores(images: Uint8Array[], count = 24): Promise<number> {
  const cores = availableParallelism();
  configureSharpForJobs(cores);
  const started = performance.now();
  await forEachInParallel(count, cores, async (n) => {
    const method = BINARIZATION_METHODS[n % BINARIZATION_METHODS.length];
    await binarize(images[n % images.length], { method, maxInputPixels: 50_000_000 });
  });
  return count / ((performance.now() - started) / 1000);
}

/** What the API does to S3 and SQS for one upload, with the SDK alone: PutObject, SendMessage. */
export async function putAndEnqueue(
  { s3, sqs, config, queueUrls }: { s3: S3Client; sqs: SQSClient; config: Config; queueUrls: QueueUrls },
  body: Uint8Array,
): Promise<void> {
  const id = uuidv7();
  const key = inputKey(id, "png");
  await s3.send(new PutObjectCommand({ Bucket: config.inputBucket, Key: key, Body: body }));
  await sendInputMessage(sqs, queueUrls.input, {
    version: 1,
    id,
    bucket: config.inputBucket,
    key,
    contentType: "image/png",
    bytes: body.length,
    width: 1,
    height: 1,
    filename: "bench.png",
    method: "otsu",
    uploadedAt: new Date().toISOString(),
  });
}
