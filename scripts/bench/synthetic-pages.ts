// Synthetic pages with exact ground truth, for what real scans lack: phone photos of pages
// (shadows, uneven light, falloff, JPEG), clean office scans, faded ink, stains, bleed-through,
// and non-documents (a logo, a screenshot). Deterministic: the same seed makes the same pages,
// so anyone can regenerate the set the quality benchmark scores.
import sharp from "sharp";

export type PageKind = "office-scan" | "phone-photo" | "faded-ink" | "stains" | "bleed-through" | "logo" | "screenshot";
export const PAGE_KINDS: PageKind[] = [
  "office-scan",
  "phone-photo",
  "faded-ink",
  "stains",
  "bleed-through",
  "logo",
  "screenshot",
];

export interface SyntheticPage {
  name: string;
  kind: PageKind;
  /** The page as a user would upload it (PNG, or JPEG for photos). */
  bytes: Uint8Array;
  /** One byte per pixel: 0 = ink, 255 = paper. */
  truth: Uint8Array;
  width: number;
  height: number;
}

/** A small deterministic PRNG (mulberry32). */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Ink mask (1 = ink) of lines of handwriting-like glyphs: strokes of a few segments each. */
function textMask(width: number, height: number, next: () => number, strokeWidth: number, lineHeight: number) {
  const mask = new Uint8Array(width * height);
  const stamp = (cx: number, cy: number, r: number) => {
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(height - 1, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(width - 1, Math.ceil(cx + r)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) mask[y * width + x] = 1;
      }
    }
  };
  const segment = (x0: number, y0: number, x1: number, y1: number, r: number) => {
    const steps = Math.ceil(Math.hypot(x1 - x0, y1 - y0) / Math.max(0.5, r / 2)) + 1;
    for (let s = 0; s <= steps; s++) stamp(x0 + ((x1 - x0) * s) / steps, y0 + ((y1 - y0) * s) / steps, r);
  };
  const glyph = lineHeight * 0.55;
  for (let top = lineHeight; top + lineHeight < height; top += lineHeight) {
    let x = lineHeight * 0.6;
    while (x < width - lineHeight) {
      const letters = 2 + Math.floor(next() * 6);
      for (let l = 0; l < letters && x < width - glyph; l++) {
        let px = x + next() * glyph * 0.3;
        let py = top + next() * glyph;
        for (let s = 0; s < 2 + Math.floor(next() * 3); s++) {
          const nx = x + next() * glyph;
          const ny = top + next() * glyph * 1.2 - glyph * 0.1;
          segment(px, py, nx, ny, strokeWidth / 2);
          px = nx;
          py = ny;
        }
        x += glyph * (0.8 + next() * 0.4);
      }
      x += glyph * (0.8 + next() * 0.8);
    }
  }
  return mask;
}

/** Smooth noise: a coarse random grid, bilinearly upsampled (for light, stains and paper). */
function smoothField(width: number, height: number, cell: number, next: () => number): Float32Array {
  const gw = Math.ceil(width / cell) + 2;
  const gh = Math.ceil(height / cell) + 2;
  const grid = Float32Array.from({ length: gw * gh }, () => next());
  const field = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const fy = y / cell;
    const y0 = Math.floor(fy);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = x / cell;
      const x0 = Math.floor(fx);
      const wx = fx - x0;
      const a = grid[y0 * gw + x0] * (1 - wx) + grid[y0 * gw + x0 + 1] * wx;
      const b = grid[(y0 + 1) * gw + x0] * (1 - wx) + grid[(y0 + 1) * gw + x0 + 1] * wx;
      field[y * width + x] = a * (1 - wy) + b * wy;
    }
  }
  return field;
}

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

export async function syntheticPage(kind: PageKind, seed: number, width = 900, height = 640): Promise<SyntheticPage> {
  const next = random(seed * 7919 + PAGE_KINDS.indexOf(kind));
  const rgb = Buffer.alloc(width * height * 3);
  let ink: Uint8Array;
  let photo = false;

  if (kind === "logo") {
    // Flat shapes on white: a bimodal picture whose truth is its dark shapes.
    ink = new Uint8Array(width * height);
    const shapes = Array.from({ length: 6 }, () => ({
      cx: next() * width,
      cy: next() * height,
      r: 40 + next() * 120,
      dark: next() < 0.6,
      colour: [next() * 255, next() * 255, next() * 255],
    }));
    for (let y = 0, p = 0; y < height; y++) {
      for (let x = 0; x < width; x++, p++) {
        let colour = [250, 250, 250];
        for (const s of shapes) {
          if (Math.abs(x - s.cx) + Math.abs(y - s.cy) < s.r) {
            colour = s.dark ? s.colour.map((c) => c * 0.25) : s.colour.map((c) => 180 + c * 0.25);
            ink[p] = s.dark ? 1 : 0;
          }
        }
        rgb.set(colour.map(clamp), p * 3);
      }
    }
  } else {
    const screenshot = kind === "screenshot";
    ink = textMask(width, height, next, screenshot ? 2 : 3 + Math.floor(next() * 3), screenshot ? 22 : 40);
    const light = smoothField(width, height, 240, next);
    const paperNoise = smoothField(width, height, 6, next);
    const stains = kind === "stains" ? smoothField(width, height, 90, next) : undefined;
    const bleed = kind === "bleed-through" ? textMask(width, height, random(seed + 99), 4, 40).reverse() : undefined;
    const shadowAngle = next() * Math.PI;
    for (let y = 0, p = 0; y < height; y++) {
      for (let x = 0; x < width; x++, p++) {
        let paper = screenshot ? 246 : 228 + (paperNoise[p] - 0.5) * 14;
        let inkTone = screenshot ? 20 : kind === "faded-ink" ? 150 + light[p] * 30 : 35 + paperNoise[p] * 25;
        if (kind === "phone-photo") {
          // Light from one side, a soft shadow band across the page, darker towards the corners.
          const falloff = 1 - 0.35 * ((x / width - 0.5) ** 2 + (y / height - 0.5) ** 2) * 4;
          const band = Math.cos(shadowAngle) * (x - width / 2) + Math.sin(shadowAngle) * (y - height / 2);
          const shadow = 1 - 0.45 / (1 + Math.exp(-band / 25));
          const gain = (0.55 + 0.45 * light[p]) * falloff * shadow;
          paper *= gain;
          inkTone *= gain;
        }
        if (stains && stains[p] > 0.72) paper *= 0.55 + (1 - stains[p]) * 0.8;
        // Ink from the other side: darker than the paper, lighter than this side's ink.
        if (bleed?.[p]) paper = Math.min(paper, 125 + paperNoise[p] * 45);
        const value = ink[p] ? inkTone : paper;
        const tint = screenshot ? [0, 0, 0] : [6, 0, -10];
        rgb[p * 3] = clamp(value + tint[0] + (next() - 0.5) * 8);
        rgb[p * 3 + 1] = clamp(value + tint[1] + (next() - 0.5) * 8);
        rgb[p * 3 + 2] = clamp(value + tint[2] + (next() - 0.5) * 8);
      }
    }
    photo = kind === "phone-photo";
  }

  let image = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (kind !== "screenshot" && kind !== "logo") image = image.blur(0.6);
  const bytes = photo ? await image.jpeg({ quality: 82 }).toBuffer() : await image.png().toBuffer();
  const truth = new Uint8Array(width * height);
  for (let p = 0; p < truth.length; p++) truth[p] = ink[p] ? 0 : 255;
  return { name: `${kind}-${seed}`, kind, bytes: new Uint8Array(bytes), truth, width, height };
}

/** The whole synthetic set: every kind, `perKind` seeds each. */
export async function syntheticPages(perKind = 2): Promise<SyntheticPage[]> {
  const pages: SyntheticPage[] = [];
  for (const kind of PAGE_KINDS) {
    for (let seed = 1; seed <= perKind; seed++) pages.push(await syntheticPage(kind, seed));
  }
  return pages;
}
