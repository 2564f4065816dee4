// `auto`: per image, a global threshold or the document method, from statistics the decode
// and the paper estimate already gathered, and a look at where the dark half of a two-tone
// image lies. The cut-offs come from the quality benchmark: every clean two-tone page of the
// synthetic set (office scans, faded ink, logos, screenshots) has a separability of 0.92 or
// more, where Otsu is exact and the document method loses 3–19 points; of the 48 DIBCO
// development pages one reaches 0.94, and there the two methods are within a point.
//
// A histogram is also two-tone when a page lies on a dark mount or table, or has dark scanner
// frames: Otsu then calls the mount ink (F 15–50 where the document method gets 80–88). Such a
// dark class lies along the image's edges around a page full of small dark strokes, which is
// what `darkLayout` measures, on a sample of the pixels.
import { labelComponents } from "../kernels/components.ts";
import { otsu } from "../kernels/histogram.ts";
import type { PaperBackground } from "./document.ts";

export interface MethodChoice {
  method: "otsu" | "document";
  /** A few words for people: shown on the page and in the status. */
  reason: string;
}

const CLEAN_SEPARABILITY = 0.9;
const UNEVEN = 0.15;
// The sample the surround is judged on: about this many pixels, every f-th of every f-th row.
const SAMPLE_PIXELS = 150_000;
// Dark pixels connected to the image's edge, as a share of the image, that make a surround…
const SURROUND_SHARE = 0.05;
// …when nearly all of them lie in a band along the edges this deep (a share of the shorter side)…
const SURROUND_DEPTH = 0.25;
const SURROUND_PERIPHERAL = 0.9;
// …around at least this many stroke-sized dark specks away from the edges (a page's writing).
const SURROUND_STROKES = 20;
// …and with fewer light specks than this inside it (a mount is plain; a title bar holds words).
const SURROUND_LIGHT_STROKES = 8;

/**
 * `histogram` is the luma's. `paper` is asked for only when the image is not clean: estimating
 * it costs a pass over the pixels.
 */
export function chooseMethod(
  image: { luma: Uint8Array; width: number; height: number },
  histogram: Uint32Array,
  paper: () => PaperBackground,
): MethodChoice {
  const { threshold, separability } = otsu(histogram);
  if (separability >= CLEAN_SEPARABILITY) {
    if (isSurround(darkLayout(image, threshold)))
      return { method: "document", reason: "page on a dark mount or frame" };
    return { method: "otsu", reason: "clean two-tone image" };
  }
  if (paper().unevenness > UNEVEN) return { method: "document", reason: "uneven background" };
  return { method: "document", reason: "faint or degraded ink" };
}

/** A mount, a table or a frame: not a dark bar with writing in it, as a screenshot's title bar is. */
function isSurround(layout: DarkLayout): boolean {
  return (
    layout.edgeShare >= SURROUND_SHARE &&
    layout.edgeBandShare >= SURROUND_PERIPHERAL * layout.edgeShare &&
    layout.strokes >= SURROUND_STROKES &&
    layout.lightStrokesInEdge < SURROUND_LIGHT_STROKES
  );
}

interface DarkLayout {
  /** Dark pixels connected to the image's edge, as a share of the image. */
  edgeShare: number;
  /** Those connected to the edge and lying in the band along it (SURROUND_DEPTH deep). */
  edgeBandShare: number;
  /** Dark specks away from the edges no larger than a letter: a page's writing. */
  strokes: number;
  /** Light specks no larger than a letter inside the edge-connected dark: writing on a dark bar. */
  lightStrokesInEdge: number;
}

/**
 * Where the pixels at or below `threshold` lie, judged on every f-th pixel of every f-th row
 * (about SAMPLE_PIXELS: a few milliseconds whatever the image's size).
 */
function darkLayout(
  { luma, width, height }: { luma: Uint8Array; width: number; height: number },
  threshold: number,
): DarkLayout {
  const f = Math.max(1, Math.floor(Math.sqrt((width * height) / SAMPLE_PIXELS)));
  const w = Math.ceil(width / f);
  const h = Math.ceil(height / f);
  const dark = new Uint8Array(w * h);
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0, source = y * f * width; x < w; x++, i++, source += f) dark[i] = luma[source] <= threshold ? 1 : 0;
  }
  const { labels, items } = labelComponents(dark, w, h, 1);
  const touchesEdge = new Uint8Array(items.length + 1);
  for (const c of items) if (c.x0 === 0 || c.y0 === 0 || c.x1 === w - 1 || c.y1 === h - 1) touchesEdge[c.label] = 1;
  const depth = SURROUND_DEPTH * Math.min(w, h);
  let edge = 0;
  let band = 0;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      if (!touchesEdge[labels[i]]) continue;
      edge++;
      if (Math.min(x, y, w - 1 - x, h - 1 - y) < depth) band++;
    }
  }
  // A letter: its box at most (4% of the shorter side)², 2% each way around its centre.
  const letter = (0.04 * Math.min(w, h)) ** 2;
  const letterSized = (c: { x0: number; y0: number; x1: number; y1: number }) =>
    (c.x1 - c.x0 + 1) * (c.y1 - c.y0 + 1) <= letter;
  let strokes = 0;
  for (const c of items) if (!touchesEdge[c.label] && letterSized(c)) strokes++;
  // A light speck's first pixel in raster order has its enclosing dark to its left.
  let lightStrokesInEdge = 0;
  for (const c of labelComponents(dark, w, h, 0).items) {
    if (c.seedX > 0 && letterSized(c) && touchesEdge[labels[c.seedY * w + c.seedX - 1]]) lightStrokesInEdge++;
  }
  const pixels = w * h;
  return { edgeShare: edge / pixels, edgeBandShare: band / pixels, strokes, lightStrokesInEdge };
}
