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
  return pdfFile(objects);
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

/** An image a page of `imagePdf` shows, as its XObject holds it. */
export interface PdfImage {
  filter: "DCTDecode" | "FlateDecode" | "CCITTFaxDecode" | "JPXDecode" | "JBIG2Decode";
  data: Uint8Array;
  width: number;
  height: number;
  /** Absent for JPXDecode, whose data says it. */
  colorSpace?: "DeviceGray" | "DeviceRGB" | "DeviceCMYK";
  bitsPerComponent?: number;
  decodeParms?: string;
  /** The image's /Decode array (an Adobe CMYK JPEG's is inverted: [1 0 1 0 1 0 1 0]). */
  decode?: number[];
}

/**
 * A PDF of pages each showing one image across the whole page (a scan), or nothing (a blank
 * page), written by hand: pdf-lib embeds only JPEG and PNG, and scanners also write CCITT,
 * JBIG2 and JPEG 2000. `size` is the page in points before its `rotate`; `info` the document
 * information dictionary, as a scanner writes it.
 */
export function imagePdf(
  pages: Array<{ size: [number, number]; rotate?: number; image?: PdfImage }>,
  { info }: { info?: string } = {},
) {
  const objects: Buffer[] = [];
  const add = (body: Buffer) => objects.push(body);
  const stream = (dictionary: string, data: Uint8Array) =>
    Buffer.concat([
      Buffer.from(`<< ${dictionary} /Length ${data.length} >>\nstream\n`),
      data,
      Buffer.from("\nendstream"),
    ]);
  add(Buffer.from("<< /Type /Catalog /Pages 2 0 R >>"));
  add(Buffer.alloc(0)); // the page tree, once its kids are known
  const kids: string[] = [];
  for (const { size, rotate = 0, image } of pages) {
    const pageNumber = objects.length + 1;
    kids.push(`${pageNumber} 0 R`);
    const [w, h] = size;
    if (!image) {
      add(Buffer.from(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${w} ${h}] /Rotate ${rotate} >>`));
      continue;
    }
    add(
      Buffer.from(
        `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${w} ${h}] /Rotate ${rotate} /Contents ${pageNumber + 1} 0 R /Resources << /XObject << /Im0 ${pageNumber + 2} 0 R >> >> >>`,
      ),
    );
    add(stream("", Buffer.from(`q ${w} 0 0 ${h} 0 0 cm /Im0 Do Q`)));
    const colour = image.colorSpace ? ` /ColorSpace /${image.colorSpace}` : "";
    const depth = image.bitsPerComponent ? ` /BitsPerComponent ${image.bitsPerComponent}` : "";
    const parms =
      (image.decodeParms ? ` /DecodeParms ${image.decodeParms}` : "") +
      (image.decode ? ` /Decode [${image.decode.join(" ")}]` : "");
    add(
      stream(
        `/Type /XObject /Subtype /Image /Width ${image.width} /Height ${image.height}${colour}${depth} /Filter /${image.filter}${parms}`,
        image.data,
      ),
    );
  }
  objects[1] = Buffer.from(`<< /Type /Pages /Kids [${kids.join(" ")}] /Count ${kids.length} >>`);
  if (info) add(Buffer.from(info));
  return pdfFile(objects, info ? `/Info ${objects.length} 0 R` : "");
}

/** Objects (object n + 1 at index n, the catalog first) as a PDF file: header, body, cross-reference table, trailer. */
function pdfFile(objects: Buffer[], trailer = ""): Uint8Array<ArrayBuffer> {
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
      `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${entries}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R ${trailer}>>\nstartxref\n${offset}\n%%EOF\n`,
    ),
  );
  return new Uint8Array(Buffer.concat(parts));
}

/**
 * A one-bit page (0 black, 255 white) as CCITT G4 data whose white runs are white (as a fax's
 * and a PDF's are), encoded by libtiff through sharp: one strip. libvips writes G4 as
 * BlackIsZero, its 0 bits in white runs, so it is given the page inverted.
 */
export async function g4Data(grey: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  const inverted = Buffer.from(grey.map((value) => 255 - value));
  const tiff = await sharp(inverted, { raw: { width, height, channels: 1 } })
    .toColourspace("b-w")
    .tiff({ compression: "ccittfax4", bitdepth: 1 })
    .toBuffer();
  const [ifd] = UTIF.decode(tiff) as unknown as Array<Record<string, number[]>>;
  if (ifd.t273.length !== 1) throw new Error(`libtiff wrote ${ifd.t273.length} strips`);
  return new Uint8Array(tiff.subarray(ifd.t273[0], ifd.t273[0] + ifd.t279[0]));
}

/** A one-bit page (0 black, 255 white) as a PDF's CCITT G4 image of it (`g4Data`). */
export async function ccittImage(grey: Uint8Array, width: number, height: number): Promise<PdfImage> {
  return {
    filter: "CCITTFaxDecode",
    data: await g4Data(grey, width, height),
    width,
    height,
    colorSpace: "DeviceGray",
    bitsPerComponent: 1,
    decodeParms: `<< /K -1 /Columns ${width} /Rows ${height} >>`,
  };
}

/**
 * The same page as embedded JBIG2 (what a PDF's JBIG2Decode holds: segments, no file header):
 * a page-information segment, one immediate generic region coded with MMR, which is T.6 (G4)
 * itself (ITU T.88 §6.2.6), and an end of page. By hand: no JBIG2 encoder is on npm or PyPI.
 */
export function jbig2Mmr(g4: Uint8Array, width: number, height: number): Uint8Array {
  const u32 = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(value);
    return bytes;
  };
  const segment = (number: number, type: number, data: Buffer) =>
    Buffer.concat([u32(number), Buffer.from([type, 0, 1]), u32(data.length), data]);
  const pageInformation = Buffer.concat([u32(width), u32(height), u32(0), u32(0), Buffer.from([0, 0, 0])]);
  const region = Buffer.concat([u32(width), u32(height), u32(0), u32(0), Buffer.from([0]), Buffer.from([1]), g4]);
  return new Uint8Array(
    Buffer.concat([segment(0, 48, pageInformation), segment(1, 38, region), segment(2, 49, Buffer.alloc(0))]),
  );
}
