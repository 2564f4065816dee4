// Writes a 1-bit greyscale PNG from packed rows.
//
// By hand because no library we use writes this cheaply: sharp saves 1-bit PNGs only through
// its palette quantiser (libimagequant), which measured about 25x slower than its 8-bit save,
// and 8-bit greyscale is 8x more data to filter and deflate. A 1-bit greyscale PNG is just
// IHDR + one zlib stream of the packed rows + IEND, with Node's own zlib and CRC-32.
import { crc32, deflateSync } from "node:zlib";

export const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
// Bitonal rows are long runs of equal bytes; beyond level 3 deflate spends time for little.
const DEFLATE_LEVEL = 3;

/**
 * Encodes rows packed as `kernels/packed-rows.ts` lays them out, filter byte 0 (none) and a
 * set bit meaning white, into a PNG of bit depth 1, colour type 0 (greyscale).
 */
export function encodeBitonalPng(packedRows: Uint8Array, width: number, height: number): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // colour type: greyscale
  // bytes 10–12: deflate compression, adaptive filtering, no interlace (all zero)
  return Buffer.concat([
    PNG_SIGNATURE,
    pngChunk("IHDR", header),
    pngChunk("IDAT", deflateSync(packedRows, { level: DEFLATE_LEVEL })),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

/** One PNG chunk: length, type, data, CRC-32 of type and data. */
export function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}
