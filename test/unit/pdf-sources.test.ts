// PDFium reads a PDF from its own copy of the bytes, from shared memory (the worker's kept
// documents) or from a file (the API's spooled upload): the same pages, the same pixels.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPdfRenderer } from "../../imaging/decode/pdf-renderer.ts";
import { g4Data, imagePdf } from "../support/documents.ts";

const renderer = createPdfRenderer({ threads: 1 });
afterAll(() => renderer.close());

describe("a PDF's source", () => {
  it("gives the same page sizes and pixels from a copy, shared memory and a file", async () => {
    const width = 200;
    const height = 120;
    const grey = new Uint8Array(width * height).map((_, i) =>
      ((i % width) + Math.floor(i / width)) % 17 < 5 ? 0 : 255,
    );
    const image = {
      filter: "CCITTFaxDecode" as const,
      data: await g4Data(grey, width, height),
      width,
      height,
      colorSpace: "DeviceGray" as const,
      bitsPerComponent: 1,
      decodeParms: `<< /K -1 /Columns ${width} /Rows ${height} >>`,
    };
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
