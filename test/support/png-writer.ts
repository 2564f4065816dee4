// Writes PNGs of any bit depth and colour type, so tests can feed the decoder every flavour
// the format has (1/2/4/16-bit, palette, tRNS colour keys) exactly as specified. Only the
// chunk framing is shared with the worker's encoder; libpng reads both.
import { deflateSync } from "node:zlib";
import { pngChunk as chunk, PNG_SIGNATURE } from "../../imaging/encode/bitonal-png.ts";

export interface RawPng {
  width: number;
  height: number;
  bitDepth: 1 | 2 | 4 | 8 | 16;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA */
  colourType: 0 | 2 | 3 | 4 | 6;
  /** Samples of pixel (x, y), as many as the colour type has channels. */
  sample: (x: number, y: number) => number[];
  palette?: number[][];
  /** tRNS chunk: a grey or RGB colour key, or alpha per palette entry. */
  transparency?: number[];
}

export function writePng(png: RawPng): Uint8Array<ArrayBuffer> {
  const rows: number[] = [];
  for (let y = 0; y < png.height; y++) {
    rows.push(0); // filter: none
    let bits = 0;
    let used = 0;
    for (let x = 0; x < png.width; x++) {
      for (const value of png.sample(x, y)) {
        if (png.bitDepth === 16) rows.push(value >> 8, value & 255);
        else if (png.bitDepth === 8) rows.push(value);
        else {
          bits = (bits << png.bitDepth) | value;
          used += png.bitDepth;
          if (used === 8) {
            rows.push(bits);
            bits = 0;
            used = 0;
          }
        }
      }
    }
    if (used > 0) rows.push(bits << (8 - used));
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(png.width, 0);
  header.writeUInt32BE(png.height, 4);
  header[8] = png.bitDepth;
  header[9] = png.colourType;
  const chunks = [chunk("IHDR", header)];
  if (png.palette) chunks.push(chunk("PLTE", Buffer.from(png.palette.flat())));
  if (png.transparency) {
    const trns =
      png.colourType === 3
        ? Buffer.from(png.transparency)
        : Buffer.from(png.transparency.flatMap((v) => [v >> 8, v & 255]));
    chunks.push(chunk("tRNS", trns));
  }
  chunks.push(chunk("IDAT", deflateSync(Buffer.from(rows))), chunk("IEND", Buffer.alloc(0)));
  return new Uint8Array(Buffer.concat([PNG_SIGNATURE, ...chunks]));
}
