// `npm run bench -- quality [--data DIR]`: every method of binarize() on pages with ground truth
// (the synthetic set, or DIR's `<name>.png` beside `<name>-gt.png`, 0 = ink), scored with
// DIBCO's measures, beside its CPU per megapixel and sharp's decode floor, all in one run.
import { readdir, readFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import sharp from "sharp";
import { binarize } from "../../imaging/binarize.ts";
import { type BinaryImage, dibcoScores } from "../../imaging/measures/dibco.ts";
import { type PseudoWeights, pseudoWeights } from "../../imaging/measures/pseudo-weights.ts";
import { BINARIZATION_METHODS, type BinarizationMethod } from "../../imaging/method-names.ts";
import { syntheticPages } from "./synthetic-pages.ts";

interface Page {
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
  // The figure's pages' results, kept as they are scored (one binarize per page and method).
  const figure = new Map<string, Uint8Array[]>();
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
      results.push({ page, scores: dibcoScores(page.truth, await greyOf(png), weights.get(page)) });
      if (!data && FIGURE_PAGES.includes(page.name)) figure.set(page.name, [...(figure.get(page.name) ?? []), png]);
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
  if (!data)
    await writeFigure(
      pages.filter((p) => figure.has(p.name)),
      figure,
    );
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

const FIGURE_PAGES = ["phone-photo-1", "bleed-through-1", "faded-ink-1", "logo-1"];
const FIGURE = new URL("../../docs/quality-synthetic.png", import.meta.url);

/** A row per page: the upload, its ground truth, then each method's result, a third the size. */
async function writeFigure(pages: Page[], results: Map<string, Uint8Array[]>): Promise<void> {
  const scale = 3;
  const tiles: { input: Buffer; left: number; top: number }[] = [];
  let top = 0;
  let width = 0;
  for (const page of pages) {
    const w = Math.round(page.truth.width / scale);
    const h = Math.round(page.truth.height / scale);
    const truthPng = await sharp(Buffer.from(page.truth.data), {
      raw: { width: page.truth.width, height: page.truth.height, channels: 1 },
    })
      .png()
      .toBuffer();
    const columns = [page.bytes, truthPng, ...(results.get(page.name) ?? [])];
    for (const [n, column] of columns.entries()) {
      const tile = await sharp(column).resize(w, h).flatten({ background: "#ffffff" }).png().toBuffer();
      tiles.push({ input: tile, left: n * (w + 6), top });
    }
    top += h + 6;
    width = Math.max(width, columns.length * (w + 6));
  }
  await sharp({ create: { width, height: top, channels: 3, background: "#8a8f98" } })
    .composite(tiles)
    .png()
    .toFile(FIGURE.pathname);
  console.log(`figure: ${FIGURE.pathname} (per row: upload, ground truth, ${BINARIZATION_METHODS.join(", ")})`);
}

/** Pages under `root`, each `<name>.png` that has a `<name>-gt.png` beside it. */
async function loadPages(root: string): Promise<Page[]> {
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

async function greyOf(png: Uint8Array): Promise<BinaryImage> {
  const { data, info } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** CPU milliseconds of this process (every thread) spent in `work`. */
async function cpuMs(work: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  await work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
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
