// `npm run bench -- documents [--pages N]`: documents through the pipeline. A 300-dpi A4 scanned
// PDF (one JPEG a page) and a G4 TIFF of the same pages:
// - CPU a page beside its floor (rendering or decoding the page to pixels and nothing else),
//   interleaved page by page in this process: render/decode + auto + G4 + PNG + preview;
// - pages/s end to end with one worker process and with two (each one job at a time), from the
//   page jobs' send to the document's completion, and each worker's peak RSS;
// - a 200-page G4 TIFF end to end with two workers; output ÷ input size for each.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import sharp from "sharp";
import { v7 as uuidv7 } from "uuid";
import { ALREADY_BITONAL, binarize } from "../../imaging/binarize.ts";
import { decodeLuma } from "../../imaging/decode/luma.ts";
import { DEFAULT_RENDER_DPI } from "../../imaging/decode/pdf-pages.ts";
import { createPdfRenderer } from "../../imaging/decode/pdf-renderer.ts";
import { g4Page } from "../../imaging/encode/ccitt-g4.ts";
import { encodeG4Tiff } from "../../imaging/encode/g4-tiff.ts";
import { pagePreview } from "../../imaging/encode/page-preview.ts";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { baseChildEnv, loadConfig } from "../../infra/config.ts";
import { encodeMetadata, inputKey } from "../../infra/image-objects.ts";
import { startLocalStack } from "../../infra/localstack.ts";
import { DEFAULT_BORDERS, DEFAULT_DESKEW, type OutputFormat, sendPageMessages } from "../../infra/messages.ts";
import { ensureResources } from "../../infra/resources.ts";
import { processStats } from "./run-pipeline.ts";
import { samplePng } from "./sample-images.ts";
import { benchProcessEnv } from "./shared.ts";

const A4 = { width: 2480, height: 3508 };
const DISTINCT_PAGES = 4;

interface Document {
  name: string;
  bytes: Uint8Array;
  contentType: "application/pdf" | "image/tiff";
  extension: "pdf" | "tif";
  format: OutputFormat;
  pages: number;
}

export async function benchDocuments(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      pages: { type: "string", default: "20" },
      "intake-only": { type: "boolean", default: false },
      "scaling-only": { type: "boolean", default: false },
    },
  });
  const pageCount = Number(values.pages);
  const jpegs = await scanPages();
  if (values["intake-only"]) return { intake: await withLocalStack((endpoint) => intake(endpoint, jpegs)) };
  console.log(`making a ${pageCount}-page 300-dpi A4 scanned PDF and G4 TIFF…`);
  const pdf = await scannedPdf(jpegs, pageCount);
  const tiff = await g4Tiff(jpegs, pageCount);
  const documents: Document[] = [
    {
      name: "scanned PDF",
      bytes: pdf,
      contentType: "application/pdf",
      extension: "pdf",
      format: "pdf",
      pages: pageCount,
    },
    { name: "G4 TIFF", bytes: tiff, contentType: "image/tiff", extension: "tif", format: "tiff", pages: pageCount },
  ];
  for (const document of documents) {
    console.log(`${document.name}: ${pageCount} pages, ${(document.bytes.length / 1024).toFixed(0)} KiB`);
  }

  const scalingOnly = values["scaling-only"];
  const cpu = scalingOnly ? undefined : await cpuPerPage(documents);
  const endToEnd = await throughput(documents, jpegs, { scalingOnly });
  return { cpu, endToEnd };
}

/** A few distinct 300-dpi A4 pages (text under uneven light), as JPEG, as scanners write them. */
async function scanPages(): Promise<Buffer[]> {
  return Promise.all(
    Array.from({ length: DISTINCT_PAGES }, async (_, n) => {
      const png = await samplePng("document", (A4.width * A4.height) / 1e6, n + 1);
      // Grey, quality 75: what a scanner's "document" setting writes (about 1 MB a page here, the
      // generated pages' grain being harder to compress than paper).
      return sharp(png).resize(A4.width, A4.height, { fit: "fill" }).greyscale().jpeg({ quality: 75 }).toBuffer();
    }),
  );
}

async function scannedPdf(jpegs: Buffer[], pages: number): Promise<Uint8Array> {
  const { PDFDocument } = await import("@cantoo/pdf-lib");
  const pdf = await PDFDocument.create();
  const size = [(A4.width * 72) / 300, (A4.height * 72) / 300] as [number, number];
  for (let n = 0; n < pages; n++) {
    // Each page its own image, as a scanner writes them (not one image drawn on many pages).
    const image = await pdf.embedJpg(jpegs[n % jpegs.length]);
    pdf.addPage(size).drawImage(image, { x: 0, y: 0, width: size[0], height: size[1] });
  }
  return pdf.save();
}

async function g4Tiff(jpegs: Buffer[], pages: number): Promise<Uint8Array> {
  const coded = await Promise.all(
    jpegs.map(async (jpeg) => {
      const result = await binarize(jpeg, { method: "otsu", maxInputPixels: 50_000_000 });
      return g4Page(result.packed, result.width, result.height, 300);
    }),
  );
  return encodeG4Tiff(Array.from({ length: pages }, (_, n) => coded[n % coded.length]));
}

const cpuMs = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

/**
 * CPU (every thread of this process, PDFium's included) a page: the floor (the page to pixels)
 * and the page job's work, page after page in turn, so that the machine's drift falls on both.
 */
async function cpuPerPage(documents: Document[]) {
  const renderer = createPdfRenderer({ threads: 1 });
  const results: Record<string, { floorMs: number; pageMs: number; ratio: number }> = {};
  const options = { dpi: DEFAULT_RENDER_DPI, maxInputPixels: 50_000_000 };
  for (const document of documents) {
    const isPdf = document.contentType === "application/pdf";
    const pixels = (page: number) =>
      isPdf
        ? renderer.renderPage(document.bytes, page, { ...options, document: document.name })
        : Promise.resolve(document.bytes);
    // A warm-up page each: the thread's start and the first JIT do not count.
    await pixels(0);
    let floor = 0;
    let work = 0;
    for (let page = 0; page < document.pages; page++) {
      let started = process.cpuUsage();
      const decoded = await pixels(page);
      if (!isPdf) await decodeLuma(decoded, { ...options, page });
      floor += cpuMs(started);
      started = process.cpuUsage();
      const input = await pixels(page);
      // As the worker does with the API's defaults: deskew auto, borders clean.
      const result = await binarize(input, {
        method: "auto",
        maxInputPixels: options.maxInputPixels,
        page,
        deskew: DEFAULT_DESKEW === "auto",
        borders: DEFAULT_BORDERS,
      });
      g4Page(result.packed, result.width, result.height, result.dpi);
      // As the page job does: a page black and white already is its own preview.
      if (result.reason !== ALREADY_BITONAL) await pagePreview(input, page);
      work += cpuMs(started);
    }
    const floorMs = floor / document.pages;
    const pageMs = work / document.pages;
    results[document.name] = { floorMs, pageMs, ratio: pageMs / floorMs };
    console.log(
      `${document.name}: CPU a page ${pageMs.toFixed(0)} ms (render/decode + auto + G4 + PNG + preview) ` +
        `against the floor ${floorMs.toFixed(0)} ms (the page to pixels): ${(pageMs / floorMs).toFixed(2)}x`,
    );
  }
  await renderer.close();
  return results;
}

async function throughput(documents: Document[], jpegs: Buffer[], { scalingOnly }: { scalingOnly: boolean }) {
  return withLocalStack(async (endpoint, localstackPid) => {
    const results: Record<string, unknown> = {};
    const warmups = { pdf: await scannedPdf(jpegs, 1), tif: await g4Tiff(jpegs, 1) };
    for (const document of scalingOnly ? [] : documents) {
      for (const workers of [1, 2]) {
        const run = await endToEnd(
          endpoint,
          localstackPid,
          document,
          { workers, concurrency: 1 },
          warmups[document.extension],
        );
        results[`${document.name}, ${workers} worker${workers > 1 ? "s" : ""}`] = run;
      }
    }
    // Each worker on a core of its own (taskset), as workers on machines of their own would be:
    // unpinned, one worker already spreads over both of this machine's cores (PDFium's thread,
    // libvips' threads, the event loop), so a second finds little left.
    for (const workers of [1, 2]) {
      const run = await endToEnd(
        endpoint,
        localstackPid,
        documents[0],
        { workers, concurrency: 1, pinned: true },
        warmups.pdf,
      );
      results[`scanned PDF, ${workers} worker${workers > 1 ? "s" : ""}, a core each`] = run;
    }
    if (scalingOnly) return results;
    // The memory target's case: one worker running two page jobs at once.
    results["scanned PDF, 1 worker running 2 jobs"] = await endToEnd(
      endpoint,
      localstackPid,
      documents[0],
      { workers: 1, concurrency: 2 },
      warmups.pdf,
    );
    // A G4 TIFF: 200 of the generated JPEG pages (1.4 MB each, their grain harder to compress
    // than paper) would be past MAX_DOCUMENT_BYTES.
    const long = { ...documents[1], name: "200-page G4 TIFF", pages: 200, bytes: await g4Tiff(jpegs, 200) };
    results[long.name] = await endToEnd(endpoint, localstackPid, long, { workers: 2, concurrency: 1 }, warmups.tif);
    results["API accepting a 25 and a 100 MiB PDF"] = await intake(endpoint, jpegs);
    return results;
  });
}

async function withLocalStack<T>(use: (endpoint: string, localstackPid?: number) => Promise<T>): Promise<T> {
  const base = loadConfig();
  const localstack = await startLocalStack({ ...base.localstack, log: (m) => console.log(`[localstack] ${m}`) });
  try {
    return await use(localstack.endpoint, localstack.pid);
  } finally {
    await localstack.stop();
  }
}

/**
 * The API taking a scanned PDF just under MAX_DOCUMENT_BYTES' default (100 MiB), and one a
 * quarter of that: what a document held in memory would cost grows with it; a spooled one's not.
 */
async function intake(endpoint: string, jpegs: Buffer[]) {
  const pages = Math.floor((100 * 1024 * 1024) / Math.max(...jpegs.map((jpeg) => jpeg.length))) - 1;
  const warmup = await scannedPdf(jpegs, 1);
  return {
    quarter: await apiIntake(endpoint, await scannedPdf(jpegs, Math.floor(pages / 4)), warmup),
    whole: await apiIntake(endpoint, await scannedPdf(jpegs, pages), warmup),
  };
}

/**
 * One upload of `pdf` through the API process over HTTP: its peak RSS beside its RSS at rest,
 * which says whether the document was held in memory (it is spooled to disk, see
 * api/upload-spool.ts), and the time to the 202.
 */
async function apiIntake(endpoint: string, pdf: Uint8Array, warmup: Uint8Array) {
  const port = 3000 + Math.floor(Math.random() * 5000);
  const env = benchProcessEnv(endpoint, "intake", { PORT: String(port), LOG_LEVEL: "warn" });
  const config = loadConfig(env);
  await ensureResources({ s3: createS3Client(config), sqs: createSqsClient(config) }, config);
  const api = spawn(process.execPath, ["api/main.ts"], {
    env: { ...baseChildEnv(), ...env, MALLOC_ARENA_MAX: "2" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const rssKiB = async (field: "VmRSS" | "VmHWM") => {
    const status = await readFile(`/proc/${api.pid}/status`, "utf8").catch(() => "");
    return Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
  };
  try {
    const base = `http://127.0.0.1:${port}`;
    for (
      let tries = 0;
      !(await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      ));
      tries++
    ) {
      if (tries > 100) throw new Error("the API did not start");
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Warm: a one-page PDF first (it starts PDFium's thread), so that the peak is the
    // document's, not the first request's.
    await fetch(`${base}/api/images`, {
      method: "POST",
      headers: { "content-type": "application/pdf" },
      body: new Uint8Array(warmup),
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const atRestMiB = (await rssKiB("VmRSS")) / 1024;
    const started = performance.now();
    const answer = await fetch(`${base}/api/images`, {
      method: "POST",
      headers: { "content-type": "application/pdf" },
      body: new Uint8Array(pdf),
    });
    const seconds = (performance.now() - started) / 1000;
    if (answer.status !== 202) throw new Error(`the API answered ${answer.status}: ${await answer.text()}`);
    const peakMiB = (await rssKiB("VmHWM")) / 1024;
    const sizeMiB = pdf.length / 1024 / 1024;
    console.log(
      `API accepting a ${sizeMiB.toFixed(1)} MiB PDF: ${seconds.toFixed(1)} s to its 202; RSS ${atRestMiB.toFixed(0)} MiB ` +
        `at rest, peak ${peakMiB.toFixed(0)} MiB (+${(peakMiB - atRestMiB).toFixed(0)} MiB = ` +
        `${((peakMiB - atRestMiB) / sizeMiB).toFixed(2)}x the document)`,
    );
    return { sizeMiB, seconds, atRestMiB, peakMiB };
  } finally {
    const exited = new Promise((resolve) => api.once("exit", resolve));
    api.kill("SIGTERM");
    await exited;
  }
}

/** One document through `workers` worker processes (`concurrency` jobs each at a time), from its page jobs to its completion. */
async function endToEnd(
  endpoint: string,
  localstackPid: number | undefined,
  document: Document,
  { workers, concurrency, pinned = false }: { workers: number; concurrency: number; pinned?: boolean },
  warmup: Uint8Array,
) {
  const env = benchProcessEnv(endpoint, "docs", {
    WORKER_CONCURRENCY: String(concurrency),
    LOG_LEVEL: "warn",
    // A 200-page scan is larger than the default limit; the benchmark measures it anyway.
    MAX_DOCUMENT_BYTES: String(1024 * 1024 * 1024),
  });
  const config = loadConfig(env);
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const { queueUrls } = await ensureResources({ s3, sqs }, config);
  // Completions of documents sent at once come back in any order: each waits for its own.
  const completions = new Map<string, Record<string, unknown>>();
  const awaitCompletion = async (id: string) => {
    while (!completions.has(id)) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrls.output, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const message of Messages) {
        const body = JSON.parse(message.Body ?? "{}");
        completions.set(body.id, body);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrls.output, ReceiptHandle: message.ReceiptHandle }));
      }
    }
    return completions.get(id) as Record<string, unknown>;
  };
  /**
   * Stores `doc` as the API would and sends its page jobs (after `stored`, which starts a clock);
   * resolves with its completion.
   */
  const runDocument = async (doc: Document, stored: () => Promise<void> = async () => {}) => {
    const id = uuidv7();
    const key = inputKey(id, doc.extension);
    await s3.send(
      new PutObjectCommand({
        Bucket: config.inputBucket,
        Key: key,
        Body: doc.bytes,
        ContentType: doc.contentType,
        Metadata: encodeMetadata({
          filename: `bench.${doc.extension}`,
          pages: doc.pages,
          format: doc.format,
          bytes: doc.bytes.length,
          "uploaded-at": new Date().toISOString(),
        }),
      }),
    );
    await stored();
    // What the API sends: the default method and geometry.
    const job = {
      version: 3 as const,
      id,
      bucket: config.inputBucket,
      key,
      method: "auto" as const,
      deskew: DEFAULT_DESKEW,
      borders: DEFAULT_BORDERS,
    };
    await sendPageMessages(
      sqs,
      queueUrls.input,
      Array.from({ length: doc.pages }, (_, n) => ({ ...job, format: doc.format, pages: doc.pages, page: n + 1 })),
    );
    return awaitCompletion(id);
  };
  const processes = Array.from({ length: workers }, (_, n) => {
    const command = [process.execPath, "worker/main.ts"];
    // taskset execs the worker: the pid sampled below is the worker's own.
    const [file, ...args] = pinned ? ["taskset", "-c", String(n), ...command] : command;
    return spawn(file, args, {
      env: { ...baseChildEnv(), ...env, MALLOC_ARENA_MAX: "2" },
      stdio: ["ignore", "inherit", "inherit"],
    });
  });
  const peakKiB = processes.map(() => 0);
  const sampler = setInterval(async () => {
    for (const [n, worker] of processes.entries()) {
      const status = await readFile(`/proc/${worker.pid}/status`, "utf8").catch(() => "");
      peakKiB[n] = Math.max(peakKiB[n], Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0));
    }
  }, 200);
  try {
    // The workers up and polling before the clock starts.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // Warm: each worker's first PDF page starts its PDFium thread (compiling PDFium's
    // WebAssembly) and its first page of any kind warms its code; a long-running worker has paid
    // for both long before, so they are paid here, before the clock, with one-page documents of
    // the same kind, two a worker (page jobs go to whichever worker asks first).
    await Promise.all(Array.from({ length: 2 * workers }, () => runDocument({ ...document, pages: 1, bytes: warmup })));
    // CPU from here to the completion, by whom: the workers, LocalStack (S3 and SQS for all of
    // them, on the same two cores) and this process (the sender and the completion's poll).
    const cpuOf = async () => ({
      workers: (await Promise.all(processes.map((worker) => processStats(worker.pid ?? 0)))).map((s) => s.cpuSeconds),
      localstack: localstackPid ? (await processStats(localstackPid)).cpuSeconds : 0,
      bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    });
    let cpuBefore = await cpuOf();
    let started = performance.now();
    const completion = await runDocument(document, async () => {
      cpuBefore = await cpuOf();
      started = performance.now();
    });
    const seconds = (performance.now() - started) / 1000;
    const cpuAfter = await cpuOf();
    const perPageMs = (after: number, before: number) => Math.round(((after - before) * 1000) / document.pages);
    const cpuMsPerPage = {
      workers: perPageMs(sum(cpuAfter.workers), sum(cpuBefore.workers)),
      localstack: perPageMs(cpuAfter.localstack, cpuBefore.localstack),
      bench: perPageMs(cpuAfter.bench, cpuBefore.bench),
    };
    const cpuSecondsByWorker = cpuAfter.workers.map((after, n) => Math.round(after - cpuBefore.workers[n]));
    if (completion.status !== "done") throw new Error(`the document failed: ${JSON.stringify(completion)}`);
    const outputRatio = Number(completion.bytes) / document.bytes.length;
    const peakRssMiB = peakKiB.map((kib) => Math.round(kib / 1024));
    const pagesPerSecond = document.pages / seconds;
    const who =
      `${workers} worker${workers > 1 ? "s" : ""}${concurrency > 1 ? ` running ${concurrency} jobs` : ""}` +
      (pinned ? ", a core each" : "");
    console.log(
      `${document.name}, ${who}: ${document.pages} pages in ${seconds.toFixed(1)} s, ` +
        `${pagesPerSecond.toFixed(2)} pages/s; output ${(Number(completion.bytes) / 1024).toFixed(0)} KiB = ` +
        `${outputRatio.toFixed(2)}x the input; peak RSS ${peakRssMiB.join(", ")} MiB; CPU a page: workers ` +
        `${cpuMsPerPage.workers} ms (CPU s each ${cpuSecondsByWorker.join(", ")}), LocalStack ${cpuMsPerPage.localstack} ms, ` +
        `this process ${cpuMsPerPage.bench} ms`,
    );
    return { pages: document.pages, seconds, pagesPerSecond, outputRatio, peakRssMiB, cpuMsPerPage };
  } finally {
    clearInterval(sampler);
    await Promise.all(
      processes.map((worker) => {
        const exited = new Promise((resolve) => worker.once("exit", resolve));
        worker.kill("SIGTERM");
        return exited;
      }),
    );
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
