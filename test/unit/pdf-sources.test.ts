// PDFium reads a PDF from its own copy of the bytes, from shared memory (the worker's kept
// documents) or from a file (the API's spooled upload): the same pages, the same pixels.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { init } from "@embedpdf/pdfium";
import { afterAll, describe, expect, it } from "vitest";
import { openPdf, renderPdfPage } from "../../imaging/decode/pdf-pages.ts";
import { createPdfRenderer } from "../../imaging/decode/pdf-renderer.ts";
import { ccittImage, handMadePdf, imagePdf } from "../support/documents.ts";

const renderer = createPdfRenderer({ threads: 1 });
afterAll(() => renderer.close());

describe("a PDF's source", () => {
  it("gives the same page sizes and pixels from a copy, shared memory and a file", async () => {
    const width = 200;
    const height = 120;
    const grey = new Uint8Array(width * height).map((_, i) =>
      ((i % width) + Math.floor(i / width)) % 17 < 5 ? 0 : 255,
    );
    const image = await ccittImage(grey, width, height);
    const pdf = imagePdf([{ size: [144, 86.4], image }, { size: [300, 200] }]);
    const shared = new Uint8Array(new SharedArrayBuffer(pdf.length));
    shared.set(pdf);
    const path = join(mkdtempSync(join(tmpdir(), "pdf-source-")), "two.pdf");
    writeFileSync(path, pdf);

    const sizes = await renderer.pageSizes(pdf, { maxPages: 10 });
    expect(sizes).toHaveLength(2);
    expect(await renderer.pageSizes(shared, { maxPages: 10 })).toEqual(sizes);
    expect(await renderer.pageSizes({ path }, { maxPages: 10 })).toEqual(sizes);

    const options = { dpi: 300, maxInputPixels: 10_000_000 };
    const copied = await renderer.renderPage(pdf, 0, { ...options, document: "copied" });
    const read = await renderer.renderPage(shared, 0, { ...options, document: "shared" });
    expect([read.width, read.height]).toEqual([width, height]);
    expect(Buffer.from(read.rgb).equals(Buffer.from(copied.rgb))).toBe(true);
    // The shared bytes are read where they lie: a damaged copy of them is not a readable PDF.
    shared.fill(0, 0, 16);
    await expect(renderer.pageSizes(shared, { maxPages: 10 })).rejects.toThrow(/not a PDF that can be read/);
  });
});

describe("a page rendered in bands", () => {
  it("has a scan's pixels exactly, and a drawing's within one level where edges are antialiased", async () => {
    const wasmBinary = readFileSync(new URL(import.meta.resolve("@embedpdf/pdfium/pdfium.wasm")));
    const pdfium = await init({ wasmBinary } as unknown as Parameters<typeof init>[0]);
    pdfium.FPDF_InitLibraryWithConfig(0);
    const render = (bytes: Uint8Array, options: { dpi: number; bandRows?: number }) => {
      const pdf = openPdf(pdfium, bytes);
      try {
        const whole = renderPdfPage(pdfium, pdf.doc, 0, { dpi: options.dpi, maxInputPixels: 1e7, bandBytes: 1e9 });
        // Bands of 7 rows: every band's edge crosses the page's content.
        const bandBytes = whole.width * 3 * 7;
        const bands = renderPdfPage(pdfium, pdf.doc, 0, { dpi: options.dpi, maxInputPixels: 1e7, bandBytes });
        expect([bands.width, bands.height]).toEqual([whole.width, whole.height]);
        expect(whole.rgb.some((v) => v < 128)).toBe(true);
        return { whole: whole.rgb, bands: bands.rgb };
      } finally {
        pdf.close();
      }
    };

    const scan = render(await scanPdf(), { dpi: 300 });
    expect(Buffer.from(scan.bands).equals(Buffer.from(scan.whole))).toBe(true);

    // Diagonal strokes and a circle, drawn: AGG's coverage at an edge may round the other way.
    const drawing = handMadePdf({
      content: new TextEncoder().encode("0 0 0 RG 3 w 10 10 m 190 190 l S 10 190 m 190 10 l S 100 100 m 160 100 l S"),
    });
    const drawn = render(drawing, { dpi: 150 });
    let differing = 0;
    for (let i = 0; i < drawn.whole.length; i++) {
      const by = Math.abs(drawn.whole[i] - drawn.bands[i]);
      expect(by).toBeLessThanOrEqual(1);
      if (by) differing++;
    }
    expect(differing / drawn.whole.length).toBeLessThan(0.01);
  });
});

/** A scan: one CCITT image of diagonal bands covering a 144 × 57.6 pt page at 300 dpi (one strip of libtiff's). */
async function scanPdf(): Promise<Uint8Array> {
  const width = 600;
  const height = 240;
  const grey = new Uint8Array(width * height).map((_, i) => (((i % width) + Math.floor(i / width)) % 23 < 7 ? 0 : 255));
  const image = await ccittImage(grey, width, height);
  return imagePdf([{ size: [(width * 72) / 300, (height * 72) / 300], image }]);
}
