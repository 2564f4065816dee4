// How far a page's lines are turned, from its binarized pixels: the projection-profile search
// Postl described and Leptonica made standard (pixFindSkew). Shear the ink by a candidate angle
// and count it per row; at the page's own angle its lines fall into few rows with white between,
// so the sum of squared differences of neighbouring row counts peaks. A sweep at a coarse step
// finds the peak's neighbourhood, a fine one the peak, a parabola through the best three its
// top. By hand: no maintained JavaScript package estimates skew (the Python ones, jdeskew and
// deskew, are what the benchmark measures this against).
import { packedRowBytes } from "../kernels/packed-rows.ts";

/** What the estimate found: an angle and how sure it is, or that the page says nothing of one. */
export type SkewEstimate =
  | {
      /** Degrees the page is turned clockwise; turning it back counter-clockwise as far levels it. */
      angle: number;
      /** 0–1: how much the best angle's score stands above the worst's (1 − worst ÷ best). */
      confidence: number;
    }
  | { angle: null; confidence: number; reason: string };

/** The widest skew looked for, either way. */
const MAX_SKEW_DEGREES = 15;
// Three sweeps, each on ink sampled on a finer grid (this many samples across the page at
// most) around the last one's best: every angle at 1°, then ±1° at 0.2°, then ±0.2° at 0.1° and
// a parabola through the best three. The finest grid is finer than a stroke at 300 dpi; the
// coarse sweeps, which look at the most angles, look at the fewest pixels, so the search costs a
// few milliseconds whatever the page. These steps measured better than 0.1° and 0.05° (turned
// development pages: handwritten mean error 0.43° → 0.39°, printed 0.022° → 0.017°) at nine
// tenths of the cost: a parabola through points further apart is less moved by the score's noise.
const SWEEPS = [
  { gridWidth: 350, halfRange: MAX_SKEW_DEGREES, step: 1 },
  { gridWidth: 800, halfRange: 1, step: 0.2 },
  { gridWidth: 1600, halfRange: 0.2, step: 0.1 },
];
// Fewer sampled ink pixels than this on the coarsest grid, or in fewer rows: a blank page, a
// mark or two.
const MIN_INK_SAMPLES = 300;
const MIN_INK_ROWS = 12;
// An icon or a thumbnail is no page to level.
const MIN_SIDE = 64;
// More of the page inked than this: a photograph, a filled shape, a page gone dark; text is
// 5–20 %, a dense one a third.
const MAX_INK_SHARE = 0.4;
// More of the ink than this inside filled shapes (a sample whose four neighbours are ink too): a
// logo, a map's water, a silhouette, whose straight edges are no lines of text. Text, printed or
// handwritten, measured at most 0.49 on the development pages; filled pictures 0.69 and more.
const MAX_FILLED_SHARE = 0.6;
// The page's top and bottom rows count less, down to nothing at its edge (a raised cosine over
// this share of its height): where ink runs to the edge (a photocopy's speckle, a line cut by
// the crop), the page's own edge is a straight line at 0° that outscored the text's. Measured on
// the turned development pages: 0.15 took the handwritten 95th percentile from 3.2° to 1.0°
// (0.05: 2.9°; 0.3: 2.1°); tapering the sides as well made it worse (3.6°).
const EDGE_TAPER = 0.15;
const TAPER_LEVELS = 64;
// Fewer separate lines of ink than this: a picture, a block, a single heading.
const MIN_LINES = 2;
const LINE_SHARE = 0.2;
// A best score 2.2x the worst (Leptonica asks 3x, which refused a fifth of the handwritten
// development pages; binarized photographs, which should be refused, measured 0.44–0.50).
const MIN_CONFIDENCE = 0.55;

/**
 * The skew of the ink in packed rows (set = white). A dark frame's straight edges would outvote
 * the text: binarize() makes the frame white before it asks.
 */
export function estimateSkew(packed: Uint8Array, width: number, height: number): SkewEstimate {
  if (width < MIN_SIDE || height < MIN_SIDE) return { angle: null, confidence: 0, reason: "too small to measure" };
  // The coarse grid first, on its own: a page it refuses (too little ink, too much, no
  // direction) costs a scan of one pixel in k². Then the ink once on the finest grid, of which
  // the second sweep takes every k-th.
  const finest = Math.max(1, Math.ceil(width / SWEEPS[SWEEPS.length - 1].gridWidth));
  const stepOf = (sweep: (typeof SWEEPS)[number]) => Math.max(1, Math.ceil(width / sweep.gridWidth / finest));
  const coarse = inkSamples(packed, width, height, finest * stepOf(SWEEPS[0]));
  if (coarse.count < MIN_INK_SAMPLES || coarse.rows < MIN_INK_ROWS) {
    return { angle: null, confidence: 0, reason: "too little text to measure" };
  }
  if (coarse.count > MAX_INK_SHARE * coarse.gridWidth * coarse.gridHeight) {
    return { angle: null, confidence: 0, reason: "too much ink for a page of text" };
  }
  if (filledShare(coarse) > MAX_FILLED_SHARE) {
    return { angle: null, confidence: 0, reason: "filled shapes, not lines of text" };
  }
  let fine: InkSamples | undefined;
  const grid = (n: number) => {
    if (n === 0) return coarse;
    fine ??= inkSamples(packed, width, height, finest);
    return everyKth(fine, stepOf(SWEEPS[n]));
  };
  let centre = 0;
  let confidence = 0;
  for (const [n, sweep] of SWEEPS.entries()) {
    const samples = grid(n);
    const scores: Array<[number, number]> = [];
    const steps = Math.round(sweep.halfRange / sweep.step);
    for (let k = -steps; k <= steps; k++) {
      const degrees = centre + k * sweep.step;
      scores.push([degrees, shearScore(samples, degrees)]);
    }
    let top = 0;
    let worst = Number.POSITIVE_INFINITY;
    for (const [i, [, score]] of scores.entries()) {
      if (score > scores[top][1]) top = i;
      worst = Math.min(worst, score);
    }
    // Straight shapes that are not lines of text (a block, bars) score the same over a range of
    // angles: the middle of the best run of equal scores, not its first angle.
    let last = top;
    while (last + 1 < scores.length && scores[last + 1][1] === scores[top][1]) last++;
    top = Math.floor((top + last) / 2);
    if (n === 0) {
      confidence = scores[top][1] > 0 ? 1 - worst / scores[top][1] : 0;
      if (confidence < MIN_CONFIDENCE) {
        return { angle: null, confidence: round(confidence, 2), reason: "no line direction stands out" };
      }
    }
    centre = scores[top][0];
    // The last sweep's top through a parabola on its neighbours.
    if (n === SWEEPS.length - 1 && top > 0 && top < scores.length - 1) {
      const [a, b, c] = [scores[top - 1][1], scores[top][1], scores[top + 1][1]];
      const curvature = a - 2 * b + c;
      if (curvature < 0) centre += ((a - c) / (2 * curvature)) * sweep.step;
    }
  }
  const angle = Math.max(-MAX_SKEW_DEGREES, Math.min(MAX_SKEW_DEGREES, centre));
  if (lineCount(coarse, angle) < MIN_LINES) {
    return { angle: null, confidence: round(confidence, 2), reason: "too few lines of text to measure" };
  }
  return { angle: round(angle, 2), confidence: round(confidence, 2) };
}

interface InkSamples {
  xs: Int32Array;
  ys: Int32Array;
  count: number;
  /** Rows holding any of it. */
  rows: number;
  /** The grid's size: the histogram's extent before shearing. */
  gridWidth: number;
  gridHeight: number;
  /** What a sample in each grid row counts for, 0–TAPER_LEVELS: less near the top and bottom edge. */
  rowWeight: Int32Array;
  /** The samples from `fullFrom` up to `fullTo` lie in rows of full weight (samples go row by row). */
  fullFrom: number;
  fullTo: number;
}

/** The black pixels on a grid `step` apart, in grid units. */
function inkSamples(packed: Uint8Array, width: number, height: number, step: number): InkSamples {
  const stride = packedRowBytes(width);
  let xs: Int32Array<ArrayBuffer> = new Int32Array(1 << 16);
  let ys: Int32Array<ArrayBuffer> = new Int32Array(1 << 16);
  let count = 0;
  let rows = 0;
  for (let y = 0, gy = 0; y < height; y += step, gy++) {
    const row = y * stride + 1;
    const before = count;
    for (let x = 0; x < width; x += step) {
      const byte = packed[row + (x >> 3)];
      // A white byte (eight white pixels) is the common case: on to the first sample past it.
      if (byte === 0xff) {
        const nextByte = ((x >> 3) + 1) << 3;
        x += Math.ceil((nextByte - x) / step) * step - step;
        continue;
      }
      if (byte & (0x80 >> (x & 7))) continue;
      if (count === xs.length) {
        xs = grow(xs);
        ys = grow(ys);
      }
      xs[count] = x / step;
      ys[count] = gy;
      count++;
    }
    if (count > before) rows++;
  }
  return tapered({ xs, ys, count, rows, gridWidth: Math.ceil(width / step), gridHeight: Math.ceil(height / step) });
}

/** The samples with each row's weight: a raised cosine from 0 at the top and bottom edge to full EDGE_TAPER in. */
function tapered(ink: Omit<InkSamples, "rowWeight" | "fullFrom" | "fullTo">): InkSamples {
  const rows = ink.gridHeight;
  const band = Math.max(1, EDGE_TAPER * rows);
  const rowWeight = new Int32Array(rows);
  for (let y = 0; y < rows; y++) {
    const fromEdge = Math.min(y, rows - 1 - y);
    const share = fromEdge >= band ? 1 : 0.5 - 0.5 * Math.cos((Math.PI * fromEdge) / band);
    rowWeight[y] = Math.round(share * TAPER_LEVELS);
  }
  const full = (n: number) => rowWeight[ink.ys[n]] === TAPER_LEVELS;
  let fullFrom = 0;
  while (fullFrom < ink.count && !full(fullFrom)) fullFrom++;
  let fullTo = fullFrom;
  while (fullTo < ink.count && full(fullTo)) fullTo++;
  return { ...ink, rowWeight, fullFrom, fullTo };
}

/** The share of the samples whose four neighbours on the grid are ink too. */
function filledShare(ink: InkSamples): number {
  const { xs, ys, count, gridWidth: w, gridHeight: h } = ink;
  const grid = new Uint8Array(w * h);
  for (let n = 0; n < count; n++) grid[ys[n] * w + xs[n]] = 1;
  let inside = 0;
  for (let n = 0; n < count; n++) {
    const x = xs[n];
    const at = ys[n] * w + x;
    if (
      x > 0 &&
      x < w - 1 &&
      at >= w &&
      at < (h - 1) * w &&
      grid[at - w] &&
      grid[at + w] &&
      grid[at - 1] &&
      grid[at + 1]
    ) {
      inside++;
    }
  }
  return inside / Math.max(1, count);
}

/** The samples on every k-th column of every k-th row, in the coarser grid's units. */
function everyKth(ink: InkSamples, k: number): InkSamples {
  if (k === 1) return ink;
  const xs = new Int32Array(ink.count);
  const ys = new Int32Array(ink.count);
  let count = 0;
  let rows = 0;
  let lastRow = -1;
  for (let n = 0; n < ink.count; n++) {
    if (ink.xs[n] % k !== 0 || ink.ys[n] % k !== 0) continue;
    xs[count] = ink.xs[n] / k;
    ys[count] = ink.ys[n] / k;
    if (ys[count] !== lastRow) {
      rows++;
      lastRow = ys[count];
    }
    count++;
  }
  return tapered({
    xs,
    ys,
    count,
    rows,
    gridWidth: Math.ceil(ink.gridWidth / k),
    gridHeight: Math.ceil(ink.gridHeight / k),
  });
}

/**
 * Lines of ink across the page at `degrees`: runs of sheared rows holding at least LINE_SHARE of
 * the fullest row's ink above the emptiest's in the page's middle (the speckle of a photocopy
 * fills every row, gaps too). A block, a logo, a single line are not pages of text to level.
 */
function lineCount(ink: InkSamples, degrees: number): number {
  const counts = shearedCounts(ink, degrees);
  let first = counts.findIndex((n) => n > 0);
  let last = counts.findLastIndex((n) => n > 0);
  const fullest = counts.reduce((most, n) => Math.max(most, n), 0);
  // The middle of the rows that hold ink, out of the tapered edges.
  const margin = Math.floor(((last - first) * (1 - 2 * EDGE_TAPER)) / 2);
  first += Math.floor((last - first) / 2) - margin;
  last = first + 2 * margin;
  let emptiest = fullest;
  for (let i = first; i <= last; i++) emptiest = Math.min(emptiest, counts[i]);
  let lines = 0;
  let inLine = false;
  for (const n of counts) {
    const full = n - emptiest >= LINE_SHARE * (fullest - emptiest);
    if (full && !inLine) lines++;
    inLine = full;
  }
  return lines;
}

/** Σ (n[i+1] − n[i])² over the row counts of the ink sheared by `degrees`. */
function shearScore(ink: InkSamples, degrees: number): number {
  const counts = shearedCounts(ink, degrees);
  let sum = 0;
  for (let i = 1; i < counts.length; i++) {
    const d = counts[i] - counts[i - 1];
    sum += d * d;
  }
  return sum;
}

/** The ink's count per row once sheared by `degrees`, each sample weighed by its row's taper. */
function shearedCounts(ink: InkSamples, degrees: number): Int32Array {
  const slope = Math.tan((degrees * Math.PI) / 180);
  // Sheared rows run from −|slope| × width to height + |slope| × width.
  const offset = Math.ceil(Math.abs(slope) * ink.gridWidth) + 1;
  const counts = new Int32Array(ink.gridHeight + 2 * offset + 2);
  const { xs, ys, count, rowWeight, fullFrom, fullTo } = ink;
  // The tapered rows weighed sample by sample; the rest, most of the page, without the lookup.
  for (let n = 0; n < fullFrom; n++) counts[(ys[n] - xs[n] * slope + offset + 0.5) | 0] += rowWeight[ys[n]];
  for (let n = fullFrom; n < fullTo; n++) counts[(ys[n] - xs[n] * slope + offset + 0.5) | 0] += TAPER_LEVELS;
  for (let n = fullTo; n < count; n++) counts[(ys[n] - xs[n] * slope + offset + 0.5) | 0] += rowWeight[ys[n]];
  return counts;
}

function grow(values: Int32Array): Int32Array<ArrayBuffer> {
  const larger = new Int32Array(values.length * 2);
  larger.set(values);
  return larger;
}

function round(value: number, places: number): number {
  const scale = 10 ** places;
  return Math.round(value * scale) / scale;
}
