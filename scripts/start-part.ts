// One part of `npm start` in a process of its own, started and restarted by scripts/start.ts:
// `api` or `worker`, on the resources the parent made. It reports to the parent when it serves,
// and stops (draining) on SIGTERM or when the parent is gone.
import { createApp } from "../api/app.ts";
import { serveApp } from "../api/serve.ts";
import { sweepStaleSpoolFiles } from "../api/upload-spool.ts";
import { configureSharpForJobs } from "../imaging/binarize.ts";
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { createLogger } from "../infra/logger.ts";
import { waitForQueueUrls } from "../infra/resources.ts";
import { createWorker } from "../worker/consumer.ts";
import { createWorkerMetrics, serveWorkerMetrics } from "../worker/metrics.ts";
import { processJob } from "../worker/process-job.ts";
import { createImageKeeper } from "./image-keeper.ts";
import type { ReadyMessage } from "./supervisor.ts";

const part = process.argv[2];

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger(config, part === "api" ? "api" : "worker");
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const queueUrls = await waitForQueueUrls(sqs, config, { onRetry: () => {} });
  let stop: () => Promise<void>;
  let ready: ReadyMessage;

  if (part === "api") {
    const swept = await sweepStaleSpoolFiles(config.uploadSpoolDir);
    if (swept > 0) logger.info({ swept, dir: config.uploadSpoolDir }, "spooled uploads a stopped API left removed");
    const server = await serveApp(createApp({ config, s3, sqs, queueUrls, logger }), config);
    stop = () => server.close();
    ready = { ready: true, url: server.url };
  } else if (part === "worker") {
    configureSharpForJobs(config.workerConcurrency);
    const keeper = config.dataDir ? createImageKeeper({ s3, config, logger }, config.dataDir) : undefined;
    const metrics = createWorkerMetrics();
    const metricsServer = await serveWorkerMetrics(metrics, { host: config.host, port: config.workerMetricsPort });
    const worker = createWorker(
      { config, s3, sqs, queueUrls, logger },
      {
        observer: metrics,
        // With BITONAL_DATA_DIR, each image is copied to disk as its job ends.
        handle: keeper
          ? async (job, deps, attempt) => {
              const completion = await processJob(job, deps, attempt);
              // A document is kept once, by the job that assembled it.
              if (completion.assembled === false) return completion;
              await keeper
                .save(job.id)
                .catch((error) => logger.warn({ err: error, id: job.id }, "could not keep image"));
              return completion;
            }
          : undefined,
      },
    );
    worker.start();
    stop = async () => {
      await worker.stop();
      await metricsServer.close();
    };
    ready = { ready: true };
  } else {
    throw new Error(`usage: start-part.ts api|worker (not ${part})`);
  }

  onShutdownSignal(stop);
  // The parent is gone (killed outright): nobody would stop this process otherwise.
  process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
  process.send?.(ready);
});
