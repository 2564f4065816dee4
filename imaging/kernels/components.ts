// Connected components of a mask, found over runs of pixels rather than pixels: a page of text
// has a few runs per stroke per row, so labelling them costs far less than a flood fill. One
// labeller for the document method's speck removal and the DIBCO measures' pseudo-weights.
// By hand because no maintained JavaScript package labels typed-array masks; the runs and their
// joining are a WebAssembly SIMD kernel (simd.ts), the rest works on runs.
import { flipSmallComponents, runsOf } from "./simd.ts";

/**
 * Flips every 8-connected component of `value` smaller than `minimumArea` pixels to the other
 * value: specks of ink to paper, or pinholes of paper to ink.
 */
export function removeSmallComponents(
  mask: Uint8Array,
  width: number,
  height: number,
  value: 0 | 1,
  minimumArea: number,
): void {
  if (minimumArea > 1) flipSmallComponents(mask, width, height, value, minimumArea);
}

/**
 * The largest share of pixels that are 0 in `other` among the 8-connected components of `value`
 * with at least `minimumArea` pixels (0 when there are none): whether any large component is
 * mostly something, without labelling every pixel.
 */
export function largestZeroShare(
  mask: Uint8Array,
  width: number,
  height: number,
  value: number,
  minimumArea: number,
  other: Uint8Array,
): number {
  const runs = connectedRuns(mask, width, height, value);
  const area = new Float64Array(runs.length);
  const zeros = new Float64Array(runs.length);
  for (let r = 0; r < runs.length; r++) {
    const root = runs.find(r);
    area[root] += runs.end[r] - runs.start[r];
    let count = 0;
    for (let i = runs.row[r] * width + runs.start[r], end = runs.row[r] * width + runs.end[r]; i < end; i++) {
      count += other[i] === 0 ? 1 : 0;
    }
    zeros[root] += count;
  }
  let largest = 0;
  for (let r = 0; r < runs.length; r++) {
    if (area[r] >= minimumArea) largest = Math.max(largest, zeros[r] / area[r]);
  }
  return largest;
}

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
  const runs = connectedRuns(mask, width, height, value);
  const labels = new Int32Array(width * height);
  const labelOfRoot = new Int32Array(runs.length);
  const items: ComponentBox[] = [];
  // Runs are made in raster order, so a component's first run holds its first pixel.
  for (let r = 0; r < runs.length; r++) {
    const root = runs.find(r);
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

/** The runs of `value` along each row, joined into 8-connected components (a SIMD kernel). */
function connectedRuns(mask: Uint8Array, width: number, height: number, value: number): RunList {
  return new RunList(runsOf(mask, width, height, value));
}

/** Runs [start, end) of a row, with a union-find forest over them. */
class RunList {
  readonly length: number;
  readonly row: Int32Array;
  readonly start: Int32Array;
  readonly end: Int32Array;
  private readonly parent: Int32Array;

  constructor(runs: ReturnType<typeof runsOf>) {
    this.length = runs.length;
    this.row = runs.row;
    this.start = runs.start;
    this.end = runs.end;
    this.parent = runs.parent;
  }

  find(r: number): number {
    let root = r;
    while (this.parent[root] !== root) root = this.parent[root];
    while (this.parent[r] !== root) {
      const next = this.parent[r];
      this.parent[r] = root;
      r = next;
    }
    return root;
  }
}
