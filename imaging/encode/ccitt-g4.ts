// Packed bitonal rows to one CCITT Group 4 (ITU-T T.6) stream: what a G4 TIFF's strip holds and
// what a PDF's /CCITTFaxDecode image holds (K −1, EndOfBlock), the same bytes in both.
//
// By hand because nothing we use writes it whole: libvips (sharp) saves G4 TIFF only in strips
// of 256 rows, each its own G4 stream, and has no way to choose the strip height (libvips#1761),
// so neither a single-strip TIFF nor a PDF image of the page can be taken from it; no
// maintained npm package encodes G4. The coding is T.6 §2.2 as libtiff's Fax3Encode2DRow does it:
// each row coded against the one above (an imaginary white row above the first) in pass,
// vertical and horizontal modes, horizontal runs in T.4's modified Huffman codes.
import { packedRowBytes } from "../kernels/packed-rows.ts";

/** One page's G4 stream with what a container needs to describe it. */
export interface G4Page {
  g4: Uint8Array;
  width: number;
  height: number;
  /** Pixels per inch, when the input said. */
  dpi?: number;
}

/** A page of rows packed as `kernels/packed-rows.ts` lays them out (set = white), coded. */
export function g4Page(packed: Uint8Array, width: number, height: number, dpi?: number): G4Page {
  return { g4: encodeG4(packed, width, height), width, height, ...(dpi ? { dpi } : {}) };
}

type Code = readonly [bits: number, length: number];

// T.4 Table 2: terminating codes, run lengths 0–63.
// biome-ignore format: a code table reads as the standard prints it
const WHITE_TERMINATING: readonly Code[] = [
  [0x35, 8], [0x07, 6], [0x07, 4], [0x08, 4], [0x0b, 4], [0x0c, 4], [0x0e, 4], [0x0f, 4],
  [0x13, 5], [0x14, 5], [0x07, 5], [0x08, 5], [0x08, 6], [0x03, 6], [0x34, 6], [0x35, 6],
  [0x2a, 6], [0x2b, 6], [0x27, 7], [0x0c, 7], [0x08, 7], [0x17, 7], [0x03, 7], [0x04, 7],
  [0x28, 7], [0x2b, 7], [0x13, 7], [0x24, 7], [0x18, 7], [0x02, 8], [0x03, 8], [0x1a, 8],
  [0x1b, 8], [0x12, 8], [0x13, 8], [0x14, 8], [0x15, 8], [0x16, 8], [0x17, 8], [0x28, 8],
  [0x29, 8], [0x2a, 8], [0x2b, 8], [0x2c, 8], [0x2d, 8], [0x04, 8], [0x05, 8], [0x0a, 8],
  [0x0b, 8], [0x52, 8], [0x53, 8], [0x54, 8], [0x55, 8], [0x24, 8], [0x25, 8], [0x58, 8],
  [0x59, 8], [0x5a, 8], [0x5b, 8], [0x4a, 8], [0x4b, 8], [0x32, 8], [0x33, 8], [0x34, 8],
];
// biome-ignore format: a code table reads as the standard prints it
const BLACK_TERMINATING: readonly Code[] = [
  [0x37, 10], [0x02, 3], [0x03, 2], [0x02, 2], [0x03, 3], [0x03, 4], [0x02, 4], [0x03, 5],
  [0x05, 6], [0x04, 6], [0x04, 7], [0x05, 7], [0x07, 7], [0x04, 8], [0x07, 8], [0x18, 9],
  [0x17, 10], [0x18, 10], [0x08, 10], [0x67, 11], [0x68, 11], [0x6c, 11], [0x37, 11], [0x28, 11],
  [0x17, 11], [0x18, 11], [0xca, 12], [0xcb, 12], [0xcc, 12], [0xcd, 12], [0x68, 12], [0x69, 12],
  [0x6a, 12], [0x6b, 12], [0xd2, 12], [0xd3, 12], [0xd4, 12], [0xd5, 12], [0xd6, 12], [0xd7, 12],
  [0x6c, 12], [0x6d, 12], [0xda, 12], [0xdb, 12], [0x54, 12], [0x55, 12], [0x56, 12], [0x57, 12],
  [0x64, 12], [0x65, 12], [0x52, 12], [0x53, 12], [0x24, 12], [0x37, 12], [0x38, 12], [0x27, 12],
  [0x28, 12], [0x58, 12], [0x59, 12], [0x2b, 12], [0x2c, 12], [0x5a, 12], [0x66, 12], [0x67, 12],
];
// T.4 Table 3a: make-up codes, 64–1728 in steps of 64.
// biome-ignore format: a code table reads as the standard prints it
const WHITE_MAKE_UP: readonly Code[] = [
  [0x1b, 5], [0x12, 5], [0x17, 6], [0x37, 7], [0x36, 8], [0x37, 8], [0x64, 8], [0x65, 8],
  [0x68, 8], [0x67, 8], [0xcc, 9], [0xcd, 9], [0xd2, 9], [0xd3, 9], [0xd4, 9], [0xd5, 9],
  [0xd6, 9], [0xd7, 9], [0xd8, 9], [0xd9, 9], [0xda, 9], [0xdb, 9], [0x98, 9], [0x99, 9],
  [0x9a, 9], [0x18, 6], [0x9b, 9],
];
// biome-ignore format: a code table reads as the standard prints it
const BLACK_MAKE_UP: readonly Code[] = [
  [0x0f, 10], [0xc8, 12], [0xc9, 12], [0x5b, 12], [0x33, 12], [0x34, 12], [0x35, 12], [0x6c, 13],
  [0x6d, 13], [0x4a, 13], [0x4b, 13], [0x4c, 13], [0x4d, 13], [0x72, 13], [0x73, 13], [0x74, 13],
  [0x75, 13], [0x76, 13], [0x77, 13], [0x52, 13], [0x53, 13], [0x54, 13], [0x55, 13], [0x5a, 13],
  [0x5b, 13], [0x64, 13], [0x65, 13],
];
// T.4 Table 3b: make-up codes for both colours, 1792–2560 in steps of 64.
// biome-ignore format: a code table reads as the standard prints it
const LONG_MAKE_UP: readonly Code[] = [
  [0x08, 11], [0x0c, 11], [0x0d, 11], [0x12, 12], [0x13, 12], [0x14, 12], [0x15, 12], [0x16, 12],
  [0x17, 12], [0x1c, 12], [0x1d, 12], [0x1e, 12], [0x1f, 12],
];
// T.4 Table 4: the two-dimensional codes. Vertical by a1 − b1 from −3 to 3.
const PASS: Code = [0x1, 4];
const HORIZONTAL: Code = [0x1, 3];
// biome-ignore format: a code table reads as the standard prints it
const VERTICAL: readonly Code[] = [
  [0x02, 7], [0x02, 6], [0x02, 3], [0x1, 1], [0x03, 3], [0x03, 6], [0x03, 7],
];
// T.6 §2.4: the end of the facsimile block, two EOLs.
const EOL: Code = [0x001, 12];

/** MSB-first bit writer into a growing buffer. */
class Bits {
  private bytes: Uint8Array;
  private length = 0;
  private pending = 0;
  private pendingBits = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(Math.max(64, capacity));
  }

  put([bits, length]: Code): void {
    this.pending = (this.pending << length) | bits;
    this.pendingBits += length;
    while (this.pendingBits >= 8) {
      this.pendingBits -= 8;
      if (this.length === this.bytes.length) this.grow();
      this.bytes[this.length++] = (this.pending >>> this.pendingBits) & 0xff;
    }
    this.pending &= (1 << this.pendingBits) - 1;
  }

  /** The bytes written, the last padded with zero bits. */
  finish(): Uint8Array {
    if (this.pendingBits > 0) this.put([0, 8 - this.pendingBits]);
    return this.bytes.subarray(0, this.length);
  }

  private grow(): void {
    const larger = new Uint8Array(this.bytes.length * 2);
    larger.set(this.bytes);
    this.bytes = larger;
  }
}

/** A run of one colour: make-up codes as needed, then a terminating code. */
function putRun(out: Bits, run: number, black: boolean): void {
  while (run >= 2560) {
    out.put(LONG_MAKE_UP[LONG_MAKE_UP.length - 1]);
    run -= 2560;
  }
  if (run >= 64) {
    const step = Math.floor(run / 64);
    out.put(step >= 28 ? LONG_MAKE_UP[step - 28] : (black ? BLACK_MAKE_UP : WHITE_MAKE_UP)[step - 1]);
    run -= 64 * step;
  }
  out.put((black ? BLACK_TERMINATING : WHITE_TERMINATING)[run]);
}

/**
 * The changing elements of one packed row (set = white): the columns whose colour differs from
 * the one before (the pixel before the first is white), then `width` twice as sentinels.
 * Returns how many it wrote into `changes`.
 */
function rowChanges(packed: Uint8Array, rowStart: number, width: number, changes: Int32Array): number {
  let count = 0;
  let white = true;
  const bytes = Math.ceil(width / 8);
  for (let b = 0; b < bytes; b++) {
    const byte = packed[rowStart + b];
    // Most bytes of a page are all one colour, the colour already running: nothing changes.
    if (byte === (white ? 0xff : 0x00) && 8 * b + 8 <= width) continue;
    for (let bit = 0, x = 8 * b; bit < 8 && x < width; bit++, x++) {
      const isWhite: boolean = (byte & (0x80 >> bit)) !== 0;
      if (isWhite !== white) {
        changes[count++] = x;
        white = isWhite;
      }
    }
  }
  changes[count] = width;
  changes[count + 1] = width;
  return count;
}

/**
 * Rows packed as `kernels/packed-rows.ts` lays them out (a filter byte, then 8 pixels a byte,
 * set = white) to a G4 stream ending in EOFB. Black is coded as black: a reader takes it with
 * PhotometricInterpretation WhiteIsZero (TIFF) or BlackIs1 false (PDF, the default).
 */
export function encodeG4(packed: Uint8Array, width: number, height: number): Uint8Array {
  const stride = packedRowBytes(width);
  let reference = new Int32Array(width + 3);
  let coding = new Int32Array(width + 3);
  reference[0] = width; // the imaginary white row above the first
  reference[1] = width;
  // A typical page codes to a few percent of its packed size; the buffer grows when not.
  const out = new Bits(Math.ceil((stride * height) / 8));
  for (let y = 0; y < height; y++) {
    rowChanges(packed, y * stride + 1, width, coding);
    codeRow(out, coding, reference, width);
    [reference, coding] = [coding, reference];
  }
  out.put(EOL);
  out.put(EOL);
  return out.finish();
}

/**
 * One row in T.6's two-dimensional coding against the row above. `coding` and `reference` are
 * changing elements as rowChanges gives them; the k-th change of a row turns it black when k
 * is even, white when odd.
 */
function codeRow(out: Bits, coding: Int32Array, reference: Int32Array, width: number): void {
  let a0 = -1; // just before the first pixel, white
  let black = false; // the colour at a0
  let next = 0; // the first change of the coding row after a0
  let above = 0; // the first change of the reference row after a0
  while (a0 < width) {
    while (coding[next] <= a0 && coding[next] < width) next++;
    while (reference[above] <= a0 && reference[above] < width) above++;
    const a1 = coding[next];
    // b1: the first change above after a0 to the other colour (to black when a0 is white).
    const b1Index = (above & 1) === (black ? 1 : 0) ? above : above + 1;
    const b1 = reference[b1Index]; // at most the second sentinel
    const b2 = b1 >= width ? width : reference[b1Index + 1];
    if (b2 < a1) {
      out.put(PASS);
      a0 = b2;
    } else if (Math.abs(a1 - b1) <= 3) {
      out.put(VERTICAL[a1 - b1 + 3]);
      a0 = a1;
      black = !black;
    } else {
      const a2 = a1 >= width ? width : coding[next + 1];
      out.put(HORIZONTAL);
      putRun(out, a1 - Math.max(a0, 0), black);
      putRun(out, a2 - a1, !black);
      a0 = a2;
    }
  }
}
