// What an output format can hold: the one rule both the upload and the rendition routes apply.
import type { OutputFormat } from "../infra/messages.ts";
import { AppError } from "./errors.ts";

/** Refuses (422) a PNG, which holds one page, for a document of more than one. */
export function assertFormatHoldsPages(format: OutputFormat, pages: number): void {
  if (format === "png" && pages > 1) {
    throw new AppError(
      "unprocessable-image",
      `A PNG holds one page and this document has ${pages}; ask for format tiff or pdf.`,
    );
  }
}
