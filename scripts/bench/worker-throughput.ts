// `npm run bench -- worker`: a real worker process draining 200 queued 12 MP images from a
// real LocalStack on all cores: images per second and the worker's peak RSS. Beside it, the
// kernel alone on all cores (binarize in parallel, no S3 or SQS).
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { v7 as uuidv7 } from "uuid";
import { BINARIZATION_METHODS } from "../../imaging/method-names.ts";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { baseChildEnv, loadConfig } from "../../infra/config.ts";
import { inputKey } from "../../infra/image-objects.ts";
import { startLocalStack } from "../../infra/localstack.ts";
import { sendInputMessage } from "../../infra/messages.ts";
import { ensureResources } from "../../infra/resources.ts";
import { samplePng } from "./sample-images.ts";
import { freshResourceEnv, kernelOnAllCores } from "./shared.ts";

const IMAGES = 200;
const MEGAPIXELS = 12;

export async function benchWorkerThroughput() {
  const cores = availableParallelism();
  const sources = await Promise.all([
    samplePng("photo", MEGAPIXELS, 1),
    samplePng("document", MEGAPIXELS, 2),
    samplePng("photo", MEGAPIXELS, 3),
    samplePng("document", MEGAPIXELS, 4),
  ]);
  const kernel = { imagesPerSecond: await kernelOnAllCores(sources) };
  console.log(
    `kernel alone, ${cores} jobs at once: ${kernel.imagesPerSecond.toFixed(2)} images/s (12 MP, methods mixed)`,
  );
  const pipeline = await workerProcess(sources, cores);
  console.log(
    `worker process, WORKER_CONCURRENCY=${cores}: ${pipeline.imagesPerSecond.toFixed(2)} images/s ` +
      `(${(pipeline.imagesPerSecond / kernel.imagesPerSecond).toFixed(2)}x the kernel), ` +
      `peak RSS ${pipeline.peakRssMiB.toFixed(0)} MiB over ${IMAGES} images`,
  );
  return { cores, kernel, pipeline };
}

async function workerProcess(sources: Buffer[], cores: number) {
  const base = loadConfig();
  const localstack = await startLocalStack({ ...base.localstack, log: (m) => console.log(`[localstack] ${m}`) });
  const env = {
    AWS_ENDPOINT_URL: localstack.endpoint,
    ...freshResourceEnv("worker"),
    WORKER_CONCURRENCY: String(cores),
    WORKER_POLL_WAIT_S: "1",
    WORKER_METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    // The 12 MP photo's PNG is 24 MiB, over the API's default limit that the worker also applies.
    MAX_UPLOAD_BYTES: String(64 * 1024 * 1024),
  };
  const config = loadConfig(env);
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  try {
    const { queueUrls } = await ensureResources({ s3, sqs }, config);
    // Each message names its own image's original, as the API's would: the worker refuses any other.
    for (let n = 0; n < IMAGES; n++) {
      const id = uuidv7();
      const key = inputKey(id, "png");
      const body = sources[n % sources.length];
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
        filename: `bench-${n}.png`,
        method: BINARIZATION_METHODS[n % BINARIZATION_METHODS.length],
        uploadedAt: new Date().toISOString(),
      });
    }

    const started = performance.now();
    const worker = spawn(process.execPath, ["worker/main.ts"], {
      env: { ...baseChildEnv(), ...env, MALLOC_ARENA_MAX: "2" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    let peakRssKiB = 0;
    const sampler = setInterval(async () => {
      const status = await readFile(`/proc/${worker.pid}/status`, "utf8").catch(() => "");
      const hwm = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0);
      peakRssKiB = Math.max(peakRssKiB, hwm);
    }, 200);

    let done = 0;
    while (done < IMAGES) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrls.output, MaxNumberOfMessages: 10, WaitTimeSeconds: 5 }),
      );
      if (Messages.length === 0) continue;
      done += Messages.length;
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrls.output,
          Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    worker.kill("SIGTERM");
    await exited;
    return { images: IMAGES, seconds, imagesPerSecond: IMAGES / seconds, peakRssMiB: peakRssKiB / 1024 };
  } finally {
    await localstack.stop();
  }
}
