// Bitonal pages to a TIFF of CCITT Group 4 pages, one strip a page, resolution kept: what
// archives and document systems store. A TIFF is a header and, per page, a directory of tags
// pointing at its data; written here because libvips cannot write one strip a page (see
// ccitt-g4.ts) and sharp writes no multi-page TIFF from separate pages.
import type { G4Page } from "./ccitt-g4.ts";

// TIFF 6.0 field types and the tags written, in the ascending order a directory needs.
const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const TAG = {
  newSubfileType: 254,
  imageWidth: 256,
  imageLength: 257,
  bitsPerSample: 258,
  compression: 259,
  photometric: 262,
  stripOffsets: 273,
  samplesPerPixel: 277,
  rowsPerStrip: 278,
  stripByteCounts: 279,
  xResolution: 282,
  yResolution: 283,
  t6Options: 293,
  resolutionUnit: 296,
  pageNumber: 297,
} as const;
const COMPRESSION_G4 = 4;
const WHITE_IS_ZERO = 0;
const INCH = 2;
// A page of a multi-page document (TIFF 6.0, NewSubfileType bit 1).
const PAGE_OF_MANY = 2;

/** Little-endian TIFF: each page's G4 data, then its directory; directories chained in page order. */
export function encodeG4Tiff(pages: G4Page[]): Buffer {
  if (pages.length === 0) throw new Error("a TIFF needs at least one page");
  const parts: Uint8Array[] = [];
  const header = Buffer.alloc(8);
  header.write("II", 0, "latin1");
  header.writeUInt16LE(42, 2);
  parts.push(header);
  let offset = header.length;
  // Where the previous directory's "next directory" offset is, to be filled once known.
  let nextPointer = { part: header, at: 4 };
  for (const [index, page] of pages.entries()) {
    const data = page.g4;
    const dataOffset = offset;
    parts.push(data);
    offset += data.length + (data.length & 1); // directories start on a word boundary
    if (data.length & 1) parts.push(new Uint8Array(1));
    const dpi = page.dpi && page.dpi > 0 ? page.dpi : undefined;
    const many = pages.length > 1;
    const entries: Array<[tag: number, type: number, value: number]> = [];
    const entry = (tag: number, type: number, value: number, when = true) => {
      if (when) entries.push([tag, type, value]);
    };
    entry(TAG.newSubfileType, LONG, PAGE_OF_MANY, many);
    entry(TAG.imageWidth, LONG, page.width);
    entry(TAG.imageLength, LONG, page.height);
    entry(TAG.bitsPerSample, SHORT, 1);
    entry(TAG.compression, SHORT, COMPRESSION_G4);
    entry(TAG.photometric, SHORT, WHITE_IS_ZERO);
    entry(TAG.stripOffsets, LONG, dataOffset);
    entry(TAG.samplesPerPixel, SHORT, 1);
    entry(TAG.rowsPerStrip, LONG, page.height);
    entry(TAG.stripByteCounts, LONG, data.length);
    entry(TAG.xResolution, RATIONAL, 0, dpi !== undefined);
    entry(TAG.yResolution, RATIONAL, 0, dpi !== undefined);
    entry(TAG.t6Options, LONG, 0);
    entry(TAG.resolutionUnit, SHORT, INCH, dpi !== undefined);
    entry(TAG.pageNumber, SHORT, 0, many);
    const directorySize = 2 + 12 * entries.length + 4;
    const directory = Buffer.alloc(directorySize + (dpi ? 16 : 0));
    const rationals = offset + directorySize; // the two resolutions follow the directory
    directory.writeUInt16LE(entries.length, 0);
    for (const [n, [tag, type, value]] of entries.entries()) {
      const at = 2 + 12 * n;
      directory.writeUInt16LE(tag, at);
      directory.writeUInt16LE(type, at + 2);
      directory.writeUInt32LE(1, at + 4);
      if (tag === TAG.pageNumber) {
        // Two SHORTs: this page's number and the count of pages.
        directory.writeUInt32LE(2, at + 4);
        directory.writeUInt16LE(index, at + 8);
        directory.writeUInt16LE(pages.length, at + 10);
      } else if (type === RATIONAL) {
        directory.writeUInt32LE(rationals + (tag === TAG.xResolution ? 0 : 8), at + 8);
      } else if (type === SHORT) {
        directory.writeUInt16LE(value, at + 8);
      } else {
        directory.writeUInt32LE(value, at + 8);
      }
    }
    if (dpi) {
      // dpi as a fraction with a denominator that keeps two decimals (300, 299.99…).
      for (const at of [directorySize, directorySize + 8]) {
        directory.writeUInt32LE(Math.round(dpi * 100), at);
        directory.writeUInt32LE(100, at + 4);
      }
    }
    writeOffset(nextPointer, offset);
    nextPointer = { part: directory, at: directorySize - 4 };
    parts.push(directory);
    offset += directory.length;
  }
  return Buffer.concat(parts);
}

function writeOffset(pointer: { part: Uint8Array; at: number }, value: number): void {
  new DataView(pointer.part.buffer, pointer.part.byteOffset, pointer.part.byteLength).setUint32(
    pointer.at,
    value,
    true,
  );
}
