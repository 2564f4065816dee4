// Steps 6 and 7 of the document method (document.ts): large dark areas, which its paper
// estimate takes for paper. One with a sharp edge all round is a filled shape (a map's water,
// a logo, a silhouette) and becomes ink again; one along the image's edges around a page of
// writing is a mount or a frame (surround.ts) and stays paper, without the line the method
// drew along its edge. A dark area with a soft edge is a shadow or a stain and is left alone.
import { labelComponents } from "../kernels/components.ts";
import { otsuThreshold } from "../kernels/histogram.ts";
import { boundaryFlags, type ComponentRuns, componentRuns, darkPixels, localContrast3x3 } from "../kernels/simd.ts";
import type { WorkingImage } from "./document.ts";
import { isSurround } from "./surround.ts";

// Of a dark area's pixels, at least this share taken for paper by steps 1–5…
const LOST_SHARE = 0.25;
// …and of its boundary pixels this share on a sharp edge: a 3×3 neighbourhood spanning at least
// EDGE_STEP of the step between the means of the dark and the light pixels.
const SHARP_SHARE = 0.9;
const EDGE_STEP = 0.5;
// Step 7: ink this close to a surround (in stroke widths, at least 3 px)…
const EDGE_LINE = 2;
// …with this share of its pixels that close is the line along the surround's edge.
const EDGE_LINE_SHARE = 0.8;

/**
 * Steps 6 and 7: the dark areas of the upload itself (at or below its Otsu threshold, at the
 * working scale) that are large, that steps 1–5 took for paper, and whose boundary is sharp
 * all round become ink: a filled shape's edge is sharp, a shadow's or a stain's is not. Those
 * reaching the image's edge on a page that lies on a surround are the surround: the line along
 * them goes instead. `ink` is the document method's at the working scale, changed in place;
 * `minimumArea` the fewest pixels of an area the paper estimate can have lost. Returns the
 * upload's threshold and which pixels were filled, or nothing when none were.
 */
export function settleDarkAreas(
  ink: Uint8Array,
  work: WorkingImage,
  strokeWidth: number,
  minimumArea: number,
): { dark: number; filled: Uint8Array } | undefined {
  const { luma, width, height, histogram } = work;
  const dark = otsuThreshold(histogram);
  const { mask, paper } = darkPixels(luma, ink, dark);
  // Too few dark pixels taken for paper to make one shape (most pages): no components.
  if (paper < minimumArea * LOST_SHARE) return undefined;
  // The dark areas as runs along rows, each run's component named by its root run: every
  // measure below is summed over runs, and only the candidates' pixels are looked at.
  const runs = componentRuns(mask, width, height, 1);
  const area = new Float64Array(runs.length);
  const lost = new Float64Array(runs.length);
  for (let r = 0; r < runs.length; r++) {
    const root = runs.root[r];
    const from = runs.row[r] * width + runs.start[r];
    const to = runs.row[r] * width + runs.end[r];
    area[root] += to - from;
    let takenForPaper = 0;
    for (let i = from; i < to; i++) takenForPaper += ink[i] ^ 1;
    lost[root] += takenForPaper;
  }
  // Only large areas mostly taken for paper have their edges looked at: a photo has many
  // small dark areas, and their boundaries cost most of this step before this test.
  const candidate = new Uint8Array(runs.length);
  let candidates = 0;
  for (let r = 0; r < runs.length; r++) {
    if (runs.root[r] === r && area[r] >= minimumArea && lost[r] >= LOST_SHARE * area[r]) {
      candidate[r] = 1;
      candidates++;
    }
  }
  if (candidates === 0) return undefined;
  // A sharp edge: its 3×3 neighbourhood spans at least this much of the step between the
  // means of the dark and the light pixels (a shadow's edge, spread over many pixels, a few %).
  const sharp = EDGE_STEP * classStep(histogram, dark);
  // Each pixel's 3×3 max − min (clipped at the image's edges, which repeating them does not
  // change) against that, on the boundary pixels: 1 on the boundary, 3 on a sharp stretch of it.
  const { contrast: range } = localContrast3x3(luma, width, height);
  const flags = boundaryFlags(mask, range, width, height, sharp);
  const boundary = new Float64Array(runs.length);
  const sharpBoundary = new Float64Array(runs.length);
  // Whether each candidate reaches the image's edge.
  const atEdge = new Uint8Array(runs.length);
  for (let r = 0; r < runs.length; r++) {
    const root = runs.root[r];
    if (candidate[root] === 0) continue;
    const y = runs.row[r];
    if (runs.start[r] === 0 || runs.end[r] === width || y === 0 || y === height - 1) atEdge[root] = 1;
    let onBoundary = 0;
    let onSharp = 0;
    for (let i = y * width + runs.start[r], end = y * width + runs.end[r]; i < end; i++) {
      onBoundary += flags[i] & 1;
      onSharp += flags[i] >> 1;
    }
    boundary[root] += onBoundary;
    sharpBoundary[root] += onSharp;
  }
  let surround: boolean | undefined;
  const fill = new Uint8Array(runs.length);
  const surroundOf = new Uint8Array(runs.length);
  let any = false;
  let anySurround = false;
  for (let r = 0; r < runs.length; r++) {
    if (candidate[r] === 0) continue;
    // A shadow or a stain, also where it reaches the edge like a surround: its edge is soft.
    if (sharpBoundary[r] < SHARP_SHARE * boundary[r]) continue;
    if (atEdge[r]) {
      surround ??= isSurround(work, dark);
      if (surround) {
        surroundOf[r] = 1;
        anySurround = true;
        continue;
      }
    }
    fill[r] = 1;
    any = true;
  }
  if (anySurround) {
    const surroundPixels = pixelsOf(runs, surroundOf, width, height);
    clearEdgeOf(ink, surroundPixels, width, height, Math.max(3, Math.round(EDGE_LINE * strokeWidth)));
  }
  if (!any) return undefined;
  const filled = pixelsOf(runs, fill, width, height);
  for (let i = 0; i < ink.length; i++) ink[i] |= filled[i];
  return { dark, filled };
}

/** 1 at the pixels of the components whose root run is marked in `chosen`. */
function pixelsOf(runs: ComponentRuns, chosen: Uint8Array, width: number, height: number): Uint8Array {
  const pixels = new Uint8Array(width * height);
  for (let r = 0; r < runs.length; r++) {
    if (chosen[runs.root[r]]) pixels.fill(1, runs.row[r] * width + runs.start[r], runs.row[r] * width + runs.end[r]);
  }
  return pixels;
}

/**
 * The line steps 1–5 draw along a mount's or frame's edge goes: ink components lying mostly
 * within `reach` pixels of the surround (1 in `surround`) become paper.
 */
function clearEdgeOf(ink: Uint8Array, surround: Uint8Array, width: number, height: number, reach: number): void {
  // Near the surround: within `reach` of it along rows, then along columns (a square reach).
  const near = new Uint8Array(ink.length);
  for (let y = 0; y < height; y++) {
    let last = -Infinity;
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (surround[row + x]) last = x;
      if (x - last <= reach) near[row + x] = 1;
    }
    last = Infinity;
    for (let x = width - 1; x >= 0; x--) {
      if (surround[row + x]) last = x;
      if (last - x <= reach) near[row + x] = 1;
    }
  }
  const nearRows = near.slice();
  for (let x = 0; x < width; x++) {
    let last = -Infinity;
    for (let y = 0; y < height; y++) {
      if (nearRows[y * width + x]) last = y;
      if (y - last <= reach) near[y * width + x] = 1;
    }
    last = Infinity;
    for (let y = height - 1; y >= 0; y--) {
      if (nearRows[y * width + x]) last = y;
      if (last - y <= reach) near[y * width + x] = 1;
    }
  }
  const components = labelComponents(ink, width, height, 1);
  const total = new Float64Array(components.items.length + 1);
  const close = new Float64Array(components.items.length + 1);
  for (let i = 0; i < ink.length; i++) {
    const l = components.labels[i];
    if (l === 0) continue;
    total[l]++;
    close[l] += near[i];
  }
  for (let i = 0; i < ink.length; i++) {
    const l = components.labels[i];
    if (l !== 0 && close[l] >= EDGE_LINE_SHARE * total[l]) ink[i] = 0;
  }
}

/** The difference between the mean values above and at or below `threshold`. */
function classStep(histogram: Uint32Array, threshold: number): number {
  let below = 0;
  let sumBelow = 0;
  let above = 0;
  let sumAbove = 0;
  for (let v = 0; v < 256; v++) {
    if (v <= threshold) {
      below += histogram[v];
      sumBelow += v * histogram[v];
    } else {
      above += histogram[v];
      sumAbove += v * histogram[v];
    }
  }
  return below > 0 && above > 0 ? sumAbove / above - sumBelow / below : 0;
}
