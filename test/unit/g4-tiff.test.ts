// The G4 TIFF writer, read back by two decoders it shares no code with: libtiff (through sharp)
// and UTIF.js.
import sharp from "sharp";
import UTIF from "utif";
import { describe, expect, it } from "vitest";
import { binarize } from "../../imaging/binarize.ts";
import { g4Page } from "../../imaging/encode/ccitt-g4.ts";
import { encodeG4Tiff } from "../../imaging/encode/g4-tiff.ts";
import { packRows } from "../../imaging/kernels/packed-rows.ts";
import { syntheticPage } from "../../scripts/bench/synthetic-pages.ts";
import { greyPixels } from "../support/images.ts";

function page(width: number, height: number, white: (x: number, y: number) => boolean) {
  const grey = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) grey[y * width + x] = white(x, y) ? 255 : 0;
  return { grey, width, height, packed: packRows(grey, width, height) };
}

/** Every page as UTIF.js decodes it, 0 or 255 a pixel. */
function utifPages(tiff: Buffer) {
  return UTIF.decode(tiff).map((ifd) => {
    UTIF.decodeImage(tiff, ifd);
    const rgba = UTIF.toRGBA8(ifd);
    const grey = new Uint8Array(ifd.width * ifd.height);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i] > 127 ? 255 : 0;
    return { grey, width: ifd.width, height: ifd.height };
  });
}

let seed = 17;
const random = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x7fffffff;
};

// What the coder must get right: every mode at every position, a first pixel that is black, rows
// that are one colour, widths off the byte, runs longer than the longest make-up code (2560).
const CASES = [
  ["noise", page(37, 23, () => random() < 0.5)],
  ["one pixel", page(1, 1, () => false)],
  ["white", page(64, 10, () => true)],
  ["black", page(65, 9, () => false)],
  ["black first pixel", page(9, 5, (x) => x !== 0)],
  ["stripes", page(300, 40, (x, y) => ((x >> 2) + (y >> 3)) % 2 === 1)],
  ["runs beyond 2560", page(6000, 3, (x, y) => x >= 2600 + 900 * y)],
  ["shapes", page(500, 300, (x, y) => (x - 250) ** 2 + (y - 150) ** 2 >= 10000 && x % 97 >= 3)],
  ["specks", page(1000, 200, () => random() >= 0.02)],
] as const;

describe("the G4 TIFF writer", () => {
  it("writes pages that libtiff and UTIF.js both read back pixel for pixel", async () => {
    for (const [name, p] of CASES) {
      const tiff = encodeG4Tiff([g4Page(p.packed, p.width, p.height)]);
      const fromLibtiff = await greyPixels(tiff);
      expect([fromLibtiff.width, fromLibtiff.height], name).toEqual([p.width, p.height]);
      expect(Buffer.from(fromLibtiff.values).equals(Buffer.from(p.grey)), `${name}: libtiff`).toBe(true);
      const [fromUtif] = utifPages(tiff);
      expect(Buffer.from(fromUtif.grey).equals(Buffer.from(p.grey)), `${name}: UTIF.js`).toBe(true);
    }
  });

  it("writes one G4 strip a page, several pages in order, each with its own size and resolution", async () => {
    const pages = [CASES[0][1], CASES[5][1], CASES[7][1]];
    const dpis = [300, 200, 72.5];
    const tiff = encodeG4Tiff(pages.map((p, n) => g4Page(p.packed, p.width, p.height, dpis[n])));
    const metadata = await sharp(tiff).metadata();
    expect(metadata.pages).toBe(3);
    const read = utifPages(tiff);
    const ifds = UTIF.decode(tiff);
    for (const [n, p] of pages.entries()) {
      const fromLibtiff = await greyPixels(await sharp(tiff, { page: n }).png().toBuffer());
      expect(Buffer.from(fromLibtiff.values).equals(Buffer.from(p.grey)), `page ${n}: libtiff`).toBe(true);
      expect(Buffer.from(read[n].grey).equals(Buffer.from(p.grey)), `page ${n}: UTIF.js`).toBe(true);
      // Compression 4 (G4), WhiteIsZero, one strip of every row, pixels per inch, page n of 3.
      const tags = ifds[n] as unknown as Record<string, number[]>;
      expect([tags.t259, tags.t262, tags.t278, tags.t273.length]).toEqual([[4], [0], [p.height], 1]);
      expect(tags.t282[0]).toBeCloseTo(dpis[n], 2);
      expect(tags.t296).toEqual([2]);
      expect(tags.t297).toEqual([n, 3]);
    }
  });

  it("is smaller than the 1-bit PNG of a binarized document page", async () => {
    for (const kind of ["office-scan", "stains"] as const) {
      const upload = await syntheticPage(kind, 1);
      const result = await binarize(upload.bytes, { method: "document", maxInputPixels: 50_000_000 });
      const { values, width, height } = await greyPixels(result.png);
      const tiff = encodeG4Tiff([g4Page(packRows(values, width, height), width, height, 300)]);
      expect(tiff.length / result.png.length, kind).toBeLessThan(0.7);
      expect(Buffer.from((await greyPixels(tiff)).values).equals(Buffer.from(values))).toBe(true);
    }
  });
});
