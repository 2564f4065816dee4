// Checks that an image file is whole, from its container structure alone, without decoding a
// pixel: what actually happens to files (cut short, bytes overwritten, garbage) shows here.
//
// By hand because no library checks structure without decoding: sharp (libvips) and the
// browsers find a damaged file only by decoding it, which costs as much as the worker's own
// decode. These walks read the length fields and checksums the formats already carry.
import { crc32 } from "node:zlib";

export type StructuredType = "image/png" | "image/jpeg" | "image/webp";

/** Why the file is not whole, in a client's words; undefined when its structure is sound. */
export function findStructureProblem(bytes: Uint8Array, type: StructuredType): string | undefined {
  if (type === "image/png") return pngProblem(bytes);
  if (type === "image/jpeg") return jpegProblem(bytes);
  return webpProblem(bytes);
}

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const fourCC = (bytes: Uint8Array, at: number) =>
  String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);

/** Every chunk whole and its CRC right, IHDR first, IDAT present, IEND reached. */
function pngProblem(bytes: Uint8Array): string | undefined {
  const data = view(bytes);
  let offset = 8; // the signature, already matched by file-type
  let sawData = false;
  for (let index = 0; offset < bytes.length; index++) {
    if (offset + 12 > bytes.length) return "The PNG is cut short inside a chunk header.";
    const length = data.getUint32(offset);
    const type = fourCC(bytes, offset + 4);
    if (index === 0 && type !== "IHDR") return "The PNG does not start with its IHDR chunk.";
    const end = offset + 12 + length;
    if (end > bytes.length) return `The PNG is cut short inside its ${type} chunk.`;
    if (crc32(bytes.subarray(offset + 4, end - 4)) !== data.getUint32(end - 4)) {
      return `The PNG's ${type} chunk is damaged (its CRC does not match).`;
    }
    if (type === "IDAT") sawData = true;
    if (type === "IEND") return sawData ? undefined : "The PNG has no image data (IDAT).";
    offset = end;
  }
  return "The PNG is cut short: it has no IEND chunk.";
}

// Markers that stand alone, without a length: TEM, RST0–7, SOI.
const isStandaloneMarker = (marker: number) => marker === 0x01 || (marker >= 0xd0 && marker <= 0xd8);

/** Every segment whole, at least one frame and scan, and the end-of-image marker reached. */
function jpegProblem(bytes: Uint8Array): string | undefined {
  const data = view(bytes);
  let offset = 2; // SOI, already matched by file-type
  let sawFrame = false;
  let sawScan = false;
  while (offset < bytes.length) {
    if (bytes[offset] !== 0xff) return "The JPEG is damaged: a segment does not start with a marker.";
    while (offset < bytes.length && bytes[offset] === 0xff) offset++; // fill bytes
    if (offset >= bytes.length) break;
    const marker = bytes[offset++];
    if (marker === 0xd9) {
      if (!sawFrame || !sawScan) return "The JPEG ends before any image data.";
      return undefined;
    }
    if (isStandaloneMarker(marker)) continue;
    if (offset + 2 > bytes.length) break;
    const length = data.getUint16(offset);
    if (length < 2 || offset + length > bytes.length) break;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) sawFrame = true;
    offset += length;
    if (marker === 0xda) {
      sawScan = true;
      // Entropy-coded data runs to the next marker that is neither a stuffed 0xFF00 nor a restart.
      for (;;) {
        offset = bytes.indexOf(0xff, offset);
        if (offset < 0 || offset + 1 >= bytes.length) return "The JPEG is cut short: it has no end-of-image marker.";
        const next = bytes[offset + 1];
        if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) offset += next === 0xff ? 1 : 2;
        else break;
      }
    }
  }
  return "The JPEG is cut short: it has no end-of-image marker.";
}

/** The RIFF container whole: its declared size present, every chunk inside it, an image chunk. */
function webpProblem(bytes: Uint8Array): string | undefined {
  if (bytes.length < 12 || fourCC(bytes, 8) !== "WEBP") return "The WebP file has no RIFF WEBP header.";
  const data = view(bytes);
  const riffEnd = 8 + data.getUint32(4, true);
  if (riffEnd > bytes.length) return "The WebP file is cut short (its RIFF size is larger than the file).";
  let offset = 12;
  let sawImage = false;
  while (offset + 8 <= riffEnd) {
    const type = fourCC(bytes, offset);
    const size = data.getUint32(offset + 4, true);
    const end = offset + 8 + size + (size & 1);
    if (offset + 8 + size > riffEnd) return `The WebP file is cut short inside its ${type.trim()} chunk.`;
    if (type === "VP8 " || type === "VP8L" || type === "ANMF") sawImage = true;
    offset = end;
  }
  return sawImage ? undefined : "The WebP file has no image data.";
}
