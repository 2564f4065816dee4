// Connected components of a mask, found over runs of pixels rather than pixels: a page of text
// has a few runs per stroke per row, so labelling them costs far less than a flood fill. One
// labeller for the document method's speck removal and the DIBCO measures' pseudo-weights.
// By hand because no maintained JavaScript package labels typed-array masks.

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
  if (minimumArea <= 1) return;
  const runs = connectedRuns(mask, width, height, value);
  const area = new Float64Array(runs.length);
  for (let r = 0; r < runs.length; r++) area[runs.find(r)] += runs.end[r] - runs.start[r];
  const other = value === 1 ? 0 : 1;
  for (let r = 0; r < runs.length; r++) {
    if (area[runs.find(r)] >= minimumArea) continue;
    mask.fill(other, runs.row[r] * width + runs.start[r], runs.row[r] * width + runs.end[r]);
  }
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

/** The runs of `value` along each row, joined into 8-connected components. */
function connectedRuns(mask: Uint8Array, width: number, height: number, value: number): RunList {
  const runs = new RunList();
  let previousFirst = 0; // the previous row's runs are runs[previousFirst, rowFirst)
  for (let y = 0; y < height; y++) {
    const rowFirst = runs.length;
    let overlap = previousFirst;
    for (let x = 0, i = y * width; x < width; ) {
      if (mask[i] !== value) {
        x++;
        i++;
        continue;
      }
      const start = x;
      while (x < width && mask[i] === value) {
        x++;
        i++;
      }
      const run = runs.add(y, start, x);
      // Runs of the row above touching [start − 1, x] (8-connected) join this run's component.
      while (overlap < rowFirst && runs.end[overlap] < start) overlap++;
      for (let r = overlap; r < rowFirst && runs.start[r] <= x; r++) runs.union(run, r);
    }
    previousFirst = rowFirst;
  }
  return runs;
}

/** Runs [start, end) of a row, with a union-find forest over them; grows as needed. */
class RunList {
  length = 0;
  row = new Int32Array(1024);
  start = new Int32Array(1024);
  end = new Int32Array(1024);
  parent = new Int32Array(1024);

  add(row: number, start: number, end: number): number {
    if (this.length === this.row.length) {
      const grow = (array: Int32Array) => {
        const bigger = new Int32Array(array.length * 2);
        bigger.set(array);
        return bigger;
      };
      this.row = grow(this.row);
      this.start = grow(this.start);
      this.end = grow(this.end);
      this.parent = grow(this.parent);
    }
    const r = this.length++;
    this.row[r] = row;
    this.start[r] = start;
    this.end[r] = end;
    this.parent[r] = r;
    return r;
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

  union(a: number, b: number): void {
    const rootA = this.find(a);
    const rootB = this.find(b);
    if (rootA !== rootB) this.parent[Math.max(rootA, rootB)] = Math.min(rootA, rootB);
  }
}
