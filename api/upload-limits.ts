// How large an upload may be: an image's limit or a document's, chosen by the file's first bytes
// (a TIFF's or PDF's signature claims the document limit) and enforced as the bytes arrive.
// Validation (upload-validation.ts) then checks what the content really is.
import { AppError } from "./errors.ts";

export interface UploadLimits {
  maxUploadBytes: number;
  maxDocumentBytes: number;
}

/** The limits, and where a document waits while it is checked (see upload-spool.ts). */
export interface UploadIntake extends UploadLimits {
  uploadSpoolDir: string;
}

const SIGNATURE_BYTES = 8;

/** The most any upload may be, whatever it turns out to be. */
export function largestUpload(limits: UploadLimits): number {
  return Math.max(limits.maxUploadBytes, limits.maxDocumentBytes);
}

/**
 * Counts a file's bytes as they arrive: `after(chunk)` returns the limit that applies once the
 * file has passed it, undefined while it is within; `isDocument()` says, once the first bytes
 * are in, whether they claim the document limit.
 */
export function fileSizeLimit(limits: UploadLimits) {
  let head = Buffer.alloc(0);
  let limit: number | undefined;
  let document = false;
  let received = 0;
  return {
    after(chunk: Buffer): number | undefined {
      received += chunk.length;
      if (limit === undefined) {
        head = Buffer.concat([head, chunk.subarray(0, SIGNATURE_BYTES - head.length)]);
        if (head.length < SIGNATURE_BYTES) return undefined;
        document = hasDocumentSignature(head);
        limit = document ? limits.maxDocumentBytes : limits.maxUploadBytes;
      }
      return received > limit ? limit : undefined;
    },
    isDocument: () => document,
  };
}

/** TIFF (classic or BigTIFF, either byte order) or PDF, by the first bytes. */
function hasDocumentSignature(head: Uint8Array): boolean {
  return /^(II[*+]\0|MM\0[*+]|%PDF-)/.test(Buffer.from(head).toString("latin1"));
}

export function tooLarge(maxBytes: number): AppError {
  return new AppError("payload-too-large", `The upload is larger than ${maxBytes} bytes.`);
}
