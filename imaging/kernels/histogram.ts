// Otsu's threshold over a histogram of 8-bit values, shared by the global and document methods (the counting is a SIMD kernel: simd.ts).

/** Otsu's method: the threshold that maximises the between-class variance of the histogram. */
export function otsuThreshold(histogram: Uint32Array): number {
  return otsu(histogram).threshold;
}

/**
 * Otsu's threshold and its separability: the between-class share of the total variance, 1 for
 * two pure values, near 0.5 or below for one smooth hump.
 */
export function otsu(histogram: Uint32Array): { threshold: number; separability: number } {
  let total = 0;
  let sumAll = 0;
  let squaresAll = 0;
  for (let v = 0; v < 256; v++) {
    total += histogram[v];
    sumAll += v * histogram[v];
    squaresAll += v * v * histogram[v];
  }
  let best = 0;
  let bestVariance = -1;
  let weightBelow = 0;
  let sumBelow = 0;
  for (let t = 0; t < 256; t++) {
    weightBelow += histogram[t];
    if (weightBelow === 0) continue;
    const weightAbove = total - weightBelow;
    if (weightAbove === 0) break;
    sumBelow += t * histogram[t];
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sumAll - sumBelow) / weightAbove;
    const variance = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (variance > bestVariance) {
      bestVariance = variance;
      best = t;
    }
  }
  const totalVariance = total * squaresAll - sumAll * sumAll; // total² × σ²
  return { threshold: best, separability: totalVariance > 0 ? bestVariance / totalVariance : 1 };
}
