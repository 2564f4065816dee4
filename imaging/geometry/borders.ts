// The dark frame around a page (a scanner's lid, a table, a book's edge, a mount) and the page's
// own edge inside it, found from the grey page: per side, how deep the dark reaches in from the
// edge on each line, where a light page begins. A frame follows the page, so it need not be a
// band: around a skewed page it is four wedges, and it is masked line by line, as deep as it
// reaches on each. The methods see the frame carried on from the page's edge (padFrame), and the
// mask whitens the binarized page, never the grey one: a page's own dark edge (a photographed
// diary's) made white before binarizing draws its boundary as ink. By hand, as unpaper's border
// scan is: libvips' trim() cuts only a frame of one flat colour, and a scanned frame is neither
// flat nor one colour nor straight.
import { otsuThreshold } from "../kernels/histogram.ts";
import { packedRowBytes } from "../kernels/packed-rows.ts";

/** Pixels of frame on each side, 0 where there is none: the page's box starts that far in. */
export interface Borders {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/** The frame as found: its box, and how deep it reaches on each line of each side. */
export interface Frame {
  borders: Borders;
  /** Per side, per line (in sample cells of `cell` pixels), the frame's depth in cells. */
  depths: Record<keyof Borders, Int32Array>;
  cell: number;
}

export const NO_BORDERS: Borders = { top: 0, right: 0, bottom: 0, left: 0 };
const SIDES = ["top", "right", "bottom", "left"] as const;

// The grey page judged on every f-th pixel of every f-th row, about this many.
const SAMPLE_PIXELS = 250_000;
// A side has a frame when the dark from its edge is at least MIN_DEPTH of the page deep on this
// share of its lines…
const FRAME_LINES = 0.85;
const MIN_DEPTH = 0.004;
// …no deeper than this on most of them (a page that is mostly dark is a picture, not a framed
// page)…
const MAX_DEPTH = 0.4;
// …and a light page begins inside it: in the band this deep past the frame, at most this much dark.
const INNER_BAND = 0.03;
const INNER_DARK = 0.4;
// A page inside a frame is mostly light: at most this share of it dark (writing covers 5–20 %).
const PAGE_DARK = 0.3;
// A light pixel or two inside a frame (dust, texture) does not end it.
const GAP = 2;

export function hasBorders(borders: Borders): boolean {
  return borders.top + borders.right + borders.bottom + borders.left > 0;
}

/** The frame around the page in `luma`; undefined when it has none. */
export function findFrame(luma: Uint8Array, width: number, height: number): Frame | undefined {
  const f = Math.max(1, Math.floor(Math.sqrt((width * height) / SAMPLE_PIXELS)));
  const w = Math.floor(width / f);
  const h = Math.floor(height / f);
  // An icon or a thumbnail has no frame to find.
  if (width < 64 || height < 64) return undefined;
  const histogram = new Uint32Array(256);
  const sample = new Uint8Array(w * h);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0, source = y * f * width; x < w; x++, i++, source += f) {
      sample[i] = luma[source];
      histogram[luma[source]]++;
    }
  }
  const threshold = otsuThreshold(histogram);
  // The sample pixel `d` cells in from `side`'s edge on `line`.
  const at = (side: keyof Borders, line: number, d: number) =>
    side === "left"
      ? sample[line * w + d]
      : side === "right"
        ? sample[line * w + w - 1 - d]
        : side === "top"
          ? sample[d * w + line]
          : sample[(h - 1 - d) * w + line];
  const lineCount = (side: keyof Borders) => (side === "left" || side === "right" ? h : w);
  const across = (side: keyof Borders) => (side === "left" || side === "right" ? w : h);

  // Each line's dark run from the edge, up to MAX_DEPTH (a line dark past it crosses a frame
  // along another side, or a picture).
  const depths = {} as Record<keyof Borders, Int32Array>;
  for (const side of SIDES) {
    const runs = new Int32Array(lineCount(side));
    const limit = Math.floor(across(side) * MAX_DEPTH);
    for (let line = 0; line < runs.length; line++) {
      let run = 0;
      let gap = 0;
      for (let d = 0; d < limit; d++) {
        if (at(side, line, d) <= threshold) {
          run = d + 1;
          gap = 0;
        } else if (++gap > GAP) break;
      }
      runs[line] = run;
    }
    depths[side] = runs;
  }

  // Whether `side` is framed, judged on the lines between the frames of the sides across it
  // (a deep top frame is not part of the left one); the depth where its page begins if so.
  const pageStart = (side: keyof Borders, from: number, to: number): number => {
    const limit = Math.floor(across(side) * MAX_DEPTH);
    const all = Array.from(depths[side].subarray(from, to));
    const within = all.filter((run) => run < limit).sort((a, b) => a - b);
    if (within.length < 0.4 * all.length || within.length === 0) return 0;
    const minRun = Math.max(2, Math.ceil(MIN_DEPTH * across(side)));
    // The page's box begins where its outermost part does: the frame's shallowest lines.
    const start = within[Math.floor((1 - FRAME_LINES) * within.length)];
    if (start < minRun) return 0;
    const typical = within[Math.floor(0.75 * (within.length - 1))];
    // A light page begins inside the frame.
    const band = Math.max(2, Math.ceil(INNER_BAND * across(side)));
    let darkInBand = 0;
    let inBand = 0;
    for (let line = from; line < to; line++) {
      for (let d = typical; d < Math.min(across(side), typical + band); d++) {
        inBand++;
        if (at(side, line, d) <= threshold) darkInBand++;
      }
    }
    return inBand > 0 && darkInBand / inBand <= INNER_DARK ? start : 0;
  };
  let found: Borders = {
    top: pageStart("top", 0, w),
    right: pageStart("right", 0, h),
    bottom: pageStart("bottom", 0, w),
    left: pageStart("left", 0, h),
  };
  found = {
    top: pageStart("top", found.left, w - found.right),
    right: pageStart("right", found.top, h - found.bottom),
    bottom: pageStart("bottom", found.left, w - found.right),
    left: pageStart("left", found.top, h - found.bottom),
  };
  if (!hasBorders(found)) return undefined;
  // And what lies inside is a page, mostly light: a photograph whose dark side reaches its edge
  // on every line has no frame to clean.
  let darkInside = 0;
  let inside = 0;
  for (let y = found.top; y < h - found.bottom; y++) {
    for (let x = found.left; x < w - found.right; x++) {
      inside++;
      if (sample[y * w + x] <= threshold) darkInside++;
    }
  }
  if (inside === 0 || darkInside / inside > PAGE_DARK) return undefined;
  // A side without a frame whitens nothing.
  for (const side of SIDES) if (found[side] === 0) depths[side].fill(0);
  // Each side's frame is under MAX_DEPTH of the page: the box inside them is never empty.
  const full = (cells: number) => cells * f;
  return {
    borders: { top: full(found.top), right: full(found.right), bottom: full(found.bottom), left: full(found.left) },
    depths,
    cell: f,
  };
}

/**
 * The frame as a mask (255 in the frame, 0 on the page): on each line of each framed side as
 * deep as the dark reaches there, and one cell more (the page's edge, where the sampled dark
 * ended or up to a cell past it).
 */
export function frameMask(width: number, height: number, { depths, cell }: Frame): Uint8Array {
  const mask = new Uint8Array(width * height);
  const deep = (cells: number) => (cells === 0 ? 0 : (cells + 1) * cell);
  for (let y = 0; y < height; y++) {
    const line = Math.min(depths.left.length - 1, Math.floor(y / cell));
    const row = y * width;
    mask.fill(255, row, row + Math.min(width, deep(depths.left[line])));
    mask.fill(255, row + Math.max(0, width - deep(depths.right[line])), row + width);
  }
  for (let x = 0; x < width; x++) {
    const line = Math.min(depths.top.length - 1, Math.floor(x / cell));
    const top = Math.min(height, deep(depths.top[line]));
    const bottom = Math.min(height, deep(depths.bottom[line]));
    for (let y = 0; y < top; y++) mask[y * width + x] = 255;
    for (let y = height - bottom; y < height; y++) mask[y * width + x] = 255;
  }
  return mask;
}

// The page's first pixels past the mask can still be the frame's antialiased seam: the lightest
// of this many carries on, not the first.
const PAD_REACH = 6;

/**
 * `luma` with every pixel where `mask` is above `level` given the level of the page where it
 * begins, along the pixel's row (the lightest of its first PAD_REACH pixels there), or along its
 * column where the row is frame: what a method should see of a framed page. The frame's dark
 * would count in every statistic a method takes of the page (Otsu's threshold between table and
 * paper, the strongest edges), and a frame made white instead would draw the page's own edge as
 * a line; carried on from the page it has no edge.
 */
export function padFrame(luma: Uint8Array, width: number, height: number, mask: Uint8Array, level = 0): Uint8Array {
  const out = Uint8Array.from(luma);
  const page = (i: number) => mask[i] <= level;
  for (let y = 0, row = 0; y < height; y++, row += width) {
    let first = 0;
    while (first < width && !page(row + first)) first++;
    if (first === width) continue;
    let last = width - 1;
    while (!page(row + last)) last--;
    out.fill(lightest(luma, row + first, 1, Math.min(PAD_REACH, last - first + 1)), row, row + first);
    out.fill(lightest(luma, row + last, -1, Math.min(PAD_REACH, last - first + 1)), row + last + 1, row + width);
  }
  for (let x = 0; x < width; x++) {
    let first = 0;
    while (first < height && !page(first * width + x)) first++;
    if (first === height) continue;
    let last = height - 1;
    while (!page(last * width + x)) last--;
    const reach = Math.min(PAD_REACH, last - first + 1);
    const above = lightest(out, first * width + x, width, reach);
    const below = lightest(out, last * width + x, -width, reach);
    for (let y = 0; y < first; y++) out[y * width + x] = above;
    for (let y = last + 1; y < height; y++) out[y * width + x] = below;
  }
  return out;
}

/** The lightest of `count` values from `at`, `step` apart. */
function lightest(values: Uint8Array, at: number, step: number, count: number): number {
  let most = 0;
  for (let n = 0, i = at; n < count; n++, i += step) most = Math.max(most, values[i]);
  return most;
}

/** Sets white, in packed rows (set = white), every pixel where `mask` is above `level`. In place. */
export function whitenMasked(packed: Uint8Array, width: number, height: number, mask: Uint8Array, level = 0): void {
  const stride = packedRowBytes(width);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (mask[row + x] > level) packed[y * stride + 1 + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
}
