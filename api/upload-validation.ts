// Decides whether uploaded bytes are an image or a document bitonal accepts, by content alone.
import { fileTypeFromBuffer, fileTypeFromFile } from "file-type";
import sharp from "sharp";
import { ImageError } from "../imaging/binarize.ts";
import { DEFAULT_RENDER_DPI } from "../imaging/decode/pdf-pages.ts";
import type { PdfRenderer } from "../imaging/decode/pdf-renderer.ts";
import type { ImageExtension } from "../infra/image-objects.ts";
import { AppError } from "./errors.ts";
import { findStructureProblem } from "./image-structure.ts";
import { DECODED_COMPRESSIONS, walkTiff } from "./tiff-structure.ts";
import type { SpooledUpload } from "./upload-spool.ts";

const ACCEPTED = {
  "image/png": "png",
  "image/jpeg": "jpg",
  "image/webp": "webp",
} as const satisfies Record<string, ImageExtension>;
type AcceptedType = keyof typeof ACCEPTED;
const DOCUMENTS = { "image/tiff": "tif", "application/pdf": "pdf" } as const satisfies Record<string, ImageExtension>;
type DocumentType = keyof typeof DOCUMENTS;
const EXPECTED = "Expected a PNG, JPEG, WebP, TIFF or PDF file";

export interface ValidImage {
  kind: "image";
  contentType: AcceptedType;
  extension: ImageExtension;
  width: number;
  height: number;
}

export interface ValidDocument {
  kind: "document";
  contentType: DocumentType;
  extension: ImageExtension;
  /** Each page's size in pixels, in order. */
  pages: Array<{ width: number; height: number }>;
}

export interface UploadLimits {
  maxUploadBytes: number;
  maxDocumentBytes: number;
  maxInputPixels: number;
  maxPages: number;
  /** What a PDF's pages are checked at (the upload's `dpi`); absent: DEFAULT_RENDER_DPI. */
  dpi?: number;
}

/**
 * An image (validateImage) or a multi-page document, told apart by content. A document is read
 * where it lies (a temporary file, see upload-spool.ts): its directories, cross-reference and
 * page tree, never the whole of it into memory.
 */
export async function validateUpload(
  file: SpooledUpload,
  limits: UploadLimits,
  pdf: PdfRenderer,
): Promise<ValidImage | ValidDocument> {
  if (file.size === 0) throw new AppError("unsupported-media-type", "The upload is empty.");
  // The whole file, not its first bytes: a TIFF is told from a camera's raw file (a TIFF inside)
  // by its first directory, which libtiff writes after the pixels, at the end of the file. A
  // spooled file is read where it lies, only at the offsets the check asks for.
  const detected = file.path
    ? await fileTypeFromFile(file.path)
    : await fileTypeFromBuffer(file.bytes ?? new Uint8Array());
  if (detected?.mime === "image/tiff") return validateTiff(file, limits);
  if (detected?.mime === "application/pdf") return validatePdf(file, limits, pdf);
  if (file.size > limits.maxUploadBytes) {
    throw new AppError("payload-too-large", `The image is larger than ${limits.maxUploadBytes} bytes.`);
  }
  // Only a file whose first bytes claimed a document is kept on disk; what is not one after all
  // (a camera's raw file is a TIFF inside) is no image bitonal takes either.
  if (!file.bytes) throw unsupported(detected?.mime);
  return validateImage(file.bytes, limits);
}

function unsupported(detected: string | undefined): AppError {
  return new AppError("unsupported-media-type", `${EXPECTED}; the content is ${detected ?? "not a recognised image"}.`);
}

/**
 * A PDF: opened by PDFium on its own thread (a hostile file stalls or crashes only that), its
 * pages counted and measured without one being rendered. Each page's pixels are checked at the
 * upload's dpi here; a scan at a higher resolution is checked again when it is rendered.
 */
async function validatePdf(file: SpooledUpload, limits: UploadLimits, pdf: PdfRenderer): Promise<ValidDocument> {
  if (file.size > limits.maxDocumentBytes) {
    throw new AppError("payload-too-large", `The document is larger than ${limits.maxDocumentBytes} bytes.`);
  }
  const sizes = await pdf
    .pageSizes(file.path ? { path: file.path } : (file.bytes as Uint8Array), limits)
    .catch((error) => {
      if (error instanceof ImageError) throw new AppError("unprocessable-image", error.message, { cause: error });
      throw new AppError("service-unavailable", "The PDF could not be read just now; try again.", { cause: error });
    });
  const dpi = limits.dpi ?? DEFAULT_RENDER_DPI;
  const pages = sizes.map(({ width, height }) => ({
    width: Math.max(1, Math.round((width * dpi) / 72)),
    height: Math.max(1, Math.round((height * dpi) / 72)),
  }));
  for (const [n, page] of pages.entries()) {
    if (page.width * page.height > limits.maxInputPixels) {
      throw new AppError(
        "unprocessable-image",
        `Page ${n + 1} of the PDF is ${page.width}×${page.height} pixels at ${dpi} dpi; at most ${limits.maxInputPixels} pixels a page are accepted.`,
      );
    }
  }
  return { kind: "document", contentType: "application/pdf", extension: DOCUMENTS["application/pdf"], pages };
}

/** A TIFF of one or many pages: its directory chain whole, every page within the limits. */
function validateTiff(
  file: SpooledUpload,
  { maxDocumentBytes, maxInputPixels, maxPages }: UploadLimits,
): ValidDocument {
  if (file.size > maxDocumentBytes) {
    throw new AppError("payload-too-large", `The document is larger than ${maxDocumentBytes} bytes.`);
  }
  const walk = walkTiff(file, maxPages);
  if ("problem" in walk) throw new AppError("unprocessable-image", walk.problem);
  for (const [n, page] of walk.pages.entries()) {
    if (!(page.compression in DECODED_COMPRESSIONS)) {
      throw new AppError(
        "unsupported-media-type",
        `Page ${n + 1} of the TIFF is compressed with scheme ${page.compression}; accepted are ${[...new Set(Object.values(DECODED_COMPRESSIONS))].join(", ")}.`,
      );
    }
    if (page.width * page.height > maxInputPixels) {
      throw new AppError(
        "unprocessable-image",
        `Page ${n + 1} of the TIFF is ${page.width}×${page.height} pixels; at most ${maxInputPixels} pixels a page are accepted.`,
      );
    }
  }
  return {
    kind: "document",
    contentType: "image/tiff",
    extension: DOCUMENTS["image/tiff"],
    pages: walk.pages.map(({ width, height }) => ({ width, height })),
  };
}

/**
 * Type by magic bytes (a name or a Content-Type header proves nothing), then the file's
 * structure (complete, checksums right), then the pixel count from the header. Nothing here
 * decodes pixels: that is the worker's one decode.
 */
async function validateImage(bytes: Uint8Array, { maxInputPixels }: { maxInputPixels: number }): Promise<ValidImage> {
  if (bytes.length === 0) throw new AppError("unsupported-media-type", "The upload is empty.");
  const detected = await fileTypeFromBuffer(bytes);
  if (!detected || !(detected.mime in ACCEPTED)) throw unsupported(detected?.mime);
  const contentType = detected.mime as AcceptedType;
  // file-type trusts PNG's 8-byte signature; a real PNG's first chunk is always IHDR.
  if (contentType === "image/png" && new TextDecoder().decode(bytes.subarray(12, 16)) !== "IHDR") {
    throw new AppError("unsupported-media-type", `${EXPECTED}; the content is not one.`);
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
  return { kind: "image", contentType, extension: ACCEPTED[contentType], width, height };
}
