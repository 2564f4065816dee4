// Encoded bytes to 8-bit luma, as the methods measure it: decoded by sharp, EXIF orientation
// honoured, transparency flattened onto white paper, colour weighted as OpenCV weighs it.
import { endianness } from "node:os";
import sharp, { type OutputInfo } from "sharp";
import { ImageError } from "../errors.ts";
import { countValues } from "../kernels/histogram.ts";

export interface LumaImage {
  luma: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decodes, honours EXIF orientation, flattens transparency onto white paper, and takes
 * luma as OpenCV's cvtColor(BGR2GRAY) does, 16-bit samples scaled to 8 bits as OpenCV
 * does (>> 8, which is also libvips' cast). The integer weighting is written out here
 * rather than left to libvips: its recomb gives the same pixels only with float
 * arithmetic that measured several times slower than this loop. When `histogram` is given,
 * the values are counted into it on the way (one pass over the pixels fewer for Otsu).
 */
export async function decodeLuma(
  input: Uint8Array,
  maxInputPixels: number,
  histogram?: Uint32Array,
): Promise<LumaImage> {
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const image = sharp(input, { limitInputPixels: maxInputPixels });
    const { space } = await image.metadata();
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
    return { luma: data, width, height };
  }
  return { luma: rgbToLuma(data, width * height, histogram), width, height };
}

// OpenCV's fixed-point Rec. 601 (cvtColor on 8-bit, 4.x and 5.x alike): 0.299 R + 0.587 G
// + 0.114 B as 15-bit integer weights, rounded. Float weights disagree on about one pixel
// in ten near the threshold; these agree on every pixel of the OpenCV fixture.
const lumaOf = (r: number, g: number, b: number) => (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
const LITTLE_ENDIAN = endianness() === "LE";

function rgbToLuma(rgb: Buffer, pixels: number, histogram: Uint32Array | undefined): Uint8Array {
  // Every byte is written below, so the zero fill of a safe allocation is wasted time.
  const luma = Buffer.allocUnsafe(pixels);
  let i = 0;
  if (LITTLE_ENDIAN && rgb.byteOffset % 4 === 0) {
    // Four pixels from three 32-bit reads: a third of the loads of a byte loop, which
    // measured about 1.5x faster on the pass that dominates our cost over the decode.
    const words = new Uint32Array(rgb.buffer, rgb.byteOffset, Math.floor(rgb.length / 4));
    for (let w = 0; i + 4 <= pixels; w += 3, i += 4) {
      const a = words[w];
      const b = words[w + 1];
      const c = words[w + 2];
      const l0 = lumaOf(a & 255, (a >>> 8) & 255, (a >>> 16) & 255);
      const l1 = lumaOf(a >>> 24, b & 255, (b >>> 8) & 255);
      const l2 = lumaOf((b >>> 16) & 255, b >>> 24, c & 255);
      const l3 = lumaOf((c >>> 8) & 255, (c >>> 16) & 255, c >>> 24);
      luma[i] = l0;
      luma[i + 1] = l1;
      luma[i + 2] = l2;
      luma[i + 3] = l3;
      // Counted here, while the values are in registers, rather than in a pass of its own.
      if (histogram) {
        histogram[l0]++;
        histogram[l1]++;
        histogram[l2]++;
        histogram[l3]++;
      }
    }
  }
  for (let p = i * 3; i < pixels; i++, p += 3) {
    luma[i] = lumaOf(rgb[p], rgb[p + 1], rgb[p + 2]);
    if (histogram) histogram[luma[i]]++;
  }
  return luma;
}
