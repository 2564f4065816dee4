// `npm run bench -- quality [--data DIR]`: every method of binarize() on pages with ground truth
// (the synthetic set, or DIR's `<name>.png` beside `<name>-gt.png`, 0 = ink), scored with
// DIBCO's measures, beside its CPU per megapixel and sharp's decode floor, all in one run.
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import sharp from "sharp";
import { binarize } from "../../imaging/binarize.ts";
import { g4Page } from "../../imaging/encode/ccitt-g4.ts";
import { encodeG4Tiff } from "../../imaging/encode/g4-tiff.ts";
import { packRows } from "../../imaging/kernels/packed-rows.ts";
import { type BinaryImage, dibcoScores } from "../../imaging/measures/dibco.ts";
import { type PseudoWeights, pseudoWeights } from "../../imaging/measures/pseudo-weights.ts";
import { BINARIZATION_METHODS, type BinarizationMethod } from "../../imaging/method-names.ts";
import { syntheticPages } from "./synthetic-pages.ts";

export interface Page {
  name: string;
  set: string;
  bytes: Uint8Array;
  truth: BinaryImage;
  megapixels: number;
}

const MAX_PSNR = 60;

export interface QualityRow {
  method: BinarizationMethod;
  pages: number;
  fMeasure: number;
  pseudoFMeasure: number;
  psnr: number;
  drd: number;
  cpuMsPerMegapixel: number;
  floorRatio: number;
  /** Mean F-measure per folder of pages (a competition, a collection). */
  fMeasureBySet: Record<string, number>;
  /** For `auto`: how many pages went to each method. */
  choices?: Record<string, number>;
}

export async function benchQuality(options: string[] = []): Promise<QualityRow[]> {
  const at = options.indexOf("--data");
  const data = at >= 0 ? options[at + 1] : undefined;
  // Without --data: the synthetic set, regenerated from its seeds, and a figure of it.
  const pages = data ? await loadPages(data) : await syntheticSet();
  if (pages.length === 0) throw new Error(`no <name>.png with a <name>-gt.png under ${data}`);
  console.log(data ? `pages under ${data}` : "the synthetic set (scripts/bench/synthetic-pages.ts, fixed seeds)");
  sharp.cache(false);
  sharp.concurrency(1);

  const megapixels = pages.reduce((sum, p) => sum + p.megapixels, 0);
  const floorMs = await cpuMs(async () => {
    for (const page of pages) await sharp(page.bytes).raw().toBuffer();
  });
  const floorPerMegapixel = floorMs / megapixels;

  // The pseudo F-measure's weights depend on the ground truth alone: once per page, untimed.
  const started = performance.now();
  const weights = new Map<Page, PseudoWeights>();
  for (const page of pages) weights.set(page, pseudoWeights(page.truth.data, page.truth.width, page.truth.height));
  console.log(
    `pseudo F-measure weights of ${pages.length} pages: ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );

  // Every method over every page once before any is timed: the first to run would otherwise pay
  // for compiling the code they share, and auto for both of its paths (measured: 2x on a cold run).
  for (const method of BINARIZATION_METHODS) {
    for (const page of pages) await binarize(page.bytes, { method, maxInputPixels: 100_000_000 });
  }

  const rows: QualityRow[] = [];
  // The default's results as 1-bit PNG (what is stored) and as G4 TIFF (what archives keep).
  const outputs = { png: 0, g4Tiff: 0 };
  // The figures' pages' results, kept as they are scored (one binarize per page and method).
  const figure = new Map<string, Uint8Array[]>();
  // Every page's F-measure by method, for auto's regret.
  const fOf = new Map<BinarizationMethod, Map<Page, number>>();
  for (const method of BINARIZATION_METHODS) {
    const results: { page: Page; scores: ReturnType<typeof dibcoScores> }[] = [];
    const choices: Record<string, number> = {};
    // CPU of binarize() alone, from PNG bytes to PNG bytes; scoring is not timed.
    let ms = 0;
    for (const page of pages) {
      let result: Awaited<ReturnType<typeof binarize>> | undefined;
      ms += await cpuMs(async () => {
        result = await binarize(page.bytes, { method, maxInputPixels: 100_000_000 });
      });
      const { png, appliedMethod } = result as Awaited<ReturnType<typeof binarize>>;
      choices[appliedMethod] = (choices[appliedMethod] ?? 0) + 1;
      const grey = await greyOf(png);
      const scores = dibcoScores(page.truth, grey, weights.get(page));
      if (method === "auto") {
        outputs.png += png.length;
        outputs.g4Tiff += encodeG4Tiff([
          g4Page(packRows(grey.data, grey.width, grey.height), grey.width, grey.height),
        ]).length;
      }
      results.push({ page, scores });
      fOf.set(method, (fOf.get(method) ?? new Map()).set(page, scores.fMeasure));
      if (!data && FIGURES.some((f) => f.pages.includes(page.name))) {
        figure.set(page.name, [...(figure.get(page.name) ?? []), png]);
      }
    }
    const mean = (list: typeof results, pick: (s: (typeof results)[number]["scores"]) => number) =>
      list.reduce((sum, r) => sum + pick(r.scores), 0) / list.length;
    const sets = [...new Set(results.map((r) => r.page.set))];
    rows.push({
      method,
      pages: results.length,
      fMeasure: mean(results, (s) => s.fMeasure),
      pseudoFMeasure: mean(results, (s) => s.pseudoFMeasure ?? 0),
      // A perfect page's PSNR is infinite: capped at 60 dB so that a mean stays a number.
      psnr: mean(results, (s) => Math.min(s.psnr, MAX_PSNR)),
      drd: mean(results, (s) => s.drd),
      cpuMsPerMegapixel: ms / megapixels,
      floorRatio: ms / megapixels / floorPerMegapixel,
      fMeasureBySet: Object.fromEntries(
        sets.map((set) => [
          set,
          mean(
            results.filter((r) => r.page.set === set),
            (s) => s.fMeasure,
          ),
        ]),
      ),
      ...(method === "auto" ? { choices } : {}),
    });
  }
  printQuality(rows, pages.length, megapixels, floorPerMegapixel);
  printRegret(pages, fOf, rows);
  console.log(
    `auto's results: 1-bit PNG ${(outputs.png / 1024).toFixed(0)} KiB, G4 TIFF ${(outputs.g4Tiff / 1024).toFixed(0)} KiB (${(outputs.g4Tiff / outputs.png).toFixed(3)}x)`,
  );
  if (!data) {
    for (const { file, pages: names } of FIGURES) {
      await writeFigure(
        names.flatMap((name) => pages.filter((p) => p.name === name)),
        figure,
        file,
      );
    }
  }
  return rows;
}

async function syntheticSet(): Promise<Page[]> {
  return (await syntheticPages()).map((page) => ({
    name: page.name,
    set: page.kind,
    bytes: page.bytes,
    truth: { data: page.truth, width: page.width, height: page.height },
    megapixels: (page.width * page.height) / 1e6,
  }));
}

const FIGURES = [
  {
    file: new URL("../../docs/quality-synthetic.png", import.meta.url),
    pages: ["phone-photo-1", "bleed-through-1", "faded-ink-1", "logo-1"],
  },
  // The classes auto got wrong: two-tone for another reason than ink, and filled pictures.
  {
    file: new URL("../../docs/quality-hard-classes.png", import.meta.url),
    pages: ["dark-mount-1", "papyrus-1", "dark-frame-1", "filled-map-1", "silhouette-1"],
  },
];
// Room for the labels: the column names above, the page names to the left.
const LABEL_TOP = 26;
const LABEL_LEFT = 130;

/** Text as an image (librsvg through sharp), for the figures' labels. */
function label(text: string, width: number, height: number): Promise<Buffer> {
  const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><text x="4" y="${height - 8}" font-family="DejaVu Sans, sans-serif" font-size="15" fill="#ffffff">${escaped}</text></svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/**
 * A row per page: the upload, its ground truth, then each method's result, a third the size;
 * the columns named above, each row's page to its left.
 */
async function writeFigure(pages: Page[], results: Map<string, Uint8Array[]>, file: URL): Promise<void> {
  const scale = 3;
  const tiles: { input: Buffer; left: number; top: number }[] = [];
  let top = LABEL_TOP;
  let width = 0;
  const columnNames = ["upload", "ground truth", ...BINARIZATION_METHODS];
  const tileWidth = Math.round((pages[0]?.truth.width ?? 0) / scale);
  for (const [n, name] of columnNames.entries()) {
    tiles.push({ input: await label(name, tileWidth, LABEL_TOP), left: LABEL_LEFT + n * (tileWidth + 6), top: 0 });
  }
  for (const page of pages) {
    const w = Math.round(page.truth.width / scale);
    const h = Math.round(page.truth.height / scale);
    const truthPng = await sharp(Buffer.from(page.truth.data), {
      raw: { width: page.truth.width, height: page.truth.height, channels: 1 },
    })
      .png()
      .toBuffer();
    const columns = [page.bytes, truthPng, ...(results.get(page.name) ?? [])];
    tiles.push({ input: await label(page.name, LABEL_LEFT, Math.round(h / 2) + 8), left: 0, top });
    for (const [n, column] of columns.entries()) {
      const tile = await sharp(column).resize(w, h).flatten({ background: "#ffffff" }).png().toBuffer();
      tiles.push({ input: tile, left: LABEL_LEFT + n * (w + 6), top });
    }
    top += h + 6;
    width = Math.max(width, LABEL_LEFT + columns.length * (w + 6));
  }
  await sharp({ create: { width, height: top, channels: 3, background: "#5a5f68" } })
    .composite(tiles)
    .png()
    .toFile(file.pathname);
  console.log(`figure: ${file.pathname} (columns: ${columnNames.join(", ")})`);
}

/** Pages under `root`, each `<name>.png` that has a `<name>-gt.png` beside it. */
export async function loadPages(root: string): Promise<Page[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  const pages: Page[] = [];
  for (const file of files.filter((f) => f.endsWith(".png") && !f.endsWith("-gt.png")).sort()) {
    const truthFile = file.replace(/\.png$/, "-gt.png");
    if (!files.includes(truthFile)) continue;
    const truth = await greyOf(await readFile(truthFile));
    pages.push({
      name: basename(file, ".png"),
      set: relative(root, dirname(file)) || ".",
      bytes: new Uint8Array(await readFile(file)),
      truth,
      megapixels: (truth.width * truth.height) / 1e6,
    });
  }
  return pages;
}

export async function greyOf(png: Uint8Array): Promise<BinaryImage> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** CPU milliseconds of this process (every thread) spent in `work`. */
export async function cpuMs(work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

/**
 * auto's regret: per page, how far its F-measure falls below the better of the methods it
 * chooses between (document, otsu); per set, how far its mean falls below the best method's.
 */
function printRegret(pages: Page[], fOf: Map<BinarizationMethod, Map<Page, number>>, rows: QualityRow[]) {
  const f = (method: BinarizationMethod, page: Page) => fOf.get(method)?.get(page) ?? 0;
  const regrets = pages
    .map((page) => {
      const better: BinarizationMethod = f("document", page) >= f("otsu", page) ? "document" : "otsu";
      return { page, better, regret: f(better, page) - f("auto", page) };
    })
    .sort((a, b) => b.regret - a.regret);
  const over = regrets.filter((r) => r.regret > 2);
  console.log(
    `\nauto's regret (F below the better of document and otsu, per page): more than 2 points on ${over.length} of ${pages.length} pages` +
      (regrets[0] ? `; the most ${regrets[0].regret.toFixed(1)} (${regrets[0].page.set}/${regrets[0].page.name})` : ""),
  );
  for (const { page, better, regret } of over) {
    console.log(
      `  ${page.set}/${page.name}: auto ${f("auto", page).toFixed(1)}, ${better} ${f(better, page).toFixed(1)} (−${regret.toFixed(1)})`,
    );
  }
  const auto = rows.find((r) => r.method === "auto");
  if (!auto) return;
  const gaps = Object.keys(auto.fMeasureBySet).map((set) => {
    const best = rows.reduce((a, b) => ((b.fMeasureBySet[set] ?? 0) > (a.fMeasureBySet[set] ?? 0) ? b : a));
    return `${set} ${(auto.fMeasureBySet[set] - best.fMeasureBySet[set]).toFixed(1)} (best ${best.method})`;
  });
  console.log(`auto's mean F against the best method's, per set: ${gaps.join(", ")}`);
}

function printQuality(rows: QualityRow[], pages: number, megapixels: number, floor: number) {
  console.log(
    `\n${pages} pages, ${megapixels.toFixed(1)} MP; decode floor ${floor.toFixed(1)} CPU ms per MP (sharp, one thread)`,
  );
  console.log("method   | mean F | mean pF | mean PSNR | mean DRD | CPU ms/MP | × floor | F by set");
  for (const r of rows) {
    const bySet = Object.entries(r.fMeasureBySet)
      .map(([set, f]) => `${set} ${f.toFixed(1)}`)
      .join(", ");
    console.log(
      `${r.method.padEnd(8)} | ${r.fMeasure.toFixed(2).padStart(6)} | ${r.pseudoFMeasure.toFixed(2).padStart(7)} | ${r.psnr.toFixed(2).padStart(9)} | ` +
        `${r.drd.toFixed(2).padStart(8)} | ${r.cpuMsPerMegapixel.toFixed(1).padStart(9)} | ${r.floorRatio.toFixed(2).padStart(7)} | ${bySet}`,
    );
  }
  const auto = rows.find((r) => r.choices);
  if (auto?.choices) {
    const chosen = Object.entries(auto.choices).map(([method, n]) => `${method} on ${n}`);
    console.log(`auto chose ${chosen.join(", ")} of ${pages} pages`);
  }
}
