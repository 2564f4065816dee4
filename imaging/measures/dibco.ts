// DIBCO's measures of a binarization against its ground truth: F-measure, pseudo F-measure,
// PSNR and DRD. Pure functions over 8-bit images where 0 is ink and 255 is paper, defined as the
// DIBCO contests and Doxa compute them. The pseudo F-measure needs the ground truth's weights
// (`pseudo-weights.ts`), costly on a large page: compute them once per page, pass them to each result.
//
// By hand because no JavaScript library implements them; the test checks them against doxapy's
// calculate_performance (the reference the contests' own tool agrees with).

import type { PseudoWeights } from "./pseudo-weights.ts";

export interface BinaryImage {
  /** One byte per pixel: 0 = ink, 255 = paper. */
  data: Uint8Array;
  width: number;
  height: number;
}

export interface DibcoScores {
  /** F-measure of ink, percent. */
  fMeasure: number;
  /** Pseudo F-measure, percent (when the ground truth's weights were given). */
  pseudoFMeasure?: number;
  /** Peak signal-to-noise ratio, dB (C = 1: ink and paper differ by one). */
  psnr: number;
  /** Distance-reciprocal distortion, per non-uniform 8×8 block of the ground truth. */
  drd: number;
}

const INK = 0;

export function dibcoScores(truth: BinaryImage, result: BinaryImage, weights?: PseudoWeights): DibcoScores {
  if (truth.width !== result.width || truth.height !== result.height) {
    throw new Error(`sizes differ: ${truth.width}×${truth.height} and ${result.width}×${result.height}`);
  }
  let truePositive = 0;
  let falsePositive = 0;
  let falseNegative = 0;
  const t = truth.data;
  const r = result.data;
  for (let i = 0; i < t.length; i++) {
    const resultInk = r[i] === INK;
    if (t[i] === r[i]) {
      if (resultInk) truePositive++;
    } else if (resultInk) {
      falsePositive++;
    } else {
      falseNegative++;
    }
  }

  const harmonic = (a: number, b: number) => (a + b === 0 ? 0 : (2 * a * b) / (a + b));
  const recall = truePositive / (truePositive + falseNegative);
  const precision = truePositive / (truePositive + falsePositive);
  const fMeasure = truePositive === 0 ? 0 : harmonic(recall, precision) * 100;
  const mse = (falsePositive + falseNegative) / t.length;
  return {
    fMeasure,
    ...(weights ? { pseudoFMeasure: pseudoFMeasure(truth, result, weights) } : {}),
    psnr: mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10(1 / mse),
    drd: distanceReciprocalDistortion(truth, result),
  };
}

/**
 * Recall weighted by the ground truth's recall weights; precision with each ink pixel of the
 * result counting 1 + its precision weight (true and false alike), as DIBCO's tool counts them.
 */
function pseudoFMeasure(truth: BinaryImage, result: BinaryImage, weights: PseudoWeights): number {
  let recalled = 0;
  let missed = 0;
  let rightInk = 0;
  let wrongInk = 0;
  for (let i = 0; i < truth.data.length; i++) {
    const truthInk = truth.data[i] === INK;
    const resultInk = result.data[i] === INK;
    if (resultInk && truthInk) {
      recalled += weights.recall[i];
      rightInk += 1 + weights.precision[i];
    } else if (resultInk) {
      wrongInk += 1 + weights.precision[i];
    } else if (truthInk) {
      missed += weights.recall[i];
    }
  }
  if (recalled === 0 || rightInk === 0) return 0;
  const recall = recalled / (recalled + missed);
  const precision = rightInk / (rightInk + wrongInk);
  return ((2 * recall * precision) / (recall + precision)) * 100;
}

// Lu et al. 2004: reciprocal distances to the centre of a 5×5 window, normalised to sum 1, in
// millionths (the integers Doxa uses, so that sums are exact and agree with it to the digit).
const DRD_WEIGHTS = [
  [25582, 32359, 36179, 32359, 25582],
  [32359, 51164, 72357, 51164, 32359],
  [36179, 72357, 0, 72357, 36179],
  [32359, 51164, 72357, 51164, 32359],
  [25582, 32359, 36179, 32359, 25582],
];
const DRD_BLOCK = 8;

/**
 * For every pixel the result gets wrong, the weighted count of ground-truth pixels around it
 * that differ from the result's value (outside the image counts as agreeing); the sum divided
 * by the number of 8×8 ground-truth blocks that hold both ink and paper (whole blocks only).
 */
function distanceReciprocalDistortion(truth: BinaryImage, result: BinaryImage): number {
  const { width, height } = truth;
  const t = truth.data;
  const r = result.data;
  let sum = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const g = r[y * width + x];
      if (t[y * width + x] === g) continue;
      for (let dy = -2; dy <= 2; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -2; dx <= 2; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= width) continue;
          if (t[yy * width + xx] !== g) sum += DRD_WEIGHTS[dx + 2][dy + 2];
        }
      }
    }
  }
  let nonUniformBlocks = 0;
  for (let by = 0; by + DRD_BLOCK <= height; by += DRD_BLOCK) {
    for (let bx = 0; bx + DRD_BLOCK <= width; bx += DRD_BLOCK) {
      const first = t[by * width + bx];
      search: for (let y = by; y < by + DRD_BLOCK; y++) {
        for (let x = bx; x < bx + DRD_BLOCK; x++) {
          if (t[y * width + x] !== first) {
            nonUniformBlocks++;
            break search;
          }
        }
      }
    }
  }
  return sum / (nonUniformBlocks * 1_000_000);
}
