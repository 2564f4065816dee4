// Polls the input queue and runs each message through processJob; knows nothing about pixels.
//
// Hand-rolled rather than sqs-consumer, for three things it does not do:
// - slots, not batches: sqs-consumer waits for a whole batch before it polls again, so one
//   12 MP image idles every other slot; here a poll asks for exactly the slots that are free,
//   so the worker never holds a message it is not working on, and never idles behind one;
// - a shutdown deadline that gives unfinished messages back to SQS at once
//   (ChangeMessageVisibility 0) instead of leaving them invisible for a whole timeout;
// - one backoff for every receive error, so an unreachable SQS is retried without spinning.
// It keeps sqs-consumer's good habits: a heartbeat that extends visibility during long jobs,
// deletion only after the handler's effects are durable, options validated at creation.
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { createPdfRenderer } from "../imaging/decode/pdf-renderer.ts";
import { isInputKeyOf } from "../infra/image-objects.ts";
import type { Logger } from "../infra/logger.ts";
import { moveToQueue, parseMessage, queueMessageSchema } from "../infra/messages.ts";
import { createDocumentCache } from "./document-cache.ts";
import type { WorkerObserver } from "./metrics.ts";
import { type JobDeps, processJob } from "./process-job.ts";

export interface Worker {
  start(): void;
  /**
   * Stops receiving and waits for the poll in flight (drain, don't abort: an aborted
   * receive can strand its messages invisible); anything received from then on is handed
   * back at once. In-flight jobs get until `deadlineMs` to finish; the rest are handed back.
   */
  stop(options?: { deadlineMs?: number }): Promise<void>;
  readonly inFlight: number;
}

export interface WorkerOptions {
  /** Called for each job; processJob unless a test or benchmark wraps it. */
  handle?: typeof processJob;
  /** Before a retry of a transiently failed job: base × 2^(receives − 1), capped. */
  retryBaseSeconds?: number;
  /** Told of receives, jobs in flight and outcomes (metrics). */
  observer?: WorkerObserver;
}

const DEFAULT_SHUTDOWN_DEADLINE_MS = 25_000;
const RETRY_CAP_SECONDS = 15 * 60;
const RECEIVE_BACKOFF_MS = { first: 500, max: 30_000 };
const SQS_MAX_BATCH = 10;

// A page's render is milliseconds a megapixel; one that takes this long is hostile or broken.
const PAGE_RENDER_TIMEOUT_MS = 60_000;

/** `pdf` defaults to a renderer of the worker's own, a thread for each job it runs at once. */
export function createWorker(
  given: Omit<JobDeps, "pdf"> & { pdf?: JobDeps["pdf"] },
  options: WorkerOptions = {},
): Worker {
  const { config, sqs, queueUrls, logger } = given;
  const ownRenderer = given.pdf
    ? undefined
    : createPdfRenderer({ threads: config.workerConcurrency, timeoutMs: PAGE_RENDER_TIMEOUT_MS });
  const deps: JobDeps = {
    documents: createDocumentCache(),
    ...given,
    pdf: given.pdf ?? (ownRenderer as JobDeps["pdf"]),
  };
  const handle = options.handle ?? processJob;
  const retryBaseSeconds = options.retryBaseSeconds ?? 5;
  const observer = options.observer;
  const concurrency = config.workerConcurrency;
  const visibility = config.visibilityTimeoutSeconds;
  if (concurrency < 1) throw new Error("workerConcurrency must be at least 1");
  if (visibility < 3) throw new Error("visibilityTimeoutSeconds must be at least 3 for the heartbeat to fit");

  const jobs = new Map<string, { promise: Promise<void>; message: Message; heartbeat: NodeJS.Timeout }>();
  let running = false;
  let loop: Promise<void> | undefined;
  let slotFreed: () => void = () => {};
  let wakeFromBackoff: () => void = () => {};

  const queue = { sqs, url: queueUrls.input, logger };

  async function pollLoop(): Promise<void> {
    let backoffMs = 0;
    while (running) {
      if (jobs.size >= concurrency) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        continue;
      }
      let messages: Message[];
      try {
        const result = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrls.input,
            MaxNumberOfMessages: Math.min(SQS_MAX_BATCH, concurrency - jobs.size),
            WaitTimeSeconds: config.pollWaitSeconds,
            VisibilityTimeout: visibility,
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "MessageGroupId", "SentTimestamp"],
          }),
        );
        messages = result.Messages ?? [];
        backoffMs = 0;
        const now = Date.now();
        observer?.received(messages.map((m) => (now - Number(m.Attributes?.SentTimestamp ?? now)) / 1000));
      } catch (error) {
        backoffMs = Math.min(RECEIVE_BACKOFF_MS.max, Math.max(RECEIVE_BACKOFF_MS.first, backoffMs * 2));
        logger.warn({ err: error, retryInMs: backoffMs }, "receive failed; backing off");
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, backoffMs);
          wakeFromBackoff = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        continue;
      }
      for (const message of messages) {
        if (!running) {
          await setVisibility(queue, message, 0, "received while stopping");
          continue;
        }
        // Every third of the timeout, so a slow call or two still lands before it runs out.
        const heartbeat = setInterval(
          () => void setVisibility(queue, message, visibility, "heartbeat"),
          (visibility * 1000) / 3,
        );
        const promise = runJob(message).finally(() => {
          clearInterval(heartbeat);
          jobs.delete(message.MessageId as string);
          observer?.inFlight(jobs.size);
          slotFreed();
        });
        jobs.set(message.MessageId as string, { promise, message, heartbeat });
        observer?.inFlight(jobs.size);
      }
    }
  }

  async function runJob(message: Message): Promise<void> {
    const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
    let job: ReturnType<typeof queueMessageSchema.parse>;
    try {
      job = parseMessage(queueMessageSchema, message.Body);
    } catch (error) {
      // Not our contract: no retry can fix it, so it goes to the DLQ for a person to look at.
      logger.error({ err: error, messageId: message.MessageId }, "malformed message moved to the DLQ");
      await moveToQueue(sqs, queueUrls.deadLetter, message);
      await deleteMessage(message);
      return;
    }
    // The message says which object to read; only the image's own original in our input
    // bucket may be read, or anyone who can send to the queue could have the worker copy
    // another object across a boundary. Like a malformed message, no retry can fix it.
    if (job.bucket !== config.inputBucket || !isInputKeyOf(job.id, job.key)) {
      logger.error(
        { messageId: message.MessageId, id: job.id, bucket: job.bucket, key: job.key },
        "message names an object that is not the image's own original; moved to the DLQ, nothing read",
      );
      await moveToQueue(sqs, queueUrls.deadLetter, message);
      await deleteMessage(message);
      return;
    }
    const started = performance.now();
    const elapsed = () => (performance.now() - started) / 1000;
    try {
      const completion = await handle(job, deps, { receiveCount });
      observer?.settled(completion.status, job.method, elapsed());
    } catch (error) {
      observer?.settled("retried", job.method, elapsed());
      // Transient (S3, SQS, timeouts): hand it back later; SQS's redrive policy moves it to
      // the DLQ after MAX_RECEIVE_COUNT receives.
      const retryIn = Math.min(RETRY_CAP_SECONDS, retryBaseSeconds * 2 ** (receiveCount - 1));
      logger.warn({ err: error, id: job.id, receiveCount, retryInSeconds: retryIn }, "job failed; will retry");
      await setVisibility(queue, message, retryIn, "retry backoff");
      return;
    }
    await deleteMessage(message);
  }

  async function deleteMessage(message: Message): Promise<void> {
    await sqs
      .send(new DeleteMessageCommand({ QueueUrl: queueUrls.input, ReceiptHandle: message.ReceiptHandle }))
      .catch((error) =>
        // The job's effects are durable and idempotent; a redelivery only republishes them.
        logger.warn({ err: error, messageId: message.MessageId }, "delete failed; the message will come back"),
      );
  }

  return {
    get inFlight() {
      return jobs.size;
    },
    start() {
      if (running) return;
      running = true;
      loop = pollLoop().catch((error) => logger.fatal({ err: error }, "poll loop crashed"));
    },
    async stop({ deadlineMs = DEFAULT_SHUTDOWN_DEADLINE_MS } = {}) {
      if (!running) return;
      running = false;
      const deadline = Date.now() + deadlineMs;
      slotFreed();
      wakeFromBackoff();
      await loop;
      const pending = [...jobs.values()];
      const remainingMs = Math.max(0, deadline - Date.now());
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), remainingMs);
      });
      const outcome = await Promise.race([Promise.allSettled(pending.map((j) => j.promise)), timedOut]);
      clearTimeout(timer);
      await ownRenderer?.close();
      if (outcome === "timeout") {
        const unfinished = [...jobs.values()];
        logger.warn({ count: unfinished.length }, "shutdown deadline passed; handing unfinished jobs back to SQS");
        await Promise.all(
          unfinished.map((j) => {
            clearInterval(j.heartbeat);
            return setVisibility(queue, j.message, 0, "shutdown deadline");
          }),
        );
      }
    },
  };
}

async function setVisibility(
  { sqs, url, logger }: { sqs: SQSClient; url: string; logger: Logger },
  message: Message,
  seconds: number,
  why: string,
): Promise<void> {
  try {
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: url,
        ReceiptHandle: message.ReceiptHandle,
        VisibilityTimeout: seconds,
      }),
    );
  } catch (error) {
    logger.warn({ err: error, messageId: message.MessageId, why }, "could not change message visibility");
  }
}
