// A private set of buckets and queues in the test LocalStack for one test file, so files
// running in parallel never take each other's messages.
import { randomBytes } from "node:crypto";
import { inject } from "vitest";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { type Config, loadConfig } from "../../infra/config.ts";
import { createLogger } from "../../infra/logger.ts";
import { ensureResources } from "../../infra/resources.ts";

/** Environment variables naming a fresh, unique set of resources on the test LocalStack. */
export function uniqueResourceEnv(extra: Record<string, string> = {}): Record<string, string> {
  const run = `t${randomBytes(4).toString("hex")}`;
  return {
    AWS_ENDPOINT_URL: inject("awsEndpoint"),
    INPUT_BUCKET: `${run}-image-input`,
    OUTPUT_BUCKET: `${run}-image-processed`,
    INPUT_QUEUE: `${run}-new-image-input.fifo`,
    OUTPUT_QUEUE: `${run}-new-image-processed.fifo`,
    DLQ: `${run}-new-image-input-dlq.fifo`,
    LOG_LEVEL: "silent",
    // Short polls so that each file's worker stops quickly at the end.
    WORKER_POLL_WAIT_S: "1",
    // Several workers run side by side in the tests: each takes a free port for its metrics.
    WORKER_METRICS_PORT: "0",
    ...extra,
  };
}

export async function createTestEnvironment(extra: Record<string, string> = {}) {
  const env = uniqueResourceEnv(extra);
  const config: Config = loadConfig(env);
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const { queueUrls } = await ensureResources({ s3, sqs }, config);
  const logger = createLogger(config, "test");
  return { env, config, s3, sqs, queueUrls, logger };
}
export type TestEnvironment = Awaited<ReturnType<typeof createTestEnvironment>>;
