// Connected components of a mask, found over runs of pixels rather than pixels: a page of text
// has a few runs per stroke per row, so labelling them costs far less than a flood fill. The
// labeller of the dark areas, the surround and the DIBCO measures' pseudo-weights (the speck
// removal is a kernel of its own in simd.ts). By hand because no maintained JavaScript package
// labels typed-array masks; the runs and their joining are a WebAssembly SIMD kernel (simd.ts).
import { runsOf } from "./simd.ts";

/** The runs [start, end) of a mask's value along each row, in raster order, and each run's component. */
export interface ComponentRuns {
  length: number;
  row: Int32Array;
  start: Int32Array;
  end: Int32Array;
  /** Per run: its component's first run, which names the component. */
  root: Int32Array;
}

/** Every 8-connected component of the pixels equal to `value`, as runs. */
export function componentRuns(mask: Uint8Array, width: number, height: number, value: number): ComponentRuns {
  const runs = connectedRuns(mask, width, height, value);
  const root = new Int32Array(runs.length);
  for (let r = 0; r < runs.length; r++) root[r] = runs.find(r);
  return { length: runs.length, row: runs.row, start: runs.start, end: runs.end, root };
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
