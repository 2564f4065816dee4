// Decides whether uploaded bytes are an image bitonal accepts, by content alone.
import { fileTypeFromBuffer } from "file-type";
import sharp from "sharp";
import type { ImageExtension } from "../infra/image-objects.ts";
import { AppError } from "./errors.ts";

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
 * Type by magic bytes (a name or a Content-Type header proves nothing), then the pixel
 * count from the header before any pixel is decoded, then a full decode so that a
 * truncated or corrupt image is refused here rather than failing later in the worker.
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

  let width: number | undefined;
  let height: number | undefined;
  try {
    const image = sharp(bytes, { limitInputPixels: maxInputPixels });
    ({ width, height } = await image.metadata());
    if (width && height && width * height <= maxInputPixels) await image.raw().toBuffer();
  } catch (error) {
    throw new AppError("unprocessable-image", "The image is damaged or truncated and cannot be decoded.", {
      cause: error,
    });
  }
  if (!width || !height) throw new AppError("unprocessable-image", "The image has no dimensions.");
  if (width * height > maxInputPixels) {
    throw new AppError(
      "unprocessable-image",
      `The image is ${width}×${height} pixels; at most ${maxInputPixels} pixels are accepted.`,
    );
  }
  return { contentType, extension: ACCEPTED[contentType], width, height };
}
