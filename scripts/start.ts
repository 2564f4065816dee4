// `npm start`: the whole pipeline on one machine. An embedded LocalStack unless
// AWS_ENDPOINT_URL is set, then the resources, then the API and a worker, each in a process of
// its own that is restarted if it crashes (scripts/supervisor.ts): one bad request or image can
// cost a restart of one part, never the emulator and the images it holds.
// Ctrl-C drains the worker, closes the API, and stops LocalStack last.
import { fileURLToPath } from "node:url";
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig, pipelineChildEnv } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { type LocalStack, startLocalStack } from "../infra/localstack.ts";
import { createLogger } from "../infra/logger.ts";
import { ensureResources } from "../infra/resources.ts";
import { createImageKeeper } from "./image-keeper.ts";
import { superviseChild } from "./supervisor.ts";

const PART_SCRIPT = fileURLToPath(new URL("./start-part.ts", import.meta.url));

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
  const { report } = await ensureResources({ s3, sqs }, config);
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

  // The parts read the same environment, pointed at the emulator this process started; a
  // restarted API keeps the port the first one took (PORT=0 picks one).
  const partEnv = pipelineChildEnv({ AWS_ENDPOINT_URL: config.endpointUrl });
  const worker = superviseChild("worker", PART_SCRIPT, () => partEnv, logger);
  stopped.push(() => worker.stop());
  const api = superviseChild("api", PART_SCRIPT, () => partEnv, logger);
  stopped.push(() => api.stop());
  const [{ url = "" }] = await Promise.all([api.ready, worker.ready]);
  partEnv.PORT = new URL(url).port;

  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  logger.info({ url, seconds }, "bitonal ready");
  const kept = config.dataDir
    ? `Images are kept in ${config.dataDir} (BITONAL_DATA_DIR) and put back at the next start.`
    : "It keeps everything in memory only: Ctrl-C empties the buckets and queues\n" +
      "(set BITONAL_DATA_DIR=<folder> to keep images across restarts, or download what you want).";
  const storage = localstack
    ? `S3 and SQS: the embedded LocalStack at ${config.endpointUrl}. ${kept}\n` +
      `Other commands reach it with AWS_ENDPOINT_URL=${config.endpointUrl} (in .env or the environment).`
    : `S3 and SQS: ${config.endpointUrl ?? `real AWS (${config.region})`}.`;
  console.log(
    `\nbitonal is ready in ${seconds} s: open ${url}\n${storage}\n` +
      `upload: curl -F image=@photo.png ${url}/api/images\nCtrl-C stops everything.\n`,
  );
});
