// Generated benchmark images: photo-like (smooth colour, shading and grain) and
// document-like (dark text strokes on paper under uneven light), as PNGs of a given size.
import sharp from "sharp";

export type SampleKind = "photo" | "document";

/** A deterministic pseudo-random sequence, so every run measures the same images. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

export async function samplePng(kind: SampleKind, megapixels: number, seed = 1): Promise<Buffer> {
  const width = Math.round(Math.sqrt(megapixels * 1e6 * (4 / 3)));
  const height = Math.round((megapixels * 1e6) / width);
  const next = random(seed);
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p += 3) {
      // Sensor-like grain: enough that the PNG does not collapse, as real photos do not.
      const grain = (next() - 0.5) * (kind === "photo" ? 6 : 12);
      if (kind === "photo") {
        const u = x / width;
        const v = y / height;
        const shade = 0.5 + 0.5 * Math.sin(u * 7 + v * 3) * Math.cos(v * 5 - u * 2);
        raw[p] = clamp(255 * shade * (0.6 + 0.4 * u) + grain);
        raw[p + 1] = clamp(255 * shade * (0.5 + 0.5 * v) + grain);
        raw[p + 2] = clamp(200 * (1 - shade) + 40 + grain);
      } else {
        // Lines of "glyphs": short vertical and horizontal strokes, on paper lit from one corner.
        const light = 0.45 + 0.55 * (1 - (x / width) * 0.7 - (y / height) * 0.3);
        const line = y % 40;
        const glyph = x % 22;
        const ink = line >= 10 && line < 30 && ((glyph >= 3 && glyph < 6) || (line >= 18 && line < 21 && glyph < 14));
        const value = (ink ? 40 : 225) * light + grain;
        raw[p] = raw[p + 1] = raw[p + 2] = clamp(value);
      }
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}
