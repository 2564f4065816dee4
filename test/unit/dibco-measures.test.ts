// DIBCO's measures against doxapy's calculate_performance on the committed synthetic pages
// (test/fixtures/make-dibco-fixtures.py made them and the reference scores). Catches: a measure
// that drifts from the contests' definition, so that quality numbers would not compare.
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { dibcoScores } from "../../imaging/measures/dibco.ts";
import { pseudoWeights } from "../../imaging/measures/pseudo-weights.ts";

const fixtures = new URL("../fixtures/", import.meta.url);
const reference = JSON.parse(await readFile(new URL("dibco-scores.json", fixtures), "utf8")) as {
  cases: { groundTruth: string; result: string; fMeasure: number; pseudoFMeasure: number; psnr: number; drd: number }[];
};

async function load(name: string) {
  const { data, info } = await sharp(new URL(name, fixtures).pathname)
    .greyscale()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

describe("DIBCO measures", () => {
  it.each(reference.cases)("agree with doxapy to the second decimal on $result", async (expected) => {
    const truth = await load(expected.groundTruth);
    const weights = pseudoWeights(truth.data, truth.width, truth.height);
    const scores = dibcoScores(truth, await load(expected.result), weights);
    expect(scores.fMeasure).toBeCloseTo(expected.fMeasure, 2);
    expect(scores.pseudoFMeasure).toBeCloseTo(expected.pseudoFMeasure, 2);
    expect(scores.psnr).toBeCloseTo(expected.psnr, 2);
    expect(scores.drd).toBeCloseTo(expected.drd, 2);
  });

  it("a perfect result scores F 100, infinite PSNR and DRD 0", async () => {
    const truth = await load(reference.cases[0].groundTruth);
    expect(dibcoScores(truth, truth)).toEqual({ fMeasure: 100, psnr: Number.POSITIVE_INFINITY, drd: 0 });
  });

  it("pseudo F weighs a lost thin stroke like a lost thick one, and a blot by its distance from the text", async () => {
    // Two vertical strokes, 2 and 8 px wide, on 60 × 40 paper.
    const width = 60;
    const height = 40;
    const truth = new Uint8Array(width * height).fill(255);
    const stroke = (x0: number, w: number) => {
      for (let y = 5; y < 35; y++) for (let x = x0; x < x0 + w; x++) truth[y * width + x] = 0;
    };
    stroke(10, 2);
    stroke(30, 8);
    const weights = pseudoWeights(truth, width, height);
    const image = { width, height };
    const without = (x0: number, w: number) => {
      const result = truth.slice();
      for (let y = 5; y < 35; y++) for (let x = x0; x < x0 + w; x++) result[y * width + x] = 255;
      return dibcoScores({ data: truth, ...image }, { data: result, ...image }, weights);
    };
    // Plain F-measure punishes losing the thick stroke four times harder; pseudo F about equally.
    const thinLost = without(10, 2);
    const thickLost = without(30, 8);
    expect(thickLost.fMeasure).toBeLessThan(thinLost.fMeasure - 30);
    expect(Math.abs((thickLost.pseudoFMeasure ?? 0) - (thinLost.pseudoFMeasure ?? 0))).toBeLessThan(5);
    // Every recall weight of a stroke's cross-section sums to about 1.
    const row = 20 * width;
    const across = (x0: number, w: number) => weights.recall.slice(row + x0, row + x0 + w).reduce((a, b) => a + b, 0);
    expect(across(10, 2)).toBeCloseTo(across(30, 8), 0);
  });
});
