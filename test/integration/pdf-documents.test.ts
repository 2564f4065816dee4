// A scanned PDF through the whole pipeline: each page rendered by PDFium at its scan's own
// resolution, binarized, and assembled into a PDF of G4 pages at the input's page sizes.
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { createPdfRenderer } from "../../imaging/decode/pdf-renderer.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import { deflateBomb, handMadePdf, pdfPages, scannedPdf } from "../support/documents.ts";
import { greyPixels } from "../support/images.ts";
import { usePipeline } from "../support/pipeline.ts";
import { waitForCompletions } from "../support/queues.ts";

// PDFium's memory capped low, so that a bomb that would pass a production cap is cheap to make.
const PDF_HEAP_BYTES = 96 * 1024 * 1024;
// The API's spool of its own, to see that no document is left in it.
const spoolDir = mkdtempSync(join(tmpdir(), "bitonal-spool-test-"));
const pipeline = usePipeline({
  settings: { MAX_PAGES: "20", UPLOAD_SPOOL_DIR: spoolDir },
  workerDeps: () => ({ pdf: createPdfRenderer({ maxHeapBytes: PDF_HEAP_BYTES, timeoutMs: 20_000 }) }),
});

function upload(bytes: Uint8Array<ArrayBuffer>, filename: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.set("image", new File([bytes], filename, { type: "application/pdf" }));
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return pipeline.app.request("/api/images", { method: "POST", body: form });
}

async function scan(width: number, height: number, type: "jpeg" | "png") {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Lines of "text" on paper that darkens to the right.
      const ink = y % 30 < 6 && x % 50 < 40;
      raw.fill(ink ? 40 : 230 - (x * 60) / width, 3 * (y * width + x), 3 * (y * width + x) + 3);
    }
  }
  const image = sharp(raw, { raw: { width, height, channels: 3 } });
  return new Uint8Array(await (type === "jpeg" ? image.jpeg({ quality: 90 }) : image.png()).toBuffer());
}

describe("a scanned PDF", () => {
  it("becomes a PDF of G4 pages at the scan's own resolution and the input's page sizes", async () => {
    const pages = [
      { image: await scan(600, 400, "jpeg"), type: "jpeg" as const, width: 600, height: 400, dpi: 300 },
      { image: await scan(300, 420, "png"), type: "png" as const, width: 300, height: 420, dpi: 150 },
    ];
    const pdf = await scannedPdf(pages);
    const response = await upload(pdf, "scan.pdf");
    expect(response.status).toBe(202);
    expect(readdirSync(spoolDir)).toEqual([]);
    const { id } = await response.json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ version: 3, status: "done", pages: 2, format: "pdf" });

    const processed = await pipeline.app.request(`/api/images/${id}/processed`);
    expect(processed.headers.get("content-type")).toBe("application/pdf");
    const read = await pdfPages(new Uint8Array(await processed.arrayBuffer()));
    expect(read.info.Title).toBe("scan.pdf");
    for (const [n, page] of read.pages.entries()) {
      // Each page's pixels are its scan's (not resampled to 300 dpi), and it prints at its size.
      expect([page.width, page.height], `page ${n + 1}`).toEqual([pages[n].width, pages[n].height]);
      expect(page.view[2]).toBeCloseTo((pages[n].width * 72) / pages[n].dpi, 1);
      expect(page.view[3]).toBeCloseTo((pages[n].height * 72) / pages[n].dpi, 1);
      const png = await pipeline.app.request(`/api/images/${id}/pages/${n + 1}/processed`);
      const viewed = await greyPixels(new Uint8Array(await png.arrayBuffer()));
      expect(Buffer.from(page.grey).equals(Buffer.from(viewed.values)), `page ${n + 1}`).toBe(true);
      // The lines of text are black, the darkening paper white.
      expect(viewed.values[3 * viewed.width + 5]).toBe(0);
      expect(viewed.values[15 * viewed.width + viewed.width - 5]).toBe(255);
    }
  });
});

describe("a hostile PDF", () => {
  it("a deflate bomb in a content stream fails its page, bounded in time and memory, and names the page", async () => {
    const pdf = handMadePdf({ content: await deflateBomb(256 * 1024 * 1024), deflate: true });
    const started = performance.now();
    const { id } = await (await upload(pdf, "bomb.pdf")).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "failed", page: 1, error: { code: "undecodable" } });
    if (completion?.status !== "failed") throw new Error("expected failed");
    expect(completion.error.message).toMatch(
      /^Page 1 of 1 failed: The PDF could not be rendered \(it needs more memory/,
    );
    expect(performance.now() - started).toBeLessThan(20_000);
  });

  it("a PDF with JavaScript is processed and its script never runs nor reaches the output", async () => {
    const marker = "bitonal-script-ran";
    const pdf = handMadePdf({
      content: new TextEncoder().encode("0 0 0 rg 20 20 160 40 re f"),
      catalog: `/OpenAction << /S /JavaScript /JS (app.alert("${marker}")) >> /AA << /WC << /S /JavaScript /JS (1) >> >>`,
    });
    const { id } = await (await upload(pdf, "script.pdf")).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done", pages: 1 });
    const output = Buffer.from(await (await pipeline.app.request(`/api/images/${id}/processed`)).arrayBuffer());
    for (const active of ["/JavaScript", "/JS", "/OpenAction", "/AA", marker]) {
      expect(output.includes(active), active).toBe(false);
    }
    // Rendered at 300 dpi (not a scan): the black bar is there.
    const { pages } = await pdfPages(new Uint8Array(output));
    expect([pages[0].width, pages[0].height]).toEqual([833, 833]);
    expect(pages[0].grey[(833 - 100) * 833 + 400]).toBe(0);
  });

  it("a page that is not a scan is rendered at the dpi asked for, and prints at its own size", async () => {
    const pdf = handMadePdf({ content: new TextEncoder().encode("0 0 0 rg 20 20 160 40 re f") });
    const { id } = await (await upload(pdf, "vector.pdf", { dpi: "150" })).json();
    await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id]);
    const output = await (await pipeline.app.request(`/api/images/${id}/processed`)).arrayBuffer();
    const { pages } = await pdfPages(new Uint8Array(output));
    // 200 pt at 150 dpi.
    expect([pages[0].width, pages[0].height]).toEqual([417, 417]);
    expect(pages[0].view[2]).toBeCloseTo(200, 0);
  });

  it("a PDF whose cross-reference points nowhere is recovered, as readers do, and processed", async () => {
    const whole = Buffer.from(handMadePdf({ content: new TextEncoder().encode("0 0 0 rg 20 20 50 50 re f") }));
    const broken = Buffer.from(whole.toString("latin1").replace(/startxref\n\d+/, "startxref\n999999"), "latin1");
    const { id } = await (await upload(new Uint8Array(broken), "broken-xref.pdf")).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done", pages: 1 });
  });
});

describe("a PDF refused at upload, with nothing stored", () => {
  it.each([
    ["encrypted with a password", async () => scannedPdf([await onePage()], { encrypt: "secret" }), /encrypted/],
    [
      "not a PDF after its header",
      async () => new Uint8Array(Buffer.from("%PDF-1.7\n% nothing else\n")),
      /not a PDF that can be read/,
    ],
    [
      "a page declared 35,000 px square at 300 dpi",
      async () => scannedPdf([{ ...(await onePage()), dpi: 1 }]),
      /pixels at 300 dpi/,
    ],
    [
      "10,000 pages",
      async () => handMadePdf({ content: new TextEncoder().encode(""), pages: 10_000 }),
      /10000 pages; at most 20/,
    ],
    ["cut short", async () => (await scannedPdf([await onePage()])).slice(0, 400), /not a PDF that can be read/],
    [
      "more pages than MAX_PAGES",
      async () => {
        const page = await onePage();
        return scannedPdf(Array.from({ length: 21 }, () => page));
      },
      /21 pages; at most 20/,
    ],
  ])("%s", async (_, make, detail) => {
    const before = await listKeys(pipeline.env.s3, pipeline.env.config.inputBucket);
    const response = await upload(await make(), "hostile.pdf");
    expect(response.status).toBe(422);
    expect((await response.json()).detail).toMatch(detail);
    expect(await listKeys(pipeline.env.s3, pipeline.env.config.inputBucket)).toEqual(before);
    expect(await messageCount(pipeline.env.sqs, pipeline.env.queueUrls.input)).toBe(0);
    expect(readdirSync(spoolDir)).toEqual([]);
  });
});

async function onePage() {
  return { image: await scan(120, 120, "png"), type: "png" as const, width: 120, height: 120, dpi: 300 };
}
