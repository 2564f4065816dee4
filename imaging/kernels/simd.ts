// The WebAssembly SIMD kernels (simd/kernels.as.ts) behind plain typed-array functions.
// By hand in WebAssembly rather than in libvips: at page sizes a round trip through sharp alone
// costs more than these passes (docs/BENCHMARKS.md), and V8 does not vectorise JavaScript.
import { readFileSync } from "node:fs";
import { packedRowBytes } from "./packed-rows.ts";

const module = new WebAssembly.Module(readFileSync(new URL("simd/kernels.wasm", import.meta.url)));

type Kernels = {
  localContrast(image: number, width: number, height: number, out: number, scratch: number, histogram: number): void;
  normalise(
    luma: number,
    width: number,
    height: number,
    levelRows: number,
    rowStride: number,
    cellX: number,
    fractionX: number,
    out: number,
    scratch: number,
  ): void;
  smooth3x3(image: number, width: number, height: number, out: number, scratch: number, histogram: number): void;
  countRow(row: number, width: number, histogram: number): void;
  foldHistogram(histogram: number): void;
  inkThresholds(
    image: number,
    unsmoothed: number,
    ownTenths: number,
    contrast: number,
    width: number,
    height: number,
    edgeThreshold: number,
    half: number,
    minimumEdges: number,
    ceiling: number,
    stdWeight: number,
    keepThresholds: number,
    thresholds: number,
    ink: number,
    columns: number,
  ): void;
  packPaper(ink: number, width: number, height: number, out: number, stride: number): void;
  darkMask(luma: number, ink: number, pixels: number, dark: number, mask: number): number;
  cellMaxima(luma: number, width: number, height: number, cell: number, out: number, scratch: number): void;
  shrink2(luma: number, width: number, height: number, out: number): void;
  countRuns(mask: number, width: number, height: number, value: number): number;
  connectedRuns(
    mask: number,
    width: number,
    height: number,
    value: number,
    row: number,
    start: number,
    end: number,
    parent: number,
  ): void;
  removeSmallComponents(
    mask: number,
    width: number,
    height: number,
    value: number,
    other: number,
    minimumArea: number,
    runs: number,
    row: number,
    start: number,
    end: number,
    parent: number,
    area: number,
  ): void;
  rgbToLuma(rgb: number, pixels: number, out: number, histogram: number): void;
  darkRunLengths(image: number, width: number, height: number, threshold: number, counts: number): void;
  boundaryFlags(mask: number, range: number, width: number, height: number, sharpFrom: number, out: number): void;
  lumaLimits(
    thresholds: number,
    width: number,
    height: number,
    levelRows: number,
    rowStride: number,
    cellX: number,
    fractionX: number,
    filledLimit: number,
    out: number,
  ): void;
  packAboveLimits(
    luma: number,
    width: number,
    height: number,
    limits: number,
    workWidth: number,
    factor: number,
    out: number,
    stride: number,
    rowLimits: number,
  ): void;
};

let instance = new WebAssembly.Instance(module);
let memory = instance.exports.memory as WebAssembly.Memory;
let kernels = instance.exports as unknown as Kernels;

// WebAssembly memory grows and never shrinks: after a page that needed more than this, the
// instance is made afresh (a new small memory, the old one left to the garbage collector).
const KEEP_BYTES = 64 * 1024 * 1024;

/**
 * Lets go of the memory a large page made the kernels grow. Between any two kernel calls is safe:
 * no data stays in that memory from one call to the next.
 */
export function releaseKernelMemory(): void {
  if (memory.buffer.byteLength <= KEEP_BYTES) return;
  instance = new WebAssembly.Instance(module);
  memory = instance.exports.memory as WebAssembly.Memory;
  kernels = instance.exports as unknown as Kernels;
}

// Passes over a whole full-scale page go through the memory in strips of about this many
// pixels, so that a 50 MP page needs no 200 MB of it.
const STRIP_PIXELS = 1 << 20;

/** The wasm memory, grown to at least `bytes` (reused from call to call; releaseKernelMemory lets a large one go). */
function memoryOf(bytes: number): void {
  const missing = bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
}

/** Offsets of consecutive regions of these byte sizes, 16-byte aligned, the memory grown to hold them. */
function regions(...sizes: number[]): number[] {
  let end = 16; // a vector may also read the byte before a region's first pixel
  const starts = sizes.map((size) => {
    const start = end;
    end += Math.ceil(size / 16) * 16 + 16; // + 16: a vector may read past a row's last pixel
    return start;
  });
  memoryOf(end);
  return starts;
}

// Four tables of 256 u32 bins, which the kernels fold into the first (see countRow).
const HISTOGRAM_BYTES = 4 * 256 * 4;

function histogramAt(offset: number): Uint32Array {
  return new Uint32Array(memory.buffer.slice(offset, offset + 256 * 4));
}

/** The runs [start, end) of a mask's value along each row, in raster order, and each run's component. */
export interface ComponentRuns {
  length: number;
  row: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Per run: its component's first run, which names the component. */
  root: Int32Array;
}

/**
 * The paper level of every pixel, bilinear between cells: each row's level at each cell
 * (`rowStride` values a row, the last repeated), and each column's cell and fraction of the way
 * to the next.
 */
export interface PaperLevelGrid {
  levelRows: Float32Array;
  rowStride: number;
  cellX: Int32Array;
  fractionX: Float32Array;
}

/** The grid copied into wasm memory at these offsets. */
function placeGrid(grid: PaperLevelGrid, [levels, cellX, fractionX]: number[]): void {
  new Float32Array(memory.buffer, levels, grid.levelRows.length).set(grid.levelRows);
  new Int32Array(memory.buffer, cellX, grid.cellX.length).set(grid.cellX);
  new Float32Array(memory.buffer, fractionX, grid.fractionX.length).set(grid.fractionX);
}

function gridSizes(grid: PaperLevelGrid): number[] {
  return [grid.levelRows.byteLength, grid.cellX.byteLength, grid.fractionX.byteLength];
}

/**
 * luma × 255 ÷ paper level, capped at white and rounded to the nearest like a Uint8ClampedArray,
 * then (when `smooth`) the mean of each 3×3 neighbourhood, edges repeated; and the histogram of
 * the result's even rows.
 */
export function normalisedByPaper(
  luma: Uint8Array,
  width: number,
  height: number,
  grid: PaperLevelGrid,
  smooth: boolean,
) {
  const pixels = width * height;
  const [input, levels, cellX, fractionX, normalised, smoothed, scratch, histogram] = regions(
    pixels,
    ...gridSizes(grid),
    pixels,
    smooth ? pixels : 0,
    8 * width + 32, // the normalising's levels of a row and cell spans, then the smoothing's column sums
    HISTOGRAM_BYTES,
  );
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(luma, input);
  placeGrid(grid, [levels, cellX, fractionX]);
  bytes.fill(0, histogram, histogram + HISTOGRAM_BYTES);
  kernels.normalise(input, width, height, levels, grid.rowStride, cellX, fractionX, normalised, scratch);
  if (smooth) {
    kernels.smooth3x3(normalised, width, height, smoothed, scratch, histogram);
  } else {
    for (let y = 0; y < height; y += 2) kernels.countRow(normalised + y * width, width, histogram);
    kernels.foldHistogram(histogram);
  }
  const result = smooth ? smoothed : normalised;
  return {
    image: bytes.slice(result, result + pixels),
    /** When smoothed, the image before it. */
    unsmoothed: smooth ? bytes.slice(normalised, normalised + pixels) : undefined,
    histogram: histogramAt(histogram),
  };
}

/**
 * 3×3 max − min of every pixel (edges repeated), and the histogram of the contrasts of even rows.
 */
export function localContrast3x3(image: Uint8Array, width: number, height: number) {
  const pixels = width * height;
  const [input, out, scratch, histogram] = regions(pixels, pixels, 2 * width + 32, HISTOGRAM_BYTES);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(image, input);
  bytes.fill(0, histogram, histogram + HISTOGRAM_BYTES);
  kernels.localContrast(input, width, height, out, scratch, histogram);
  return { contrast: bytes.slice(out, out + pixels), histogram: histogramAt(histogram) };
}

/** How the document method decides ink from its stroke edges (document.ts, step 4). */
export interface InkWindow {
  /** Contrast above it: a stroke edge. */
  edgeThreshold: number;
  /** The window is 2 · half + 1 pixels square. */
  half: number;
  /** Fewer edge pixels in the window than this: no stroke near. */
  minimumEdges: number;
  /** Lighter than this is never ink; no threshold is above it. */
  ceiling: number;
  /** The threshold is the edges' mean plus this many of their standard deviations. */
  stdWeight: number;
  /**
   * The image before its 3×3 smoothing and its share, in tenths, of the level a pixel is decided
   * on (the rest is the smoothed level): the mean alone draws every sharp stroke a pixel fat.
   */
  own?: { unsmoothed: Uint8Array; tenths: number };
}

/**
 * The threshold of every pixel (−1 where nothing can be ink) from the edge pixels in the window
 * around it, and the ink (1) where the pixel is at or below its threshold; the thresholds are
 * handed back only when `keepThresholds`.
 */
export function inkByEdgeWindows(
  image: Uint8Array,
  contrast: Uint8Array,
  width: number,
  height: number,
  window: InkWindow,
  keepThresholds: boolean,
): { ink: Uint8Array; thresholds?: Int16Array } {
  const pixels = width * height;
  const { edgeThreshold, half, minimumEdges, ceiling, stdWeight, own } = window;
  const [input, unsmoothed, edges, thresholds, ink, columns] = regions(
    pixels,
    own ? pixels : 0,
    pixels,
    keepThresholds ? 2 * pixels : 0,
    pixels,
    3 * 4 * (width + 16),
  );
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(image, input);
  if (own) bytes.set(own.unsmoothed, unsmoothed);
  bytes.set(contrast, edges);
  kernels.inkThresholds(
    input,
    unsmoothed,
    own?.tenths ?? 0,
    edges,
    width,
    height,
    edgeThreshold,
    half,
    minimumEdges,
    ceiling,
    stdWeight,
    keepThresholds ? 1 : 0,
    thresholds,
    ink,
    columns,
  );
  const kept = keepThresholds ? new Int16Array(memory.buffer.slice(thresholds, thresholds + 2 * pixels)) : undefined;
  return { ink: bytes.slice(ink, ink + pixels), thresholds: kept };
}

/** 1-bit rows, set = white where `ink` is 0, each led by PNG's filter byte. */
export function packedPaper(ink: Uint8Array, width: number, height: number): Uint8Array {
  const stride = packedRowBytes(width);
  const [input, out] = regions(width * height, stride * height);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(ink, input);
  kernels.packPaper(input, width, height, out, stride);
  return bytes.slice(out, out + stride * height);
}

/** 1 where `luma` is at or below `dark`, and how many of those pixels are 0 (paper) in `ink`. */
export function darkPixels(luma: Uint8Array, ink: Uint8Array, dark: number): { mask: Uint8Array; paper: number } {
  const [lumaAt, inkAt, maskAt] = regions(luma.length, ink.length, luma.length);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(luma, lumaAt);
  bytes.set(ink, inkAt);
  const paper = kernels.darkMask(lumaAt, inkAt, luma.length, dark, maskAt);
  return { mask: bytes.slice(maskAt, maskAt + luma.length), paper };
}

/** The maximum of each `cell` × `cell` block (fewer at the right and bottom edges), row-major. */
export function cellMaxima(luma: Uint8Array, width: number, height: number, cell: number): Float32Array {
  const cells = Math.ceil(width / cell) * Math.ceil(height / cell);
  const [lumaAt, out, scratch] = regions(luma.length, 4 * cells, width);
  new Uint8Array(memory.buffer).set(luma, lumaAt);
  kernels.cellMaxima(lumaAt, width, height, cell, out, scratch);
  return new Float32Array(memory.buffer.slice(out, out + 4 * cells));
}

/**
 * Means of the whole 2 × 2 blocks, rounded half up, into rows of ⌈width / 2⌉ (a last odd row or
 * column is left 0 for the caller).
 */
export function halved(luma: Uint8Array, width: number, height: number): Uint8Array {
  const outWidth = Math.ceil(width / 2);
  const outPixels = outWidth * Math.ceil(height / 2);
  const [lumaAt, out] = regions(luma.length, outPixels);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(luma, lumaAt);
  bytes.fill(0, out, out + outPixels);
  kernels.shrink2(lumaAt, width, height, out);
  return bytes.slice(out, out + outPixels);
}

/** A page measured at a coarser scale: its working pixels' thresholds, and how to read them. */
export interface WorkingThresholds {
  /** Per working pixel: a threshold on the normalised scale, −1 for none, 256 or more for filled. */
  thresholds: Int16Array;
  width: number;
  height: number;
  /** Each working pixel is factor × factor full-scale pixels. */
  factor: number;
  /** The paper level of each working pixel. */
  grid: PaperLevelGrid;
  /** The luma at or below which a filled pixel is ink. */
  filledLimit: number;
}

/**
 * Each full-scale pixel against its working pixel's threshold turned back into luma (× the paper
 * level ÷ 255): packed, set = white where the pixel is lighter, rows led by PNG's filter byte.
 */
export function packedAboveLimits(
  luma: Uint8Array,
  width: number,
  height: number,
  work: WorkingThresholds,
): Uint8Array {
  const stride = packedRowBytes(width);
  const { thresholds, grid, factor } = work;
  // Bands of whole working rows, about a strip of full-scale pixels each.
  const bandRows = factor * Math.max(1, Math.floor(STRIP_PIXELS / (width * factor)));
  const [thresholdsAt, limits, levels, cellX, fractionX, rowLimits, lumaAt, out] = regions(
    thresholds.byteLength,
    thresholds.byteLength,
    ...gridSizes(grid),
    2 * width,
    width * Math.min(bandRows, height),
    stride * Math.min(bandRows, height),
  );
  new Int16Array(memory.buffer, thresholdsAt, thresholds.length).set(thresholds);
  placeGrid(grid, [levels, cellX, fractionX]);
  kernels.lumaLimits(
    thresholdsAt,
    work.width,
    work.height,
    levels,
    grid.rowStride,
    cellX,
    fractionX,
    work.filledLimit,
    limits,
  );
  const packed = new Uint8Array(stride * height);
  const bytes = new Uint8Array(memory.buffer);
  for (let top = 0; top < height; top += bandRows) {
    const rows = Math.min(bandRows, height - top);
    bytes.set(luma.subarray(top * width, (top + rows) * width), lumaAt);
    const bandLimits = limits + 2 * (top / factor) * work.width;
    kernels.packAboveLimits(lumaAt, width, rows, bandLimits, work.width, factor, out, stride, rowLimits);
    packed.set(bytes.subarray(out, out + stride * rows), top * stride);
  }
  return packed;
}

/**
 * The runs [start, end) of `value` along each row, in raster order, joined into 8-connected
 * components: each run's `root` is the first run of its component, which names it.
 */
export function componentRuns(mask: Uint8Array, width: number, height: number, value: number): ComponentRuns {
  const [maskAt] = regions(mask.length);
  new Uint8Array(memory.buffer).set(mask, maskAt);
  const count = kernels.countRuns(maskAt, width, height, value);
  const [, row, start, end, parent] = regions(mask.length, 4 * count, 4 * count, 4 * count, 4 * count);
  kernels.connectedRuns(maskAt, width, height, value, row, start, end, parent);
  const copy = (at: number) => new Int32Array(memory.buffer.slice(at, at + 4 * count));
  return { length: count, row: copy(row), start: copy(start), end: copy(end), root: copy(parent) };
}

/**
 * Flips every 8-connected component of `value` smaller than `minimumArea` pixels to the other
 * value, in place: specks of ink to paper, or pinholes of paper to ink. Returns the runs of the
 * components kept, as componentRuns would find them in the result: removing a component joins or
 * splits no other, so they are the labelling's own runs, filtered (one labelling fewer for a
 * caller that measures the pieces left, as bleed-through.ts does).
 */
export function removeSmallComponents(
  mask: Uint8Array,
  width: number,
  height: number,
  value: 0 | 1,
  minimumArea: number,
): ComponentRuns {
  if (minimumArea <= 1) return componentRuns(mask, width, height, value);
  const [maskAt] = regions(mask.length);
  new Uint8Array(memory.buffer).set(mask, maskAt);
  const runs = kernels.countRuns(maskAt, width, height, value);
  const [, row, start, end, parent, area] = regions(mask.length, ...new Array(5).fill(4 * runs));
  kernels.removeSmallComponents(
    maskAt,
    width,
    height,
    value,
    1 - value,
    minimumArea,
    runs,
    row,
    start,
    end,
    parent,
    area,
  );
  mask.set(new Uint8Array(memory.buffer, maskAt, mask.length));
  return keptRuns(runs, [row, start, end, parent, area], minimumArea);
}

/** The runs whose component's area (at its root run) is at least `minimumArea`, roots renumbered. */
function keptRuns(
  count: number,
  [rowAt, startAt, endAt, parentAt, areaAt]: number[],
  minimumArea: number,
): ComponentRuns {
  const view = (at: number) => new Int32Array(memory.buffer, at, count);
  const [row, start, end, parent, area] = [rowAt, startAt, endAt, parentAt, areaAt].map(view);
  const renumbered = new Int32Array(count);
  let length = 0;
  for (let r = 0; r < count; r++) if (area[parent[r]] >= minimumArea) renumbered[r] = length++;
  const kept: ComponentRuns = {
    length,
    row: new Int32Array(length),
    start: new Int32Array(length),
    end: new Int32Array(length),
    root: new Int32Array(length),
  };
  for (let r = 0; r < count; r++) {
    if (area[parent[r]] < minimumArea) continue;
    const k = renumbered[r];
    kept.row[k] = row[r];
    kept.start[k] = start[r];
    kept.end[k] = end[r];
    kept.root[k] = renumbered[parent[r]];
  }
  return kept;
}

/**
 * Luma of interleaved 8-bit RGB in OpenCV's fixed point, (R × 9798 + G × 19235 + B × 3735 +
 * 2¹⁴) >> 15, counted into `histogram` when it is given.
 */
export function lumaOfRgb(rgb: Uint8Array, pixels: number, histogram?: Uint32Array): Buffer {
  const luma = Buffer.allocUnsafe(pixels);
  const strip = Math.min(pixels, STRIP_PIXELS);
  const [rgbAt, out, histogramAt] = regions(3 * strip, strip, HISTOGRAM_BYTES);
  const bytes = new Uint8Array(memory.buffer);
  for (let from = 0; from < pixels; from += strip) {
    const count = Math.min(strip, pixels - from);
    bytes.set(rgb.subarray(3 * from, 3 * (from + count)), rgbAt);
    bytes.fill(0, histogramAt, histogramAt + HISTOGRAM_BYTES);
    if (histogram) new Uint32Array(memory.buffer, histogramAt, 256).set(histogram);
    kernels.rgbToLuma(rgbAt, count, out, histogram ? histogramAt : 0);
    if (histogram) histogram.set(new Uint32Array(memory.buffer, histogramAt, 256));
    luma.set(bytes.subarray(out, out + count), from);
  }
  return luma;
}

/** Adds each value's count to `histogram` (four tables, so that runs of one value do not wait on one bin). */
export function countValues(values: Uint8Array, histogram: Uint32Array): void {
  const strip = Math.min(values.length, STRIP_PIXELS);
  const [valuesAt, histogramAt] = regions(strip, HISTOGRAM_BYTES);
  const bytes = new Uint8Array(memory.buffer);
  bytes.fill(0, histogramAt, histogramAt + HISTOGRAM_BYTES);
  for (let from = 0; from < values.length; from += strip) {
    const count = Math.min(strip, values.length - from);
    bytes.set(values.subarray(from, from + count), valuesAt);
    kernels.countRow(valuesAt, count, histogramAt);
  }
  kernels.foldHistogram(histogramAt);
  const counts = new Uint32Array(memory.buffer, histogramAt, 256);
  for (let v = 0; v < 256; v++) histogram[v] += counts[v];
}

/**
 * Per pixel of `mask` (1 = in an area): 1 when it is on the area's boundary (a 4-neighbour inside
 * the image is 0), 3 when its `range` is also at least `sharpFrom`, 0 otherwise.
 */
export function boundaryFlags(
  mask: Uint8Array,
  range: Uint8Array,
  width: number,
  height: number,
  sharpFrom: number,
): Uint8Array {
  const [maskAt, rangeAt, out] = regions(mask.length, range.length, mask.length);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(mask, maskAt);
  bytes.set(range, rangeAt);
  kernels.boundaryFlags(maskAt, rangeAt, width, height, Math.max(0, Math.ceil(sharpFrom)), out);
  return bytes.slice(out, out + mask.length);
}

/** How many runs of each length (1 to 63, at that index; longer ones are not counted) of pixels at or below `threshold` the even rows hold. */
export function darkRunLengths(image: Uint8Array, width: number, height: number, threshold: number): Uint32Array {
  const [imageAt, counts] = regions(image.length, 64 * 4);
  const bytes = new Uint8Array(memory.buffer);
  bytes.set(image, imageAt);
  bytes.fill(0, counts, counts + 64 * 4);
  kernels.darkRunLengths(imageAt, width, height, threshold, counts);
  return new Uint32Array(memory.buffer.slice(counts, counts + 64 * 4));
}
