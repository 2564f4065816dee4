// `npm start`: the whole pipeline on one machine. An embedded LocalStack unless
// AWS_ENDPOINT_URL is set, then the resources, then the API and a worker in this process.
// Ctrl-C drains the worker, closes the API, and stops LocalStack last.
import { createApp } from "../api/app.ts";
import { serveApp } from "../api/serve.ts";
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { type LocalStack, startLocalStack } from "../infra/localstack.ts";
import { createLogger } from "../infra/logger.ts";
import { ensureResources } from "../infra/resources.ts";
import { configureSharpForJobs } from "../worker/binarize.ts";
import { createWorker } from "../worker/consumer.ts";
import { createWorkerMetrics, serveWorkerMetrics } from "../worker/metrics.ts";
import { processJob } from "../worker/process-job.ts";
import { createImageKeeper } from "./image-keeper.ts";

runMain(async () => {
  const started = performance.now();
  const loaded = loadConfig();
  const logger = createLogger(loaded, "start");
  let localstack: LocalStack | undefined;
  // Registered first so that a Ctrl-C during start-up also stops what was started so far.
  const stopped: Array<() => Promise<void>> = [];
  onShutdownSignal(async () => {
    logger.info(
      `stopping: the worker waits out its long poll (at most ${loaded.pollWaitSeconds} s) and finishes its jobs; Ctrl-C again quits at once`,
    );
    for (const stop of stopped.reverse()) await stop();
  });

  if (!loaded.endpointUrl) {
    localstack = await startLocalStack({ ...loaded.localstack, log: (m) => logger.info(m) });
    stopped.push(() => (localstack as LocalStack).stop());
  }
  const config = { ...loaded, endpointUrl: localstack?.endpoint ?? loaded.endpointUrl };
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const { report, queueUrls } = await ensureResources({ s3, sqs }, config);
  logger.info({ resources: report.map((r) => `${r.action} ${r.name}`) }, "resources ready");
  const keeper = config.dataDir ? createImageKeeper({ s3, config, logger }, config.dataDir) : undefined;
  if (keeper) {
    const restored = await keeper.restore();
    logger.info({ images: restored, dataDir: config.dataDir }, "kept images restored");
    // Before LocalStack stops (stops run in reverse): forget what was deleted meanwhile.
    stopped.push(async () => {
      await keeper.forgetDeleted();
    });
  }

  const server = await serveApp(createApp({ config, s3, sqs, queueUrls, logger: createLogger(config, "api") }), config);
  stopped.push(() => server.close());
  configureSharpForJobs(config.workerConcurrency);
  const metrics = createWorkerMetrics();
  const metricsServer = await serveWorkerMetrics(metrics, { host: config.host, port: config.workerMetricsPort });
  stopped.push(() => metricsServer.close());
  const worker = createWorker(
    { config, s3, sqs, queueUrls, logger: createLogger(config, "worker") },
    {
      observer: metrics,
      // With BITONAL_DATA_DIR, each image is copied to disk as its job ends.
      handle: keeper
        ? async (job, deps, attempt) => {
            const completion = await processJob(job, deps, attempt);
            await keeper.save(job.id).catch((error) => logger.warn({ err: error, id: job.id }, "could not keep image"));
            return completion;
          }
        : undefined,
    },
  );
  worker.start();
  stopped.push(() => worker.stop());

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  logger.info({ url: server.url, seconds }, "bitonal ready");
  const kept = config.dataDir
    ? `Images are kept in ${config.dataDir} (BITONAL_DATA_DIR) and put back at the next start.`
    : "It keeps everything in memory only: Ctrl-C empties the buckets and queues\n" +
      "(set BITONAL_DATA_DIR=<folder> to keep images across restarts, or download what you want).";
  const storage = localstack
    ? `S3 and SQS: the embedded LocalStack at ${config.endpointUrl}. ${kept}\n` +
      `Other commands reach it with AWS_ENDPOINT_URL=${config.endpointUrl} (in .env or the environment).`
    : `S3 and SQS: ${config.endpointUrl ?? `real AWS (${config.region})`}.`;
  console.log(
    `\nbitonal is ready in ${seconds} s: open ${server.url}\n${storage}\n` +
      `upload: curl -F image=@photo.png ${server.url}/api/images\nCtrl-C stops everything.\n`,
  );
});
