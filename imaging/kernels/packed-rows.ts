// The layout every method writes its result in, and the PNG encoder reads: rows of one
// filter-type byte (0, none) then 8 pixels a byte, most significant bit first, set = white.
// It is PNG's own row layout, so the 1-bit PNG deflates the methods' output as it stands.

/** Bytes per packed row: one filter-type byte, then 8 pixels per byte. */
export function packedRowBytes(width: number): number {
  return 1 + Math.ceil(width / 8);
}

/** One byte a pixel (0 black, anything else white) into packed rows: for images decoded back from a file. */
export function packRows(values: Uint8Array, width: number, height: number): Uint8Array {
  const stride = packedRowBytes(width);
  const packed = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) if (values[y * width + x]) packed[y * stride + 1 + (x >> 3)] |= 0x80 >> (x & 7);
  }
  return packed;
}
