// `sauvola`: a local threshold from each pixel's neighbourhood, for uneven light on simple pages.
import { packedRowBytes } from "../kernels/packed-rows.ts";
import { WindowColumns } from "../kernels/window-sums.ts";

// Sauvola's defaults: R is the dynamic range of the standard deviation for 8-bit images;
// k = 0.2 and a window of about a text line's height suit scanned or photographed pages.
const SAUVOLA_R = 128;
const SAUVOLA_DEFAULT_K = 0.2;
const SAUVOLA_DEFAULT_WINDOW = 31;

export interface SauvolaOptions {
  windowSize?: number;
  k?: number;
}

/**
 * Sauvola's local threshold T = m · (1 + k · (s / R − 1)) over a square window around each
 * pixel (clipped at the edges), with the window's mean m and standard deviation s from
 * running sums: linear time, and memory of one row of column sums rather than whole-image
 * integral images. White when luma > T, tested without a square root:
 * luma − m(1 − k) > (m·k/R)·s, both sides squared when the left one is positive.
 */
export function sauvola(
  luma: Uint8Array,
  width: number,
  height: number,
  { windowSize = SAUVOLA_DEFAULT_WINDOW, k = SAUVOLA_DEFAULT_K }: SauvolaOptions,
): Uint8Array {
  const half = Math.max(1, Math.floor(windowSize / 2));
  const stride = packedRowBytes(width);
  const packed = new Uint8Array(stride * height);
  // Window sums fit 32-bit integers: at most 255² × (2·half + 1)² for half up to 90.
  const window = new WindowColumns(luma, width, height, half);
  const columnSum = window.sum;
  const columnSquares = window.squares;
  // 1 / (columns in the window at x): multiplications in the pixel loop instead of divisions.
  const inverseColumns = new Float64Array(width);
  for (let x = 0; x < width; x++) {
    inverseColumns[x] = 1 / (Math.min(x + half, width - 1) - Math.max(x - half, 0) + 1);
  }
  const kOverR = k / SAUVOLA_R;
  const paper = 1 - k;

  for (let y = 0; y < height; y++) {
    window.next();
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
