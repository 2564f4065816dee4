// Pure image work: encoded bytes in, a bitonal PNG out. Knows nothing of S3 or SQS.
import sharp, { type OutputInfo } from "sharp";
import { type BinarizationMethod, DEFAULT_FIXED_THRESHOLD } from "../infra/messages.ts";

export interface BinarizeOptions {
  method: BinarizationMethod;
  /** Used by `fixed` only: luma above it is white. */
  threshold?: number;
  /** Decompression-bomb guard, checked from the header before any pixel is decoded. */
  maxInputPixels: number;
  sauvola?: { windowSize?: number; k?: number };
}

export interface BinarizeResult {
  png: Buffer;
  width: number;
  height: number;
  method: BinarizationMethod;
  /** The global threshold applied; null for Sauvola, whose threshold differs per pixel. */
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

export async function binarize(input: Uint8Array, options: BinarizeOptions): Promise<BinarizeResult> {
  const { luma, width, height } = await decodeLuma(input, options.maxInputPixels);
  const bitonal = new Uint8Array(width * height);
  let threshold: number | null;

  if (options.method === "sauvola") {
    sauvolaInto(bitonal, luma, width, height, options.sauvola ?? {});
    threshold = null;
  } else {
    threshold = options.method === "otsu" ? otsuThreshold(luma) : (options.threshold ?? DEFAULT_FIXED_THRESHOLD);
    for (let i = 0; i < luma.length; i++) bitonal[i] = luma[i] > threshold ? 255 : 0;
  }

  const png = await sharp(bitonal, { raw: { width, height, channels: 1 } })
    .toColourspace("b-w")
    .png()
    .toBuffer();
  return { png, width, height, method: options.method, threshold };
}

/**
 * Decodes, honours EXIF orientation, flattens transparency onto white paper, and takes
 * luma as OpenCV's cvtColor(BGR2GRAY) does. The integer weighting is written out by hand
 * rather than left to sharp's floating-point recomb because `fixed` must reproduce
 * OpenCV's output pixel for pixel, and its rounding is part of that.
 */
async function decodeLuma(
  input: Uint8Array,
  maxInputPixels: number,
): Promise<{ luma: Uint8Array; width: number; height: number }> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await sharp(input, { limitInputPixels: maxInputPixels })
      .autoOrient()
      .flatten({ background: "#ffffff" })
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ImageError("too-many-pixels", `image has more than ${maxInputPixels} pixels`);
    }
    throw new ImageError("undecodable", `image cannot be decoded: ${message}`);
  }

  const { data, info } = decoded;
  const { width, height, channels } = info;
  const luma = new Uint8Array(width * height);
  if (channels < 3) {
    for (let i = 0; i < luma.length; i++) luma[i] = data[i * channels];
  } else {
    // OpenCV's fixed-point Rec. 601: R*0.299 + G*0.587 + B*0.114 in 14-bit integers.
    for (let i = 0, p = 0; i < luma.length; i++, p += channels) {
      luma[i] = (data[p] * 4899 + data[p + 1] * 9617 + data[p + 2] * 1868 + 8192) >> 14;
    }
  }
  return { luma, width, height };
}

/** Otsu's method: the threshold that maximises the between-class variance of the histogram. */
export function otsuThreshold(luma: Uint8Array): number {
  const histogram = new Float64Array(256);
  for (let i = 0; i < luma.length; i++) histogram[luma[i]]++;
  const total = luma.length;
  let sumAll = 0;
  for (let v = 0; v < 256; v++) sumAll += v * histogram[v];

  let best = 0;
  let bestVariance = -1;
  let weightBelow = 0;
  let sumBelow = 0;
  for (let t = 0; t < 256; t++) {
    weightBelow += histogram[t];
    if (weightBelow === 0) continue;
    const weightAbove = total - weightBelow;
    if (weightAbove === 0) break;
    sumBelow += t * histogram[t];
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sumAll - sumBelow) / weightAbove;
    const variance = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (variance > bestVariance) {
      bestVariance = variance;
      best = t;
    }
  }
  return best;
}

/**
 * Sauvola's local threshold T = m · (1 + k · (s / R − 1)) over a square window, with the
 * window's mean m and standard deviation s kept as running sums: linear time, and memory
 * of two rows of column sums rather than two whole-image integral images.
 */
function sauvolaInto(
  out: Uint8Array,
  luma: Uint8Array,
  width: number,
  height: number,
  { windowSize = SAUVOLA_DEFAULT_WINDOW, k = SAUVOLA_DEFAULT_K }: { windowSize?: number; k?: number },
): void {
  const half = Math.max(1, Math.floor(windowSize / 2));
  const columnSum = new Float64Array(width);
  const columnSquares = new Float64Array(width);
  const addRow = (y: number, sign: 1 | -1) => {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const v = luma[row + x];
      columnSum[x] += sign * v;
      columnSquares[x] += sign * v * v;
    }
  };
  for (let y = 0; y < Math.min(half, height); y++) addRow(y, 1);

  for (let y = 0; y < height; y++) {
    if (y + half < height) addRow(y + half, 1);
    if (y - half - 1 >= 0) addRow(y - half - 1, -1);
    const rows = Math.min(y + half, height - 1) - Math.max(y - half, 0) + 1;

    let sum = 0;
    let squares = 0;
    for (let x = 0; x < Math.min(half, width); x++) {
      sum += columnSum[x];
      squares += columnSquares[x];
    }
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (x + half < width) {
        sum += columnSum[x + half];
        squares += columnSquares[x + half];
      }
      if (x - half - 1 >= 0) {
        sum -= columnSum[x - half - 1];
        squares -= columnSquares[x - half - 1];
      }
      const count = rows * (Math.min(x + half, width - 1) - Math.max(x - half, 0) + 1);
      const mean = sum / count;
      const deviation = Math.sqrt(Math.max(0, squares / count - mean * mean));
      const threshold = mean * (1 + k * (deviation / SAUVOLA_R - 1));
      out[row + x] = luma[row + x] > threshold ? 255 : 0;
    }
  }
}
