// Where the dark half of a two-tone image lies: along the image's edges around a page full of
// small dark strokes, it is a mount, a table or a frame (which ground truth calls paper), not
// ink. `auto` asks before it takes a two-tone histogram for a clean page; the document method
// asks before it fills a dark area that reaches the image's edge.
import { labelComponents } from "../kernels/components.ts";

interface Gray {
  luma: Uint8Array;
  width: number;
  height: number;
}

// The sample the surround is judged on: about this many pixels, every f-th of every f-th row.
const SAMPLE_PIXELS = 150_000;
// Dark pixels connected to the image's edge, as a share of the image, that make a surround…
const SURROUND_SHARE = 0.05;
// …when nearly all of them lie in a band along the edges this deep (a share of the shorter side)…
const EDGE_BAND_DEPTH = 0.25;
const SURROUND_PERIPHERAL = 0.9;
// …around at least this many letter-sized dark specks away from the edges (a page's writing)…
const SURROUND_STROKES = 6;
// …and with fewer light letters inside it than this per sample pixel of it: a mount is plain
// (0.01–0.09 a thousand pixels on the synthetic set, texture and all), a title bar holds words
// (0.3–18 a thousand).
const SURROUND_LIGHT_STROKES = 0.2 / 1000;
const LETTER = 0.08;

/**
 * Whether the pixels at or below `threshold` include a mount, a table or a frame around the
 * page: not a dark bar with writing in it, as a screenshot's title bar is.
 */
export function isSurround(image: Gray, threshold: number): boolean {
  const layout = darkLayout(image, threshold);
  return (
    layout.edgeShare >= SURROUND_SHARE &&
    layout.edgeBandShare >= SURROUND_PERIPHERAL * layout.edgeShare &&
    layout.strokes >= SURROUND_STROKES &&
    layout.lightStrokesInEdge < SURROUND_LIGHT_STROKES * layout.edgePixels
  );
}

interface DarkLayout {
  /** Dark pixels connected to the image's edge, as a share of the image. */
  edgeShare: number;
  /** Those connected to the edge and lying in the band along it (EDGE_BAND_DEPTH deep). */
  edgeBandShare: number;
  /** Dark pixels connected to the image's edge, in the sample. */
  edgePixels: number;
  /** Dark specks away from the edges no larger than a letter: a page's writing. */
  strokes: number;
  /** Light specks no larger than a letter inside the edge-connected dark: writing on a dark bar. */
  lightStrokesInEdge: number;
}

/**
 * Where the pixels at or below `threshold` lie, judged on every f-th pixel of every f-th row
 * (about SAMPLE_PIXELS: a few milliseconds whatever the image's size).
 */
function darkLayout({ luma, width, height }: Gray, threshold: number): DarkLayout {
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
  const depth = EDGE_BAND_DEPTH * Math.min(w, h);
  let edge = 0;
  let band = 0;
  for (let y = 0, i = 0; y < h; y++) {
    for (let x = 0; x < w; x++, i++) {
      if (!touchesEdge[labels[i]]) continue;
      edge++;
      if (Math.min(x, y, w - 1 - x, h - 1 - y) < depth) band++;
    }
  }
  // A letter: its box at most (LETTER of the shorter side)².
  const letter = (LETTER * Math.min(w, h)) ** 2;
  const letterSized = (c: { x0: number; y0: number; x1: number; y1: number }) =>
    (c.x1 - c.x0 + 1) * (c.y1 - c.y0 + 1) <= letter;
  // A light letter is at least 2 × 2 sample pixels: a textured mount's noise is single pixels.
  const lightLetter = (c: { x0: number; y0: number; x1: number; y1: number }) =>
    c.x1 > c.x0 && c.y1 > c.y0 && letterSized(c);
  let strokes = 0;
  for (const c of items) if (!touchesEdge[c.label] && letterSized(c)) strokes++;
  // A light speck's first pixel in raster order has its enclosing dark to its left.
  let lightStrokesInEdge = 0;
  for (const c of labelComponents(dark, w, h, 0).items) {
    if (c.seedX > 0 && lightLetter(c) && touchesEdge[labels[c.seedY * w + c.seedX - 1]]) lightStrokesInEdge++;
  }
  const pixels = w * h;
  return { edgeShare: edge / pixels, edgeBandShare: band / pixels, edgePixels: edge, strokes, lightStrokesInEdge };
}
