// The one error the imaging room throws on purpose: the input itself is at fault.

export type ImageErrorCode = "too-many-pixels" | "undecodable";

/** The input itself is at fault: retrying cannot help. */
export class ImageError extends Error {
  override name = "ImageError";
  readonly code: ImageErrorCode;
  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
