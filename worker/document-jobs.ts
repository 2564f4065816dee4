// A document's pages through the workers: each page binarized on whichever worker takes it,
// and the pages assembled into one TIFF, PDF or PNG by the job that stores the last of them.
// The one place that knows both S3 and a document's pages.
//
// Exactly one output, however messages are redelivered or workers crash:
// - A page's PNG (or failure record) is its mark of being settled; it is written after the G4
//   stream it stands for, so a settled page always has what assembly needs.
// - Every page job, after storing its page, lists the settled pages. S3 lists what was written
//   before the list began, so whichever page is stored last, its own job sees all N and
//   assembles. Several may (pages finishing together, or a redelivery).
// - A job that dies after storing its page and before assembling is redelivered, finds its
//   page stored, and goes on to the assembly.
// - The document is written only if absent (an S3 conditional write): of several assemblies
//   one writes, and the others find its output and publish the completion stored with it (the
//   same processingId, so SQS's deduplication drops the repeat within five minutes and a
//   consumer can tell it is one processing after). A crash between the write and the completion
//   is the same case on redelivery.
import { randomUUID } from "node:crypto";
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { ALREADY_BITONAL, binarize, ImageError } from "../imaging/binarize.ts";
import { DEFAULT_RENDER_DPI } from "../imaging/decode/pdf-pages.ts";
import { type G4Page, g4Page } from "../imaging/encode/ccitt-g4.ts";
import { encodeG4Pdf } from "../imaging/encode/g4-pdf.ts";
import { encodeG4Tiff } from "../imaging/encode/g4-tiff.ts";
import { pagePreview } from "../imaging/encode/page-preview.ts";
import { hasBorders } from "../imaging/geometry/borders.ts";
import {
  type DocumentRun,
  decodeMetadata,
  documentOutput,
  encodeMetadata,
  geometryMetadata,
  pageKeys,
  readGeometry,
  resultKeys,
} from "../infra/image-objects.ts";
import { type CompletionMessage, jobGeometry, type PageMessage, sendCompletionMessage } from "../infra/messages.ts";
import {
  conditionalPut,
  headObject,
  type PageFailure,
  readFailureRecord,
  readPageFailure,
  settledPages,
} from "../infra/stored-results.ts";
import { objectExists, PermanentJobError, readOriginal } from "./job-objects.ts";
import type { JobDeps } from "./process-job.ts";

/** How a page job ended, and whether it assembled the document (or found it assembled). */
type Outcome = { status: "done" | "failed"; assembled: boolean };

/** The run a page job belongs to: the upload's own, or one request for a rendition. */
function runOf(job: PageMessage): DocumentRun {
  return job.rendition && job.requestedAt ? { rendition: job.rendition, requestedAt: job.requestedAt } : undefined;
}

/**
 * Binarizes one page to its PNG and G4 stream (or its failure record) and, when it finds every
 * page settled, assembles the document. Transient errors are thrown for SQS to redeliver.
 */
export async function processPage(
  job: PageMessage,
  deps: JobDeps,
  { receiveCount }: { receiveCount: number },
): Promise<Outcome> {
  const { config, s3, logger } = deps;
  const log = logger.child({ id: job.id, page: job.page, rendition: job.rendition });
  const keys = pageKeys(job.id, job.page, runOf(job));
  const settled =
    receiveCount > 1 &&
    ((await objectExists(s3, config.outputBucket, keys.png)) ||
      (await objectExists(s3, config.outputBucket, keys.failure)));
  let status: Outcome["status"] = "done";
  if (!settled) {
    const started = performance.now();
    try {
      // The whole document: libvips reads only the directory and strips of the page it is asked
      // for; PDFium, only the objects of the page.
      const original = await (deps.documents?.read(s3, job, config.maxDocumentBytes) ??
        readOriginal(s3, job, config.maxDocumentBytes));
      const pixels =
        original.contentType === "application/pdf"
          ? await deps.pdf.renderPage(original.bytes, job.page - 1, {
              document: `${job.bucket}/${job.key}`,
              dpi: job.dpi ?? DEFAULT_RENDER_DPI,
              maxInputPixels: config.maxInputPixels,
            })
          : original.bytes;
      const geometry = jobGeometry(job);
      const result = await binarize(pixels, {
        method: job.method,
        threshold: job.threshold,
        maxInputPixels: config.maxInputPixels,
        page: job.page - 1,
        deskew: geometry.deskew === "auto",
        borders: geometry.borders,
      });
      const page = g4Page(result.packed, result.width, result.height, result.dpi);
      const described = {
        width: result.width,
        height: result.height,
        dpi: result.dpi,
        method: result.method,
        "applied-method": result.appliedMethod,
        reason: result.reason,
        threshold: result.threshold ?? undefined,
        "completed-at": new Date().toISOString(),
        "duration-ms": Math.round(performance.now() - started),
        geometry: geometryMetadata(result),
      };
      const put = (Key: string, Body: Uint8Array, ContentType: string) =>
        s3.send(
          new PutObjectCommand({
            Bucket: config.outputBucket,
            Key,
            Body,
            ContentType,
            Metadata: encodeMetadata(described),
          }),
        );
      await put(keys.g4, page.g4, "application/octet-stream");
      // A page that was black and white already is its own preview: its PNG is served for it
      // (api/routes/pages.ts), and the preview's decode, resize and JPEG (measured at half
      // such a page's whole cost) are saved.
      // (Unless it was turned or cut: then it is not the page as uploaded.)
      const { borders } = result;
      const cut = borders?.action === "crop" && hasBorders(borders);
      const asUploaded = !result.skew?.rotated && !cut;
      if (result.reason !== ALREADY_BITONAL || !asUploaded) {
        await put(keys.preview, await pagePreview(pixels, job.page - 1), "image/jpeg");
      }
      await put(keys.png, result.png, "image/png");
      log.debug({ appliedMethod: result.appliedMethod }, "page done");
    } catch (caught) {
      // What the page itself is at fault for (damaged, too large, a render past its deadline)
      // is final; anything else (S3, SQS) is thrown for a retry.
      const error = caught instanceof ImageError ? new PermanentJobError(caught.code, caught.message) : caught;
      if (!(error instanceof PermanentJobError)) throw error;
      if (error.code === "object-missing") {
        log.info("document is gone (deleted?); page not stored");
        return { status: "failed", assembled: false };
      }
      const failure: PageFailure = { page: job.page, code: error.code, message: error.message };
      await s3.send(
        new PutObjectCommand({
          Bucket: config.outputBucket,
          Key: keys.failure,
          Body: JSON.stringify(failure),
          ContentType: "application/json",
        }),
      );
      log.warn({ code: error.code, reason: error.message }, "page failed");
      status = "failed";
    }
    // A DELETE that ran meanwhile removed the original first, then the pages: what this job
    // stored after it would outlive the document (see process-job.ts, the same race).
    if (!(await objectExists(s3, job.bucket, job.key))) {
      await Promise.all(
        [keys.g4, keys.preview, keys.png, keys.failure].map((Key) =>
          s3.send(new DeleteObjectCommand({ Bucket: config.outputBucket, Key })),
        ),
      );
      log.info("document deleted while its page was processed; the page was removed");
      return { status: "failed", assembled: false };
    }
  }
  const { done, failed } = await settledPages(s3, config.outputBucket, job.id, runOf(job));
  if (done.size + failed.size < job.pages) return { status, assembled: false };
  const assembled = await assemble(job, deps, receiveCount);
  return { status, assembled };
}

/** Writes the document (or its failure record) and publishes its completion; false when it is gone. */
async function assemble(job: PageMessage, deps: JobDeps, receiveCount: number): Promise<boolean> {
  const { config, s3, sqs, queueUrls, logger } = deps;
  const log = logger.child({ id: job.id, rendition: job.rendition });
  const output = documentOutput(job.id, job.format, job.rendition);
  const failureKey = resultKeys(job.id, job.rendition).failure;
  const input = { bucket: job.bucket, key: job.key };
  const started = performance.now();

  // A redelivered job republishes under a dedup id of its own, so that a completion lost with
  // its worker still arrives; a first receive repeats the original's, which SQS then drops.
  const republish = { republishedOnReceive: receiveCount > 1 ? receiveCount : undefined };
  const stored = await storedDocumentCompletion(job, deps);
  if (stored) {
    await sendCompletionMessage(sqs, queueUrls.output, stored, republish);
    log.info({ status: stored.status }, "document already assembled; completion republished");
    return true;
  }

  const original = await headObject(s3, job.bucket, job.key);
  if (!original) {
    log.info("document is gone (deleted?); nothing assembled");
    return false;
  }
  const { done, failed } = await settledPages(s3, config.outputBucket, job.id, runOf(job));
  const processingId = randomUUID();
  let completion: CompletionMessage;
  if (failed.size > 0) {
    const first = Math.min(...failed);
    const failure = await readPageFailure(s3, config.outputBucket, job.id, first, runOf(job));
    completion = {
      version: 3,
      id: job.id,
      status: "failed",
      input,
      ...(job.rendition ? { rendition: job.rendition } : {}),
      page: first,
      error: {
        code: failure?.code ?? "page-failed",
        message: `Page ${first} of ${job.pages} failed${failed.size > 1 ? ` (and ${failed.size - 1} more)` : ""}: ${failure?.message ?? "no reason was recorded"}. The other pages stay readable.`,
      },
      completedAt: new Date().toISOString(),
      processingId,
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: config.outputBucket,
        Key: failureKey,
        Body: JSON.stringify(completion),
        ContentType: "application/json",
      }),
    );
  } else {
    if (done.size < job.pages) throw new Error(`only ${done.size} of ${job.pages} pages are stored; assembling later`);
    const { body, pagesDeskewed, pagesFramed } = await assembleOutput(job, deps, original.metadata.filename ?? "");
    const completedAt = new Date().toISOString();
    const durationMs = Math.round(performance.now() - started);
    const inputBytes = Number(original.metadata.bytes) || 0;
    const written = await conditionalPut(s3, {
      IfNoneMatch: "*",
      Bucket: config.outputBucket,
      Key: output.key,
      Body: body,
      ContentType: output.contentType,
      Metadata: encodeMetadata({
        filename: original.metadata.filename ?? "",
        pages: job.pages,
        format: job.format,
        method: job.method,
        bytes: body.length,
        "input-bytes": inputBytes,
        "uploaded-at": original.metadata["uploaded-at"],
        "completed-at": completedAt,
        "duration-ms": durationMs,
        "processing-id": processingId,
        "pages-deskewed": pagesDeskewed,
        "pages-framed": pagesFramed,
      }),
    });
    if (!written) {
      // Another assembly of this document won the write: repeat what it stored.
      const theirs = await storedDocumentCompletion(job, deps);
      if (!theirs) throw new Error("the document's output was written and is gone again");
      await sendCompletionMessage(sqs, queueUrls.output, theirs, republish);
      return true;
    }
    completion = {
      version: 3,
      id: job.id,
      status: "done",
      input,
      output: { bucket: config.outputBucket, key: output.key },
      pages: job.pages,
      format: job.format,
      method: job.method,
      ...(job.rendition ? { rendition: job.rendition } : {}),
      bytes: body.length,
      inputBytes,
      durationMs,
      completedAt,
      processingId,
      pagesDeskewed,
      pagesFramed,
    };
  }
  if (!(await objectExists(s3, job.bucket, job.key))) {
    const key = completion.status === "done" ? output.key : failureKey;
    await s3.send(new DeleteObjectCommand({ Bucket: config.outputBucket, Key: key }));
    log.info("document deleted while it was assembled; its output was removed");
    return false;
  }
  await sendCompletionMessage(sqs, queueUrls.output, completion);
  log.info({ status: completion.status, pages: job.pages, format: job.format }, "document assembled");
  return true;
}

/**
 * The pages' G4 streams (or, for a one-page PNG, its PNG) as the document's bytes, and how many
 * of its pages were turned level or had a frame.
 */
async function assembleOutput(
  job: PageMessage,
  { s3, config }: JobDeps,
  filename: string,
): Promise<{ body: Uint8Array; pagesDeskewed: number; pagesFramed: number }> {
  let pagesDeskewed = 0;
  let pagesFramed = 0;
  const count = (metadata: Record<string, string>) => {
    const { skew, borders } = readGeometry(metadata);
    if (skew?.rotated) pagesDeskewed++;
    if (borders && hasBorders(borders)) pagesFramed++;
  };
  if (job.format === "png") {
    // The API allows a PNG only for one page: the page's own PNG is the document.
    const { bytes, metadata } = await readObject(s3, config.outputBucket, pageKeys(job.id, 1, runOf(job)).png);
    count(metadata);
    return { body: bytes, pagesDeskewed, pagesFramed };
  }
  const pages: G4Page[] = new Array(job.pages);
  // A few at a time: a 500-page document is 500 small GETs.
  const next = { page: 1 };
  const worker = async () => {
    while (next.page <= job.pages) {
      const page = next.page++;
      const { bytes, metadata } = await readObject(s3, config.outputBucket, pageKeys(job.id, page, runOf(job)).g4);
      count(metadata);
      const dpi = Number(metadata.dpi);
      pages[page - 1] = {
        g4: bytes,
        width: Number(metadata.width),
        height: Number(metadata.height),
        ...(dpi > 0 ? { dpi } : {}),
      };
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, job.pages) }, worker));
  const body = job.format === "tiff" ? encodeG4Tiff(pages) : encodeG4Pdf(pages, filename);
  return { body, pagesDeskewed, pagesFramed };
}

async function readObject(s3: S3Client, bucket: string, key: string) {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!object.Body) throw new Error(`s3://${bucket}/${key} has no body`);
  return { bytes: await object.Body.transformToByteArray(), metadata: decodeMetadata(object.Metadata) };
}

/**
 * What a stored output or failure record says, as the completion it was published as. A
 * rendition's failure record from before this request (it was asked again after failing) is
 * not this run's.
 */
async function storedDocumentCompletion(
  job: PageMessage,
  { s3, config }: JobDeps,
): Promise<CompletionMessage | undefined> {
  const output = documentOutput(job.id, job.format, job.rendition);
  const stored = await headObject(s3, config.outputBucket, output.key);
  if (!stored) {
    const failure = await readFailureRecord(s3, config.outputBucket, job.id, job.rendition);
    const earlier = failure && job.requestedAt && Date.parse(failure.completedAt) < Date.parse(job.requestedAt);
    return earlier ? undefined : failure;
  }
  const m = stored.metadata;
  return {
    version: 3,
    id: job.id,
    status: "done",
    input: { bucket: job.bucket, key: job.key },
    output: { bucket: config.outputBucket, key: output.key },
    pages: Number(m.pages),
    format: job.format,
    method: job.method,
    ...(job.rendition ? { rendition: job.rendition } : {}),
    bytes: Number(m.bytes),
    inputBytes: Number(m["input-bytes"]),
    durationMs: Number(m["duration-ms"]),
    completedAt: m["completed-at"],
    processingId: m["processing-id"],
    ...(m["pages-deskewed"] ? { pagesDeskewed: Number(m["pages-deskewed"]) } : {}),
    ...(m["pages-framed"] ? { pagesFramed: Number(m["pages-framed"]) } : {}),
  };
}
