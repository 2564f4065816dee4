// The one error the imaging room throws on purpose: the input itself is at fault.

export type ImageErrorCode =
  | "too-many-pixels"
  | "undecodable"
  // A PDF's: one that needs a password, one that cannot be read, one with more pages than allowed,
  // a page whose rendering ran past its deadline.
  | "encrypted"
  | "damaged"
  | "too-many-pages"
  | "render-timeout";

/** The input itself is at fault: retrying cannot help. */
export class ImageError extends Error {
  override name = "ImageError";
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
