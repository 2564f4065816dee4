// The `document` method: ink on paper, however uneven the light, faint the ink or noisy the paper.
// Pure pixels in, packed bits out (set = white), in the line of Lu, Su and Tan (2010) and Su,
// Lu and Tan (2013), tuned on the DIBCO development pages (docs/BENCHMARKS.md):
//
//  1. Divide out the paper: the background is the local maximum of 8-pixel cells, widened and
//     smoothed, so shadows, stains and falloff become white and ink keeps its contrast to them.
//  2. Smooth the result over 3×3, which keeps paper texture from looking like stroke edges
//     (on a large page measured on f × f means, the means have done that already).
//  3. Stroke edges are the pixels whose 3×3 contrast (max − min) is above Otsu's threshold of
//     all contrasts; the stroke width is the commonest length of dark runs along rows.
//  4. A pixel is ink when a window about 2.4 stroke widths across holds enough edge pixels
//     and the pixel is no lighter than their mean plus 0.3 of their standard deviation: the
//     edges of a stroke straddle ink and paper, so their mean sits between the two, wherever
//     the stroke is and however faint. A global gate (1.25 × Otsu) keeps out paper far from ink.
//     At full scale the pixel is taken as 3/10 of its own level and 7/10 of the 3×3 mean: the
//     mean alone draws every sharp stroke a pixel fat.
//  5. Specks smaller than half a stroke width squared go. Where the pieces of ink left fall into
//     two clean tones, the lighter is the other side of the sheet showing through, and steps 4
//     and 5 run again with the gate just below it (bleed-through.ts).
//  6. Filled shapes are filled again: step 1 takes the inside of a dark area wider than the
//     background window for paper, so a lake, a logo or a silhouette would come out as its
//     outline. A large area that is dark in the upload, with a sharp edge all round, becomes
//     ink, unless it is a mount or a frame along the image's edges (surround.ts), which ground
//     truth calls paper (dark-areas.ts).
//  7. The line steps 1–5 draw along such a mount's or frame's edge goes too.
//
// By hand rather than in libvips because none of steps 3–5 exists there, and each is one or
// two passes over typed arrays; the windows slide (running column sums) so memory stays a few
// bytes per pixel whatever the window. The passes over every pixel are WebAssembly SIMD kernels
// (kernels/simd.ts), 16 pixels an instruction; what is left here works on cells, runs or rows.
import { otsuThreshold } from "../kernels/histogram.ts";
import {
  cellMaxima,
  countValues,
  darkRunLengths,
  halved,
  inkByEdgeWindows,
  localContrast3x3,
  normalisedByPaper,
  type PaperLevelGrid,
  packedAboveLimits,
  packedPaper,
  removeSmallComponents,
} from "../kernels/simd.ts";
import { bleedThroughCeiling } from "./bleed-through.ts";
import { settleDarkAreas } from "./dark-areas.ts";

const CELL = 8;
const BACKGROUND_MAX_RADIUS = 3; // cells: ink up to about 56 px thick is taken for ink, not paper
const BACKGROUND_MEAN_RADIUS = 2;
const GATE = 1.25;
const WINDOW_PER_STROKE = 1.2; // half-window, in stroke widths
const EDGES_PER_WINDOW_SIDE = 2; // fewer edge pixels than 2 × the window's side: no stroke here
const STD_WEIGHT = 0.3;
const SPECK = 0.5;
// Step 4's share of a pixel's own level (the rest is its 3×3 mean): 3 measured best on the DIBCO
// pages; more thins strokes further and lets paper texture through (docs/BENCHMARKS.md, sixth round).
const OWN_TENTHS = 3;
// A dark area narrower than the background's reach was never taken for paper (steps 6 and 7).
const DARK_AREA_MIN = (CELL * BACKGROUND_MAX_RADIUS) ** 2;
// The threshold of a working pixel in a filled shape: its full-scale pixels are ink when they
// are as dark as the shape (at or below the upload's Otsu threshold).
const FILLED = 256;

export interface PaperBackground {
  /** The smoothed local paper level per cell, row-major, `columns` × `rows`. */
  levels: Float32Array;
  columns: number;
  rows: number;
  /** (95th − 5th percentile) / 95th percentile of the paper level: 0 for even light. */
  unevenness: number;
}

/** What the method measures on: the image itself, or its f × f means when it is large. */
export interface WorkingImage {
  luma: Uint8Array;
  width: number;
  height: number;
  factor: number;
  /** The histogram of `luma`. */
  histogram: Uint32Array;
  paper: PaperBackground;
}

/**
 * Pages of 3 MP and more are measured at a coarser scale, on f × f means with
 * f = ⌊√(pixels ÷ 0.75 MP)⌋: 4 MP on 2 × 2, 12 MP on 4 × 4. Strokes of such pages are several
 * pixels wide, their statistics barely change, and the cost of every step but the last falls
 * by f². Ink is still decided per pixel of the full image, against the threshold of its place.
 */
const WORKING_PIXELS = 750_000;

/** `lumaHistogram`, when the caller counted it already (the decode can), saves a pass at full scale. */
export function workingImage(
  luma: Uint8Array,
  width: number,
  height: number,
  lumaHistogram?: Uint32Array,
): WorkingImage {
  const factor = Math.max(1, Math.floor(Math.sqrt((width * height) / WORKING_PIXELS)));
  const work = factor === 1 ? { luma, width, height } : shrink(luma, width, height, factor);
  let histogram = factor === 1 ? lumaHistogram : undefined;
  if (!histogram) {
    histogram = new Uint32Array(256);
    countValues(work.luma, histogram);
  }
  return { ...work, factor, histogram, paper: paperBackground(work.luma, work.width, work.height) };
}

/** Packed bits, set = white, eight pixels a byte, rows led by PNG's filter byte. */
export function documentMethod(luma: Uint8Array, width: number, height: number, work: WorkingImage): Uint8Array {
  // The f × f means of a large page are smoothed already: a 3×3 mean on top of them blurs strokes
  // two or three working pixels wide (measured: 3 of the 4 DIBCO pages of 3 MP and more gain).
  const smooth = work.factor === 1;
  const { smoothed, unsmoothed, histogram } = normaliseAndSmooth(
    work.luma,
    work.width,
    work.height,
    work.paper,
    smooth,
  );
  const otsu = otsuThreshold(histogram);
  const { contrast, edgeThreshold } = localContrast(smoothed, work.width, work.height);
  const strokeWidth = commonDarkRun(smoothed, work.width, work.height, otsu);
  const half = Math.max(2, Math.round(WINDOW_PER_STROKE * strokeWidth));
  // Step 4 in the SIMD kernels: the window's sums slide (running column sums, then a row sum
  // moved only to the pixels that can be ink), so memory stays a few bytes per pixel.
  const gate = Math.min(255, Math.floor(otsu * GATE));
  const inkBelow = (ceiling: number) => {
    const found = inkByEdgeWindows(
      smoothed,
      contrast,
      work.width,
      work.height,
      {
        edgeThreshold,
        half,
        minimumEdges: EDGES_PER_WINDOW_SIDE * (2 * half + 1),
        ceiling,
        stdWeight: STD_WEIGHT,
        own: unsmoothed && { unsmoothed, tenths: OWN_TENTHS },
      },
      work.factor > 1,
    );
    // Ink at the working scale, its specks removed there: a speck's pixels can never be ink.
    const before = work.factor === 1 ? found.ink : found.ink.slice();
    const pieces = removeSmallComponents(
      found.ink,
      work.width,
      work.height,
      1,
      Math.round(SPECK * strokeWidth * strokeWidth),
    );
    return { ...found, before, pieces };
  };
  let found = inkBelow(gate);
  const bleedThrough = bleedThroughCeiling(found.pieces, smoothed, work.width);
  if (bleedThrough !== undefined) found = inkBelow(Math.min(gate, bleedThrough));
  const { thresholds, ink, before } = found;
  const fill = settleDarkAreas(ink, work, strokeWidth, DARK_AREA_MIN);
  // At full scale the working pixels are the pixels (and no thresholds were kept).
  if (!thresholds) return packedPaper(ink, width, height);
  // The pixels steps 5–7 changed, found four at a time (few change; both arrays start a buffer).
  const wordsBefore = new Uint32Array(before.buffer, before.byteOffset, before.length >> 2);
  const wordsAfter = new Uint32Array(ink.buffer, ink.byteOffset, ink.length >> 2);
  for (let w = 0; w <= wordsBefore.length; w++) {
    if (w < wordsBefore.length && wordsBefore[w] === wordsAfter[w]) continue;
    for (let i = 4 * w; i < Math.min(4 * w + 4, ink.length); i++) {
      if (before[i] !== ink[i]) thresholds[i] = fill?.filled[i] ? FILLED : -1;
    }
  }
  return packedAtFullScale(luma, width, height, work, thresholds, fill?.dark ?? 0);
}

/** Means of factor × factor blocks (fewer at the right and bottom edges). */
function shrink(luma: Uint8Array, width: number, height: number, factor: number) {
  const w = Math.ceil(width / factor);
  const h = Math.ceil(height / factor);
  const block = blockOfColumn(width, factor);
  const sums = new Uint32Array(w);
  // 3–6 MP pages, the commonest large ones, by a SIMD kernel; any odd last row and column below.
  const out = factor === 2 ? halved(luma, width, height) : new Uint8Array(w * h);
  for (let by = factor === 2 ? height >> 1 : 0; by < h; by++) {
    sums.fill(0);
    const rows = Math.min(factor, height - by * factor);
    for (let y = by * factor; y < by * factor + rows; y++) {
      let x = 0;
      let i = y * width;
      // Factor 3 (6.75–12 MP) a block at a time: a third of the read-modify-writes.
      if (factor === 3) {
        for (let bx = 0; x + 3 <= width; x += 3, i += 3, bx++) sums[bx] += luma[i] + luma[i + 1] + luma[i + 2];
      }
      for (; x < width; x++, i++) sums[block[x]] += luma[i];
    }
    for (let bx = 0; bx < w; bx++) out[by * w + bx] = sums[bx] / (rows * Math.min(factor, width - bx * factor)) + 0.5;
  }
  if (factor === 2 && width % 2 === 1) {
    for (let by = 0; by < height >> 1; by++) {
      const i = 2 * by * width + width - 1;
      out[by * w + w - 1] = (luma[i] + luma[i + width]) / 2 + 0.5;
    }
  }
  return { luma: out, width: w, height: h };
}

function blockOfColumn(width: number, factor: number): Int32Array {
  const block = new Int32Array(width);
  for (let x = 0; x < width; x++) block[x] = (x / factor) | 0;
  return block;
}

/**
 * Every full-scale pixel against the threshold of the working pixel it falls in, packed (set =
 * white). The threshold is turned back into luma first (× the paper level at the working pixel
 * / 255), so full-scale pixels are compared, not normalised one by one.
 */
function packedAtFullScale(
  luma: Uint8Array,
  width: number,
  height: number,
  work: WorkingImage,
  thresholds: Int16Array,
  filledLimit: number,
) {
  const grid = paperLevelGrid(work.paper, work.width, work.height);
  const { factor } = work;
  return packedAboveLimits(luma, width, height, {
    thresholds,
    width: work.width,
    height: work.height,
    factor,
    grid,
    filledLimit,
  });
}

/** The paper level of every pixel of a `width` × `height` image, bilinear between cell centres. */
function paperLevelGrid(paper: PaperBackground, width: number, height: number): PaperLevelGrid {
  const { levels, columns, rows } = paper;
  const cellX = new Int32Array(width);
  const fractionX = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const f = Math.min(Math.max((x + 0.5) / CELL - 0.5, 0), columns - 1);
    cellX[x] = Math.min(Math.floor(f), Math.max(columns - 2, 0));
    fractionX[x] = columns > 1 ? f - cellX[x] : 0;
  }
  const rowStride = columns + 1;
  const levelRows = new Float32Array(rowStride * height);
  for (let y = 0; y < height; y++) {
    const f = Math.min(Math.max((y + 0.5) / CELL - 0.5, 0), rows - 1);
    const cy = Math.min(Math.floor(f), Math.max(rows - 2, 0));
    const fy = rows > 1 ? f - cy : 0;
    const below = Math.min(cy + 1, rows - 1);
    const row = y * rowStride;
    for (let c = 0; c < columns; c++) {
      levelRows[row + c] = Math.max(1, levels[cy * columns + c] * (1 - fy) + levels[below * columns + c] * fy);
    }
    levelRows[row + columns] = levelRows[row + columns - 1];
  }
  return { levelRows, rowStride, cellX, fractionX };
}

/** One pass for each cell's maximum, then the maxima widened and smoothed. */
function paperBackground(luma: Uint8Array, width: number, height: number): PaperBackground {
  const columns = Math.ceil(width / CELL);
  const rows = Math.ceil(height / CELL);
  const levels = boxFilter(
    boxFilter(cellMaxima(luma, width, height, CELL), columns, rows, BACKGROUND_MAX_RADIUS, "max"),
    columns,
    rows,
    BACKGROUND_MEAN_RADIUS,
    "mean",
  );

  const [low, high] = ranked(levels, [Math.floor(0.05 * (levels.length - 1)), Math.floor(0.95 * (levels.length - 1))]);
  return {
    levels,
    columns,
    rows,
    unevenness: high > 0 ? (high - low) / high : 0,
  };
}

/**
 * The values at these ranks of `values` (0 to 255) in ascending order, as sorting them would give.
 * Through a histogram of their integer parts and a sort of only the bin each rank falls in:
 * sorting a whole 1 MP page's 15 000 levels measured 1 ms, a third of the paper estimate.
 */
function ranked(values: Float32Array, ranks: number[]): number[] {
  const bins = new Uint32Array(257);
  for (let i = 0; i < values.length; i++) bins[Math.floor(values[i]) + 1]++;
  for (let b = 1; b < bins.length; b++) bins[b] += bins[b - 1]; // bins[b]: values below b
  return ranks.map((rank) => {
    let bin = 0;
    while (bins[bin + 1] <= rank) bin++;
    const inBin = values.filter((v) => Math.floor(v) === bin).sort();
    return inBin[rank - bins[bin]];
  });
}

/** Separable max or mean over a (2r+1)² square of a small grid, clipped at its edges. */
function boxFilter(
  grid: Float32Array,
  columns: number,
  rows: number,
  radius: number,
  kind: "max" | "mean",
): Float32Array {
  // One line at a time through a scratch row, so that both directions run the same loop; a
  // generic loop with the kind tested per cell measured 4 ms a 1 MP page, this one under 1.
  const line = new Float32Array(Math.max(columns, rows));
  const out = new Float32Array(line.length);
  const result = new Float32Array(grid.length);
  const filterLine = kind === "max" ? maxOfLine : meanOfLine;
  for (let y = 0; y < rows; y++) {
    line.set(grid.subarray(y * columns, (y + 1) * columns));
    filterLine(line, columns, radius, out);
    result.set(out.subarray(0, columns), y * columns);
  }
  for (let x = 0; x < columns; x++) {
    for (let y = 0; y < rows; y++) line[y] = result[y * columns + x];
    filterLine(line, rows, radius, out);
    for (let y = 0; y < rows; y++) result[y * columns + x] = out[y];
  }
  return result;
}

function maxOfLine(line: Float32Array, length: number, radius: number, out: Float32Array): void {
  for (let p = 0; p < length; p++) {
    let value = 0;
    for (let q = Math.max(0, p - radius), to = Math.min(length - 1, p + radius); q <= to; q++) {
      if (line[q] > value) value = line[q];
    }
    out[p] = value;
  }
}

function meanOfLine(line: Float32Array, length: number, radius: number, out: Float32Array): void {
  for (let p = 0; p < length; p++) {
    let sum = 0;
    const from = Math.max(0, p - radius);
    const to = Math.min(length - 1, p + radius);
    for (let q = from; q <= to; q++) sum += line[q];
    out[p] = sum / (to - from + 1);
  }
}

/**
 * luma × 255 / paper level (bilinear between cell centres), capped at white, then (when
 * `smooth`) the mean of each 3×3 neighbourhood (edges repeated), in the SIMD kernels. The
 * histogram of the result is counted on even rows: Otsu needs its shape, not every pixel.
 */
function normaliseAndSmooth(luma: Uint8Array, width: number, height: number, paper: PaperBackground, smooth: boolean) {
  const { image, unsmoothed, histogram } = normalisedByPaper(
    luma,
    width,
    height,
    paperLevelGrid(paper, width, height),
    smooth,
  );
  return { smoothed: image, unsmoothed, histogram };
}

/** 3×3 max − min of every pixel and Otsu's threshold over those of even rows: above it is a stroke edge. */
function localContrast(image: Uint8Array, width: number, height: number) {
  const { contrast, histogram } = localContrast3x3(image, width, height);
  return { contrast, edgeThreshold: otsuThreshold(histogram) };
}

/** The commonest length (2 px or more) of horizontal runs at or below `threshold`, on every other row. */
function commonDarkRun(image: Uint8Array, width: number, height: number, threshold: number): number {
  const counts = darkRunLengths(image, width, height, threshold);
  let best = 2;
  for (let length = 3; length < 64; length++) if (counts[length] > counts[best]) best = length;
  return best;
}
