// `npm run bench -- cost [--images N] [--rounds R]`: CPU per image of `npm start`'s processes (a
// supervisor, the API and the worker, every thread counted), beside sharp's decode floor for the
// same images measured right before each method's images, and LocalStack's CPU per image.
import { once } from "node:events";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import type { BinarizationMethod } from "../../imaging/method-names.ts";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { loadConfig } from "../../infra/config.ts";
import { startLocalStack } from "../../infra/localstack.ts";
import { completionMessageSchema, parseMessage } from "../../infra/messages.ts";
import { ensureResources } from "../../infra/resources.ts";
import { forEachInParallel } from "../in-parallel.ts";
import { freePort, processTreeCpuSeconds, startNode, waitForHealth } from "./run-pipeline.ts";
import { samplePng } from "./sample-images.ts";
import { benchProcessEnv } from "./shared.ts";

const METHODS: BinarizationMethod[] = ["fixed", "otsu", "sauvola", "auto", "document"];
// What the cost issue named as targets, printed beside each ratio (auto and document came later, without one).
const TARGET_RATIO: Record<string, number> = { fixed: 2.5, otsu: 2.5, sauvola: 3.5 };
const CLIENTS = 4;

export interface CostRow {
  method: string;
  images: number;
  /** Over all rounds: the CPU of every round's images over the floor measured beside each. */
  cpuMsPerImage: number;
  floorMsPerImage: number;
  ratio: number;
  /** Each round's own ratio. */
  ratios: number[];
  localstackMsPerImage: number;
  imagesPerSecond: number;
}

/** 1 MP and 4 MP PNGs, noisy documents and photos, in turn. */
async function costImages(count: number): Promise<Uint8Array[]> {
  const kinds = [
    ["document", 1],
    ["photo", 1],
    ["document", 4],
    ["photo", 4],
  ] as const;
  const distinct = await Promise.all(
    kinds.map(async ([kind, megapixels], n) => new Uint8Array(await samplePng(kind, megapixels, n + 1))),
  );
  return Array.from({ length: count }, (_, n) => distinct[n % distinct.length]);
}

/** CPU ms of this process (all threads) to decode the images to raw pixels, as the worker does. */
async function decodeFloorMs(images: Uint8Array[]): Promise<number> {
  sharp.cache(false);
  for (const image of images.slice(0, 4)) await sharp(image).raw().toBuffer(); // warm-up
  const before = process.cpuUsage();
  for (const image of images) await sharp(image, { sequentialRead: true }).raw().toBuffer();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

export async function benchCost(options: string[] = []): Promise<CostRow[]> {
  const option = (name: string, fallback: number) => {
    const at = options.indexOf(name);
    return at >= 0 ? Number(options[at + 1]) : fallback;
  };
  const count = option("--images", 40);
  // Methods in turn, round after round, each with a floor of its own: this machine's speed
  // drifts by tens of percent within minutes (otsu measured 109 and 166 ms an image in one day).
  const rounds = option("--rounds", 2);
  const localstack = await startLocalStack({
    ...loadConfig().localstack,
    log: (m) => console.log(`[localstack] ${m}`),
  });
  const rows: CostRow[] = [];
  try {
    const images = await costImages(count);
    const blocks: Block[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const method of METHODS) {
        const floorMs = await decodeFloorMs(images);
        blocks.push({ method, floorMs, ...(await measureMethod(localstack, images, method)) });
      }
    }
    for (const method of METHODS)
      rows.push(
        costRow(
          method,
          images.length,
          blocks.filter((b) => b.method === method),
        ),
      );
  } finally {
    await localstack.stop();
  }
  console.log(
    `\n${count} images (1 MP and 4 MP, documents and photos), ${CLIENTS} clients, ${rounds} rounds; CPU is every thread of the process`,
  );
  console.log(
    "method   | bitonal CPU ms/image | decode floor ms/image | ratio (target) | LocalStack ms/image | images/s | each round's ratio",
  );
  for (const r of rows) {
    console.log(
      `${r.method.padEnd(8)} | ${r.cpuMsPerImage.toFixed(1).padStart(20)} | ${r.floorMsPerImage.toFixed(1).padStart(21)} | ` +
        `${`${r.ratio.toFixed(2)}x ${TARGET_RATIO[r.method] ? `(≤ ${TARGET_RATIO[r.method]}x)` : "(—)"}`.padStart(14)} | ${r.localstackMsPerImage.toFixed(1).padStart(19)} | ${r.imagesPerSecond.toFixed(1).padStart(8)} | rounds ${r.ratios.map((x) => `${x.toFixed(2)}x`).join(" ")}`,
    );
  }
  return rows;
}

/** One method's images once, beside the floor measured right before them (all in ms). */
interface Block {
  method: string;
  floorMs: number;
  cpuMs: number;
  localstackMs: number;
  seconds: number;
}

function costRow(method: string, images: number, blocks: Block[]): CostRow {
  const total = (field: "floorMs" | "cpuMs" | "localstackMs" | "seconds") =>
    blocks.reduce((sum, b) => sum + b[field], 0);
  const count = images * blocks.length;
  return {
    method,
    images: count,
    cpuMsPerImage: total("cpuMs") / count,
    floorMsPerImage: total("floorMs") / count,
    ratio: total("cpuMs") / total("floorMs"),
    ratios: blocks.map((b) => b.cpuMs / b.floorMs),
    localstackMsPerImage: total("localstackMs") / count,
    imagesPerSecond: count / total("seconds"),
  };
}

async function measureMethod(
  localstack: { endpoint: string; pid?: number },
  images: Uint8Array[],
  method: BinarizationMethod,
): Promise<Omit<Block, "method" | "floorMs">> {
  const env = benchProcessEnv(localstack.endpoint, "cost");
  const config = loadConfig(env);
  const sqs = createSqsClient(config);
  const { queueUrls } = await ensureResources({ s3: createS3Client(config), sqs }, config);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // npm start's layout: a supervisor with the API and the worker as its child processes
  // (AWS_ENDPOINT_URL set: no emulator); their CPU is counted with the supervisor's.
  const bitonal = startNode("scripts/start.ts", { ...env, PORT: String(port) });
  try {
    await waitForHealth(base, bitonal);
    const cpuOf = async (pid: number | undefined) => (pid ? await processTreeCpuSeconds(pid) : 0);
    const before = { bitonal: await cpuOf(bitonal.pid), localstack: await cpuOf(localstack.pid) };
    const started = performance.now();
    const uploads = forEachInParallel(images.length, CLIENTS, async (n) => {
      const form = new FormData();
      form.set("image", new File([new Uint8Array(images[n])], `${n}.png`));
      form.set("method", method);
      const response = await fetch(`${base}/api/images`, { method: "POST", body: form });
      if (response.status !== 202) throw new Error(`upload answered ${response.status}: ${await response.text()}`);
      await response.arrayBuffer();
    });
    let uploadFailed = false;
    uploads.catch(() => {
      uploadFailed = true;
    });
    let done = 0;
    const deadline = Date.now() + 600_000;
    while (done < images.length && !uploadFailed && Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrls.output, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) {
        if (parseMessage(completionMessageSchema, message.Body).status !== "done") throw new Error("an image failed");
        done++;
      }
      if (Messages.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrls.output,
            Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    }
    await uploads;
    const seconds = (performance.now() - started) / 1000;
    const cpuMs = ((await cpuOf(bitonal.pid)) - before.bitonal) * 1000;
    const localstackMs = ((await cpuOf(localstack.pid)) - before.localstack) * 1000;
    if (done < images.length) throw new Error(`${method}: ${done} of ${images.length} images done`);
    return { cpuMs, localstackMs, seconds };
  } finally {
    const exited = once(bitonal, "exit");
    bitonal.kill("SIGTERM");
    await exited;
  }
}
