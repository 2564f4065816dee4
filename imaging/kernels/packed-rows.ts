// The layout every method writes its result in, and the PNG encoder reads: rows of one
// filter-type byte (0, none) then 8 pixels a byte, most significant bit first, set = white.
// It is PNG's own row layout, so the 1-bit PNG deflates the methods' output as it stands.

/** Bytes per packed row: one filter-type byte, then 8 pixels per byte. */
export function packedRowBytes(width: number): number {
  return 1 + Math.ceil(width / 8);
}
