// Every PNG flavour, JPEG and WebP decode to the right luma; OpenCV parity; EXIF; Sauvola.
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { binarize } from "../../imaging/binarize.ts";
import { greyPixels, makePng } from "../support/images.ts";
import { writePng } from "../support/png-writer.ts";

const limits = { maxInputPixels: 50_000_000 };
const fixed127 = { method: "fixed" as const, threshold: 127, ...limits };

async function bitonalValues(input: Uint8Array, options = fixed127) {
  return [...(await greyPixels((await binarize(input, options)).png)).values];
}

describe("OpenCV parity", () => {
  it("fixed 127 gives OpenCV's cvtColor(BGR2GRAY) + threshold(127) pixel for pixel", async () => {
    // Made by test/fixtures/make-opencv-fixtures.py; two thirds of its pixels have luma
    // within a step or two of 127, where float weights would already differ from OpenCV.
    const input = await readFile(new URL("../fixtures/opencv-input.png", import.meta.url));
    const expected = await greyPixels(await readFile(new URL("../fixtures/opencv-fixed-127.png", import.meta.url)));
    const actual = await greyPixels((await binarize(input, fixed127)).png);
    expect([actual.width, actual.height]).toEqual([expected.width, expected.height]);
    const mismatches = actual.values.filter((v, i) => v !== expected.values[i]).length;
    expect(mismatches).toBe(0);
  });
});

describe("PNG flavours", () => {
  // A ramp across the threshold: the left half dark, the right half light, in each encoding.
  const darkLight = [0, 0, 1, 1];

  it.each([1, 2, 4] as const)("reads %i-bit greyscale at full scale", async (bitDepth) => {
    const max = 2 ** bitDepth - 1;
    const png = writePng({ width: 4, height: 1, bitDepth, colourType: 0, sample: (x) => [darkLight[x] * max] });
    expect(await bitonalValues(png)).toEqual([0, 0, 255, 255]);
  });

  it("scales 16-bit samples to 8 bits as OpenCV does (the high byte)", async () => {
    // High bytes 127 and 128: black and white at 127, whatever the low byte says.
    const values = [0x7fff, 0x7f00, 0x8000, 0x80ff];
    const grey = writePng({ width: 4, height: 1, bitDepth: 16, colourType: 0, sample: (x) => [values[x]] });
    const rgb = writePng({ width: 4, height: 1, bitDepth: 16, colourType: 2, sample: (x) => Array(3).fill(values[x]) });
    expect(await bitonalValues(grey)).toEqual([0, 0, 255, 255]);
    expect(await bitonalValues(rgb)).toEqual([0, 0, 255, 255]);
  });

  it("reads a palette image through its palette", async () => {
    const palette = [
      [250, 250, 250],
      [10, 10, 10],
    ];
    const png = writePng({ width: 4, height: 1, bitDepth: 1, colourType: 3, palette, sample: (x) => [x % 2] });
    expect(await bitonalValues(png)).toEqual([255, 0, 255, 0]);
  });

  it("puts transparent pixels on white paper: grey + alpha", async () => {
    const png = writePng({ width: 3, height: 1, bitDepth: 8, colourType: 4, sample: (x) => [0, [0, 255, 0][x]] });
    expect(await bitonalValues(png)).toEqual([255, 0, 255]);
  });

  it("puts transparent pixels on white paper: tRNS colour key on grey and RGB", async () => {
    const grey = writePng({
      width: 3,
      height: 1,
      bitDepth: 8,
      colourType: 0,
      transparency: [0],
      sample: (x) => [[0, 20, 0][x]],
    });
    expect(await bitonalValues(grey)).toEqual([255, 0, 255]);
    const rgb = writePng({
      width: 2,
      height: 1,
      bitDepth: 8,
      colourType: 2,
      transparency: [1, 2, 3],
      sample: (x) => (x === 0 ? [1, 2, 3] : [1, 2, 4]),
    });
    expect(await bitonalValues(rgb)).toEqual([255, 0]);
  });

  it("puts transparent pixels on white paper: palette alpha", async () => {
    const png = writePng({
      width: 2,
      height: 1,
      bitDepth: 8,
      colourType: 3,
      palette: [
        [0, 0, 0],
        [0, 0, 0],
      ],
      transparency: [0, 255],
      sample: (x) => [x],
    });
    expect(await bitonalValues(png)).toEqual([255, 0]);
  });

  it("reads an interlaced (Adam7) PNG", async () => {
    const plain = await makePng(33, 17, (x, y) => [(x * 8 + y * 3) % 256]);
    const interlaced = await makePng(33, 17, (x, y) => [(x * 8 + y * 3) % 256], { progressive: true });
    expect(interlaced[28]).toBe(1); // IHDR interlace method: Adam7
    expect(await bitonalValues(interlaced)).toEqual(await bitonalValues(plain));
  });
});

describe("JPEG and WebP", () => {
  const halves = (x: number) => (x < 16 ? [20, 20, 20] : [235, 235, 235]);

  it("reads WebP", async () => {
    const raw = await makePng(32, 8, halves);
    const webp = new Uint8Array(await sharp(raw).webp({ lossless: true }).toBuffer());
    const values = await bitonalValues(webp);
    expect(values[0]).toBe(0);
    expect(values[31]).toBe(255);
  });

  it("turns an EXIF-rotated JPEG upright", async () => {
    // Stored 40 × 20 with the dark half on the left; orientation 6 means "rotate 90° clockwise
    // to view", so upright it is 20 × 40 with the dark half on top.
    const stored = await makePng(40, 20, (x) => (x < 20 ? [20, 20, 20] : [235, 235, 235]));
    const jpeg = new Uint8Array(await sharp(stored).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer());
    const result = await binarize(jpeg, fixed127);
    expect([result.width, result.height]).toEqual([20, 40]);
    const out = await greyPixels(result.png);
    expect(out.values[2 * 20 + 10]).toBe(0); // near the top
    expect(out.values[37 * 20 + 10]).toBe(255); // near the bottom
  });
});

describe("sauvola on an unevenly lit document", () => {
  // Dark strokes on paper, lit from the left: paper falls from luma 220 to 55 across the page,
  // so on the right the paper is darker than the ink on the left.
  const width = 480;
  const height = 320;
  const isInk = (x: number, y: number) => {
    const line = y % 40;
    const glyph = x % 22;
    return line >= 10 && line < 30 && ((glyph >= 3 && glyph < 6) || (line >= 18 && line < 21 && glyph < 14));
  };
  const document = () =>
    makePng(width, height, (x, y) => {
      const light = 1 - 0.75 * (x / width);
      const grain = ((x * 7919 + y * 104_729) % 7) - 3;
      return [Math.round((isInk(x, y) ? 40 : 220) * light + grain)];
    });

  /** F-measure of the ink found (black pixels) against the known strokes. */
  async function inkFMeasure(png: Uint8Array) {
    const { values } = await greyPixels(png);
    let truePositive = 0;
    let falsePositive = 0;
    let falseNegative = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const found = values[y * width + x] === 0;
        const ink = isInk(x, y);
        if (found && ink) truePositive++;
        else if (found) falsePositive++;
        else if (ink) falseNegative++;
      }
    }
    const precision = truePositive / (truePositive + falsePositive);
    const recall = truePositive / (truePositive + falseNegative);
    return (2 * precision * recall) / (precision + recall);
  }

  it("recovers the text where a fixed threshold cannot", async () => {
    const input = await document();
    const sauvola = await inkFMeasure((await binarize(input, { method: "sauvola", ...limits })).png);
    const fixed = await inkFMeasure((await binarize(input, fixed127)).png);
    // Sauvola's errors are confined to stroke edges and the corners of the glyphs, so on clean
    // synthetic strokes it should find nearly all ink and little else: 0.9 leaves room for
    // those edges. Fixed 127 turns the darker half of the paper into ink: far below that.
    expect(sauvola).toBeGreaterThan(0.9);
    expect(fixed).toBeLessThan(0.5);
  });

  it("reports no single threshold", async () => {
    expect((await binarize(await document(), { method: "sauvola", ...limits })).threshold).toBeNull();
  });
});
