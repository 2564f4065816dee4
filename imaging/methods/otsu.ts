// `otsu`: the global threshold that best splits the histogram in two (Otsu 1979).
import { otsu } from "../kernels/histogram.ts";
import { packAboveThreshold } from "./fixed.ts";

/** `histogram` is the luma's, counted while it was decoded. */
export function otsuMethod(
  luma: Uint8Array,
  width: number,
  height: number,
  histogram: Uint32Array,
): { packed: Uint8Array; threshold: number } {
  const { threshold } = otsu(histogram);
  return { packed: packAboveThreshold(luma, width, height, threshold), threshold };
}
