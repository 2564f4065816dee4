// Decides whether uploaded bytes are an image bitonal accepts, by content alone.
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";
import type { ImageExtension } from "../infra/image-objects.ts";
import { AppError } from "./errors.ts";
import { findStructureProblem } from "./image-structure.ts";

const ACCEPTED = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
} as const satisfies Record<string, ImageExtension>;
type AcceptedType = keyof typeof ACCEPTED;

export interface ValidImage {
  contentType: AcceptedType;
  extension: ImageExtension;
  width: number;
  height: number;
}

/**
 * Type by magic bytes (a name or a Content-Type header proves nothing), then the file's
 * structure (complete, checksums right), then the pixel count from the header. Nothing here
 * decodes pixels: that is the worker's one decode.
 */
export async function validateImage(
  bytes: Uint8Array,
  { maxInputPixels }: { maxInputPixels: number },
): Promise<ValidImage> {
  if (bytes.length === 0) throw new AppError("unsupported-media-type", "The upload is empty.");
  const detected = await fileTypeFromBuffer(bytes);
  if (!detected || !(detected.mime in ACCEPTED)) {
    throw new AppError(
      "unsupported-media-type",
      `Expected a PNG, JPEG or WebP image; the content is ${detected ? detected.mime : "not a recognised image"}.`,
    );
  }
  const contentType = detected.mime as AcceptedType;
  // file-type trusts PNG's 8-byte signature; a real PNG's first chunk is always IHDR.
  if (contentType === "image/png" && new TextDecoder().decode(bytes.subarray(12, 16)) !== "IHDR") {
    throw new AppError("unsupported-media-type", "Expected a PNG, JPEG or WebP image; the content is not one.");
  }

  // Whole, judged from the container's own lengths and checksums: no pixel is decoded here,
  // so each image is decoded once, by the worker. What passes this and still cannot be
  // decoded (a stream damaged under an intact checksum) ends as `failed`, code `undecodable`.
  const problem = findStructureProblem(bytes, contentType);
  if (problem) throw new AppError("unprocessable-image", problem);
  const damaged = (error?: unknown) =>
    new AppError("unprocessable-image", "The image is damaged or truncated and cannot be decoded.", { cause: error });
  // The header alone, so that the limit may be off here: metadata() decodes no pixels, and
  // with the limit on it would refuse an oversized image without saying how large it is.
  const { width, height } = await sharp(bytes, { limitInputPixels: false })
    .metadata()
    .catch((error) => {
      throw damaged(error);
    });
  if (!width || !height) throw damaged();
  if (width * height > maxInputPixels) {
    throw new AppError(
      "unprocessable-image",
      `The image is ${width}×${height} pixels; at most ${maxInputPixels} pixels are accepted.`,
    );
  }
  return { contentType, extension: ACCEPTED[contentType], width, height };
}
