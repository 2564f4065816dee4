// The imaging room's door for one image: encoded bytes in, a bitonal PNG out. Decode, one
// method, encode; knows nothing of S3, SQS or configuration.
import { availableParallelism } from "node:os";
import sharp from "sharp";
import { decodeLuma, type RgbPixels } from "./decode/luma.ts";
import { encodeBitonalPng } from "./encode/bitonal-png.ts";
import { releaseKernelMemory } from "./kernels/simd.ts";
import { type AppliedMethod, type BinarizationMethod, DEFAULT_FIXED_THRESHOLD } from "./method-names.ts";
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
}

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
  const histogram = method === "sauvola" || method === "fixed" ? undefined : new Uint32Array(256);
  const { luma, width, height, dpi } = await decodeLuma(input, {
    maxInputPixels: options.maxInputPixels,
    histogram,
    page: options.page,
  });
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
  // A large page grew the kernels' memory: let it go rather than hold it until the next one.
  releaseKernelMemory();
  return {
    png: encodeBitonalPng(packed, width, height),
    packed,
    width,
    height,
    ...(dpi ? { dpi } : {}),
    method,
    appliedMethod: applied,
    ...(choice ? { reason: choice.reason } : {}),
    threshold,
  };
}
