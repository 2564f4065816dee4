// DIBCO's measures against doxapy's calculate_performance on the committed synthetic pages
// (test/fixtures/make-dibco-fixtures.py made them and the reference scores). Catches: a measure
// that drifts from the contests' definition, so that quality numbers would not compare.
import { readFile } from "node:fs/promises";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { dibcoScores } from "../../scripts/bench/dibco-measures.ts";

const fixtures = new URL("../fixtures/", import.meta.url);
const reference = JSON.parse(await readFile(new URL("dibco-scores.json", fixtures), "utf8")) as {
  cases: { groundTruth: string; result: string; fMeasure: number; psnr: number; drd: number }[];
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
    const scores = dibcoScores(await load(expected.groundTruth), await load(expected.result));
    expect(scores.fMeasure).toBeCloseTo(expected.fMeasure, 2);
    expect(scores.psnr).toBeCloseTo(expected.psnr, 2);
    expect(scores.drd).toBeCloseTo(expected.drd, 2);
  });

  it("a perfect result scores F 100, infinite PSNR and DRD 0", async () => {
    const truth = await load(reference.cases[0].groundTruth);
    expect(dibcoScores(truth, truth)).toEqual({ fMeasure: 100, psnr: Number.POSITIVE_INFINITY, drd: 0 });
  });
});
