// Reading documents back with decoders that share no code with our writers (UTIF.js for TIFF,
// Mozilla's pdf.js for PDF), and making multi-page TIFFs with sharp (libtiff).
import { getDocument, OPS, type PDFPageProxy } from "pdfjs-dist/legacy/build/pdf.mjs";
import sharp from "sharp";
import UTIF from "utif";

/** Every page as UTIF.js decodes it, 0 or 255 a pixel. */
export function utifPages(tiff: Uint8Array) {
  const buffer = Buffer.from(tiff);
  return UTIF.decode(buffer).map((ifd) => {
    UTIF.decodeImage(buffer, ifd);
    const rgba = UTIF.toRGBA8(ifd);
    const grey = new Uint8Array(ifd.width * ifd.height);
    for (let i = 0; i < grey.length; i++) grey[i] = rgba[4 * i] > 127 ? 255 : 0;
    return { grey, width: ifd.width, height: ifd.height, tags: ifd as unknown as Record<string, number[]> };
  });
}

const PDFJS_WASM = new URL("../../node_modules/pdfjs-dist/wasm/", import.meta.url).pathname;

export function openPdf(pdf: Uint8Array) {
  // No code from the file evaluated: a reader of our output never needs it.
  return getDocument({ data: new Uint8Array(pdf), isEvalSupported: false, wasmUrl: PDFJS_WASM } as Parameters<
    typeof getDocument
  >[0]).promise;
}

/** The one image a page paints, as pdf.js decodes it: 1 bit a pixel, rows padded to a byte, 1 = white. */
export async function paintedImage(pdfPage: PDFPageProxy) {
  const operators = await pdfPage.getOperatorList();
  const painted = operators.fnArray.flatMap((fn, i) =>
    fn === OPS.paintImageXObject ? [operators.argsArray[i][0]] : [],
  );
  if (painted.length !== 1) throw new Error(`the page paints ${painted.length} images, not one`);
  return new Promise<{ width: number; height: number; kind: number; data: Uint8Array }>((resolve) =>
    pdfPage.objs.get(painted[0], resolve),
  );
}

/** Each page of a PDF of one-bit images, as pdf.js decodes them: 0 or 255 a pixel. */
export async function pdfPages(pdf: Uint8Array) {
  const document = await openPdf(pdf);
  const pages = [];
  for (let n = 1; n <= document.numPages; n++) {
    const pdfPage = await document.getPage(n);
    const image = await paintedImage(pdfPage);
    const rowBytes = Math.ceil(image.width / 8);
    const grey = new Uint8Array(image.width * image.height);
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        grey[y * image.width + x] = (image.data[y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1 ? 255 : 0;
      }
    }
    pages.push({ grey, width: image.width, height: image.height, view: pdfPage.view });
  }
  return { pages, info: (await document.getMetadata()).info as Record<string, unknown> };
}

/** A multi-page greyscale TIFF of pages of one size, written by libtiff (through sharp). */
export async function multiPageTiff(
  pages: Array<(x: number, y: number) => number>,
  {
    width,
    height,
    compression = "deflate",
  }: { width: number; height: number; compression?: "deflate" | "lzw" | "none" },
): Promise<Uint8Array<ArrayBuffer>> {
  const images = await Promise.all(
    pages.map((grey) => {
      const raw = Buffer.alloc(width * height);
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * width + x] = grey(x, y);
      return sharp(raw, { raw: { width, height, channels: 1 } })
        .png()
        .toBuffer();
    }),
  );
  const tiff = await sharp(
    images.length === 1 ? images[0] : images,
    images.length === 1 ? {} : { join: { animated: true } },
  )
    .greyscale()
    .tiff({ compression, xres: 300 / 25.4, yres: 300 / 25.4 })
    .toBuffer();
  return new Uint8Array(tiff);
}

/**
 * A scanned PDF made by pdf-lib (not by our writer): each page one image, drawn over the whole
 * page at `dpi`, as scanners write them.
 */
export async function scannedPdf(
  pages: Array<{ image: Uint8Array; type: "jpeg" | "png"; width: number; height: number; dpi: number }>,
  { encrypt }: { encrypt?: string } = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const { PDFDocument } = await import("@cantoo/pdf-lib");
  const pdf = await PDFDocument.create();
  for (const page of pages) {
    const image = page.type === "jpeg" ? await pdf.embedJpg(page.image) : await pdf.embedPng(page.image);
    const width = (page.width * 72) / page.dpi;
    const height = (page.height * 72) / page.dpi;
    pdf.addPage([width, height]).drawImage(image, { x: 0, y: 0, width, height });
  }
  if (encrypt) pdf.encrypt({ userPassword: encrypt, ownerPassword: `${encrypt}-owner` });
  return new Uint8Array(await pdf.save());
}

/**
 * A PDF written by hand, object by object, for what no PDF library will write: a page whose
 * content stream is `content` (compressed when `deflate`), `pages` references to that one page,
 * and extra entries in the catalog (an /OpenAction, say).
 */
export function handMadePdf({
  content,
  deflate = false,
  pages = 1,
  catalog = "",
}: {
  content: Uint8Array;
  deflate?: boolean;
  pages?: number;
  catalog?: string;
}): Uint8Array<ArrayBuffer> {
  const kids = Array.from({ length: pages }, () => "3 0 R").join(" ");
  const objects = [
    Buffer.from(`<< /Type /Catalog /Pages 2 0 R ${catalog} >>`),
    Buffer.from(`<< /Type /Pages /Kids [${kids}] /Count ${pages} >>`),
    Buffer.from("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>"),
    Buffer.concat([
      Buffer.from(`<< /Length ${content.length}${deflate ? " /Filter /FlateDecode" : ""} >>\nstream\n`),
      content,
      Buffer.from("\nendstream"),
    ]),
  ];
  const parts = [Buffer.from("%PDF-1.7\n")];
  let offset = parts[0].length;
  const offsets: number[] = [];
  for (const [n, body] of objects.entries()) {
    const object = Buffer.concat([Buffer.from(`${n + 1} 0 obj\n`), body, Buffer.from("\nendobj\n")]);
    offsets.push(offset);
    parts.push(object);
    offset += object.length;
  }
  const entries = offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("");
  parts.push(
    Buffer.from(
      `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${entries}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${offset}\n%%EOF\n`,
    ),
  );
  return new Uint8Array(Buffer.concat(parts));
}

/** `bytes` of one value, deflated a megabyte at a time: a bomb made without holding it whole. */
export async function deflateBomb(bytes: number, value = 0x20): Promise<Uint8Array> {
  const { createDeflate } = await import("node:zlib");
  const deflate = createDeflate({ level: 9 });
  const chunks: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise((resolve) => deflate.on("end", resolve));
  const megabyte = Buffer.alloc(1024 * 1024, value);
  for (let written = 0; written < bytes; written += megabyte.length) {
    if (!deflate.write(megabyte)) await new Promise((resolve) => deflate.once("drain", resolve));
  }
  deflate.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}
