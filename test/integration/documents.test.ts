// A multi-page TIFF through the whole pipeline: split into page jobs, each page binarized,
// assembled into a G4 TIFF or a PDF that decoders other than ours read back pixel for pixel.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { createPdfRenderer } from "../../imaging/decode/pdf-renderer.ts";
import { inputKey } from "../../infra/image-objects.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import { processJob } from "../../worker/process-job.ts";
import { multiPageTiff, pdfPages, utifPages } from "../support/documents.ts";
import { greyPixels, makePng } from "../support/images.ts";
import { startPipeline, usePipeline } from "../support/pipeline.ts";
import { collectCompletions, waitForCompletions } from "../support/queues.ts";

const pipeline = usePipeline({ settings: { MAX_PAGES: "12" } });

function form(bytes: Uint8Array<ArrayBuffer>, filename: string, fields: Record<string, string> = {}) {
  const body = new FormData();
  body.set("image", new File([bytes], filename, { type: "image/tiff" }));
  for (const [name, value] of Object.entries(fields)) body.set(name, value);
  return body;
}

function upload(bytes: Uint8Array<ArrayBuffer>, filename: string, fields: Record<string, string> = {}) {
  return pipeline.app.request("/api/images", { method: "POST", body: form(bytes, filename, fields) });
}

const PAGE = { width: 320, height: 200 };
// Three pages a person tells apart: text-like bars, a ring, a gradient with a dark block.
const PAGES = [
  (x: number, y: number) => (y % 40 < 8 && x % 60 < 50 ? 30 : 235),
  (x: number, y: number) => (Math.abs(Math.hypot(x - 160, y - 100) - 60) < 6 ? 20 : 240),
  (x: number, y: number) => (x > 100 && x < 140 && y > 50 && y < 150 ? 10 : 120 + (x >> 2)),
];

async function pagePngs(id: string, count: number) {
  const pngs = [];
  for (let n = 1; n <= count; n++) {
    const response = await pipeline.app.request(`/api/images/${id}/pages/${n}/processed`);
    expect(response.status, `page ${n}`).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    pngs.push(await greyPixels(new Uint8Array(await response.arrayBuffer())));
  }
  return pngs;
}

describe("a multi-page TIFF", () => {
  it("is taken when its directories lie after its pixels, as libtiff writes them, far past any first bytes", async () => {
    // Noise deflates badly: hundreds of kilobytes of strips before the first directory.
    const noise = (x: number, y: number) => ((x * 7919 + y * 104_729) ^ (x * y)) & 0xff;
    const tiff = await multiPageTiff([noise, noise], { width: 1000, height: 800 });
    const firstDirectory = Buffer.from(tiff).readUInt32LE(4);
    expect(firstDirectory).toBeGreaterThan(100_000);
    const response = await upload(tiff, "scanner.tif");
    expect(response.status).toBe(202);
    const { id } = await response.json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done", pages: 2, format: "tiff" });
  });

  it("becomes a G4 TIFF of the same pages, each read back by UTIF.js exactly as its PNG", async () => {
    const tiff = await multiPageTiff(PAGES, PAGE);
    const response = await upload(tiff, "Vertrag März.tif");
    expect(response.status).toBe(202);
    const { id } = await response.json();

    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ version: 3, id, status: "done", pages: 3, format: "tiff", method: "auto" });

    const status = await (await pipeline.app.request(`/api/images/${id}`)).json();
    expect(status).toMatchObject({
      status: "done",
      filename: "Vertrag März.tif",
      document: { pages: 3, format: "tiff", progress: { done: 3, failed: 0, total: 3 }, inputBytes: tiff.length },
      links: { pages: `/api/images/${id}/pages` },
    });
    expect(status.document.largerThanInput).toBe(status.document.bytes > tiff.length);

    const list = await (await pipeline.app.request(`/api/images/${id}/pages`)).json();
    expect(list.items.map((p: { page: number; status: string }) => [p.page, p.status])).toEqual([
      [1, "done"],
      [2, "done"],
      [3, "done"],
    ]);

    const processed = await pipeline.app.request(`/api/images/${id}/processed`);
    expect(processed.status).toBe(200);
    expect(processed.headers.get("content-type")).toBe("image/tiff");
    expect(processed.headers.get("content-disposition")).toBe(
      `inline; filename="Vertrag M?rz.bitonal.tif"; filename*=UTF-8''Vertrag%20M%C3%A4rz.bitonal.tif`,
    );
    const read = utifPages(new Uint8Array(await processed.arrayBuffer()));
    const pngs = await pagePngs(id, 3);
    expect(read).toHaveLength(3);
    for (const [n, page] of read.entries()) {
      expect([page.width, page.height], `page ${n + 1}`).toEqual([PAGE.width, PAGE.height]);
      // G4, one strip a page, the scan's 300 dpi kept.
      expect([page.tags.t259, page.tags.t278], `page ${n + 1}`).toEqual([[4], [PAGE.height]]);
      expect(page.tags.t282[0]).toBeCloseTo(300, 0);
      expect(Buffer.from(page.grey).equals(Buffer.from(pngs[n].values)), `page ${n + 1}`).toBe(true);
    }
    // The pages differ: the assembly did not write one page three times.
    expect(Buffer.from(read[0].grey).equals(Buffer.from(read[1].grey))).toBe(false);
  });

  it("becomes a PDF when asked, each page one G4 image that pdf.js decodes exactly as its PNG, at 300 dpi", async () => {
    const tiff = await multiPageTiff(PAGES, PAGE);
    const { id } = await (await upload(tiff, "scan.tif", { format: "pdf" })).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done", pages: 3, format: "pdf" });

    const processed = await pipeline.app.request(`/api/images/${id}/processed`);
    expect(processed.headers.get("content-type")).toBe("application/pdf");
    const { pages, info } = await pdfPages(new Uint8Array(await processed.arrayBuffer()));
    expect(info.Title).toBe("scan.tif");
    const pngs = await pagePngs(id, 3);
    for (const [n, page] of pages.entries()) {
      // 320 px at 300 dpi is 76.8 pt.
      expect(page.view[2]).toBeCloseTo((PAGE.width * 72) / 300, 1);
      expect(Buffer.from(page.grey).equals(Buffer.from(pngs[n].values)), `page ${n + 1}`).toBe(true);
    }
  });

  it("an image asked for as TIFF is a one-page document", async () => {
    const png = await makePng(90, 60, (x, y) => [x === y ? 0 : 255]);
    const form = new FormData();
    form.set("image", new File([png], "line.png", { type: "image/png" }));
    form.set("format", "tiff");
    const { id } = await (await pipeline.app.request("/api/images", { method: "POST", body: form })).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done", pages: 1, format: "tiff" });
    const processed = await pipeline.app.request(`/api/images/${id}/processed`);
    const [page] = utifPages(new Uint8Array(await processed.arrayBuffer()));
    const [png1] = await pagePngs(id, 1);
    expect(Buffer.from(page.grey).equals(Buffer.from(png1.values))).toBe(true);

    // Its rendition as a PNG is an image's rendition, named for the format it is not.
    const asked = await pipeline.app.request(`/api/images/${id}/renditions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ method: "otsu", format: "png" }),
    });
    expect(await asked.json()).toMatchObject({ rendition: "otsu-png", format: null, pages: null });
    const done = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(done).toMatchObject({ version: 2, status: "done", rendition: "otsu-png" });
    const rendered = await pipeline.app.request(`/api/images/${id}/renditions/otsu-png/processed`);
    expect(rendered.headers.get("content-type")).toBe("image/png");
    expect(
      Buffer.from((await greyPixels(new Uint8Array(await rendered.arrayBuffer()))).values).equals(
        Buffer.from(png1.values),
      ),
    ).toBe(true);
  });

  it("has renditions that are documents: another method, in its own format or another, every page", async () => {
    const { id } = await (await upload(await multiPageTiff(PAGES.slice(0, 2), PAGE), "two.tif")).json();
    await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id]);
    const ask = (body: object) =>
      pipeline.app.request(`/api/images/${id}/renditions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });

    // Its own format (TIFF) by default; PDF when asked, named so.
    const tiffAsked = await ask({ method: "fixed", threshold: 100 });
    expect(tiffAsked.status).toBe(202);
    expect(await tiffAsked.json()).toMatchObject({
      rendition: "fixed-100",
      status: "queued",
      format: "tiff",
      pages: 2,
    });
    const tiffDone = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(tiffDone).toMatchObject({ version: 3, status: "done", rendition: "fixed-100", pages: 2, format: "tiff" });
    const pdfAsked = await ask({ method: "otsu", format: "pdf" });
    expect(await pdfAsked.json()).toMatchObject({ rendition: "otsu-pdf", format: "pdf", pages: 2 });
    const pdfDone = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(pdfDone).toMatchObject({ version: 3, status: "done", rendition: "otsu-pdf", format: "pdf" });
    // Asking again for what is done changes nothing.
    expect((await ask({ method: "otsu", format: "pdf" })).status).toBe(200);

    const status = await (await pipeline.app.request(`/api/images/${id}/renditions/fixed-100`)).json();
    expect(status).toMatchObject({ status: "done", method: "fixed", threshold: 100, format: "tiff", pages: 2 });
    const tiff = await pipeline.app.request(`/api/images/${id}/renditions/fixed-100/processed`);
    expect(tiff.headers.get("content-type")).toBe("image/tiff");
    expect(tiff.headers.get("content-disposition")).toBe("inline; filename=two.fixed-100.tif");
    // Each page is the fixed threshold's: luma below 100 black, the rest white.
    const expected = PAGES.slice(0, 2).map((paint) =>
      Array.from({ length: PAGE.width * PAGE.height }, (_, i) =>
        paint(i % PAGE.width, Math.floor(i / PAGE.width)) < 100 ? 0 : 255,
      ),
    );
    for (const [n, page] of utifPages(new Uint8Array(await tiff.arrayBuffer())).entries()) {
      expect(Buffer.from(page.grey).equals(Buffer.from(expected[n])), `page ${n + 1}`).toBe(true);
    }
    const pdf = await pipeline.app.request(`/api/images/${id}/renditions/otsu-pdf/processed`);
    expect(pdf.headers.get("content-type")).toBe("application/pdf");
    expect((await pdfPages(new Uint8Array(await pdf.arrayBuffer()))).pages).toHaveLength(2);
    // The upload's own result is untouched.
    expect((await pipeline.app.request(`/api/images/${id}/processed`)).headers.get("content-type")).toBe("image/tiff");

    // A PNG holds one page.
    const png = await ask({ method: "otsu", format: "png" });
    expect(png.status).toBe(422);
    expect((await png.json()).detail).toMatch(
      /A PNG holds one page and this document has 2; ask for format tiff or pdf/,
    );

    // Deleted with everything: its renditions' pages and documents too.
    expect((await pipeline.app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    for (const bucket of [pipeline.env.config.inputBucket, pipeline.env.config.outputBucket]) {
      expect((await listKeys(pipeline.env.s3, bucket)).filter((key) => key.includes(id))).toEqual([]);
    }
  });

  it("an image's rendition asked for as a PDF is a one-page document", async () => {
    const png = await makePng(90, 60, (x, y) => [x === y ? 0 : 255]);
    const form = new FormData();
    form.set("image", new File([png], "line.png", { type: "image/png" }));
    const { id } = await (await pipeline.app.request("/api/images", { method: "POST", body: form })).json();
    await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id]);
    const asked = await pipeline.app.request(`/api/images/${id}/renditions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ method: "sauvola", format: "pdf" }),
    });
    expect(await asked.json()).toMatchObject({ rendition: "sauvola-pdf", format: "pdf", pages: 1 });
    const done = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(done).toMatchObject({ version: 3, status: "done", rendition: "sauvola-pdf", pages: 1 });
    const pdf = await pipeline.app.request(`/api/images/${id}/renditions/sauvola-pdf/processed`);
    const { pages } = await pdfPages(new Uint8Array(await pdf.arrayBuffer()));
    expect([pages[0].width, pages[0].height]).toEqual([90, 60]);
  });

  it("is deleted with its pages and its output", async () => {
    const { id } = await (await upload(await multiPageTiff(PAGES.slice(0, 2), PAGE), "two.tif")).json();
    await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id]);
    const stored = await listKeys(pipeline.env.s3, pipeline.env.config.outputBucket);
    expect(stored.filter((key) => key.includes(id)).length).toBeGreaterThanOrEqual(5);
    expect((await pipeline.app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    for (const bucket of [pipeline.env.config.inputBucket, pipeline.env.config.outputBucket]) {
      expect((await listKeys(pipeline.env.s3, bucket)).filter((key) => key.includes(id))).toEqual([]);
    }
    expect((await pipeline.app.request(`/api/images/${id}/pages`)).status).toBe(404);
  });
});

describe("a document's pages settle once, and it is assembled once", () => {
  it("a page that cannot be decoded fails the document and names it; the other pages stay readable", async () => {
    const tiff = Buffer.from(await multiPageTiff(PAGES, PAGE));
    // Page 2's compressed strips overwritten: its directory is whole, its pixels are not.
    const [, second] = utifPages(tiff).map((page) => page.tags);
    for (const [n, offset] of second.t273.entries()) tiff.fill(0xff, offset, offset + second.t279[n]);
    const { id } = await (await upload(new Uint8Array(tiff), "damaged.tif")).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ version: 3, status: "failed", page: 2, error: { code: "undecodable" } });
    if (completion?.status !== "failed") throw new Error("expected failed");
    expect(completion.error.message).toMatch(/^Page 2 of 3 failed: /);

    const status = await (await pipeline.app.request(`/api/images/${id}`)).json();
    expect(status).toMatchObject({ status: "failed", document: { progress: { done: 2, failed: 1, total: 3 } } });
    const list = await (await pipeline.app.request(`/api/images/${id}/pages`)).json();
    expect(list.items.map((p: { status: string }) => p.status)).toEqual(["done", "failed", "done"]);
    expect(list.items[1].error.code).toBe("undecodable");
    expect((await pipeline.app.request(`/api/images/${id}/pages/1/processed`)).status).toBe(200);
    expect((await pipeline.app.request(`/api/images/${id}/pages/2/processed`)).status).toBe(404);
    expect((await pipeline.app.request(`/api/images/${id}/processed`)).status).toBe(404);
  });

  it("two jobs that store the last pages at once write one output, and every completion names one processing", async () => {
    // No worker: the page jobs are run here, the last one twice at once and once more as a redelivery.
    const quiet = await startPipeline({ worker: false, settings: { MAX_PAGES: "12" } });
    const { id } = await (
      await quiet.app.request("/api/images", {
        method: "POST",
        body: form(await multiPageTiff(PAGES, PAGE), "race.tif"),
      })
    ).json();
    const deps = { ...quiet.env, pdf: createPdfRenderer() };
    const job = (page: number) => ({
      version: 3 as const,
      id,
      bucket: quiet.env.config.inputBucket,
      key: inputKey(id, "tif"),
      method: "auto" as const,
      format: "tiff" as const,
      pages: 3,
      page,
    });
    await processJob(job(1), deps, { receiveCount: 1 });
    const outcomes = await Promise.all([
      processJob(job(2), deps, { receiveCount: 1 }),
      processJob(job(3), deps, { receiveCount: 1 }),
      processJob(job(3), deps, { receiveCount: 1 }),
    ]);
    expect(outcomes.some((o) => o.assembled)).toBe(true);
    const output = { Bucket: quiet.env.config.outputBucket, Key: `${id}.tif` };
    const first = await quiet.env.s3.send(new HeadObjectCommand(output));
    await processJob(job(3), deps, { receiveCount: 4 });
    const after = await quiet.env.s3.send(new HeadObjectCommand(output));
    expect(after.ETag).toBe(first.ETag);
    expect(after.LastModified).toEqual(first.LastModified);

    const completions = (
      await collectCompletions(quiet.env.sqs, quiet.env.queueUrls.output, [id], { settleMs: 1500 })
    ).get(id);
    const processings = new Set(completions?.map((c) => c.processingId));
    expect(processings).toEqual(new Set([first.Metadata?.["processing-id"]]));
    // The redelivery's republication arrives beside the first (a dedup id of its own).
    expect(completions?.length).toBeGreaterThanOrEqual(2);
    await deps.pdf.close();
  });
});

describe("a document refused at upload, with nothing stored", () => {
  const refusals: Array<[string, () => Promise<Uint8Array<ArrayBuffer>>, number, RegExp]> = [
    [
      "more pages than MAX_PAGES",
      () =>
        multiPageTiff(
          Array.from({ length: 13 }, () => () => 255),
          { width: 8, height: 8 },
        ),
      422,
      /more than 12 pages/,
    ],
    [
      "a page declared 35,000 px square",
      async () => {
        const tiff = Buffer.from(await multiPageTiff([() => 255], { width: 8, height: 8 }));
        setDimension(tiff, 256, 35_000);
        setDimension(tiff, 257, 35_000);
        return new Uint8Array(tiff);
      },
      422,
      /35000×35000 pixels/,
    ],
    ["cut short", async () => (await multiPageTiff(PAGES, PAGE)).slice(0, 3000), 422, /cut short/],
    [
      "a chain of pages that loops",
      async () => {
        const tiff = Buffer.from(await multiPageTiff([() => 255], { width: 8, height: 8 }));
        // The only directory's next-directory offset pointed back at itself.
        const first = tiff.readUInt32LE(4);
        tiff.writeUInt32LE(first, first + 2 + 12 * tiff.readUInt16LE(first));
        return new Uint8Array(tiff);
      },
      422,
      /loops/,
    ],
  ];
  it.each(refusals)("%s", async (_, make, status, detail) => {
    const before = await listKeys(pipeline.env.s3, pipeline.env.config.inputBucket);
    const response = await upload(await make(), "hostile.tif");
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect((await response.json()).detail).toMatch(detail);
    expect(await listKeys(pipeline.env.s3, pipeline.env.config.inputBucket)).toEqual(before);
    expect(await messageCount(pipeline.env.sqs, pipeline.env.queueUrls.input)).toBe(0);
  });
});

/** Sets a SHORT or LONG field of a little-endian TIFF's first directory. */
function setDimension(tiff: Buffer, tag: number, value: number) {
  const first = tiff.readUInt32LE(4);
  for (let n = 0; n < tiff.readUInt16LE(first); n++) {
    const at = first + 2 + 12 * n;
    if (tiff.readUInt16LE(at) !== tag) continue;
    tiff.writeUInt16LE(4, at + 2); // LONG
    tiff.writeUInt32LE(value, at + 8);
    return;
  }
  throw new Error(`no field ${tag}`);
}
