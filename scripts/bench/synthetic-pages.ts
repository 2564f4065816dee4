// Synthetic pages with exact ground truth, for what real scans lack: phone photos of pages
// (shadows, uneven light, falloff, JPEG), clean office scans, faded ink, stains, bleed-through,
// and non-documents (a logo, a screenshot). Then the pages whose histogram is two-tone for a
// reason other than ink on paper, which a global threshold takes for clean (a page on a dark
// mount or table, a papyrus fragment on black, a scan with dark frames), and pictures whose
// truth is filled (a map's water, a silhouette). Deterministic: the same seed makes the same
// pages, so anyone can regenerate the set the quality benchmark scores.
import sharp from "sharp";

export type PageKind =
  | "office-scan"
  | "phone-photo"
  | "faded-ink"
  | "stains"
  | "bleed-through"
  | "logo"
  | "screenshot"
  | "dark-mount"
  | "papyrus"
  | "dark-frame"
  | "filled-map"
  | "silhouette";
// New kinds go at the end: a kind's place seeds its pages, so the earlier ones stay as they were.
export const PAGE_KINDS: PageKind[] = [
  "office-scan",
  "phone-photo",
  "faded-ink",
  "stains",
  "bleed-through",
  "logo",
  "screenshot",
  "dark-mount",
  "papyrus",
  "dark-frame",
  "filled-map",
  "silhouette",
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
export function random(seed: number) {
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
  } else if (kind === "dark-mount" || kind === "papyrus" || kind === "dark-frame") {
    ink = mountedPage(kind, width, height, next, rgb);
  } else if (kind === "filled-map" || kind === "silhouette") {
    ink = filledPicture(kind, width, height, next, rgb);
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
  if (kind === "silhouette") photo = true;

  let image = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (kind !== "screenshot" && kind !== "logo" && kind !== "filled-map") image = image.blur(0.6);
  const bytes = photo ? await image.jpeg({ quality: 82 }).toBuffer() : await image.png().toBuffer();
  const truth = new Uint8Array(width * height);
  for (let p = 0; p < truth.length; p++) truth[p] = ink[p] ? 0 : 255;
  return { name: `${kind}-${seed}`, kind, bytes: new Uint8Array(bytes), truth, width, height };
}

/**
 * A page of text that covers only part of the picture; the rest is not paper and not ink: a
 * dark mount or table around the page, black around a papyrus fragment (fibres, a ragged
 * edge), or a scanner's dark frame along two sides. Writes the pixels; returns the ink.
 */
function mountedPage(
  kind: "dark-mount" | "papyrus" | "dark-frame",
  width: number,
  height: number,
  next: () => number,
  rgb: Buffer,
): Uint8Array {
  const papyrus = kind === "papyrus";
  const text = textMask(width, height, next, papyrus ? 4 + Math.floor(next() * 2) : 3 + Math.floor(next() * 2), 40);
  const paperNoise = smoothField(width, height, 6, next);
  const mountNoise = smoothField(width, height, 30, next);
  const edge = smoothField(width, height, 60, next);
  // Fibres: streaks along x and along y, as papyrus is two layers laid crosswise.
  const along = papyrus ? smoothField(width, Math.ceil(height / 12), 40, next) : undefined;
  const across = papyrus ? smoothField(Math.ceil(width / 12), height, 40, next) : undefined;
  const inset = { x: 0.12 + next() * 0.06, y: 0.1 + next() * 0.05 };
  const frame = { left: 0.08 + next() * 0.06, top: 0.06 + next() * 0.05 };
  const ink = new Uint8Array(width * height);
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      const u = x / width;
      const v = y / height;
      let onPage: boolean;
      if (kind === "dark-mount") onPage = u > inset.x && u < 1 - inset.x && v > inset.y && v < 1 - inset.y;
      else if (kind === "dark-frame") onPage = u > frame.left && v > frame.top;
      else {
        // A ragged ellipse: the fragment's edge wanders by a tenth of its size.
        const r = ((u - 0.5) / 0.42) ** 2 + ((v - 0.5) / 0.4) ** 2;
        onPage = r < 0.85 + (edge[p] - 0.5) * 0.5;
      }
      let value: number;
      let tint = [6, 0, -10];
      if (!onPage) {
        value = kind === "papyrus" ? 14 + mountNoise[p] * 14 : 28 + mountNoise[p] * 30;
        tint = [0, 0, 0];
      } else if (papyrus) {
        const fibre =
          (along as Float32Array)[Math.floor(y / 12) * width + x] * 0.6 +
          (across as Float32Array)[y * Math.ceil(width / 12) + Math.floor(x / 12)] * 0.4;
        value = 150 + fibre * 50 + (paperNoise[p] - 0.5) * 20;
        tint = [28, 6, -34];
        if (text[p]) {
          ink[p] = 1;
          value = 40 + paperNoise[p] * 35;
        }
      } else {
        value = 226 + (paperNoise[p] - 0.5) * 14;
        if (text[p]) {
          ink[p] = 1;
          value = 35 + paperNoise[p] * 25;
        }
      }
      rgb[p * 3] = clamp(value + tint[0] + (next() - 0.5) * 8);
      rgb[p * 3 + 1] = clamp(value + tint[1] + (next() - 0.5) * 8);
      rgb[p * 3 + 2] = clamp(value + tint[2] + (next() - 0.5) * 8);
    }
  }
  return ink;
}

/**
 * Pictures whose truth is filled: a map (light land in several colours, dark water in lakes
 * and a wide river, small dark labels) and a silhouette (dark hills and trees against a sky
 * that darkens towards the ground). Writes the pixels; returns the filled truth.
 */
function filledPicture(
  kind: "filled-map" | "silhouette",
  width: number,
  height: number,
  next: () => number,
  rgb: Buffer,
): Uint8Array {
  const ink = new Uint8Array(width * height);
  if (kind === "filled-map") {
    const land = smoothField(width, height, 120, next);
    const lakes = smoothField(width, height, 150, next);
    // Labels in a few places only, as a map has them; hill shading across the land.
    const text = textMask(width, height, next, 2, 28);
    const placed = smoothField(width, height, 140, next);
    const relief = smoothField(width, height, 45, next);
    const riverPhase = next() * Math.PI * 2;
    const riverWidth = 22 + next() * 18;
    for (let y = 0, p = 0; y < height; y++) {
      const riverX = width * (0.45 + 0.2 * Math.sin(y / 90 + riverPhase));
      for (let x = 0; x < width; x++, p++) {
        const water = lakes[p] > 0.78 || Math.abs(x - riverX) < riverWidth / 2;
        const label = !water && text[p] === 1 && placed[p] > 0.68;
        let colour: number[];
        if (water) colour = [40 + relief[p] * 20, 70 + relief[p] * 20, 130 + relief[p] * 20];
        else if (land[p] < 0.33) colour = [196, 224, 170];
        else if (land[p] < 0.66) colour = [236, 226, 180];
        else colour = [222, 206, 226];
        if (!water) colour = colour.map((c) => c * (0.72 + 0.28 * relief[p]));
        if (label) colour = [25, 25, 25];
        if (water || label) ink[p] = 1;
        rgb.set(colour.map(clamp), p * 3);
      }
    }
    return ink;
  }
  const hills = smoothField(width, 1, 160, next);
  const trees = Array.from({ length: 5 }, () => ({
    x: next() * width,
    r: height * (0.04 + next() * 0.06),
    h: height * (0.1 + next() * 0.14),
  }));
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p++) {
      const ground = height * (0.62 + (hills[x] - 0.5) * 0.25);
      let dark = y > ground;
      for (const t of trees) {
        const crown = ground - t.h;
        if (Math.abs(x - t.x) < height * 0.008 && y > crown && y <= ground) dark = true;
        if ((x - t.x) ** 2 + (y - crown) ** 2 < t.r * t.r) dark = true;
      }
      // A dusk sky: bright at the horizon, dark at the top, as a photo against the light has it.
      const sky = 120 + (y / height) * 150;
      const value = dark ? 28 + (next() - 0.5) * 16 : sky + (next() - 0.5) * 10;
      const tint = dark ? [0, 0, 0] : [-20 + (y / height) * 40, -5, 15 - (y / height) * 20];
      if (dark) ink[p] = 1;
      rgb[p * 3] = clamp(value + tint[0]);
      rgb[p * 3 + 1] = clamp(value + tint[1]);
      rgb[p * 3 + 2] = clamp(value + tint[2]);
    }
  }
  return ink;
}

/** The whole synthetic set: every kind, `perKind` seeds each. */
export async function syntheticPages(perKind = 2): Promise<SyntheticPage[]> {
  const pages: SyntheticPage[] = [];
  for (const kind of PAGE_KINDS) {
    for (let seed = 1; seed <= perKind; seed++) pages.push(await syntheticPage(kind, seed));
  }
  return pages;
}

/**
 * `page` photographed turned `degrees` clockwise on a dark table (the table in every corner),
 * and its truth turned alike: ink one byte a pixel, 0, on 255.
 */
export async function onATable(page: SyntheticPage, degrees: number) {
  const bytes = await sharp(page.bytes)
    .rotate(degrees, { background: { r: 40, g: 38, b: 36 } })
    .png()
    .toBuffer();
  const truth = await sharp(page.truth, { raw: { width: page.width, height: page.height, channels: 1 } })
    .rotate(degrees, { background: "#ffffff" })
    .threshold(128)
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    bytes: new Uint8Array(bytes),
    truth: { data: new Uint8Array(truth.data), width: truth.info.width, height: truth.info.height },
  };
}
