// Production entry point of the API: never starts an emulator.
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { createLogger } from "../infra/logger.ts";
import { waitForQueueUrls } from "../infra/resources.ts";
import { createApp } from "./app.ts";
import { serveApp } from "./serve.ts";
import { sweepStaleSpoolFiles } from "./upload-spool.ts";

runMain(async () => {
  const config = loadConfig();
  const logger = createLogger(config, "api");
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const queueUrls = await waitForQueueUrls(sqs, config, {
    onRetry: (error, inMs) => logger.warn({ err: error, retryInMs: inMs }, "SQS not reachable yet; retrying"),
  });
  const swept = await sweepStaleSpoolFiles(config.uploadSpoolDir);
  if (swept > 0) logger.info({ swept, dir: config.uploadSpoolDir }, "spooled uploads a stopped API left removed");
  const server = await serveApp(createApp({ config, s3, sqs, queueUrls, logger }), config);
  logger.info({ url: server.url }, "api listening");
  onShutdownSignal(async (signal) => {
    logger.info({ signal }, "api stopping");
    await server.close();
  });
});
