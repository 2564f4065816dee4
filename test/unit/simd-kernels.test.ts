import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { localContrast3x3 } from "../../imaging/kernels/simd.ts";

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
    let seed = 7;
    const next = () => {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      return seed >>> 24;
    };
    for (const [width, height] of [
      [1, 1],
      [1, 5],
      [2, 3],
      [15, 4],
      [16, 16],
      [17, 2],
      [33, 9],
      [50, 31],
    ]) {
      const image = Uint8Array.from({ length: width * height }, next);
      const { contrast, histogram } = localContrast3x3(image, width, height);
      const expected = referenceContrast(image, width, height);
      expect(Array.from(contrast), `${width}×${height}`).toEqual(Array.from(expected));
      const counts = new Uint32Array(256);
      for (let y = 0; y < height; y += 2) for (let x = 0; x < width; x++) counts[expected[y * width + x]]++;
      expect(Array.from(histogram)).toEqual(Array.from(counts));
    }
  });
});
