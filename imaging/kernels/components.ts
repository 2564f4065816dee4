// Connected components of a mask, found over runs of pixels rather than pixels: a page of text
// has a few runs per stroke per row, so labelling them costs far less than a flood fill. The
// labeller of the surround, the dark areas' surround lines and the DIBCO measures' pseudo-weights
// (the runs themselves, their joining and the speck removal are SIMD kernels in simd.ts). By hand
// because no maintained JavaScript package labels typed-array masks.
import { componentRuns } from "./simd.ts";

export interface ComponentBox {
  /** 1..N, in the order the components' first pixels are met in a raster scan. */
  label: number;
  /** Bounds, inclusive. */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  /** The component's first pixel in a raster scan. */
  seedX: number;
  seedY: number;
}

/**
 * Every 8-connected component of the pixels equal to `value`: a label per pixel (0 elsewhere)
 * and each component's bounds, labels numbered in raster order of their first pixels.
 */
export function labelComponents(
  mask: Uint8Array,
  width: number,
  height: number,
  value: number,
): { labels: Int32Array; items: ComponentBox[] } {
  const runs = componentRuns(mask, width, height, value);
  const labels = new Int32Array(width * height);
  const labelOfRoot = new Int32Array(runs.length);
  const items: ComponentBox[] = [];
  // Runs are made in raster order, so a component's first run holds its first pixel.
  for (let r = 0; r < runs.length; r++) {
    const root = runs.root[r];
    const y = runs.row[r];
    const start = runs.start[r];
    const last = runs.end[r] - 1;
    if (labelOfRoot[root] === 0) {
      labelOfRoot[root] = items.length + 1;
      items.push({ label: items.length + 1, x0: start, y0: y, x1: last, y1: y, seedX: start, seedY: y });
    }
    const box = items[labelOfRoot[root] - 1];
    if (start < box.x0) box.x0 = start;
    if (last > box.x1) box.x1 = last;
    box.y1 = y;
    labels.fill(box.label, y * width + start, y * width + last + 1);
  }
  return { labels, items };
}
