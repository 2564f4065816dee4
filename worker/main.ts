// Production entry point of the worker: never starts an emulator.

import { configureSharpForJobs } from "../imaging/binarize.ts";
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { createLogger } from "../infra/logger.ts";
import { waitForQueueUrls } from "../infra/resources.ts";
import { createWorker } from "./consumer.ts";
import { createWorkerMetrics, serveWorkerMetrics } from "./metrics.ts";

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger(config, "worker");
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const queueUrls = await waitForQueueUrls(sqs, config, {
    onRetry: (error, inMs) => logger.warn({ err: error, retryInMs: inMs }, "SQS not reachable yet; retrying"),
  });
  configureSharpForJobs(config.workerConcurrency);
  const metrics = createWorkerMetrics();
  const metricsServer = await serveWorkerMetrics(metrics, { host: config.host, port: config.workerMetricsPort });
  const worker = createWorker({ config, s3, sqs, queueUrls, logger }, { observer: metrics });
  worker.start();
  logger.info(
    { queue: queueUrls.input, concurrency: config.workerConcurrency, metricsPort: metricsServer.port },
    "worker polling",
  );
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, "worker draining");
    await worker.stop();
    await metricsServer.close();
    logger.info("worker stopped");
  });
});
