// `fixed`: one global threshold, luma above it white. Also the last step of `otsu`, whose
// threshold comes from the histogram instead of the caller.
import { packedRowBytes } from "../kernels/packed-rows.ts";

/** Packs luma > threshold as set bits (white), eight pixels a byte, rows led by filter byte 0. */
export function packAboveThreshold(luma: Uint8Array, width: number, height: number, threshold: number): Uint8Array {
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
