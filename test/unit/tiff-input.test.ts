// TIFFs as scanners and archives write them (compressions, bit depths, colour spaces, several
// pages), each walked by the API's directory check and decoded page by page as the worker does.
import { readFileSync } from "node:fs";
import sharp, { type TiffOptions } from "sharp";
import { describe, expect, it } from "vitest";
import { walkTiff } from "../../api/tiff-structure.ts";
import { binarize } from "../../imaging/binarize.ts";
import { multiPageTiff } from "../support/documents.ts";
import { greyPixels } from "../support/images.ts";

const WIDTH = 160;
const HEIGHT = 100;
// A black bar across the middle of white paper.
const isInk = (x: number, y: number) => y >= 40 && y < 60 && x >= 20 && x < 140;

async function tiffOf(options: TiffOptions, colour: "grey" | "rgb" | "cmyk" | "grey16" = "grey") {
  const channels = colour === "grey" || colour === "grey16" ? 1 : 3;
  const raw = Buffer.alloc(WIDTH * HEIGHT * channels);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++)
      raw.fill(isInk(x, y) ? 10 : 245, channels * (y * WIDTH + x), channels * (y * WIDTH + x + 1));
  }
  let image = sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels } });
  image = image.toColourspace({ grey: "b-w", rgb: "srgb", cmyk: "cmyk", grey16: "grey16" }[colour]);
  return new Uint8Array(await image.tiff(options).toBuffer());
}

async function expectBar(bytes: Uint8Array, page = 0) {
  const result = await binarize(bytes, { method: "otsu", maxInputPixels: 1_000_000, page });
  expect([result.width, result.height]).toEqual([WIDTH, HEIGHT]);
  const { values } = await greyPixels(result.png);
  let wrong = 0;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) if ((values[y * WIDTH + x] === 0) !== isInk(x, y)) wrong++;
  }
  expect(wrong).toBe(0);
}

describe("a TIFF upload", () => {
  it.each([
    ["uncompressed", { compression: "none" } as TiffOptions, "grey" as const],
    ["LZW, RGB", { compression: "lzw" } as TiffOptions, "rgb" as const],
    ["Deflate", { compression: "deflate" } as TiffOptions, "grey" as const],
    ["JPEG", { compression: "jpeg", quality: 95 } as TiffOptions, "rgb" as const],
    ["CCITT Group 4, 1 bit", { compression: "ccittfax4", bitdepth: 1 } as TiffOptions, "grey" as const],
    ["PackBits, CMYK", { compression: "packbits" } as TiffOptions, "cmyk" as const],
    ["16-bit grey", { compression: "lzw" } as TiffOptions, "grey16" as const],
    ["4 bits, PackBits", { compression: "packbits", bitdepth: 4 } as TiffOptions, "grey" as const],
  ])("%s: walked as one page, decoded to the bar it holds", async (_, options, colour) => {
    const tiff = await tiffOf(options, colour);
    const walk = walkTiff(tiff, 10);
    if ("problem" in walk) throw new Error(walk.problem);
    expect(walk.pages).toEqual([expect.objectContaining({ width: WIDTH, height: HEIGHT })]);
    await expectBar(tiff);
  });

  // What libvips does not write, written by Pillow through libtiff (test/fixtures/make-tiff-fixtures.py).
  it.each([
    ["palette, LZW", "bar-palette-lzw.tif", 5],
    ["CCITT Group 3, 1 bit", "bar-ccitt-g3.tif", 3],
  ])("%s: walked as one page, decoded to the bar it holds", async (_, fixture, compression) => {
    const tiff = new Uint8Array(readFileSync(new URL(`../fixtures/${fixture}`, import.meta.url)));
    const walk = walkTiff(tiff, 10);
    if ("problem" in walk) throw new Error(walk.problem);
    expect(walk.pages).toEqual([{ width: WIDTH, height: HEIGHT, compression }]);
    await expectBar(tiff);
  });

  it("several pages: each walked with its size, the one asked for decoded", async () => {
    const tiff = await multiPageTiff([() => 255, (x, y) => (isInk(x, y) ? 10 : 245), () => 255], {
      width: WIDTH,
      height: HEIGHT,
    });
    const walk = walkTiff(tiff, 10);
    if ("problem" in walk) throw new Error(walk.problem);
    expect(walk.pages).toHaveLength(3);
    await expectBar(tiff, 1);
    expect(walkTiff(tiff, 2)).toEqual({ problem: "The TIFF has more than 2 pages." });
  });
});
