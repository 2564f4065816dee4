// Polls the input queue and hands each message to processJob; knows nothing about pixels.
import { Consumer } from "sqs-consumer";
import { inputMessageSchema, parseMessage } from "../infra/messages.ts";
import { type JobDeps, processJob } from "./process-job.ts";

export interface Worker {
  start(): void;
  /** Stops receiving, lets the last poll and in-flight jobs finish, then resolves. */
  stop(): Promise<void>;
}

// Time for the jobs that the last long poll brings in, after the poll itself.
const DRAIN_GRACE_MS = 10_000;

export function createWorker(deps: JobDeps): Worker {
  const { config, queueUrls, sqs, logger } = deps;
  const consumer = Consumer.create({
    queueUrl: queueUrls.input,
    sqs,
    // One poll brings at most as many messages as we work on at once: nothing waits in memory
    // while its visibility timeout runs out.
    batchSize: config.workerConcurrency,
    waitTimeSeconds: config.pollWaitSeconds,
    visibilityTimeout: config.visibilityTimeoutSeconds,
    // Extends visibility while a long job runs, so SQS does not hand it to another worker.
    heartbeatInterval: Math.max(1, Math.floor(config.visibilityTimeoutSeconds / 3)),
    pollingCompleteWaitTimeMs: config.pollWaitSeconds * 1000 + DRAIN_GRACE_MS,
    // Each image is its own message group, so there is no cross-message order to keep, and
    // handleMessage (one at a time per message, all of a batch in parallel) is what we want.
    suppressFifoWarning: true,
    handleMessage: async (message) => {
      // A body that breaks the contract is not acknowledged: it goes to the DLQ for inspection.
      const job = parseMessage(inputMessageSchema, message.Body);
      await processJob(job, deps);
      return message;
    },
  });
  consumer.on("error", (error) => logger.error({ err: error }, "queue error"));
  consumer.on("processing_error", (error, message) =>
    logger.error({ err: error, messageId: message?.MessageId }, "job failed; SQS will redeliver it"),
  );

  return {
    start: () => consumer.start(),
    stop: () =>
      new Promise<void>((resolve) => {
        if (!consumer.status.isRunning) return resolve();
        consumer.once("stopped", () => resolve());
        consumer.stop();
      }),
  };
}
