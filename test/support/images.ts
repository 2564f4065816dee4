// Images the tests make for themselves, and ways to look at the pixels of a result.
import { crc32 } from "node:zlib";
import sharp, { type PngOptions } from "sharp";

type Pixel = (x: number, y: number) => number[];

/** Encodes pixels given per coordinate (1 value = grey, 3 = RGB, 4 = RGBA) as a PNG. */
export async function makePng(
  width: number,
  height: number,
  pixel: Pixel,
  png: PngOptions = {},
): Promise<Uint8Array<ArrayBuffer>> {
  const channels = pixel(0, 0).length as 1 | 3 | 4;
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(pixel(x, y), (y * width + x) * channels);
  }
  const encoded = await sharp(raw, { raw: { width, height, channels } })
    .toColourspace(channels === 1 ? "b-w" : "srgb")
    .png(png)
    .toBuffer();
  return new Uint8Array(encoded);
}

/** Decodes a result to one grey value per pixel. */
export async function greyPixels(image: Uint8Array) {
  const { data, info } = await sharp(image).toColourspace("b-w").raw().toBuffer({ resolveWithObject: true });
  const values = new Uint8Array(info.width * info.height);
  for (let i = 0; i < values.length; i++) values[i] = data[i * info.channels];
  return { values, width: info.width, height: info.height };
}

export function distinctValues(values: Uint8Array): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** A PNG whose IDAT bytes are overwritten, its CRC then recomputed so the chunk looks intact. */
export async function damagedDeflatePng(): Promise<Uint8Array<ArrayBuffer>> {
  const png = Buffer.from(await makePng(200, 150, (x, y) => [(x * 7 + y) % 256, (y * 5) % 256, 60]));
  let offset = 8;
  while (png.toString("latin1", offset + 4, offset + 8) !== "IDAT") offset += 12 + png.readUInt32BE(offset);
  const length = png.readUInt32BE(offset);
  png.fill(0xff, offset + 8 + 2, offset + 8 + Math.min(length, 400)); // after the zlib header
  png.writeUInt32BE(crc32(png.subarray(offset + 4, offset + 8 + length)), offset + 8 + length);
  return new Uint8Array(png);
}
