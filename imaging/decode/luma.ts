// Encoded bytes to 8-bit luma, as the methods measure it: decoded by sharp, EXIF orientation
// honoured, transparency flattened onto white paper, colour weighted as OpenCV weighs it.
import sharp, { type OutputInfo } from "sharp";
import { ImageError } from "../errors.ts";
import { countValues, lumaOfRgb } from "../kernels/simd.ts";

export interface LumaImage {
  luma: Uint8Array;
  width: number;
  height: number;
  /** Pixels per inch, when the file says. */
  dpi?: number;
}

export interface DecodeOptions {
  maxInputPixels: number;
  /** Counted into on the way, when given. */
  histogram?: Uint32Array;
  /** Which page of a multi-page file (TIFF), from 0. */
  page?: number;
}

/**
 * Decodes, honours EXIF orientation, flattens transparency onto white paper, and takes
 * luma as OpenCV's cvtColor(BGR2GRAY) does, 16-bit samples scaled to 8 bits as OpenCV
 * does (>> 8, which is also libvips' cast). The integer weighting is written out here
 * rather than left to libvips: its recomb gives the same pixels only with float
 * arithmetic that measured several times slower than this loop. When `histogram` is given,
 * the values are counted into it on the way (one pass over the pixels fewer for Otsu).
 */
/** Pixels already decoded (a rendered PDF page): 3 bytes a pixel. */
export interface RgbPixels {
  rgb: Uint8Array;
  width: number;
  height: number;
  dpi?: number;
}

export async function decodeLuma(
  input: Uint8Array | RgbPixels,
  { maxInputPixels, histogram, page = 0 }: DecodeOptions,
): Promise<LumaImage> {
  if (!(input instanceof Uint8Array)) {
    const { rgb, width, height, dpi } = input;
    if (width * height > maxInputPixels) {
      throw new ImageError("too-many-pixels", `image has more than ${maxInputPixels} pixels`);
    }
    return { luma: lumaOfRgb(rgb, width * height, histogram), width, height, dpi };
  }
  let decoded: { data: Buffer; info: OutputInfo };
  let dpi: number | undefined;
  try {
    const image = sharp(input, { limitInputPixels: maxInputPixels, page });
    const { space, density } = await image.metadata();
    dpi = density;
    // 8-bit grey stays one band (its luma is itself); everything else becomes sRGB, which is
    // also the conversion that scales 16-bit samples by >> 8 (libvips' b-w rounds instead).
    const grey = space === "b-w";
    decoded = await image
      .autoOrient()
      .flatten({ background: "#ffffff" })
      .toColourspace(grey ? "b-w" : "srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    const message = (error as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ImageError("too-many-pixels", `image has more than ${maxInputPixels} pixels`);
    }
    throw new ImageError(
      "undecodable",
      `The image's pixel data is damaged and cannot be decoded, though the file looked whole at upload (${message.trim()}).`,
    );
  }

  const { data, info } = decoded;
  const { width, height, channels } = info;
  if (channels === 1) {
    if (histogram) countValues(data, histogram);
    return { luma: data, width, height, dpi };
  }
  // OpenCV's fixed-point Rec. 601 (cvtColor on 8-bit, 4.x and 5.x alike): 0.299 R + 0.587 G
  // + 0.114 B as 15-bit integer weights, rounded. Float weights disagree on about one pixel
  // in ten near the threshold; these agree on every pixel of the OpenCV fixture. A SIMD kernel,
  // 16 pixels an iteration: as a JavaScript loop it cost a fifth of the decode.
  return { luma: lumaOfRgb(data, width * height, histogram), width, height, dpi };
}
