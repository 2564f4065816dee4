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
// what `isSurround` (surround.ts) looks for, on a sample of the pixels.
import { otsu } from "../kernels/histogram.ts";
import type { PaperBackground } from "./document.ts";
import { isSurround } from "./surround.ts";

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
/** auto's reason for a page whose pixels are black and white already: its result is itself. */
export const ALREADY_BITONAL = "already black and white";

export function chooseMethod(
  image: { luma: Uint8Array; width: number; height: number },
  histogram: Uint32Array,
  paper: () => PaperBackground,
): MethodChoice {
  // A page that is black and white already (a fax, a G4 TIFF, a binarized scan) is kept as it
  // is: Otsu's threshold falls between its two values, so every pixel stays what it was.
  if (histogram.every((count, value) => count === 0 || value === 0 || value === 255)) {
    return { method: "otsu", reason: ALREADY_BITONAL };
  }
  const { threshold, separability } = otsu(histogram);
  if (separability >= CLEAN_SEPARABILITY) {
    if (isSurround(image, threshold)) return { method: "document", reason: "page on a dark mount or frame" };
    return { method: "otsu", reason: "clean two-tone image" };
  }
  if (paper().unevenness > UNEVEN) return { method: "document", reason: "uneven background" };
  return { method: "document", reason: "faint or degraded ink" };
}
