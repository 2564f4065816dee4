// Streams a multipart/form-data upload through busboy: one image file, a few short text fields,
// bytes counted as they arrive. Every way a body can be malformed is a client error (400).
import type { Readable } from "node:stream";
import busboy from "busboy";
import { AppError } from "./errors.ts";
import { largestUpload, tooLarge, type UploadIntake } from "./upload-limits.ts";
import { createSpool, type Spool, type SpooledUpload } from "./upload-spool.ts";

export interface MultipartUpload {
  image: { file: SpooledUpload; filename: string };
  fields: Record<string, string>;
}

// Room for the few option fields a client may send; anything past it is a malformed request.
const LIMITS = { fields: 16, fieldSize: 1024, parts: 32, headerPairs: 16 } as const;

/**
 * Reads the one file in field `imageField` (into a spool: memory or a temporary file, see
 * upload-spool.ts) and every text field from `body`; rejects with an AppError, leaving no file
 * behind. On a refusal it stops reading and leaves `body` as it is (never destroys it: that
 * would also end the socket the answer goes out on).
 */
export async function readMultipart(
  body: Readable,
  contentType: string,
  { imageField, limits, maxBodyBytes }: { imageField: string; limits: UploadIntake; maxBodyBytes: number },
): Promise<MultipartUpload> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({
      headers: { "content-type": contentType },
      // The file's own limit (an image's or a document's) is kept below, as it arrives.
      limits: { ...LIMITS, fileSize: largestUpload(limits) },
      // Browsers send file names as raw UTF-8 in `filename="…"`, not Latin-1.
      defParamCharset: "utf8",
    });
  } catch {
    throw new AppError("bad-request", "The multipart Content-Type has no boundary parameter.");
  }

  let image: { spool: Spool; filename: string } | undefined;
  const fields: Record<string, string> = {};
  const fail = (error: AppError) => parser.destroy(error);

  parser.on("file", (name, stream, info) => {
    // A file stream fails with the parser's own error, which the pipeline below reports.
    stream.on("error", () => {});
    if (name !== imageField) {
      stream.resume();
      fail(new AppError("bad-request", `Only field \`${imageField}\` may hold a file; \`${name}\` must be text.`));
      return;
    }
    if (image) {
      stream.resume();
      fail(new AppError("bad-request", `Field \`${imageField}\` must hold exactly one file.`));
      return;
    }
    const spool = createSpool(limits, limits.uploadSpoolDir);
    image = { spool, filename: info.filename ?? "" };
    let over = false;
    stream.on("data", (chunk: Buffer) => {
      if (over) return;
      const exceeded = spool.write(chunk, stream);
      if (exceeded === undefined) return;
      over = true;
      fail(tooLarge(exceeded));
    });
    stream.on("limit", () => fail(tooLarge(largestUpload(limits))));
  });
  parser.on("field", (name, value, info) => {
    if (name === imageField) fail(new AppError("bad-request", `Field \`${imageField}\` must be a file, not text.`));
    else if (name in fields) fail(new AppError("bad-request", `Field \`${name}\` is given more than once.`));
    else if (info.valueTruncated)
      fail(new AppError("bad-request", `Field \`${name}\` is longer than ${LIMITS.fieldSize} bytes.`));
    else fields[name] = value;
  });
  for (const limit of ["partsLimit", "fieldsLimit"] as const) {
    parser.on(limit, () =>
      fail(new AppError("bad-request", `The multipart body has more than ${LIMITS.parts} parts.`)),
    );
  }

  // Bytes are counted before busboy sees them: it bounds what it keeps, not what it skips
  // (an endless preamble would otherwise be read for ever).
  let received = 0;
  const counted = (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxBodyBytes) fail(tooLarge(largestUpload(limits)));
  };
  try {
    await new Promise<void>((resolve, reject) => {
      parser.once("close", resolve);
      // \`on\`, never \`once\`: busboy can emit a second error after the first (a refused field,
      // then a malformed header further on), and an emitter with no 'error' listener left
      // throws it out of the event loop, which ends the whole process. The first error settles
      // the promise; the later ones land here and are dropped.
      parser.on("error", reject);
      body.on("error", reject);
      body.on("data", counted);
      body.pipe(parser);
    });
  } catch (error) {
    body.unpipe(parser);
    body.off("data", counted);
    body.pause();
    await image?.spool.discard();
    throw error instanceof AppError ? error : malformed(error);
  }
  if (!image) throw new AppError("bad-request", `Field \`${imageField}\` with the image file is missing.`);
  const file = await image.spool.finish();
  return { image: { file, filename: image.filename }, fields };
}

// busboy's messages, said in the client's terms.
function malformed(error: unknown): AppError {
  const message = error instanceof Error ? error.message : "";
  const detail =
    message === "Unexpected end of form" || message === "Unexpected end of file"
      ? "The multipart body ends before its closing boundary."
      : message === "Malformed part header"
        ? "A part header of the multipart body is malformed (control characters are not allowed in a header) or larger than 16 KiB."
        : "The multipart body could not be read to its end.";
  return new AppError("bad-request", detail, { cause: error });
}
