import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { labelComponents } from "../../imaging/kernels/components.ts";
import { packedRowBytes } from "../../imaging/kernels/packed-rows.ts";
import {
  boundaryFlags,
  cellMaxima,
  componentRuns,
  countValues,
  darkPixels,
  darkRunLengths,
  halved,
  type InkWindow,
  inkByEdgeWindows,
  localContrast3x3,
  lumaOfRgb,
  normalisedByPaper,
  packedAboveLimits,
  packedPaper,
  releaseKernelMemory,
  removeSmallComponents,
} from "../../imaging/kernels/simd.ts";

const root = new URL("../../", import.meta.url).pathname;

/** The plain definition: 3×3 max − min with the image's edges repeated. */
function referenceContrast(image: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let most = 0;
      let least = 255;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const v = image[Math.min(height - 1, Math.max(0, y + dy)) * width + Math.min(width - 1, Math.max(0, x + dx))];
          most = Math.max(most, v);
          least = Math.min(least, v);
        }
      }
      out[y * width + x] = most - least;
    }
  }
  return out;
}

/** Normalisation as JavaScript does it: f64 arithmetic, Float32Array and Uint8ClampedArray stores. */
function referenceNormalised(
  luma: Uint8Array,
  width: number,
  height: number,
  levelRows: Float32Array,
  stride: number,
  cellX: Int32Array,
  fractionX: Float32Array,
): Uint8Array {
  const out = new Uint8ClampedArray(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = levelRows[y * stride + cellX[x]];
      const b = levelRows[y * stride + cellX[x] + 1];
      out[y * width + x] = (luma[y * width + x] * 255) / Math.fround(a + (b - a) * fractionX[x]);
    }
  }
  return new Uint8Array(out.buffer);
}

/** The 3×3 mean with edges repeated, sum / 9 rounded as (sum × 7282 + 2¹⁵) >> 16. */
function referenceSmoothed(image: Uint8Array, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let sum = 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          sum += image[Math.min(height - 1, Math.max(0, y + dy)) * width + Math.min(width - 1, Math.max(0, x + dx))];
        }
      }
      out[y * width + x] = (sum * 7282 + 32768) >> 16;
    }
  }
  return out;
}

/** Step 4 of the document method by its definition: every pixel's whole window summed afresh. */
function referenceInk(image: Uint8Array, contrast: Uint8Array, width: number, height: number, window: InkWindow) {
  const { edgeThreshold, half, minimumEdges, ceiling, stdWeight, own } = window;
  const thresholds = new Int16Array(width * height).fill(-1);
  const ink = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const decided = own
        ? Math.floor((own.tenths * own.unsmoothed[i] + (10 - own.tenths) * image[i] + 5) / 10)
        : image[i];
      if (decided > ceiling) continue;
      let count = 0;
      let sum = 0;
      let squares = 0;
      for (let v = Math.max(0, y - half); v <= Math.min(height - 1, y + half); v++) {
        for (let u = Math.max(0, x - half); u <= Math.min(width - 1, x + half); u++) {
          if (contrast[v * width + u] <= edgeThreshold) continue;
          const value = image[v * width + u];
          count++;
          sum += value;
          squares += value * value;
        }
      }
      if (count < minimumEdges) continue;
      const mean = sum / count;
      const threshold = Math.min(
        ceiling,
        Math.floor(mean + stdWeight * Math.sqrt(Math.max(0, squares / count - mean * mean))),
      );
      thresholds[i] = threshold;
      ink[i] = decided <= threshold ? 1 : 0;
    }
  }
  return { thresholds, ink };
}

/** 8-connected components by flood fill, labelled 1… in raster order of their first pixels. */
function floodLabels(mask: Uint8Array, width: number, height: number, value: number): Int32Array {
  const labels = new Int32Array(width * height);
  let next = 0;
  for (let seed = 0; seed < mask.length; seed++) {
    if (mask[seed] !== value || labels[seed] !== 0) continue;
    labels[seed] = ++next;
    const stack = [seed];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const x = i % width;
      const y = (i - x) / width;
      for (let v = Math.max(0, y - 1); v <= Math.min(height - 1, y + 1); v++) {
        for (let u = Math.max(0, x - 1); u <= Math.min(width - 1, x + 1); u++) {
          const j = v * width + u;
          if (mask[j] === value && labels[j] === 0) {
            labels[j] = next;
            stack.push(j);
          }
        }
      }
    }
  }
  return labels;
}

function evenRowHistogram(image: Uint8Array, width: number, height: number): number[] {
  const counts = new Array(256).fill(0);
  for (let y = 0; y < height; y += 2) for (let x = 0; x < width; x++) counts[image[y * width + x]]++;
  return counts;
}

const SIZES = [
  [1, 1],
  [1, 5],
  [2, 3],
  [15, 4],
  [16, 16],
  [17, 2],
  [33, 9],
  [50, 31],
];

function randomBytes(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed >>> 24;
  };
}

describe("the SIMD kernels", () => {
  it("kernels.wasm is what its source compiles to", () => {
    const outFile = join(mkdtempSync(join(tmpdir(), "simd-")), "kernels.wasm");
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const args = pkg.scripts["build:simd"].split(" ").slice(1);
    args[args.indexOf("--outFile") + 1] = outFile;
    execFileSync(join(root, "node_modules/.bin/asc"), args, { cwd: root });
    expect(readFileSync(outFile).equals(readFileSync(join(root, "imaging/kernels/simd/kernels.wasm")))).toBe(true);
  });

  it("local contrast equals the 3×3 definition at every width and height, with its even-row histogram", () => {
    const next = randomBytes(7);
    for (const [width, height] of SIZES) {
      const image = Uint8Array.from({ length: width * height }, next);
      const { contrast, histogram } = localContrast3x3(image, width, height);
      const expected = referenceContrast(image, width, height);
      expect(Array.from(contrast), `${width}×${height}`).toEqual(Array.from(expected));
      expect(Array.from(histogram)).toEqual(evenRowHistogram(expected, width, height));
    }
  });

  it("normalising by the paper agrees with JavaScript's arithmetic to the bit, and so does the 3×3 mean", () => {
    const next = randomBytes(11);
    for (const [width, height] of SIZES) {
      const columns = Math.ceil(width / 8);
      const stride = columns + 1;
      const luma = Uint8Array.from({ length: width * height }, next);
      // Levels from 1 to 255, with ties of the rounding (x.5) among the results.
      const levelRows = Float32Array.from({ length: stride * height }, () => 1 + next() + next() / 256);
      const cellX = Int32Array.from({ length: width }, (_, x) => Math.min(x >> 3, Math.max(columns - 2, 0)));
      const fractionX = Float32Array.from({ length: width }, (_, x) => (columns > 1 ? (x % 8) / 8 : 0));
      const normalised = referenceNormalised(luma, width, height, levelRows, stride, cellX, fractionX);
      const plain = normalisedByPaper(luma, width, height, { levelRows, rowStride: stride, cellX, fractionX }, false);
      expect(Array.from(plain.image), `${width}×${height}`).toEqual(Array.from(normalised));
      expect(Array.from(plain.histogram)).toEqual(evenRowHistogram(normalised, width, height));
      const smoothed = referenceSmoothed(normalised, width, height);
      const smooth = normalisedByPaper(luma, width, height, { levelRows, rowStride: stride, cellX, fractionX }, true);
      expect(Array.from(smooth.image), `${width}×${height} smoothed`).toEqual(Array.from(smoothed));
      expect(Array.from(smooth.histogram)).toEqual(evenRowHistogram(smoothed, width, height));
    }
  });

  it("normalising rounds halves to even and caps at white, like a Uint8ClampedArray, and near-halves as f64 does", () => {
    // 1 × 255 / 2 = 127.5 → 128, 3 × 255 / 2 = 382.5 → 255 (capped), 5 × 255 / 10 = 127.5 → 128,
    // 1 × 255 / 10 = 25.5 → 26 (even), 11 × 255 / 22 = 127.5 → 128, 1 × 255 / 102 = 2.5 → 2 (even).
    // And quotients a hair from a half, which f32 division would round onto it: 1 × 255 /
    // 56.666664 = 4.5000002 → 5, 3 × 255 / 139.09091 = 5.4999999 → 5, 3 × 255 / 117.69231 → 7.
    const luma = Uint8Array.from([1, 3, 5, 1, 11, 0, 1, 1, 3, 3]);
    const levels = [2, 2, 10, 10, 22, 5, 102, 56.666664123535156, 139.09091186523438, 117.69230651855469];
    const out: number[] = [];
    for (const [x, level] of levels.entries()) {
      const grid = {
        levelRows: Float32Array.from([level, level]),
        rowStride: 2,
        cellX: Int32Array.from([0]),
        fractionX: Float32Array.from([0]),
      };
      const one = normalisedByPaper(luma.subarray(x, x + 1), 1, 1, grid, false);
      out.push(one.image[0]);
    }
    expect(out).toEqual([128, 255, 128, 26, 128, 0, 2, 5, 5, 7]);
    // The same pixels four at a time (the kernel's f32 path, which sends ties to f64): one row,
    // each column its own cell, each case in four neighbouring columns.
    const cases = levels.length;
    const row = normalisedByPaper(
      Uint8Array.from({ length: 4 * cases }, (_, x) => luma[x >> 2]),
      4 * cases,
      1,
      {
        levelRows: Float32Array.from({ length: 4 * cases + 1 }, (_, x) => levels[Math.min(x, 4 * cases - 1) >> 2]),
        rowStride: 4 * cases + 1,
        cellX: Int32Array.from({ length: 4 * cases }, (_, x) => x),
        fractionX: new Float32Array(4 * cases),
      },
      false,
    );
    expect(Array.from(row.image)).toEqual(out.flatMap((v) => [v, v, v, v]));
  });

  it("the ink thresholds equal their definition, the window summed afresh at every pixel", () => {
    const next = randomBytes(5);
    // Mostly paper, some dark, so that windows hold edges and gaps (rows whose windows slide);
    // then mostly dark, as a photo is (every pixel a candidate, windows wider than small images).
    const cases = [190, 40].flatMap((paperShare) => [...SIZES, [70, 45]].map((size) => [paperShare, size] as const));
    // Of the images of 100 pixels or more (smaller ones may hold no window with enough edges):
    // how many, how many have ink, and how many the blend changes.
    const large = { images: 0, withInk: 0, changedByBlend: 0 };
    for (const [paperShare, [width, height]] of cases) {
      for (const half of [2, 3, 7, 40]) {
        const image = Uint8Array.from({ length: width * height }, () =>
          next() < paperShare ? 230 + (next() >> 3) : next(),
        );
        const { contrast } = localContrast3x3(image, width, height);
        const window = { edgeThreshold: 40, half, minimumEdges: 2 * half + 1, ceiling: 220, stdWeight: 0.3 };
        const expected = referenceInk(image, contrast, width, height, window);
        const { thresholds, ink } = inkByEdgeWindows(image, contrast, width, height, window, true);
        expect(Array.from(thresholds ?? []), `${width}×${height}, half ${half}`).toEqual(
          Array.from(expected.thresholds),
        );
        expect(Array.from(ink)).toEqual(Array.from(expected.ink));
        const inkOnly = inkByEdgeWindows(image, contrast, width, height, window, false);
        expect(inkOnly.thresholds).toBeUndefined();
        expect(Array.from(inkOnly.ink)).toEqual(Array.from(expected.ink));
        // Decided on a share of each pixel's own, unsmoothed level: other pixels can be ink.
        const unsmoothed = Uint8Array.from(image, next);
        const blended = { ...window, own: { unsmoothed, tenths: 3 } };
        const expectedBlended = referenceInk(image, contrast, width, height, blended);
        const own = inkByEdgeWindows(image, contrast, width, height, blended, true);
        expect(Array.from(own.thresholds ?? [])).toEqual(Array.from(expectedBlended.thresholds));
        expect(Array.from(own.ink), `${width}×${height}, half ${half}, own`).toEqual(Array.from(expectedBlended.ink));
        // The full-scale path: blended, no thresholds kept (pixels at or below the mean undivided).
        const ownInkOnly = inkByEdgeWindows(image, contrast, width, height, blended, false);
        expect(Array.from(ownInkOnly.ink), `${width}×${height}, half ${half}, own, ink only`).toEqual(
          Array.from(expectedBlended.ink),
        );
        if (width * height < 100) continue;
        large.images++;
        large.withInk += expected.ink.includes(1) ? 1 : 0;
        large.changedByBlend += Buffer.from(expectedBlended.ink).equals(Buffer.from(expected.ink)) ? 0 : 1;
      }
    }
    expect(large.images).toBeGreaterThan(20);
    expect(large.withInk).toBe(large.images);
    expect(large.changedByBlend).toBe(large.images);
  });

  it("packs paper (0) as set bits, the first pixel of a byte in its high bit, rows led by a filter byte", () => {
    const next = randomBytes(3);
    for (const [width, height] of [...SIZES, [40, 3]]) {
      const ink = Uint8Array.from({ length: width * height }, () => next() & 1);
      const stride = packedRowBytes(width);
      const expected = new Uint8Array(stride * height);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          if (ink[y * width + x] === 0) expected[y * stride + 1 + (x >> 3)] |= 0x80 >> (x & 7);
        }
      }
      expect(Array.from(packedPaper(ink, width, height)), `${width}×${height}`).toEqual(Array.from(expected));
    }
  });

  it("the maximum of each cell equals the block's, partial cells at the right and bottom included", () => {
    const next = randomBytes(13);
    for (const [width, height] of [...SIZES, [40, 17], [129, 33]]) {
      const luma = Uint8Array.from({ length: width * height }, next);
      for (const cell of [8, 5]) {
        const columns = Math.ceil(width / cell);
        const expected = new Float32Array(columns * Math.ceil(height / cell));
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            const c = Math.floor(y / cell) * columns + Math.floor(x / cell);
            expected[c] = Math.max(expected[c], luma[y * width + x]);
          }
        }
        expect(Array.from(cellMaxima(luma, width, height, cell)), `${width}×${height}, cell ${cell}`).toEqual(
          Array.from(expected),
        );
      }
    }
  });

  it("marks the dark pixels and counts those the ink calls paper", () => {
    const next = randomBytes(17);
    for (const pixels of [1, 15, 16, 17, 1000]) {
      const luma = Uint8Array.from({ length: pixels }, next);
      const ink = Uint8Array.from({ length: pixels }, () => next() & 1);
      const { mask, paper } = darkPixels(luma, ink, 100);
      expect(Array.from(mask), `${pixels} pixels`).toEqual(Array.from(luma, (v) => (v <= 100 ? 1 : 0)));
      expect(paper).toBe(luma.reduce((n, v, i) => n + (v <= 100 && ink[i] === 0 ? 1 : 0), 0));
    }
  });

  it("halves an image into the rounded means of its whole 2 × 2 blocks", () => {
    const next = randomBytes(19);
    for (const [width, height] of [...SIZES, [37, 6], [64, 4]]) {
      const luma = Uint8Array.from({ length: width * height }, next);
      const w = Math.ceil(width / 2);
      const expected = new Uint8Array(w * Math.ceil(height / 2));
      for (let y = 0; y + 2 <= height; y += 2) {
        for (let x = 0; x + 2 <= width; x += 2) {
          const i = y * width + x;
          expected[(y / 2) * w + x / 2] = Math.floor(
            (luma[i] + luma[i + 1] + luma[i + width] + luma[i + width + 1]) / 4 + 0.5,
          );
        }
      }
      expect(Array.from(halved(luma, width, height)), `${width}×${height}`).toEqual(Array.from(expected));
    }
  });

  it("packs each full-scale pixel against its working pixel's threshold turned back into luma", () => {
    const next = randomBytes(23);
    // The last is packed in bands of working rows (over a million pixels).
    for (const [width, height, factor] of [
      [33, 9, 2],
      [50, 31, 3],
      [17, 16, 4],
      [1, 5, 2],
      [1500, 1501, 3],
    ]) {
      const w = Math.ceil(width / factor);
      const h = Math.ceil(height / factor);
      const columns = Math.ceil(w / 8);
      const rowStride = columns + 1;
      const grid = {
        levelRows: Float32Array.from({ length: rowStride * h }, () => 1 + next() + next() / 256),
        rowStride,
        cellX: Int32Array.from({ length: w }, (_, x) => Math.min(x >> 3, Math.max(columns - 2, 0))),
        fractionX: Float32Array.from({ length: w }, (_, x) => (columns > 1 ? (x % 8) / 8 : 0)),
      };
      // Thresholds of every kind: none (−1), filled (256), and normal ones.
      const thresholds = Int16Array.from({ length: w * h }, () => {
        const r = next();
        return r < 40 ? -1 : r < 60 ? 256 : next();
      });
      const luma = Uint8Array.from({ length: width * height }, next);
      const filledLimit = 90;
      const stride = packedRowBytes(width);
      const expected = new Uint8Array(stride * height);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const wx = Math.floor(x / factor);
          const wy = Math.floor(y / factor);
          const t = thresholds[wy * w + wx];
          const a = grid.levelRows[wy * rowStride + grid.cellX[wx]];
          const b = grid.levelRows[wy * rowStride + grid.cellX[wx] + 1];
          const level = Math.fround(a + (b - a) * grid.fractionX[wx]);
          const limit = t < 0 ? -1 : t >= 256 ? filledLimit : Math.ceil(((t + 0.5) * level) / 255) - 1;
          if (luma[y * width + x] > limit) expected[y * stride + 1 + (x >> 3)] |= 0x80 >> (x & 7);
        }
      }
      const packed = packedAboveLimits(luma, width, height, {
        thresholds,
        width: w,
        height: h,
        factor,
        grid,
        filledLimit,
      });
      expect(Array.from(packed), `${width}×${height} on ${factor} × ${factor}`).toEqual(Array.from(expected));
    }
  });

  it("labels the same 8-connected components as a flood fill, and removes those too small", () => {
    const next = randomBytes(29);
    for (const [width, height] of [...SIZES, [64, 20], [70, 45]]) {
      for (const density of [60, 128, 230]) {
        const mask = Uint8Array.from({ length: width * height }, () => (next() < density ? 1 : 0));
        for (const value of [0, 1] as const) {
          const expected = floodLabels(mask, width, height, value);
          const { labels, items } = labelComponents(mask, width, height, value);
          expect(Array.from(labels), `${width}×${height}, density ${density}, value ${value}`).toEqual(
            Array.from(expected),
          );
          expect(items.length).toBe(Math.max(0, ...expected));
          const area = new Map<number, number>();
          for (const l of expected) area.set(l, (area.get(l) ?? 0) + 1);
          const cleaned = mask.slice();
          const kept = removeSmallComponents(cleaned, width, height, value, 4);
          const wanted = mask.map((v, i) => (v === value && (area.get(expected[i]) ?? 0) < 4 ? 1 - value : v));
          expect(Array.from(cleaned)).toEqual(Array.from(wanted));
          // The runs it hands back are the result's own.
          expect(kept).toEqual(componentRuns(cleaned, width, height, value));
        }
      }
    }
  });

  it("takes luma from RGB in OpenCV's fixed point at every length, counting it when asked", () => {
    const next = randomBytes(31);
    // The last is converted in strips (over a million pixels).
    for (const pixels of [1, 15, 16, 17, 33, 1000, 1_100_003]) {
      const rgb = Uint8Array.from({ length: 3 * pixels }, next);
      const expected = Array.from(
        { length: pixels },
        (_, i) => (rgb[3 * i] * 9798 + rgb[3 * i + 1] * 19235 + rgb[3 * i + 2] * 3735 + 16384) >> 15,
      );
      expect(Array.from(lumaOfRgb(rgb, pixels)), `${pixels} pixels`).toEqual(expected);
      const histogram = new Uint32Array(256);
      histogram[7] = 5; // counted into, not over
      lumaOfRgb(rgb, pixels, histogram);
      const counts = new Array(256).fill(0);
      counts[7] = 5;
      for (const v of expected) counts[v]++;
      expect(Array.from(histogram)).toEqual(counts);
    }
  });

  it("flags the boundary pixels of a mask's areas, and the sharp ones among them, as the definition does", () => {
    const next = randomBytes(37);
    for (const [width, height] of [...SIZES, [40, 7], [70, 45]]) {
      const mask = Uint8Array.from({ length: width * height }, () => (next() < 170 ? 1 : 0));
      const range = Uint8Array.from({ length: width * height }, next);
      for (const sharp of [0, 99.5, 300]) {
        const expected = Array.from(mask, (inside, i) => {
          const x = i % width;
          const y = (i - x) / width;
          const open =
            (x > 0 && mask[i - 1] === 0) ||
            (x + 1 < width && mask[i + 1] === 0) ||
            (y > 0 && mask[i - width] === 0) ||
            (y + 1 < height && mask[i + width] === 0);
          return inside && open ? (range[i] >= sharp ? 3 : 1) : 0;
        });
        const flags = boundaryFlags(mask, range, width, height, sharp);
        expect(Array.from(flags), `${width}×${height}, sharp from ${sharp}`).toEqual(expected);
      }
    }
  });

  it("counts the lengths of the dark runs of the even rows, as a walk along them does", () => {
    const next = randomBytes(41);
    for (const [width, height] of [...SIZES, [70, 45], [200, 3]]) {
      const image = Uint8Array.from({ length: width * height }, () => (next() < 120 ? 30 : 220));
      const expected = new Array(64).fill(0);
      for (let y = 0; y < height; y += 2) {
        let run = 0;
        for (let x = 0; x <= width; x++) {
          if (x < width && image[y * width + x] <= 128) {
            run++;
          } else {
            if (run > 0 && run < 64) expected[run]++;
            run = 0;
          }
        }
      }
      expect(Array.from(darkRunLengths(image, width, height, 128)), `${width}×${height}`).toEqual(expected);
    }
  });

  it("counts values in strips across a page of over a million pixels, adding to what is there", () => {
    const next = randomBytes(43);
    const values = Uint8Array.from({ length: 2_300_001 }, next);
    const histogram = new Uint32Array(256);
    histogram[3] = 9;
    countValues(values, histogram);
    const expected = new Array(256).fill(0);
    expected[3] = 9;
    for (const v of values) expected[v]++;
    expect(Array.from(histogram)).toEqual(expected);
  });

  it("lets a large page's memory go and computes as before afterwards", () => {
    // 6000 × 6000: the contrast needs over 64 MB of kernel memory.
    const big = new Uint8Array(6000 * 6000).fill(200);
    big[3 * 6000 + 3] = 10;
    const { contrast } = localContrast3x3(big, 6000, 6000);
    expect(contrast[2 * 6000 + 2]).toBe(190);
    expect(contrast[10 * 6000 + 10]).toBe(0);
    releaseKernelMemory();
    const image = Uint8Array.from({ length: 33 * 9 }, randomBytes(47));
    expect(Array.from(localContrast3x3(image, 33, 9).contrast)).toEqual(Array.from(referenceContrast(image, 33, 9)));
  });
});
