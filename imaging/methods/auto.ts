// `auto`: per image, a global threshold or the document method, from statistics the decode
// and the paper estimate already gathered. The cut-offs come from the quality benchmark: every
// clean two-tone page of the synthetic set (office scans, faded ink, logos, screenshots) has a
// separability of 0.92 or more, where Otsu is exact and the document method loses 3–19 points;
// of the 48 DIBCO development pages one reaches 0.94, and there the two methods are within a point.
import { otsu } from "../kernels/histogram.ts";
import type { PaperBackground } from "./document.ts";

export interface MethodChoice {
  method: "otsu" | "document";
  /** A few words for people: shown on the page and in the status. */
  reason: string;
}

const CLEAN_SEPARABILITY = 0.9;
const UNEVEN = 0.15;

/**
 * `histogram` is the luma's. `paper` is asked for only when the image is not clean: estimating
 * it costs a pass over the pixels.
 */
export function chooseMethod(histogram: Uint32Array, paper: () => PaperBackground): MethodChoice {
  if (otsu(histogram).separability >= CLEAN_SEPARABILITY) return { method: "otsu", reason: "clean two-tone image" };
  if (paper().unevenness > UNEVEN) return { method: "document", reason: "uneven background" };
  return { method: "document", reason: "faint or degraded ink" };
}
