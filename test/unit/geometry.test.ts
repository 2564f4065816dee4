// Skew found and undone, frames found and cleaned or cut, on pages whose truth is known by
// construction: synthetic pages (level text) turned by known angles, framed and unframed kinds.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { binarize } from "../../imaging/binarize.ts";
import { decodeLuma } from "../../imaging/decode/luma.ts";
import { findFrame, hasBorders } from "../../imaging/geometry/borders.ts";
import { estimateSkew } from "../../imaging/geometry/skew.ts";
import { packedRowBytes } from "../../imaging/kernels/packed-rows.ts";
import { dibcoScores } from "../../imaging/measures/dibco.ts";
import { samplePng } from "../../scripts/bench/sample-images.ts";
import { onATable, type PageKind, random, syntheticPage } from "../../scripts/bench/synthetic-pages.ts";

const LIMITS = { maxInputPixels: 50_000_000 };

async function page(kind: PageKind, seed = 1, width = 1400, height = 1000) {
  return (await syntheticPage(kind, seed, width, height)).bytes;
}

/** `bytes` turned `degrees` clockwise on white, then cut to the largest upright box inside the turned page (no fill in it). */
async function turned(bytes: Uint8Array, degrees: number): Promise<Buffer> {
  const { width = 0, height = 0 } = await sharp(bytes).metadata();
  const t = (Math.abs(degrees) * Math.PI) / 180;
  const w = Math.floor((width * Math.cos(t) - height * Math.sin(t)) / Math.cos(2 * t)) - 4;
  const h = Math.floor((height * Math.cos(t) - width * Math.sin(t)) / Math.cos(2 * t)) - 4;
  const rotated = await sharp(bytes)
    .rotate(degrees, { background: "#ffffff" })
    .png()
    .toBuffer({ resolveWithObject: true });
  return sharp(rotated.data)
    .extract({
      left: Math.ceil((rotated.info.width - w) / 2),
      top: Math.ceil((rotated.info.height - h) / 2),
      width: w,
      height: h,
    })
    .png()
    .toBuffer();
}

function isWhite(packed: Uint8Array, width: number, x: number, y: number): boolean {
  return (packed[y * packedRowBytes(width) + 1 + (x >> 3)] & (0x80 >> (x & 7))) !== 0;
}

describe("skew estimate", () => {
  it("finds the angle a printed page was turned by, either way, within 0.15°", async () => {
    const level = await page("office-scan");
    for (const degrees of [-9.2, -3.6, -0.7, 2.4, 8.8]) {
      const result = await binarize(await turned(level, degrees), { method: "document", ...LIMITS });
      const estimate = estimateSkew(result.packed, result.width, result.height);
      expect(estimate.angle, `turned ${degrees}°`).not.toBeNull();
      expect(Math.abs((estimate.angle ?? 99) - degrees), `turned ${degrees}°`).toBeLessThanOrEqual(0.15);
      expect(estimate.confidence).toBeGreaterThan(0.7);
    }
  });

  it("says no skew was found on a blank page and on a photograph, rather than guess", async () => {
    const blank = await binarize(
      await sharp({ create: { width: 800, height: 600, channels: 3, background: "#fafafa" } })
        .png()
        .toBuffer(),
      { method: "otsu", ...LIMITS },
    );
    expect(estimateSkew(blank.packed, blank.width, blank.height)).toMatchObject({
      angle: null,
      reason: "too little text to measure",
    });
    for (const seed of [1, 2]) {
      const photo = await binarize(await samplePng("photo", 1, seed), { method: "auto", ...LIMITS });
      expect(estimateSkew(photo.packed, photo.width, photo.height).angle, `photo ${seed}`).toBeNull();
    }
  });
});

describe("skew estimate, where ink runs to the page's edge or fills shapes", () => {
  it("reads the lines of a page speckled to its edges, whose gaps are never empty", async () => {
    // A photocopy's speckle fills every row: lines are told from the emptiest row, not from none.
    const level = await page("office-scan", 2, 900, 1100);
    for (const degrees of [-8.4, 2.2]) {
      const { data, info } = await sharp(await turned(level, degrees))
        .greyscale()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const next = random(7);
      for (let i = 0; i < data.length; i++) if (next() < 0.18) data[i] = 40;
      const speckled = await sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } })
        .png()
        .toBuffer();
      const result = await binarize(speckled, { method: "otsu", ...LIMITS });
      const estimate = estimateSkew(result.packed, result.width, result.height);
      expect(
        Math.abs((estimate.angle ?? 99) - degrees),
        `turned ${degrees}°: ${JSON.stringify(estimate)}`,
      ).toBeLessThan(0.5);
    }
  });

  it("says no skew was found on filled pictures, whose straight edges are no lines of text", async () => {
    for (const kind of ["logo", "filled-map"] as const) {
      const picture = (await syntheticPage(kind, 3)).bytes;
      const result = await binarize(picture, { method: "auto", ...LIMITS });
      expect(estimateSkew(result.packed, result.width, result.height), kind).toMatchObject({
        angle: null,
        reason: "filled shapes, not lines of text",
      });
    }
  });
});

describe("deskew in binarize()", () => {
  it("turns a skewed page level on a canvas grown with white, and reports what it did", async () => {
    const skewed = await turned(await page("faded-ink", 2), 4.1);
    const result = await binarize(skewed, { method: "auto", deskew: true, ...LIMITS });
    expect(result.skew?.angle).toBeCloseTo(4.1, 0);
    expect(result.skew?.rotated).toBeCloseTo(-(result.skew?.angle ?? 0), 5);
    const { width = 0, height = 0 } = await sharp(skewed).metadata();
    expect(result.width).toBeGreaterThan(width);
    expect(result.height).toBeGreaterThan(height);
    // The canvas' new corners are white, and what was written is level now.
    expect(isWhite(result.packed, result.width, 0, 0)).toBe(true);
    expect(isWhite(result.packed, result.width, result.width - 1, result.height - 1)).toBe(true);
    const again = estimateSkew(result.packed, result.width, result.height);
    expect(Math.abs(again.angle ?? 99)).toBeLessThanOrEqual(0.15);
  });

  it("leaves a level page as it is, and a page without deskew asked is never turned", async () => {
    const level = await page("office-scan", 3);
    const plain = await binarize(level, { method: "auto", ...LIMITS });
    const asked = await binarize(level, { method: "auto", deskew: true, ...LIMITS });
    expect(plain.skew).toBeUndefined();
    expect(asked.skew?.rotated).toBe(0);
    expect(Buffer.from(asked.packed).equals(Buffer.from(plain.packed))).toBe(true);
    const skewed = await binarize(await turned(level, 3), { method: "auto", ...LIMITS });
    expect(skewed.skew).toBeUndefined();
  });
});

describe("borders", () => {
  it("finds a scanner's dark frame along two sides, and none on pages without one", async () => {
    const framed = await decodeLuma(await page("dark-frame"), LIMITS);
    const frame = findFrame(framed.luma, framed.width, framed.height);
    expect(frame?.borders.top).toBeGreaterThan(0.04 * framed.height);
    expect(frame?.borders.left).toBeGreaterThan(0.06 * framed.width);
    expect(frame?.borders.right).toBe(0);
    expect(frame?.borders.bottom).toBe(0);
    for (const kind of ["office-scan", "faded-ink", "logo", "filled-map", "silhouette", "screenshot"] as const) {
      const { luma, width, height } = await decodeLuma(await page(kind), LIMITS);
      expect(findFrame(luma, width, height), kind).toBeUndefined();
    }
    // A photograph whose dark side reaches its edge on every line has no frame to make white.
    for (const seed of [1, 2, 3]) {
      const { luma, width, height } = await decodeLuma(await samplePng("photo", 1, seed), LIMITS);
      expect(findFrame(luma, width, height), `photo ${seed}`).toBeUndefined();
    }
  });

  it("cleans a mount white or crops to the page inside it, and reports the frame side by side", async () => {
    const mounted = await page("dark-mount", 2);
    const kept = await binarize(mounted, { method: "auto", borders: "keep", ...LIMITS });
    const cleaned = await binarize(mounted, { method: "auto", borders: "clean", ...LIMITS });
    const cropped = await binarize(mounted, { method: "auto", borders: "crop", ...LIMITS });
    expect(kept.borders).toBeUndefined();
    const b = cleaned.borders ?? { top: 0, right: 0, bottom: 0, left: 0, action: "" };
    expect(b.action).toBe("clean");
    for (const side of [b.top, b.right, b.bottom, b.left]) expect(side).toBeGreaterThan(0);
    // Every pixel of the frame's box is white once cleaned.
    for (let y = 0; y < b.top; y += 7) {
      for (let x = 0; x < cleaned.width; x += 7) expect(isWhite(cleaned.packed, cleaned.width, x, y)).toBe(true);
    }
    for (let y = b.top; y < cleaned.height - b.bottom; y += 7) {
      for (let x = 0; x < b.left; x += 3) expect(isWhite(cleaned.packed, cleaned.width, x, y)).toBe(true);
    }
    expect(cropped.borders).toMatchObject({ ...b, action: "crop" });
    expect(cropped.width).toBe(cleaned.width - b.left - b.right);
    expect(cropped.height).toBe(cleaned.height - b.top - b.bottom);
  });

  it("keeps the faint ink of a page photographed on a dark table: the methods see the page, not the table", async () => {
    // The table made the page two-tone and its edge the strongest edge there is: Otsu's threshold
    // fell between table and paper, below the ink, and the document method's edges too (F 0).
    const { bytes: photographed, truth } = await onATable(await syntheticPage("faded-ink", 5, 1000, 1300), 3);
    const result = await binarize(photographed, { method: "auto", borders: "clean", ...LIMITS });
    expect(result.borders && hasBorders(result.borders)).toBe(true);
    const { data } = await sharp(result.png).greyscale().raw().toBuffer({ resolveWithObject: true });
    const f = dibcoScores(truth, { data: new Uint8Array(data), width: result.width, height: result.height }).fMeasure;
    expect(f).toBeGreaterThan(90);
  });
});
