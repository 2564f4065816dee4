import { describe, expect, it } from "vitest";
import { binarize, ImageError } from "../../imaging/binarize.ts";
import { distinctValues, greyPixels, makePng } from "../support/images.ts";

const limits = { maxInputPixels: 50_000_000 };

describe("binarize", () => {
  it("keeps width and height and yields only black and white", async () => {
    const input = await makePng(37, 23, (x, y) => [(x * 7) % 256, (y * 11) % 256, ((x + y) * 5) % 256]);
    const result = await binarize(input, { method: "otsu", ...limits });
    const out = await greyPixels(result.png);
    expect([out.width, out.height, result.width, result.height]).toEqual([37, 23, 37, 23]);
    expect(distinctValues(out.values)).toEqual([0, 255]);
  });

  it("fixed: luma above the threshold is white, at or below is black", async () => {
    const input = await makePng(256, 2, (x) => [x]);
    const result = await binarize(input, { method: "fixed", threshold: 127, ...limits });
    const out = await greyPixels(result.png);
    for (let x = 0; x < 256; x++) expect(out.values[x], `grey ${x}`).toBe(x > 127 ? 255 : 0);
    expect(result.threshold).toBe(127);
  });

  it("fixed: takes Rec. 601 luma of colour pixels", async () => {
    // Luma by 0.299 R + 0.587 G + 0.114 B: red 76, green 150, blue 29, yellow 226, magenta 105, cyan 179.
    const colours = [
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
      [255, 255, 0],
      [255, 0, 255],
      [0, 255, 255],
    ];
    const input = await makePng(colours.length, 1, (x) => colours[x]);
    const out = await greyPixels((await binarize(input, { method: "fixed", threshold: 127, ...limits })).png);
    expect([...out.values]).toEqual([0, 255, 0, 255, 0, 255]);
  });

  it("otsu: puts the threshold between the two modes of a bimodal image", async () => {
    // Dark ink around 60, paper around 190, with a little spread in each.
    const input = await makePng(100, 100, (x, y) => [x < 30 ? 55 + ((x + y) % 11) : 185 + ((x * y) % 11)]);
    const result = await binarize(input, { method: "otsu", ...limits });
    expect(result.threshold).toBeGreaterThanOrEqual(65);
    expect(result.threshold).toBeLessThan(185);
    const out = await greyPixels(result.png);
    expect(out.values[50 * 100 + 10]).toBe(0);
    expect(out.values[50 * 100 + 80]).toBe(255);
  });

  it("flattens transparency onto white paper", async () => {
    const input = await makePng(8, 8, (x) => (x < 4 ? [0, 0, 0, 0] : [0, 0, 0, 255]));
    const out = await greyPixels((await binarize(input, { method: "fixed", ...limits })).png);
    expect(out.values[0]).toBe(255);
    expect(out.values[7]).toBe(0);
  });

  it("refuses bytes that are not an image, naming the reason", async () => {
    const error = await binarize(new TextEncoder().encode("not an image"), { method: "otsu", ...limits }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ImageError);
    expect(error.code).toBe("undecodable");
  });

  it("refuses an image over the pixel limit before decoding it", async () => {
    const input = await makePng(100, 100, () => [0]);
    const error = await binarize(input, { method: "otsu", maxInputPixels: 9_999 }).catch((e) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect(error.code).toBe("too-many-pixels");
  });
});
