// Bleed-through told from ink: the document method's ink falls into two tones, and the lighter
// is the other side of the sheet showing through, which ground truth calls paper.
//
// Every stroke has edge pixels, so bleed-through passes the document method's edge windows as
// well as ink does, and its pixels' tones blur into the ink's at every stroke edge. What tells
// them apart is each connected piece of ink's darkest pixel: on a page with bleed-through those
// fall into two clean classes, dark ink and pieces that nowhere get darker than about half way
// to the paper. Measured on the development pages (docs/BENCHMARKS.md): the synthetic
// bleed-through pages from 0.07 to 4.3 MP have a separability of 0.94–0.98 and a lighter class
// whose darkest pixels average 150; the DIBCO pages, faint ink, papyrus and filled maps that
// are as separable have a lighter class of at most 100, or none to speak of.
import { otsu } from "../kernels/histogram.ts";
import type { ComponentRuns } from "../kernels/simd.ts";

/** The darkest pieces' classes this cleanly apart (Otsu's separability), or not two inks. */
const SEPARABILITY = 0.9;
/** The lighter class's share of the ink's area: a few stray light pieces are not bleed-through. */
const SHARE = 0.05;
/** Its pieces' darkest pixels (normalised: paper 255), on average: bleed-through is light. */
const LIGHTER_DARKEST = 120;
/** And that far above the ink's. */
const GAP = 60;

/**
 * The normalised level above which no pixel is ink, when the pieces of ink of `image` (`runs`, as
 * componentRuns gives them) fall into two tones of which the lighter is bleed-through: just below
 * the darkest pixel of any piece of the lighter class. Otherwise undefined.
 */
export function bleedThroughCeiling(runs: ComponentRuns, image: Uint8Array, width: number): number | undefined {
  const darkest = new Uint8Array(runs.length).fill(255);
  const area = new Uint32Array(runs.length);
  for (let r = 0; r < runs.length; r++) {
    const piece = runs.root[r];
    let value = darkest[piece];
    for (let i = runs.row[r] * width + runs.start[r], end = runs.row[r] * width + runs.end[r]; i < end; i++) {
      if (image[i] < value) value = image[i];
    }
    darkest[piece] = value;
    area[piece] += runs.end[r] - runs.start[r];
  }
  // Weighted by area, so the page's ink decides, not its number of dots.
  const histogram = new Uint32Array(256);
  for (let r = 0; r < runs.length; r++) if (runs.root[r] === r) histogram[darkest[r]] += area[r];
  const { threshold, separability } = otsu(histogram);
  if (separability < SEPARABILITY) return undefined;
  let total = 0;
  let lighter = 0;
  let sumDarker = 0;
  let sumLighter = 0;
  let lighterFrom = -1;
  for (let v = 0; v < 256; v++) {
    total += histogram[v];
    if (v <= threshold) {
      sumDarker += v * histogram[v];
      continue;
    }
    if (lighterFrom < 0 && histogram[v] > 0) lighterFrom = v;
    lighter += histogram[v];
    sumLighter += v * histogram[v];
  }
  // Every piece at one value is "fully separable" to Otsu, with one class empty: one ink.
  if (lighter === 0 || lighter === total || lighter < SHARE * total) return undefined;
  const lighterMean = sumLighter / lighter;
  const darkerMean = sumDarker / (total - lighter);
  if (lighterMean < LIGHTER_DARKEST || lighterMean - darkerMean < GAP) return undefined;
  return lighterFrom - 1;
}
