import { mkdir, writeFile } from "node:fs/promises";
import { availableParallelism, cpus, totalmem } from "node:os";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { loadConfig } from "../../infra/config.ts";
import { outputKey } from "../../infra/image-objects.ts";
import { type LocalStack, startLocalStack } from "../../infra/localstack.ts";
import { ensureResources } from "../../infra/resources.ts";
import { forEachInParallel } from "../in-parallel.ts";
import { type PipelineReport, processStats, runPipeline } from "./run-pipeline.ts";
import { samplePng } from "./sample-images.ts";
import { freshResourceEnv, kernelOnAllCores, putAndEnqueue } from "./shared.ts";

const DOCS = new URL("../../docs/", import.meta.url);
const CONCURRENCY = [1, 8, 32];
const WORKERS = [1, 2];
const IMAGES_PER_RUN = 48;

async function withLocalStack<T>(work: (localstack: LocalStack) => Promise<T>): Promise<T> {
  const localstack = await startLocalStack({
    ...loadConfig().localstack,
    log: (m) => console.log(`[localstack] ${m}`),
  });
  try {
    return await work(localstack);
  } finally {
    await localstack.stop();
  }
}

/** A mix of generated 1 MP and 4 MP PNGs, photo-like and document-like. */
async function imageMix(): Promise<Uint8Array<ArrayBuffer>[]> {
  const sources = await Promise.all([
    samplePng("photo", 1, 11),
    samplePng("document", 1, 12),
    samplePng("photo", 4, 13),
    samplePng("document", 4, 14),
  ]);
  return sources.map((b) => new Uint8Array(b));
}

/** Pipeline run with LocalStack's CPU seconds for the same interval added. */
async function measuredRun(localstack: LocalStack, run: Parameters<typeof runPipeline>[0]): Promise<PipelineReport> {
  const before = localstack.pid ? await processStats(localstack.pid) : undefined;
  const report = await runPipeline(run);
  if (localstack.pid && before) {
    const after = await processStats(localstack.pid);
    report.cpuSeconds.localstack = after.cpuSeconds - before.cpuSeconds;
    report.peakRssMiB.localstack = after.peakRssMiB;
  }
  return report;
}

/**
 * One image's journey with the SDK alone: PutObject, SendMessage, ReceiveMessage, GetObject,
 * PutObject of a result-sized object, SendMessage of the completion, DeleteMessage.
 */
async function sdkCeiling(endpoint: string, images: Uint8Array<ArrayBuffer>[], concurrency: number): Promise<number> {
  const config = { ...loadConfig(freshResourceEnv("journey")), endpointUrl: endpoint };
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const { queueUrls } = await ensureResources({ s3, sqs }, config);
  const result = new Uint8Array(40 * 1024);
  const journeys = 96;
  let completed = 0;
  const started = performance.now();
  await forEachInParallel(journeys, concurrency, async (n) => {
    await putAndEnqueue({ s3, sqs, config, queueUrls }, images[n % images.length]);
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrls.input, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      const job = JSON.parse(message.Body ?? "{}");
      const object = await s3.send(new GetObjectCommand({ Bucket: job.bucket, Key: job.key }));
      await object.Body?.transformToByteArray();
      await s3.send(new PutObjectCommand({ Bucket: config.outputBucket, Key: outputKey(job.id), Body: result }));
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrls.output,
          MessageBody: "{}",
          MessageGroupId: job.id,
          MessageDeduplicationId: job.id,
        }),
      );
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrls.input, ReceiptHandle: message.ReceiptHandle }));
      completed++;
    }
  });
  return completed / ((performance.now() - started) / 1000);
}

export async function benchPipeline() {
  const images = await imageMix();
  return withLocalStack(async (localstack) => {
    const kernel = await kernelOnAllCores(images);
    const sdk = await sdkCeiling(localstack.endpoint, images, 8);
    const ceiling = Math.min(kernel, sdk);
    console.log(`ceilings: kernel ${kernel.toFixed(2)} images/s, bare S3/SQS journey ${sdk.toFixed(2)}/s`);
    const runs: Array<{ concurrency: number; workers: number; report: PipelineReport }> = [];
    for (const workers of WORKERS) {
      for (const concurrency of CONCURRENCY) {
        const report = await measuredRun(localstack, {
          endpoint: localstack.endpoint,
          images,
          uploads: IMAGES_PER_RUN,
          concurrency,
          workers,
        });
        runs.push({ concurrency, workers, report });
        console.log(
          `C=${String(concurrency).padEnd(2)} W=${workers}  ${report.imagesPerSecond.toFixed(2)} images/s ` +
            `(${(report.imagesPerSecond / ceiling).toFixed(2)} of ceiling)  latency p50 ${report.latencyMs.p50.toFixed(0)} ` +
            `p95 ${report.latencyMs.p95.toFixed(0)} p99 ${report.latencyMs.p99.toFixed(0)} ms  ` +
            `CPU s api ${report.cpuSeconds.api.toFixed(1)} workers ${report.cpuSeconds.workers.toFixed(1)} ` +
            `localstack ${(report.cpuSeconds.localstack ?? Number.NaN).toFixed(1)}`,
        );
      }
    }
    const best = Math.max(...runs.map((r) => r.report.imagesPerSecond));
    const results = {
      date: new Date().toISOString(),
      machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30) },
      versions: {
        node: process.versions.node,
        sharp: sharp.versions.sharp,
        vips: sharp.versions.vips,
        localstack: "4.14.0",
      },
      imagesPerRun: IMAGES_PER_RUN,
      ceilings: { kernelImagesPerSecond: kernel, sdkJourneysPerSecond: sdk, lower: ceiling },
      bestImagesPerSecond: best,
      fractionOfCeiling: best / ceiling,
      runs,
    };
    await writeResults("pipeline", results);
    await writeMarkdown(results);
    await writeChart(runs, ceiling);
    console.log(`best ${best.toFixed(2)} images/s = ${(best / ceiling).toFixed(2)} of the lower ceiling`);
    return results;
  });
}

export async function benchLoad() {
  const images = await Promise.all(
    Array.from({ length: 4 }, (_, n) => samplePng(n % 2 ? "photo" : "document", 0.25, 20 + n)),
  );
  return withLocalStack(async (localstack) => {
    const report = await measuredRun(localstack, {
      endpoint: localstack.endpoint,
      images: images.map((b) => new Uint8Array(b)),
      uploads: 1000,
      concurrency: 32,
      workers: 2,
    });
    const fiveHundreds = Object.entries(report.statusCounts)
      .filter(([status]) => status.startsWith("5"))
      .reduce((sum, [, count]) => sum + count, 0);
    console.log(JSON.stringify({ ...report, fiveHundreds }, null, 2));
    const accountedFor =
      report.accepted === report.doneMessages &&
      report.accepted === report.outputObjects &&
      report.duplicateProcessings === 0 &&
      report.deadLetters === 0 &&
      fiveHundreds === 0;
    console.log(accountedFor ? "every 202 accounted for exactly once" : "ACCOUNTING FAILED");
    await writeResults("load", { date: new Date().toISOString(), fiveHundreds, accountedFor, report });
    if (!accountedFor) throw new Error("load test accounting failed");
    return report;
  });
}

function cpuPerImageMs(report: PipelineReport): number {
  const total = Object.values(report.cpuSeconds).reduce((a, b) => a + b, 0);
  return (total * 1000) / Math.max(report.doneMessages, 1);
}

async function writeResults(name: string, results: unknown) {
  await mkdir(new URL("benchmarks/", DOCS), { recursive: true });
  await writeFile(new URL(`benchmarks/${name}.json`, DOCS), `${JSON.stringify(results, null, 2)}\n`);
}

async function writeMarkdown(results: {
  date: string;
  machine: { cpus: number; model?: string; memoryGiB: number };
  versions: Record<string, string>;
  ceilings: { kernelImagesPerSecond: number; sdkJourneysPerSecond: number; lower: number };
  bestImagesPerSecond: number;
  fractionOfCeiling: number;
  runs: Array<{ concurrency: number; workers: number; report: PipelineReport }>;
}) {
  const f = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? "—" : n.toFixed(digits));
  const stageNames = ["validate", "s3put", "enqueue", "queue", "get", "binarize", "put", "completion"];
  const lines = [
    "# Pipeline benchmark",
    "",
    `Measured ${results.date.slice(0, 10)} on ${results.machine.cpus} cores (${results.machine.model ?? "unknown CPU"}), ` +
      `${results.machine.memoryGiB} GiB; Node ${results.versions.node}, sharp ${results.versions.sharp} ` +
      `(libvips ${results.versions.vips}), LocalStack ${results.versions.localstack} on the host.`,
    "Reproduce with `npm run bench -- pipeline` (this file, `pipeline.json` and the chart are rewritten).",
    "",
    `Each run: ${IMAGES_PER_RUN} uploads of a mix of generated 1 MP and 4 MP PNGs (photo- and document-like) through an`,
    "API process by C concurrent HTTP clients, W worker processes, everything on the embedded LocalStack, all on the",
    "same machine. Latency is from the 202 to the completion message arriving.",
    "",
    "## Ceilings (same run)",
    "",
    `- binarize kernel alone, all cores: **${f(results.ceilings.kernelImagesPerSecond, 2)} images/s**`,
    `- bare S3/SQS journey of one image (put, send, receive, get, put result, send completion, delete), SDK only, 8 at once: **${f(results.ceilings.sdkJourneysPerSecond, 2)} /s**`,
    `- best pipeline throughput: **${f(results.bestImagesPerSecond, 2)} images/s = ${f(results.fractionOfCeiling, 2)} of the lower ceiling** (target 0.7)`,
    "",
    "## Runs",
    "",
    "| C | W | images/s | of ceiling | p50 ms | p95 ms | p99 ms | CPU s API | CPU s workers | CPU s LocalStack | CPU ms per image | peak RSS MiB API / workers |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...results.runs.map(
      ({ concurrency, workers, report: r }) =>
        `| ${concurrency} | ${workers} | ${f(r.imagesPerSecond, 2)} | ${f(r.imagesPerSecond / results.ceilings.lower, 2)} | ${f(r.latencyMs.p50, 0)} | ${f(r.latencyMs.p95, 0)} | ${f(r.latencyMs.p99, 0)} | ${f(r.cpuSeconds.api)} | ${f(r.cpuSeconds.workers)} | ${f(r.cpuSeconds.localstack)} | ${f(cpuPerImageMs(r), 0)} | ${f(r.peakRssMiB.api, 0)} / ${f(r.peakRssMiB.workers, 0)} |`,
    ),
    "",
    "## Reading the numbers",
    "",
    "Everything shares the machine's cores: the API, the workers, LocalStack and the load generator. The pipeline is",
    "CPU-bound once C ≥ 8: divide the cores by the CPU time one image costs across all processes (the column above)",
    "and you get its throughput. The two ceilings are each measured with the whole machine to themselves, so even a",
    "pipeline with no overhead of its own could reach only 1 / (1/kernel + 1/journey) =",
    `**${f(1 / (1 / results.ceilings.kernelImagesPerSecond + 1 / results.ceilings.sdkJourneysPerSecond), 2)} images/s** here, ` +
      `${f(1 / (1 / results.ceilings.kernelImagesPerSecond + 1 / results.ceilings.sdkJourneysPerSecond) / results.ceilings.lower, 2)} of the lower ceiling.`,
    "On top of that the API parses the multipart body and checks the file's structure (no decode), and LocalStack",
    "spends CPU on every call. On separate machines, or against real S3 and SQS (where the calls are network waits,",
    "not local CPU), the same code scales with workers; here, more workers only share the same two cores.",
    "",
    "## Stages (mean ms per image)",
    "",
    "validate, s3put and enqueue are the API's (Server-Timing); queue is from the upload to the worker starting the job;",
    "get, binarize and put are the worker's (the completion message's `stages`); completion is from the result's put",
    "to the completion message arriving at the load generator.",
    "",
    `| C | W | ${stageNames.join(" | ")} |`,
    `| --- | --- | ${stageNames.map(() => "---").join(" | ")} |`,
    ...results.runs.map(
      ({ concurrency, workers, report: r }) =>
        `| ${concurrency} | ${workers} | ${stageNames.map((s) => f(r.stagesMs[s])).join(" | ")} |`,
    ),
    "",
    "![Throughput against client concurrency](../benchmark-throughput.png)",
    "",
  ];
  // Its own page: docs/BENCHMARKS.md is the written overview that links here.
  await writeFile(new URL("benchmarks/pipeline.md", DOCS), lines.join("\n"));
}

/** Throughput against concurrency, one line per worker count, drawn as SVG and rendered to PNG. */
async function writeChart(
  runs: Array<{ concurrency: number; workers: number; report: PipelineReport }>,
  ceiling: number,
) {
  const width = 640;
  const height = 360;
  const pad = { left: 60, right: 110, top: 30, bottom: 50 };
  const top = Math.max(ceiling, ...runs.map((r) => r.report.imagesPerSecond));
  const max = top * 1.15;
  const x = (i: number) => pad.left + (i / (CONCURRENCY.length - 1)) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const colours = ["#1f5eff", "#16181d"];
  const lines = WORKERS.map((workers, w) => {
    const points = CONCURRENCY.map((c, i) => {
      const run = runs.find((r) => r.workers === workers && r.concurrency === c);
      return `${x(i)},${y(run?.report.imagesPerSecond ?? 0)}`;
    }).join(" ");
    return `<polyline fill="none" stroke="${colours[w]}" stroke-width="3" points="${points}"/>
      <text x="${width - pad.right + 10}" y="${pad.top + 20 + w * 22}" fill="${colours[w]}" font-size="14">W = ${workers}</text>`;
  }).join("\n");
  const ticks = CONCURRENCY.map(
    (c, i) => `<text x="${x(i)}" y="${height - pad.bottom + 20}" text-anchor="middle" font-size="13">${c}</text>`,
  ).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
    <rect width="100%" height="100%" fill="#fff"/>
    <text x="${pad.left}" y="20" font-size="15">bitonal pipeline: completed images per second</text>
    <line x1="${pad.left}" y1="${height - pad.bottom}" x2="${width - pad.right}" y2="${height - pad.bottom}" stroke="#999"/>
    <line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${height - pad.bottom}" stroke="#999"/>
    <text x="${pad.left - 10}" y="${y(0)}" text-anchor="end" font-size="12">0</text>
    <text x="${pad.left - 10}" y="${y(top) + 4}" text-anchor="end" font-size="12">${top.toFixed(1)}</text>
    <line x1="${pad.left}" y1="${y(ceiling)}" x2="${width - pad.right}" y2="${y(ceiling)}" stroke="#b42318" stroke-dasharray="6 4"/>
    <text x="${width - pad.right + 10}" y="${y(ceiling) + 4}" fill="#b42318" font-size="13">lower ceiling</text>
    <line x1="${pad.left}" y1="${y(ceiling * 0.7)}" x2="${width - pad.right}" y2="${y(ceiling * 0.7)}" stroke="#b42318" stroke-opacity="0.4" stroke-dasharray="2 4"/>
    <text x="${width - pad.right + 10}" y="${y(ceiling * 0.7) + 4}" fill="#b42318" fill-opacity="0.6" font-size="13">0.7 target</text>
    ${ticks}
    <text x="${(width - pad.right + pad.left) / 2}" y="${height - 10}" text-anchor="middle" font-size="13">concurrent clients (C)</text>
    ${lines}
  </svg>`;
  await sharp(Buffer.from(svg)).png().toFile(new URL("benchmark-throughput.png", DOCS).pathname);
}
