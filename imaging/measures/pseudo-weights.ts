// The weights behind DIBCO's pseudo F-measure (Ntirogiannis, Gatos and Pratikakis, "Performance
// Evaluation Methodology for Historical Document Image Binarization", IEEE TIP 22(2), 2013):
// a recall weight per ink pixel of the ground truth (its distance from the stroke's contour,
// normalised across the stroke's width along its skeleton, so a lost stroke costs the same
// however wide it is) and a precision weight per paper pixel (its distance from the text,
// normalised by the stroke width around it, so a blot between letters costs more than a
// thickened edge). Pure functions over a ground truth where 0 is ink.
//
// By hand because no JavaScript library has them. The details that decide the weights (the
// Zhang–Suen then Lee–Chen thinning, the ring searches clamped to a component's bounding box,
// the order pixels are visited in) follow the evaluation tool as Doxa reimplements it,
// because the test checks the resulting pseudo F-measure against doxapy's to the second
// decimal. Where a rule looks odd (the bottom-right neighbour of a termination point), it is
// the reference's, kept so that the numbers agree.

import { type ComponentBox, labelComponents } from "../kernels/components.ts";

const INK = 1;
const CONTOUR = 2;
const SKELETON = 4;
const UNREACHED = 0xffff;
/** A paper pixel beyond every stroke's reach: precision weight 0 there. */
const OUTSIDE_REGION = 250;
const hasDistance = (d: number) => d !== 0 && d < OUTSIDE_REGION;

export interface PseudoWeights {
  /** Per pixel: the recall weight of an ink pixel of the ground truth (0 on paper). */
  recall: Float64Array;
  /** Per pixel: the extra precision weight of a paper pixel (0 on ink and far from text). */
  precision: Float64Array;
}

interface Component extends ComponentBox {
  strokeWidth: number;
}

interface Components {
  labels: Int32Array;
  /** In the order their first pixels are met in a raster scan. */
  items: Component[];
}

export function pseudoWeights(truth: Uint8Array, width: number, height: number): PseudoWeights {
  const size = width * height;
  const inkAt = (x: number, y: number) => x >= 0 && x < width && y >= 0 && y < height && truth[y * width + x] === 0;
  const components = label(truth, width, height, 0);
  const overlay = new Uint8Array(size);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (truth[i] !== 0) continue;
      overlay[i] = INK | SKELETON;
      if (!inkAt(x, y - 1) || !inkAt(x, y + 1) || !inkAt(x - 1, y) || !inkAt(x + 1, y)) overlay[i] |= CONTOUR;
    }
  }
  thin(overlay, width, height, SKELETON);
  seedEmptySkeletons(overlay, width, SKELETON, components);
  const contourDistance = chessboardDistance(overlay, width, height, CONTOUR);

  // Recall: D is the distance from the contour, NR its normaliser across the stroke.
  const distance = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    if (!(overlay[i] & INK)) continue;
    distance[i] = overlay[i] & CONTOUR && overlay[i] & SKELETON ? 1 : contourDistance[i];
  }
  raiseFlatRidges(distance, overlay, width, height, components);
  const foreground = medialNormalization(distance, overlay, width, height, components);
  assignStrokeWidths(components, foreground.factor, overlay);
  const recall = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    if (distance[i] !== 0 && foreground.normaliser[i] !== 0) recall[i] = distance[i] / foreground.normaliser[i];
  }

  return { recall, precision: precisionWeights(overlay, width, height, components, contourDistance) };
}

function precisionWeights(
  overlay: Uint8Array,
  width: number,
  height: number,
  components: Components,
  contourDistance: Uint16Array,
): Float64Array {
  const size = width * height;
  const strokeWidthOnContour = new Uint8Array(size);
  forEachPixel(components, width, (c, _x, _y, i) => {
    if (overlay[i] & CONTOUR) strokeWidthOnContour[i] = c.strokeWidth & 0xff;
  });
  // Paper within two stroke widths of a component's bounding box is reached by its strokes.
  const region = new Uint8Array(size);
  for (const c of components.items) {
    const margin = 2 * c.strokeWidth;
    const x0 = Math.max(0, c.x0 - margin);
    const x1 = Math.min(width - 1, c.x1 + margin);
    const y0 = Math.max(0, c.y0 - margin);
    const y1 = Math.min(height - 1, c.y1 + margin);
    for (let y = y0; y <= y1; y++)
      for (let x = x0; x <= x1; x++) if (!(overlay[y * width + x] & INK)) region[y * width + x] = 1;
  }

  const paper = label(overlay, width, height, 0);
  // The paper's own skeleton (the image's frame stays out of it).
  const background = new Uint8Array(size);
  for (let i = 0; i < size; i++) if (overlay[i] === 0) background[i] = SKELETON;
  for (let x = 0; x < width; x++) background[x] = background[(height - 1) * width + x] = 0;
  for (let y = 0; y < height; y++) background[y * width] = background[y * width + width - 1] = 0;
  thin(background, width, height, SKELETON);
  seedEmptySkeletons(background, width, SKELETON, paper);

  const distance = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    if (overlay[i] & INK) continue;
    distance[i] = region[i] ? contourDistance[i] : OUTSIDE_REGION;
  }
  raiseFlatRidges(distance, background, width, height, paper);
  const { normaliser } = medialNormalization(distance, background, width, height, paper);
  forEachPixel(paper, width, (_c, _x, _y, i) => {
    if (hasDistance(distance[i])) normaliser[i] = Math.floor(Math.sqrt(normaliser[i]) + 0.5);
  });

  // NP = min(stroke width, gap to the next component) where two components are close enough to
  // merge, the stroke width's reach elsewhere: a first pass marks where components meet.
  const merges = new Uint8Array(size);
  const reachOf = new Uint16Array(size).fill(UNREACHED);
  forEachPixel(paper, width, (c, x, y, i) => {
    if (!hasDistance(distance[i])) return;
    let reach = -1;
    let firstLabel = -1;
    let adjacent = false;
    const found = firstNonEmptyRing(c, x, y, width, contourDistance[i], (j) => {
      if (!(overlay[j] & CONTOUR)) return false;
      reach = Math.max(reach, strokeWidthOnContour[j]);
      const owner = components.labels[j];
      if (firstLabel < 0) firstLabel = owner;
      else if (owner !== firstLabel) adjacent = true;
      return true;
    });
    reachOf[i] = found >= 0 ? reach : UNREACHED;
    if (found < 0 || distance[i] > reach) return;
    merges[i] = adjacent ? normaliser[i] & 0xff : 0;
  });
  const final = new Uint8Array(size);
  forEachPixel(paper, width, (_c, x, y, i) => {
    if (!hasDistance(distance[i]) || reachOf[i] === UNREACHED) return;
    const reach = reachOf[i];
    if (distance[i] > reach) return;
    const merging = anyWithin(merges, x, y, reach - distance[i], width, height);
    final[i] = (merging && normaliser[i] < reach ? normaliser[i] : reach) & 0xff;
  });

  const precision = new Float64Array(size);
  for (let i = 0; i < size; i++) if (final[i] !== 0) precision[i] = Math.min(2, distance[i] / final[i]);
  return precision;
}

/** The components of the pixels equal to `value`, each with room for its stroke width. */
function label(image: Uint8Array, width: number, height: number, value: number): Components {
  const { labels, items } = labelComponents(image, width, height, value);
  return { labels, items: items.map((box) => ({ ...box, strokeWidth: 0 })) };
}

/** Every pixel of every component, component by component, row by row within its bounds. */
function forEachPixel(
  components: Components,
  width: number,
  visit: (c: Component, x: number, y: number, i: number) => void,
): void {
  for (const c of components.items) {
    for (let y = c.y0; y <= c.y1; y++) {
      for (let x = c.x0; x <= c.x1; x++) {
        const i = y * width + x;
        if (components.labels[i] === c.label) visit(c, x, y, i);
      }
    }
  }
}

/** Exact chessboard distance to the nearest pixel carrying `bit` (a forward and a backward pass). */
function chessboardDistance(mask: Uint8Array, width: number, height: number, bit: number): Uint16Array {
  const distance = new Uint16Array(width * height);
  for (let i = 0; i < distance.length; i++) distance[i] = mask[i] & bit ? 0 : UNREACHED;
  const relax = (i: number, from: number) => {
    const candidate = distance[from];
    if (candidate !== UNREACHED && candidate + 1 < distance[i]) distance[i] = candidate + 1;
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (distance[i] === 0) continue;
      if (y > 0) {
        relax(i, i - width);
        if (x > 0) relax(i, i - width - 1);
        if (x < width - 1) relax(i, i - width + 1);
      }
      if (x > 0) relax(i, i - 1);
    }
  }
  for (let y = height - 1; y >= 0; y--) {
    for (let x = width - 1; x >= 0; x--) {
      const i = y * width + x;
      if (distance[i] === 0) continue;
      if (y < height - 1) {
        relax(i, i + width);
        if (x < width - 1) relax(i, i + width + 1);
        if (x > 0) relax(i, i + width - 1);
      }
      if (x < width - 1) relax(i, i + 1);
    }
  }
  return distance;
}

/**
 * Grows a square ring around (x, y), clamped to the component's bounds, until a ring holds a
 * cell `visit` accepts (every cell of that ring is visited); returns that radius, or −1 when
 * the whole box held none. Not a nearest-neighbour search: all cells of the ring count.
 * `from` is the distance to the nearest acceptable cell anywhere (a distance transform): no
 * smaller ring can hold one, so starting there gives the same answer in O(R), not O(R²).
 */
function firstNonEmptyRing(
  c: Component,
  x: number,
  y: number,
  width: number,
  from: number,
  visit: (j: number) => boolean,
): number {
  for (let radius = from; ; radius++) {
    const x0 = Math.max(x - radius, c.x0);
    const x1 = Math.min(x + radius, c.x1);
    const y0 = Math.max(y - radius, c.y0);
    const y1 = Math.min(y + radius, c.y1);
    let found = false;
    // walkRing's order, written out: this loop is most of the weights' cost.
    for (let row = y0 + 1; row < y1; row++) if (visit(row * width + x0)) found = true;
    for (let row = y0 + 1; row < y1; row++) if (visit(row * width + x1)) found = true;
    for (let col = x0 + 1; col < x1; col++) if (visit(y0 * width + col)) found = true;
    for (let col = x0 + 1; col < x1; col++) if (visit(y1 * width + col)) found = true;
    if (visit(y0 * width + x0)) found = true;
    if (visit(y1 * width + x0)) found = true;
    if (visit(y0 * width + x1)) found = true;
    if (visit(y1 * width + x1)) found = true;
    if (found) return radius;
    if (x0 === c.x0 && x1 === c.x1 && y0 === c.y0 && y1 === c.y1) return -1;
  }
}

function ringBounds(c: Component, x: number, y: number, radius: number): [number, number, number, number] {
  return [
    Math.max(x - radius, c.x0),
    Math.min(x + radius, c.x1),
    Math.max(y - radius, c.y0),
    Math.min(y + radius, c.y1),
  ];
}

/** The ring's cells in the reference's order: left side, right side, top, bottom, then the corners. */
function walkRing(x0: number, x1: number, y0: number, y1: number, width: number, visit: (j: number) => void): void {
  for (let row = y0 + 1; row < y1; row++) visit(row * width + x0);
  for (let row = y0 + 1; row < y1; row++) visit(row * width + x1);
  for (let col = x0 + 1; col < x1; col++) visit(y0 * width + col);
  for (let col = x0 + 1; col < x1; col++) visit(y1 * width + col);
  visit(y0 * width + x0);
  visit(y1 * width + x0);
  visit(y0 * width + x1);
  visit(y1 * width + x1);
}

/** A flat ridge of the distance map on the skeleton is one further from the contour than it says. */
function raiseFlatRidges(
  distance: Uint8Array,
  skeleton: Uint8Array,
  width: number,
  height: number,
  components: Components,
): void {
  forEachPixel(components, width, (_c, x, y, i) => {
    const d = distance[i];
    if (!hasDistance(d)) return;
    const up = y > 0 ? i - width : i;
    const down = y < height - 1 ? i + width : i;
    const left = x > 0 ? i - 1 : i;
    const right = x < width - 1 ? i + 1 : i;
    if (
      distance[up] === d &&
      distance[down] === d &&
      distance[left] === d &&
      distance[right] === d &&
      skeleton[i] & SKELETON
    ) {
      distance[i] = d + 1;
    }
  });
}

/**
 * The normaliser of each pixel's distance across its stroke (Normalization type I): the
 * largest distance × medial factor on the nearest ring of skeleton, spread along the stroke.
 */
function medialNormalization(
  distance: Uint8Array,
  overlay: Uint8Array,
  width: number,
  height: number,
  components: Components,
) {
  const size = width * height;
  const toSkeleton = chessboardDistance(overlay, width, height, SKELETON);
  const skeletonDistance = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    if (!hasDistance(distance[i])) continue;
    skeletonDistance[i] = overlay[i] & SKELETON && !(overlay[i] & CONTOUR) ? 1 : toSkeleton[i];
  }

  const factor = new Uint8Array(size);
  for (let i = 0; i < size; i++) factor[i] = overlay[i] & SKELETON ? 1 : 0;
  const ringRadius = new Uint16Array(size).fill(UNREACHED);
  forEachPixel(components, width, (c, x, y, i) => {
    if (!hasDistance(distance[i])) return;
    const reach = skeletonDistance[i];
    const radius = firstNonEmptyRing(c, x, y, width, toSkeleton[i], (j) => {
      if (!(overlay[j] & SKELETON)) return false;
      factor[j] = reach >= distance[j] ? distance[j] + 1 : distance[j];
      return true;
    });
    ringRadius[i] = radius >= 0 ? radius : UNREACHED;
  });
  forEachPixel(components, width, (_c, x, y, i) => {
    if (!(overlay[i] & SKELETON)) return;
    const inherited = terminationFactor(factor, overlay, x, y, width, height);
    if (inherited > 0) factor[i] = inherited + 1;
  });

  const normaliser = new Uint16Array(size);
  forEachPixel(components, width, (c, x, y, i) => {
    if (!hasDistance(distance[i]) || ringRadius[i] === UNREACHED) return;
    let best = -1;
    const [x0, x1, y0, y1] = ringBounds(c, x, y, ringRadius[i]);
    walkRing(x0, x1, y0, y1, width, (j) => {
      if (overlay[j] & SKELETON) best = Math.max(best, distance[j] * factor[j]);
    });
    normaliser[i] = best;
  });
  forEachPixel(components, width, (_c, x, y, i) => {
    if (hasDistance(distance[i]) && differsFromAllNeighbours(normaliser, x, y, width, height)) {
      normaliser[i] = normaliser[i - 1];
    }
  });
  return { factor, normaliser };
}

/** At a skeleton end (one skeleton neighbour, edges clamped), that neighbour's factor; else −1. */
function terminationFactor(
  factor: Uint8Array,
  overlay: Uint8Array,
  col: number,
  row: number,
  width: number,
  height: number,
) {
  const left = col > 0 ? -1 : 0;
  const right = col < width - 1 ? 1 : 0;
  const up = row > 0 ? -1 : 0;
  const down = row < height - 1 ? 1 : 0;
  const checks: [number, number, number][] = [
    [row + up, col, (row + up) * width + col],
    [row + down, col, (row + down) * width + col],
    [row, col + left, row * width + col + left],
    [row, col + right, row * width + col + right],
    [row + up, col + left, (row + up) * width + col + left],
    // The reference reads this factor at column `right`, not `col + right`: kept so the weights agree.
    [row + down, col + right, (row + down) * width + right],
    [row + down, col + left, (row + down) * width + col + left],
    [row + up, col + right, (row + up) * width + col + right],
  ];
  let count = 0;
  let last = -1;
  for (const [r, c, at] of checks) {
    if (overlay[r * width + c] & SKELETON) {
      count++;
      last = factor[at];
    }
  }
  return count === 1 ? last : -1;
}

function differsFromAllNeighbours(values: Uint16Array, col: number, row: number, width: number, height: number) {
  const up = values[(row > 0 ? row - 1 : row) * width + col];
  const down = values[(row < height - 1 ? row + 1 : row) * width + col];
  const left = values[row * width + (col > 0 ? col - 1 : col)];
  const right = values[row * width + (col < width - 1 ? col + 1 : col)];
  if (!up || !down || !left || !right) return false;
  const centre = values[row * width + col];
  return centre !== up && centre !== down && centre !== left && centre !== right;
}

/** Each component's stroke width: twice the (integer) mean medial factor on its skeleton. */
function assignStrokeWidths(components: Components, factor: Uint8Array, overlay: Uint8Array): void {
  const sums = new Float64Array(components.items.length + 1);
  const counts = new Float64Array(components.items.length + 1);
  for (let i = 0; i < components.labels.length; i++) {
    const owner = components.labels[i];
    if (owner && overlay[i] & SKELETON) {
      sums[owner] += factor[i];
      counts[owner]++;
    }
  }
  for (const c of components.items)
    c.strokeWidth = counts[c.label] ? Math.floor(sums[c.label] / counts[c.label]) * 2 : 0;
}

function anyWithin(map: Uint8Array, col: number, row: number, radius: number, width: number, height: number): boolean {
  if (radius === 0) return false;
  for (let y = Math.max(0, row - radius); y <= Math.min(height - 1, row + radius); y++) {
    for (let x = Math.max(0, col - radius); x <= Math.min(width - 1, col + radius); x++)
      if (map[y * width + x]) return true;
  }
  return false;
}

/** Guarantees every component a skeleton pixel: its centroid if that is its own, else its first pixel. */
function seedEmptySkeletons(skeleton: Uint8Array, width: number, bit: number, components: Components): void {
  const hasSkeleton = new Uint8Array(components.items.length + 1);
  for (let i = 0; i < skeleton.length; i++)
    if (skeleton[i] & bit && components.labels[i]) hasSkeleton[components.labels[i]] = 1;
  for (const c of components.items) {
    if (hasSkeleton[c.label]) continue;
    let sumX = 0;
    let sumY = 0;
    let count = 0;
    for (let y = c.y0; y <= c.y1; y++) {
      for (let x = c.x0; x <= c.x1; x++) {
        if (components.labels[y * width + x] === c.label) {
          sumX += x;
          sumY += y;
          count++;
        }
      }
    }
    const cx = Math.round(sumX / count);
    const cy = Math.round(sumY / count);
    const height = components.labels.length / width;
    const centroidOwn =
      cx >= 0 && cx < width && cy >= 0 && cy < height && components.labels[cy * width + cx] === c.label;
    skeleton[centroidOwn ? cy * width + cx : c.seedY * width + c.seedX] |= bit;
  }
}

// ---------- thinning: Zhang–Suen to a fixed point, then Lee–Chen's Table 1 ----------

/** The 8 neighbours of (x, y) on `bit` as bits P2 (north) … P9 (north-west), clockwise; outside is off. */
function neighbours(mask: Uint8Array, width: number, height: number, x: number, y: number, bit: number): number {
  const on = (xx: number, yy: number) =>
    xx >= 0 && xx < width && yy >= 0 && yy < height && mask[yy * width + xx] & bit ? 1 : 0;
  return (
    on(x, y - 1) |
    (on(x + 1, y - 1) << 1) |
    (on(x + 1, y) << 2) |
    (on(x + 1, y + 1) << 3) |
    (on(x, y + 1) << 4) |
    (on(x - 1, y + 1) << 5) |
    (on(x - 1, y) << 6) |
    (on(x - 1, y - 1) << 7)
  );
}

/** Zhang and Suen (1984): may P1 go in this sub-iteration, given its neighbourhood? */
function zhangSuenDeletes(n: number, subIteration: 1 | 2): boolean {
  const p = (k: number) => (n >> k) & 1; // p(0) = P2 … p(7) = P9
  let neighbourCount = 0;
  for (let k = 0; k < 8; k++) neighbourCount += p(k);
  if (neighbourCount < 2 || neighbourCount > 6) return false;
  let transitions = 0;
  for (let k = 0; k < 8; k++) if (!p(k) && p((k + 1) % 8)) transitions++;
  if (transitions !== 1) return false;
  const [p2, p4, p6, p8] = [p(0), p(2), p(4), p(6)];
  return subIteration === 1 ? !(p2 && p4 && p6) && !(p4 && p6 && p8) : !(p2 && p4 && p8) && !(p2 && p6 && p8);
}

const ZHANG_SUEN = [1, 2].map((s) => Array.from({ length: 256 }, (_, n) => zhangSuenDeletes(n, s as 1 | 2)));

// Lee and Chen (1992), Table 1: which neighbourhoods (index P9…P2 as bits 7…0) may still be
// deleted after Zhang–Suen, one bit per entry (16 entries a word), as the reference's weights need it.
const LEE_CHEN_DELETE_BITS = [
  0x6020, 0x20d0, 0x0000, 0x20f0, 0xa0aa, 0x5b59, 0xa0aa, 0x0a5a, 0x2020, 0x20a0, 0x0000, 0xa0a0, 0x2020, 0x5b5b,
  0xa021, 0x4850,
];
const LEE_CHEN_DELETES = Array.from({ length: 256 }, (_, n) => (LEE_CHEN_DELETE_BITS[n >> 4] & (1 << (n & 15))) !== 0);

function thin(mask: Uint8Array, width: number, height: number, bit: number): void {
  const off = (x: number, y: number) => x < 0 || x >= width || y < 0 || y >= height || !(mask[y * width + x] & bit);
  const queued = new Uint8Array(width * height);
  let frontier: number[] = [];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!(mask[i] & bit)) continue;
      if (
        off(x, y - 1) ||
        off(x + 1, y - 1) ||
        off(x + 1, y) ||
        off(x + 1, y + 1) ||
        off(x, y + 1) ||
        off(x - 1, y + 1) ||
        off(x - 1, y) ||
        off(x - 1, y - 1)
      ) {
        frontier.push(i);
        queued[i] = 1;
      }
    }
  }
  // One sub-iteration over the boundary only (interior pixels cannot go); deletions are
  // decided on the raster as it was, then made together, and expose their neighbours.
  const subIteration = (deletes: boolean[]) => {
    const dead = frontier.filter(
      (i) => mask[i] & bit && deletes[neighbours(mask, width, height, i % width, (i / width) | 0, bit)],
    );
    if (dead.length === 0) return false;
    for (const i of dead) {
      mask[i] &= ~bit;
      queued[i] = 0;
    }
    const next = frontier.filter((i) => mask[i] & bit);
    for (const i of dead) {
      const x = i % width;
      const y = (i / width) | 0;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if ((dx || dy) && nx >= 0 && nx < width && ny >= 0 && ny < height) {
            const j = ny * width + nx;
            if (mask[j] & bit && !queued[j]) {
              queued[j] = 1;
              next.push(j);
            }
          }
        }
      }
    }
    frontier = next;
    return true;
  };
  for (let changed = true; changed; ) {
    const first = subIteration(ZHANG_SUEN[0]);
    const second = subIteration(ZHANG_SUEN[1]);
    changed = first || second;
  }
  // Lee–Chen's pass deletes as it scans: a later pixel sees the earlier deletions.
  for (let removed = true; removed; ) {
    removed = false;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        if (mask[i] & bit && LEE_CHEN_DELETES[neighbours(mask, width, height, x, y, bit)]) {
          mask[i] &= ~bit;
          removed = true;
        }
      }
    }
  }
}
