// The G4 PDF writer, read back by pdf.js (Mozilla's reader, whose CCITT decoder shares no code
// with ours), and its cross-reference table checked byte by byte.
import { getDocument, OPS, type PDFPageProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import { describe, expect, it } from "vitest";
import { g4Page } from "../../imaging/encode/ccitt-g4.ts";
import { DEFAULT_PDF_DPI, encodeG4Pdf } from "../../imaging/encode/g4-pdf.ts";
import { packRows } from "../../imaging/kernels/packed-rows.ts";

const WASM = new URL("../../node_modules/pdfjs-dist/wasm/", import.meta.url).pathname;

function page(width: number, height: number, isWhite: (x: number, y: number) => boolean, dpi?: number) {
  const white = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) white[y * width + x] = isWhite(x, y) ? 1 : 0;
  return { ...g4Page(packRows(white, width, height), width, height, dpi), white };
}

async function open(pdf: Buffer) {
  // No code from the file evaluated: a reader of our output never needs it.
  return getDocument({ data: new Uint8Array(pdf), isEvalSupported: false, wasmUrl: WASM } as Parameters<
    typeof getDocument
  >[0]).promise;
}

/** The one image a page paints, as pdf.js decodes it: 1 bit a pixel, rows padded to a byte, 1 = white. */
async function paintedImage(pdfPage: PDFPageProxy) {
  const operators = await pdfPage.getOperatorList();
  const painted = operators.fnArray.flatMap((fn, i) =>
    fn === OPS.paintImageXObject ? [operators.argsArray[i][0]] : [],
  );
  expect(painted).toHaveLength(1);
  return new Promise<{ width: number; height: number; kind: number; data: Uint8Array }>((resolve) =>
    pdfPage.objs.get(painted[0], resolve),
  );
}

describe("the G4 PDF writer", () => {
  it("writes one CCITT image a page that pdf.js decodes pixel for pixel, at the page's size and resolution", async () => {
    let seed = 5;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed < 0x40000000;
    };
    const pages = [
      page(37, 23, () => noise(), 300),
      page(640, 200, (x, y) => (x - 320) ** 2 + (y - 100) ** 2 > 4000, 200),
      page(9, 3, (x) => x !== 0), // no resolution given
    ];
    const pdf = encodeG4Pdf(pages, "Vertrag – März.pdf");
    const document = await open(pdf);
    expect(document.numPages).toBe(3);
    expect((await document.getMetadata()).info).toMatchObject({ Title: "Vertrag – März.pdf", Producer: "bitonal" });
    for (const [n, expected] of pages.entries()) {
      const pdfPage = await document.getPage(n + 1);
      const dpi = expected.dpi ?? DEFAULT_PDF_DPI;
      expect(pdfPage.view[2]).toBeCloseTo((expected.width * 72) / dpi, 2);
      expect(pdfPage.view[3]).toBeCloseTo((expected.height * 72) / dpi, 2);
      const image = await paintedImage(pdfPage);
      expect([image.width, image.height, image.kind]).toEqual([expected.width, expected.height, 1]);
      const rowBytes = Math.ceil(expected.width / 8);
      let wrong = 0;
      for (let y = 0; y < expected.height; y++) {
        for (let x = 0; x < expected.width; x++) {
          const white = ((image.data[y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1) === 1;
          if (white !== (expected.white[y * expected.width + x] === 1)) wrong++;
        }
      }
      expect(wrong, `page ${n + 1}`).toBe(0);
    }
  });

  it("has a cross-reference table whose every offset starts its object, and nothing active", () => {
    const pdf = encodeG4Pdf([page(20, 10, (x) => x > 5), page(30, 5, () => true)], "a (b) \\ c");
    const text = pdf.toString("latin1");
    const startxref = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)?.[1]);
    expect(text.startsWith("xref\n", startxref)).toBe(true);
    const [, first, count] = /^xref\n(\d+) (\d+)\n/.exec(text.slice(startxref)) ?? [];
    expect(Number(first)).toBe(0);
    const entries = text
      .slice(startxref)
      .split("\n")
      .slice(3, 2 + Number(count));
    for (const [n, entry] of entries.entries()) {
      expect(entry).toMatch(/^\d{10} 00000 n $/);
      expect(text.startsWith(`${n + 1} 0 obj\n`, Number(entry.slice(0, 10)))).toBe(true);
    }
    for (const active of ["/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/EmbeddedFile"]) {
      expect(text.includes(active), active).toBe(false);
    }
  });
});
