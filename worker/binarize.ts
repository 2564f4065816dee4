// Pure image work: encoded bytes in, a bitonal PNG out. Knows nothing of S3 or SQS.
import { availableParallelism, endianness } from "node:os";
import sharp, { type OutputInfo } from "sharp";
import { type BinarizationMethod, DEFAULT_FIXED_THRESHOLD } from "../infra/messages.ts";
import { chooseMethod } from "./auto-method.ts";
import { encodeBitonalPng, packedRowBytes } from "./bitonal-png.ts";
import { documentMethod, type WorkingImage, workingImage } from "./document-method.ts";
import { countValues, otsu } from "./histogram.ts";

type AppliedMethod = Exclude<BinarizationMethod, "auto">;

export interface BinarizeOptions {
  method: BinarizationMethod;
  /** Used by `fixed` only: luma above it is white. */
  threshold?: number;
  /** Decompression-bomb guard, checked from the header before any pixel is decoded. */
  maxInputPixels: number;
  sauvola?: { windowSize?: number; k?: number };
}

export interface BinarizeResult {
  /** 1-bit greyscale PNG: every pixel black or white. */
  png: Buffer;
  width: number;
  height: number;
  /** The method asked for. */
  method: BinarizationMethod;
  /** The method that made the pixels: `auto` resolves to one of the others. */
  appliedMethod: AppliedMethod;
  /** Why `auto` chose what it did, in a few words; absent for the other methods. */
  reason?: string;
  /** The global threshold applied; null for the local methods, whose threshold differs per pixel. */
  threshold: number | null;
}

export type ImageErrorCode = "too-many-pixels" | "undecodable";

/** The input itself is at fault: retrying cannot help. */
export class ImageError extends Error {
  override name = "ImageError";
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

// Sauvola's defaults: R is the dynamic range of the standard deviation for 8-bit images;
// k = 0.2 and a window of about a text line's height suit scanned or photographed pages.
const SAUVOLA_R = 128;
const SAUVOLA_DEFAULT_K = 0.2;
const SAUVOLA_DEFAULT_WINDOW = 31;

/**
 * Settings for a process that binarizes `parallelJobs` images at once. libvips' operation
 * cache only helps when the same image is processed twice, so it is off; libvips threads
 * per image are split so that jobs × threads stays at the number of cores.
 */
export function configureSharpForJobs(parallelJobs: number): void {
  sharp.cache(false);
  sharp.concurrency(Math.max(1, Math.floor(availableParallelism() / parallelJobs)));
}

export async function binarize(input: Uint8Array, options: BinarizeOptions): Promise<BinarizeResult> {
  const { method } = options;
  // Otsu's histogram is counted while luma is taken: one pass over the pixels fewer.
  const histogram = method === "otsu" || method === "auto" ? new Uint32Array(256) : undefined;
  const { luma, width, height } = await decodeLuma(input, options.maxInputPixels, histogram);
  // The document method's measuring image, made once and only when needed: a clean page that
  // auto sends to Otsu never pays for it.
  let work: WorkingImage | undefined;
  const working = () => {
    work ??= workingImage(luma, width, height);
    return work;
  };
  const global = histogram && otsu(histogram);
  const choice = method === "auto" && global ? chooseMethod(global, () => working().paper) : undefined;
  const applied: AppliedMethod = choice?.method ?? (method === "auto" ? "otsu" : method);
  let packed: Uint8Array;
  let threshold: number | null = null;
  if (applied === "document") {
    packed = documentMethod(luma, width, height, working());
  } else if (applied === "sauvola") {
    packed = sauvola(luma, width, height, options.sauvola ?? {});
  } else {
    threshold = global ? global.threshold : (options.threshold ?? DEFAULT_FIXED_THRESHOLD);
    packed = packAboveThreshold(luma, width, height, threshold);
  }
  return {
    png: encodeBitonalPng(packed, width, height),
    width,
    height,
    method,
    appliedMethod: applied,
    ...(choice ? { reason: choice.reason } : {}),
    threshold,
  };
}

/**
 * Decodes, honours EXIF orientation, flattens transparency onto white paper, and takes
 * luma as OpenCV's cvtColor(BGR2GRAY) does, 16-bit samples scaled to 8 bits as OpenCV
 * does (>> 8, which is also libvips' cast). The integer weighting is written out here
 * rather than left to libvips: its recomb gives the same pixels only with float
 * arithmetic that measured several times slower than this loop.
 */
async function decodeLuma(
  input: Uint8Array,
  maxInputPixels: number,
  histogram?: Uint32Array,
): Promise<{ luma: Uint8Array; width: number; height: number }> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const image = sharp(input, { limitInputPixels: maxInputPixels });
    const { space } = await image.metadata();
    // 8-bit grey stays one band (its luma is itself); everything else becomes sRGB, which is
    // also the conversion that scales 16-bit samples by >> 8 (libvips' b-w rounds instead).
    const grey = space === "b-w";
    decoded = await image
      .autoOrient()
      .flatten({ background: "#ffffff" })
      .toColourspace(grey ? "b-w" : "srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ImageError("too-many-pixels", `image has more than ${maxInputPixels} pixels`);
    }
    throw new ImageError(
      "undecodable",
      `The image's pixel data is damaged and cannot be decoded, though the file looked whole at upload (${message.trim()}).`,
    );
  }

  const { data, info } = decoded;
  const { width, height, channels } = info;
  if (channels === 1) {
    if (histogram) countValues(data, histogram);
    return { luma: data, width, height };
  }
  return { luma: rgbToLuma(data, width * height, histogram), width, height };
}

// OpenCV's fixed-point Rec. 601 (cvtColor on 8-bit, 4.x and 5.x alike): 0.299 R + 0.587 G
// + 0.114 B as 15-bit integer weights, rounded. Float weights disagree on about one pixel
// in ten near the threshold; these agree on every pixel of the OpenCV fixture.
const lumaOf = (r: number, g: number, b: number) => (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
const LITTLE_ENDIAN = endianness() === "LE";

function rgbToLuma(rgb: Buffer, pixels: number, histogram: Uint32Array | undefined): Uint8Array {
  // Every byte is written below, so the zero fill of a safe allocation is wasted time.
  const luma = Buffer.allocUnsafe(pixels);
  let i = 0;
  if (LITTLE_ENDIAN && rgb.byteOffset % 4 === 0) {
    // Four pixels from three 32-bit reads: a third of the loads of a byte loop, which
    // measured about 1.5x faster on the pass that dominates our cost over the decode.
    const words = new Uint32Array(rgb.buffer, rgb.byteOffset, Math.floor(rgb.length / 4));
    for (let w = 0; i + 4 <= pixels; w += 3, i += 4) {
      const a = words[w];
      const b = words[w + 1];
      const c = words[w + 2];
      const l0 = lumaOf(a & 255, (a >>> 8) & 255, (a >>> 16) & 255);
      const l1 = lumaOf(a >>> 24, b & 255, (b >>> 8) & 255);
      const l2 = lumaOf((b >>> 16) & 255, b >>> 24, c & 255);
      const l3 = lumaOf((c >>> 8) & 255, (c >>> 16) & 255, c >>> 24);
      luma[i] = l0;
      luma[i + 1] = l1;
      luma[i + 2] = l2;
      luma[i + 3] = l3;
      // Counted here, while the values are in registers, rather than in a pass of its own.
      if (histogram) {
        histogram[l0]++;
        histogram[l1]++;
        histogram[l2]++;
        histogram[l3]++;
      }
    }
  }
  for (let p = i * 3; i < pixels; i++, p += 3) {
    luma[i] = lumaOf(rgb[p], rgb[p + 1], rgb[p + 2]);
    if (histogram) histogram[luma[i]]++;
  }
  return luma;
}

/** Packs luma > threshold as set bits (white), eight pixels a byte, rows led by filter byte 0. */
function packAboveThreshold(luma: Uint8Array, width: number, height: number, threshold: number): Uint8Array {
  const stride = packedRowBytes(width);
  const packed = new Uint8Array(stride * height);
  const t = threshold;
  for (let y = 0, i = 0; y < height; y++) {
    let o = y * stride + 1;
    let x = 0;
    for (; x + 8 <= width; x += 8, i += 8) {
      packed[o++] =
        (luma[i] > t ? 128 : 0) |
        (luma[i + 1] > t ? 64 : 0) |
        (luma[i + 2] > t ? 32 : 0) |
        (luma[i + 3] > t ? 16 : 0) |
        (luma[i + 4] > t ? 8 : 0) |
        (luma[i + 5] > t ? 4 : 0) |
        (luma[i + 6] > t ? 2 : 0) |
        (luma[i + 7] > t ? 1 : 0);
    }
    for (let bit = 0x80; x < width; x++, i++, bit >>= 1) if (luma[i] > t) packed[o] |= bit;
  }
  return packed;
}

/**
 * Sauvola's local threshold T = m · (1 + k · (s / R − 1)) over a square window around each
 * pixel (clipped at the edges), with the window's mean m and standard deviation s from
 * running sums: linear time, and memory of one row of column sums rather than whole-image
 * integral images. White when luma > T, tested without a square root:
 * luma − m(1 − k) > (m·k/R)·s, both sides squared when the left one is positive.
 */
function sauvola(
  luma: Uint8Array,
  width: number,
  height: number,
  { windowSize = SAUVOLA_DEFAULT_WINDOW, k = SAUVOLA_DEFAULT_K }: { windowSize?: number; k?: number },
): Uint8Array {
  const half = Math.max(1, Math.floor(windowSize / 2));
  const stride = packedRowBytes(width);
  const packed = new Uint8Array(stride * height);
  // Window sums fit 32-bit integers: at most 255² × (2·half + 1)² for half up to 90.
  const columnSum = new Int32Array(width);
  const columnSquares = new Int32Array(width);
  // 1 / (columns in the window at x): multiplications in the pixel loop instead of divisions.
  const inverseColumns = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    inverseColumns[x] = 1 / (Math.min(x + half, width - 1) - Math.max(x - half, 0) + 1);
  }
  const addRow = (y: number, sign: 1 | -1) => {
    for (let x = 0, i = y * width; x < width; x++, i++) {
      const v = luma[i];
      columnSum[x] += sign * v;
      columnSquares[x] += sign * v * v;
    }
  };
  for (let y = 0; y < Math.min(half, height); y++) addRow(y, 1);
  const kOverR = k / SAUVOLA_R;
  const paper = 1 - k;

  const slideRows = (entering: number, leaving: number) => {
    for (let x = 0, i = entering * width, o = leaving * width; x < width; x++, i++, o++) {
      const v = luma[i];
      const u = luma[o];
      columnSum[x] += v - u;
      columnSquares[x] += v * v - u * u;
    }
  };

  for (let y = 0; y < height; y++) {
    const entering = y + half < height;
    const leaving = y - half - 1 >= 0;
    if (entering && leaving) slideRows(y + half, y - half - 1);
    else if (entering) addRow(y + half, 1);
    else if (leaving) addRow(y - half - 1, -1);
    const inverseRows = 1 / (Math.min(y + half, height - 1) - Math.max(y - half, 0) + 1);

    let sum = 0;
    let squares = 0;
    for (let x = 0; x < Math.min(half, width); x++) {
      sum += columnSum[x];
      squares += columnSquares[x];
    }
    const rowStart = y * width;
    const packedRow = y * stride + 1;
    for (let x = 0; x < width; x++) {
      if (x + half < width) {
        sum += columnSum[x + half];
        squares += columnSquares[x + half];
      }
      if (x > half) {
        sum -= columnSum[x - half - 1];
        squares -= columnSquares[x - half - 1];
      }
      const inverseCount = inverseRows * inverseColumns[x];
      const mean = sum * inverseCount;
      const margin = luma[rowStart + x] - mean * paper;
      if (margin <= 0) continue; // at or below m(1 − k): black whatever the deviation
      const scale = mean * kOverR;
      const variance = squares * inverseCount - mean * mean;
      if (margin * margin > scale * scale * variance) packed[packedRow + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return packed;
}
