// The imaging room's door for one image: encoded bytes in, a bitonal PNG out. Decode, one
// method, encode; knows nothing of S3, SQS or configuration.
import { availableParallelism } from "node:os";
import sharp from "sharp";
import { decodeLuma, type RgbPixels } from "./decode/luma.ts";
import { encodeBitonalPng } from "./encode/bitonal-png.ts";
import { type Borders, findFrame, frameMask, NO_BORDERS, padFrame, whitenMasked } from "./geometry/borders.ts";
import { estimateSkew, type SkewEstimate } from "./geometry/skew.ts";
import { countValues, releaseKernelMemory } from "./kernels/simd.ts";
import {
  type AppliedMethod,
  type BinarizationMethod,
  type BorderMode,
  DEFAULT_FIXED_THRESHOLD,
} from "./method-names.ts";
import { chooseMethod } from "./methods/auto.ts";
import { documentMethod, type WorkingImage, workingImage } from "./methods/document.ts";
import { packAboveThreshold } from "./methods/fixed.ts";
import { otsuMethod } from "./methods/otsu.ts";
import { type SauvolaOptions, sauvola } from "./methods/sauvola.ts";

export type { RgbPixels } from "./decode/luma.ts";
export { ImageError, type ImageErrorCode } from "./errors.ts";
export { ALREADY_BITONAL } from "./methods/auto.ts";

export interface BinarizeOptions {
  method: BinarizationMethod;
  /** Used by `fixed` only: luma above it is white. */
  threshold?: number;
  /** Decompression-bomb guard, checked from the header before any pixel is decoded. */
  maxInputPixels: number;
  /** Which page of a multi-page file (TIFF), from 0. */
  page?: number;
  sauvola?: SauvolaOptions;
  /** Estimate the page's skew and, when it is sure of one of at least 0.1°, level the page. */
  deskew?: boolean;
  /** The dark frame around the page: left as it is (the default), made white, or cut away. */
  borders?: BorderMode;
}

/** The skew estimate, and how far the page was turned (clockwise degrees; 0: not turned). */
export type SkewReport = SkewEstimate & { rotated: number };

// Turning a page by less than this changes nothing a reader could see.
const MIN_CORRECTION_DEGREES = 0.1;
// A turned mask is antialiased: anything of it at all is masked, a pixel's margin round the page.
const MASK_EDGE = 8;

export interface BinarizeResult {
  /** 1-bit greyscale PNG: every pixel black or white. */
  png: Buffer;
  /** The same pixels as rows packed 8 a byte (kernels/packed-rows.ts), for the G4 writers. */
  packed: Uint8Array;
  width: number;
  height: number;
  /** Pixels per inch, when the input said. */
  dpi?: number;
  /** The method asked for. */
  method: BinarizationMethod;
  /** The method that made the pixels: `auto` resolves to one of the others. */
  appliedMethod: AppliedMethod;
  /** Why `auto` chose what it did, in a few words; absent for the other methods. */
  reason?: string;
  /** The global threshold applied; null for the local methods, whose threshold differs per pixel. */
  threshold: number | null;
  /** When `deskew` was asked for: the estimate and what was done. */
  skew?: SkewReport;
  /** When `borders` was not `keep`: the frame found, side by side (all 0: none), and what was done. */
  borders?: Borders & { action: Exclude<BorderMode, "keep"> };
}

/**
 * Settings for a process that binarizes `parallelJobs` images at once. libvips' operation
 * cache only helps when the same image is processed twice, so it is off; libvips threads
 * per image are split so that jobs × threads stays at the number of cores.
 */
export function configureSharpForJobs(parallelJobs: number): void {
  sharp.cache(false);
  sharp.concurrency(Math.max(1, Math.floor(availableParallelism() / parallelJobs)));
}

/** `input`: an encoded image, or pixels already decoded (a rendered PDF page). */
export async function binarize(input: Uint8Array | RgbPixels, options: BinarizeOptions): Promise<BinarizeResult> {
  const { method } = options;
  // The luma's histogram (Otsu's, and the document method's dark areas') is counted while luma
  // is taken: one pass over the pixels fewer.
  const needsHistogram = method !== "sauvola" && method !== "fixed";
  const histogram = needsHistogram ? new Uint32Array(256) : undefined;
  const decoded = await decodeLuma(input, { maxInputPixels: options.maxInputPixels, histogram, page: options.page });
  const { dpi } = decoded;
  let page: Page = { ...decoded, histogram };

  // The frame first: found on the grey page, cut away before any method sees it (crop), and
  // masked out of the result: its straight edges would outvote the text's lines in the skew
  // estimate, and it is not the page.
  const bordersAction = options.borders ?? "keep";
  const frame = bordersAction === "keep" ? undefined : findFrame(page.luma, page.width, page.height);
  const borders = frame?.borders ?? NO_BORDERS;
  let mask = frame ? frameMask(page.width, page.height, frame) : undefined;
  if (mask && bordersAction === "crop") {
    const { width, height } = page;
    // Counted once framed, below.
    page = cropped(page.luma, width, height, borders);
    mask = cropped(mask, width, height, borders).luma;
  }
  let run = binarizeLuma(mask ? framedPage(page, mask, 0, needsHistogram) : page, options);
  if (mask) whitenMasked(run.packed, page.width, page.height, mask);

  let skew: SkewReport | undefined;
  if (options.deskew) {
    const estimate = estimateSkew(run.packed, page.width, page.height);
    skew = { ...estimate, rotated: 0 };
    if (estimate.angle !== null && Math.abs(estimate.angle) >= MIN_CORRECTION_DEGREES) {
      // The grey page turned and binarized again: turning the bits instead would leave every
      // slanted edge a staircase, and the methods measure the grey page as it will be written.
      // The mask turns with it, and what lies outside the page as it was (the canvas' new
      // corners, where white meets the page's edge) is masked too.
      const turn = -estimate.angle;
      const turnedMask = await rotatedPlane(mask ?? new Uint8Array(page.width * page.height), page, turn, 255);
      page = await rotatedPlane(page.luma, page, turn, 255);
      run = binarizeLuma(framedPage(page, turnedMask.luma, MASK_EDGE, needsHistogram), options);
      whitenMasked(run.packed, page.width, page.height, turnedMask.luma, MASK_EDGE);
      skew.rotated = turn;
    }
  }
  // A large page grew the kernels' memory: let it go rather than hold it until the next one.
  releaseKernelMemory();
  const { width, height } = page;
  return {
    png: encodeBitonalPng(run.packed, width, height),
    packed: run.packed,
    width,
    height,
    ...(dpi ? { dpi } : {}),
    method,
    appliedMethod: run.applied,
    ...(run.reason ? { reason: run.reason } : {}),
    threshold: run.threshold,
    ...(skew ? { skew } : {}),
    ...(bordersAction === "keep" ? {} : { borders: { ...borders, action: bordersAction } }),
  };
}

/** Grey pixels on their way to a method, with their histogram when a method needs one. */
interface Page {
  luma: Uint8Array;
  width: number;
  height: number;
  histogram: Uint32Array | undefined;
}

/**
 * `page` as the methods see it inside its frame (`mask` above `level`): the frame carried on
 * from the page's edge (padFrame), and counted again. A dark table or mount around a page made
 * every statistic a method takes of the page (auto's two-tone test, Otsu's threshold, the
 * strongest edges) one of table and paper, and a page of faint ink came out blank.
 */
function framedPage(page: Page, mask: Uint8Array, level: number, needsHistogram: boolean): Page {
  const luma = padFrame(page.luma, page.width, page.height, mask, level);
  return recount({ ...page, luma, histogram: undefined }, needsHistogram);
}

/** One method over a grey page: the chosen method's packed rows, and what it applied. */
function binarizeLuma(
  { luma, width, height, histogram }: Page,
  options: BinarizeOptions,
): { packed: Uint8Array; applied: AppliedMethod; reason: string | undefined; threshold: number | null } {
  const { method } = options;
  // The document method's measuring image, made once and only when needed: a clean page that
  // auto sends to Otsu never pays for it.
  let work: WorkingImage | undefined;
  const working = () => {
    work ??= workingImage(luma, width, height, histogram);
    return work;
  };
  const choice =
    method === "auto" && histogram
      ? chooseMethod({ luma, width, height }, histogram, () => working().paper)
      : undefined;
  const applied: AppliedMethod = choice?.method ?? (method === "auto" ? "otsu" : method);
  let packed: Uint8Array;
  let threshold: number | null = null;
  if (applied === "document") {
    packed = documentMethod(luma, width, height, working());
  } else if (applied === "sauvola") {
    packed = sauvola(luma, width, height, options.sauvola ?? {});
  } else if (applied === "otsu" && histogram) {
    ({ packed, threshold } = otsuMethod(luma, width, height, histogram));
  } else {
    threshold = options.threshold ?? DEFAULT_FIXED_THRESHOLD;
    packed = packAboveThreshold(luma, width, height, threshold);
  }
  return { packed, applied, reason: choice?.reason, threshold };
}

/** One byte a pixel cut to the page's box inside `borders`. */
function cropped(values: Uint8Array, width: number, height: number, borders: Borders): Page {
  const { top, right, bottom, left } = borders;
  const w = width - left - right;
  const h = height - top - bottom;
  const out = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const from = (y + top) * width + left;
    out.set(values.subarray(from, from + w), y * w);
  }
  return { luma: out, width: w, height: h, histogram: undefined };
}

/** One byte a pixel turned `degrees` clockwise (negative: counter-clockwise), the canvas grown with `fill`. */
async function rotatedPlane(
  values: Uint8Array,
  { width, height }: { width: number; height: number },
  degrees: number,
  fill: number,
): Promise<Page> {
  const { data, info } = await sharp(values, { raw: { width, height, channels: 1 } })
    .rotate(degrees, { background: { r: fill, g: fill, b: fill } })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { luma: data, width: info.width, height: info.height, histogram: undefined };
}

function recount(page: Page, needsHistogram: boolean): Page {
  if (!needsHistogram) return page;
  const histogram = new Uint32Array(256);
  countValues(page.luma, histogram);
  return { ...page, histogram };
}
