// The WebAssembly SIMD kernels (simd/kernels.as.ts) behind plain typed-array functions.
// By hand in WebAssembly rather than in libvips: at page sizes a round trip through sharp alone
// costs more than these passes (docs/BENCHMARKS.md), and V8 does not vectorise JavaScript.
import { readFileSync } from "node:fs";

const instance = new WebAssembly.Instance(
  new WebAssembly.Module(readFileSync(new URL("simd/kernels.wasm", import.meta.url))),
);
const memory = instance.exports.memory as WebAssembly.Memory;
const kernels = instance.exports as unknown as {
  localContrast(image: number, width: number, height: number, out: number, scratch: number, histogram: number): void;
};

/** The wasm memory, grown to at least `bytes` (it is reused, never shrunk: one job at a time per thread). */
function memoryOf(bytes: number): Uint8Array {
  const missing = bytes - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / 65536));
  return new Uint8Array(memory.buffer);
}

/**
 * 3×3 max − min of every pixel (edges repeated), and the histogram of the contrasts of even rows.
 */
export function localContrast3x3(image: Uint8Array, width: number, height: number) {
  const pixels = width * height;
  const out = pixels;
  const scratch = 2 * pixels;
  const histogram = scratch + 2 * width + 64;
  const bytes = memoryOf(histogram + 1024);
  bytes.set(image, 0);
  bytes.fill(0, histogram, histogram + 1024);
  kernels.localContrast(0, width, height, out, scratch, histogram);
  return {
    contrast: bytes.slice(out, out + pixels),
    histogram: new Uint32Array(memory.buffer.slice(histogram, histogram + 1024)),
  };
}
