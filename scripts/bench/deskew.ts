// `npm run bench -- deskew [--data DIR]`: bitonal's skew estimate beside jdeskew and deskew (the
// Python estimators people use, run on the same images in the same run), and what border
// cleaning does to F.
// - Skew: DIR's printed and handwritten pages (default ../shared/data/dibco-dev) and synthetic
//   printed pages (level by construction), each turned by known angles on white and cut to the
//   upright box inside the turned page, so that no fill's straight edge is there to be found
//   (a turn whose box is under half the page's width or height is left out: a strip cut through
//   a wide page's lines).
//   A development page is rarely level itself: its own skew is the median of the three
//   estimators' angles for it unturned, and the truth for a turn of a° is a° plus that. Error:
//   |estimate − truth|; an estimator that finds nothing leaves the page as it is (its error is
//   the whole truth). Time: CPU of the estimate alone beside the page's decode (the floor).
// - Borders: F of `auto` with borders kept and cleaned, on DIR's pages, the synthetic set and
//   synthetic pages photographed on a dark table.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import sharp from "sharp";
import { binarize } from "../../imaging/binarize.ts";
import { decodeLuma } from "../../imaging/decode/luma.ts";
import { hasBorders } from "../../imaging/geometry/borders.ts";
import { estimateSkew } from "../../imaging/geometry/skew.ts";
import { dibcoScores } from "../../imaging/measures/dibco.ts";
import { findPython } from "../../infra/localstack.ts";
import { cpuMs, greyOf, loadPages, type Page } from "./quality.ts";
import { onATable, syntheticPage, syntheticPages } from "./synthetic-pages.ts";

const run = promisify(execFile);
const PROJECT = fileURLToPath(new URL("../../", import.meta.url));
const ANCHORS_VENV = join(PROJECT, ".local", "skew-anchors", "venv");
const REQUIREMENTS = fileURLToPath(new URL("./skew-anchors-requirements.txt", import.meta.url));
const ANCHORS_SCRIPT = fileURLToPath(new URL("./skew-anchors.py", import.meta.url));
const FIGURE = new URL("../../docs/deskew-figure.png", import.meta.url);
// Eight turns across ±10°, none a round number.
const ANGLES = [-9.6, -6.8, -4.1, -1.3, 0.7, 3.2, 5.9, 9.1];
const ESTIMATORS = ["bitonal", "jdeskew", "deskew"] as const;
const MAX_OWN_SKEW = 15;
type Estimator = (typeof ESTIMATORS)[number];

interface Turned {
  page: string;
  group: "printed" | "handwritten" | "synthetic printed";
  degrees: number;
  file: string;
}

export async function benchDeskew(options: string[] = []) {
  const at = options.indexOf("--data");
  const data = at >= 0 ? options[at + 1] : join(PROJECT, "..", "shared", "data", "dibco-dev");
  const pages = existsSync(data) ? await loadPages(data) : [];
  console.log(pages.length ? `${pages.length} pages under ${data}` : `no pages under ${data}: synthetic pages only`);
  const python = await anchorsPython();
  const dir = await mkdtemp(join(tmpdir(), "bitonal-deskew-"));
  try {
    const skew = await skewAccuracy(pages, python, dir);
    const borders = await borderEffect(pages);
    await writeFigure();
    return { skew, borders };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function skewAccuracy(pages: Page[], python: string, dir: string) {
  const sources: { name: string; group: Turned["group"]; bytes: Uint8Array }[] = [
    ...pages.map((p) => ({ name: p.name, group: groupOf(p.name), bytes: p.bytes })),
    ...(await Promise.all(
      [1, 2, 3, 4].map(async (seed) => ({
        name: `office-scan-${seed}`,
        group: "synthetic printed" as const,
        bytes: (await syntheticPage("office-scan", seed, 1700, 2200)).bytes,
      })),
    )),
  ];
  const images: Turned[] = [];
  for (const source of sources) {
    for (const degrees of ANGLES) {
      const turned = await turnedAndCut(source.bytes, degrees);
      if (!turned) continue;
      const file = join(dir, `${source.name}_${degrees}.png`);
      await writeFile(file, turned);
      images.push({ page: source.name, group: source.group, degrees, file });
    }
  }
  console.log(`skew: ${sources.length} pages, ${images.length} images (each page turned by ${ANGLES.join(", ")}°)`);

  // bitonal's, on the page binarized as the pipeline binarizes it; the floor is the page's decode.
  // Warm, as a long-running worker is: the first calls would pay for compiling the code.
  for (const image of images.slice(0, 12)) {
    const result = await binarize(await readFile(image.file), { method: "auto", maxInputPixels: 100_000_000 });
    estimateSkew(result.packed, result.width, result.height);
  }
  const found = new Map<string, Record<Estimator, number | null>>();
  const ms: Record<Estimator | "floor", number> = { bitonal: 0, jdeskew: 0, deskew: 0, floor: 0 };
  for (const image of images) {
    const bytes = await readFile(image.file);
    ms.floor += await cpuMs(async () => {
      await decodeLuma(bytes, { maxInputPixels: 100_000_000 });
    });
    const result = await binarize(bytes, { method: "auto", maxInputPixels: 100_000_000 });
    let angle: number | null = null;
    ms.bitonal += await cpuMs(async () => {
      angle = estimateSkew(result.packed, result.width, result.height).angle;
    });
    found.set(image.file, { bitonal: angle, jdeskew: null, deskew: null });
  }
  const listing = join(dir, "images.json");
  await writeFile(listing, JSON.stringify(images.map((i) => i.file)));
  const { stdout } = await run(python, [ANCHORS_SCRIPT, listing], { maxBuffer: 64 * 1024 * 1024 });
  const anchors: Record<string, { jdeskew: number; deskew: number | null; jdeskewMs: number; deskewMs: number }> =
    JSON.parse(stdout);
  for (const [file, a] of Object.entries(anchors)) {
    const entry = found.get(file) as Record<Estimator, number | null>;
    entry.jdeskew = a.jdeskew;
    entry.deskew = a.deskew;
    ms.jdeskew += a.jdeskewMs;
    ms.deskew += a.deskewMs;
  }

  // Each page's own skew, by consensus: the median, over the three estimators and the eight
  // turns, of what each found less the turn (24 readings: an estimator that is far off on a
  // page, or one that is always near but never on, does not decide it), leaving out readings
  // more than 15° from the turn: no development page is itself turned that far, and deskew's
  // readings of glyph strokes at 35–48° had moved a signature's truth by 5.8°. 0 for the
  // synthetic pages, which are level by construction.
  const ownSkew = new Map<string, number>();
  for (const source of sources) {
    const readings = images
      .filter((i) => i.page === source.name)
      .flatMap((i) => ESTIMATORS.map((e) => found.get(i.file)?.[e]).flatMap((a) => (a == null ? [] : [a - i.degrees])))
      .filter((own) => Math.abs(own) <= MAX_OWN_SKEW)
      .sort((a, b) => a - b);
    ownSkew.set(source.name, source.group === "synthetic printed" ? 0 : (readings[readings.length >> 1] ?? 0));
  }
  const turned = images;
  const report: Record<string, Record<Estimator, ReturnType<typeof errorStats>>> = {};
  console.log("\n| pages | estimator | images | found | mean error | 95th pct | max | CPU ms an image |");
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const group of ["printed", "synthetic printed", "handwritten"] as const) {
    const inGroup = turned.filter((i) => i.group === group);
    if (inGroup.length === 0) continue;
    report[group] = {} as Record<Estimator, ReturnType<typeof errorStats>>;
    for (const estimator of ESTIMATORS) {
      const errors = inGroup.map((i) => {
        const truth = i.degrees + (ownSkew.get(i.page) ?? 0);
        const angle = found.get(i.file)?.[estimator];
        return Math.abs((angle ?? 0) - truth);
      });
      const foundCount = inGroup.filter((i) => found.get(i.file)?.[estimator] !== null).length;
      if (estimator === "bitonal") {
        const worst = inGroup
          .map((i, n) => ({ i, error: errors[n] }))
          .sort((a, b) => b.error - a.error)
          .slice(0, 3)
          .map(({ i, error }) => `${i.page} at ${i.degrees}°: ${error.toFixed(2)}°`);
        console.log(`  (bitonal's largest errors on ${group}: ${worst.join("; ")})`);
      }
      const stats = errorStats(errors);
      report[group][estimator] = stats;
      console.log(
        `| ${group} | ${estimator} | ${inGroup.length} | ${foundCount} | ${stats.mean.toFixed(3)}° | ` +
          `${stats.p95.toFixed(2)}° | ${stats.max.toFixed(2)}° | |`,
      );
    }
  }
  const perImage = (total: number) => total / images.length;
  console.log(
    `\nCPU an image: decode floor ${perImage(ms.floor).toFixed(1)} ms; bitonal's estimate ` +
      `${perImage(ms.bitonal).toFixed(1)} ms (${(ms.bitonal / ms.floor).toFixed(2)}x the floor), jdeskew ` +
      `${perImage(ms.jdeskew).toFixed(0)} ms, deskew ${perImage(ms.deskew).toFixed(0)} ms (wall time in their process)`,
  );
  return { report, msPerImage: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, perImage(v)])) };
}

/** F of auto with borders kept and cleaned, page by page, where a frame was found or F moved. */
async function borderEffect(pages: Page[]) {
  const synthetic = (await syntheticPages()).map((p) => ({
    name: p.name,
    set: p.kind,
    bytes: p.bytes,
    truth: { data: p.truth, width: p.width, height: p.height },
  }));
  const all = [...pages, ...synthetic, ...(await pagesOnATable())];
  const rows: { name: string; framed: boolean; kept: number; cleaned: number }[] = [];
  for (const page of all) {
    const options = { method: "auto" as const, maxInputPixels: 100_000_000 };
    const kept = await binarize(page.bytes, { ...options, borders: "keep" });
    const cleaned = await binarize(page.bytes, { ...options, borders: "clean" });
    const b = cleaned.borders;
    const framed = !!b && hasBorders(b);
    rows.push({
      name: page.name,
      framed,
      kept: dibcoScores(page.truth, await greyOf(kept.png)).fMeasure,
      cleaned: dibcoScores(page.truth, await greyOf(cleaned.png)).fMeasure,
    });
  }
  const framed = rows.filter((r) => r.framed);
  const others = rows.filter((r) => !r.framed);
  console.log(`\nborders: ${all.length} pages; a frame found on ${framed.length}`);
  console.log("| page | F, borders kept | F, cleaned | change |");
  console.log("| --- | --- | --- | --- |");
  for (const r of framed) {
    console.log(`| ${r.name} | ${r.kept.toFixed(2)} | ${r.cleaned.toFixed(2)} | ${(r.cleaned - r.kept).toFixed(2)} |`);
  }
  const mean = (list: typeof rows, pick: (r: (typeof rows)[number]) => number) =>
    list.reduce((sum, r) => sum + pick(r), 0) / Math.max(1, list.length);
  const largestOther = Math.max(0, ...others.map((r) => Math.abs(r.cleaned - r.kept)));
  console.log(
    `framed pages: mean F ${mean(framed, (r) => r.kept).toFixed(2)} → ${mean(framed, (r) => r.cleaned).toFixed(2)}; ` +
      `the other ${others.length} pages: largest change ${largestOther.toFixed(2)}`,
  );
  return { rows, largestOther };
}

/**
 * Synthetic pages photographed a little turned on a dark table (the table in every corner), with
 * their truth turned alike: faint ink among them, which a table's dark once took from the page.
 */
async function pagesOnATable() {
  const placed = [
    ["faded-ink", 5, 3],
    ["faded-ink", 6, -4],
    ["office-scan", 5, 2.5],
  ] as const;
  return Promise.all(
    placed.map(async ([kind, seed, degrees]) => ({
      name: `${kind}-${seed} on a table, turned ${degrees}°`,
      ...(await onATable(await syntheticPage(kind, seed, 1000, 1300), degrees)),
    })),
  );
}

/** A page turned `degrees` clockwise on white, cut to the upright box inside it; undefined when that box is under half the page. */
async function turnedAndCut(bytes: Uint8Array, degrees: number): Promise<Buffer | undefined> {
  const { width = 0, height = 0 } = await sharp(bytes).metadata();
  const t = (Math.abs(degrees) * Math.PI) / 180;
  // The box whose corners touch the turned page's edges.
  const w = Math.floor((width * Math.cos(t) - height * Math.sin(t)) / Math.cos(2 * t)) - 4;
  const h = Math.floor((height * Math.cos(t) - width * Math.sin(t)) / Math.cos(2 * t)) - 4;
  // A strip cut through the lines of a wide, short page is not a page: its cut ink's straight
  // edges would be the only lines in it.
  if (w < 0.5 * width || h < 0.5 * height) return undefined;
  const turned = await sharp(bytes)
    .rotate(degrees, { background: "#ffffff" })
    .png()
    .toBuffer({ resolveWithObject: true });
  const left = Math.ceil((turned.info.width - w) / 2);
  const top = Math.ceil((turned.info.height - h) / 2);
  return sharp(turned.data).extract({ left, top, width: w, height: h }).png().toBuffer();
}

function groupOf(name: string): Turned["group"] {
  return /(^|_)P\d/.test(name) ? "printed" : "handwritten";
}

function errorStats(errors: number[]) {
  const sorted = [...errors].sort((a, b) => a - b);
  return {
    mean: sorted.reduce((sum, e) => sum + e, 0) / sorted.length,
    p95: sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)],
    max: sorted[sorted.length - 1],
  };
}

/** The anchors' venv (.local/skew-anchors/venv), made from the pinned requirements when they changed. */
async function anchorsPython(): Promise<string> {
  const python = join(ANCHORS_VENV, "bin", "python");
  const stamp = join(ANCHORS_VENV, ".requirements");
  const requirements = await readFile(REQUIREMENTS, "utf8");
  if (existsSync(python) && (await readFile(stamp, "utf8").catch(() => "")) === requirements) return python;
  console.log("installing jdeskew and deskew into .local/skew-anchors/venv (once)…");
  await mkdir(join(PROJECT, ".local", "skew-anchors"), { recursive: true });
  await run(await findPython(undefined), ["-m", "venv", ANCHORS_VENV]);
  await run(python, ["-m", "pip", "install", "--quiet", "-r", REQUIREMENTS], { maxBuffer: 16 * 1024 * 1024 });
  await writeFile(stamp, requirements);
  return python;
}

/**
 * docs/deskew-figure.png: a synthetic page photographed skewed on a dark table (before, with the
 * angle found and the frame's box drawn on it) and what bitonal wrote (after), labelled.
 */
async function writeFigure(): Promise<void> {
  const level = await syntheticPage("office-scan", 7, 1100, 1400);
  const degrees = 4.2;
  const page = await sharp(level.bytes)
    .rotate(degrees, { background: { r: 40, g: 38, b: 36 } })
    .extend({ top: 60, bottom: 90, left: 110, right: 40, background: { r: 40, g: 38, b: 36 } })
    .png()
    .toBuffer();
  const result = await binarize(page, { method: "auto", deskew: true, borders: "clean", maxInputPixels: 100_000_000 });
  const { width = 0, height = 0 } = await sharp(page).metadata();
  const b = result.borders ?? { top: 0, right: 0, bottom: 0, left: 0 };
  const scale = 0.5;
  const tile = async (input: Uint8Array, w: number, h: number, overlay?: string) => {
    let image = sharp(input).resize(Math.round(w * scale), Math.round(h * scale));
    if (overlay) image = sharp(await image.png().toBuffer()).composite([{ input: Buffer.from(overlay) }]);
    return image.png().toBuffer();
  };
  const sw = Math.round(width * scale);
  const sh = Math.round(height * scale);
  const box = `<rect x="${b.left * scale}" y="${b.top * scale}" width="${(width - b.left - b.right) * scale}" height="${(height - b.top - b.bottom) * scale}" fill="none" stroke="#ff3030" stroke-width="3" stroke-dasharray="10 6"/>`;
  const cx = sw / 2;
  const cy = sh / 2;
  const t = ((result.skew?.angle ?? 0) * Math.PI) / 180;
  const line = `<line x1="${cx - 220 * Math.cos(t)}" y1="${cy - 220 * Math.sin(t)}" x2="${cx + 220 * Math.cos(t)}" y2="${cy + 220 * Math.sin(t)}" stroke="#2080ff" stroke-width="4"/>`;
  const before = await tile(
    page,
    width,
    height,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${sw}" height="${sh}">${box}${line}</svg>`,
  );
  const after = await tile(result.png, result.width, result.height);
  const aw = Math.round(result.width * scale);
  const gap = 20;
  const labelHeight = 60;
  const label = (text: string, w: number) =>
    Buffer.from(
      `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${labelHeight}"><text x="6" y="38" font-family="DejaVu Sans, sans-serif" font-size="20" fill="#111">${text}</text></svg>`,
    );
  const found =
    result.skew?.angle === null || result.skew === undefined
      ? "no skew found"
      : `skew found: ${result.skew.angle}° (blue)`;
  const rotated = result.skew?.rotated ?? 0;
  await sharp({
    create: {
      width: sw + gap + aw,
      height: 2 * labelHeight + Math.max(sh, Math.round(result.height * scale)),
      channels: 3,
      background: "#ffffff",
    },
  })
    .composite([
      { input: label(`Upload (turned ${degrees}° on a dark table)`, sw), left: 0, top: 0 },
      {
        input: label(`${found}; frame ${b.top}/${b.right}/${b.bottom}/${b.left} px (red)`, sw),
        left: 0,
        top: labelHeight,
      },
      { input: label("Result (deskew auto, borders clean)", aw), left: sw + gap, top: 0 },
      { input: label(`turned ${rotated}°, frame made white`, aw), left: sw + gap, top: labelHeight },
      { input: before, left: 0, top: 2 * labelHeight },
      { input: after, left: sw + gap, top: 2 * labelHeight },
    ])
    .png()
    .toFile(fileURLToPath(FIGURE));
  console.log(
    `figure: ${fileURLToPath(FIGURE)} (left: the upload, marked; right: the result, turned by ${result.skew?.rotated}°, frame cleaned)`,
  );
}
