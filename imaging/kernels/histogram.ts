// Histograms of 8-bit values and Otsu's threshold over them, shared by the global and document methods.

/** Counts each value, four a load (byte order does not matter to a histogram). */
export function countValues(values: Uint8Array, histogram: Uint32Array): void {
  let i = 0;
  if (values.byteOffset % 4 === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset, values.length >> 2);
    for (let w = 0; w < words.length; w++, i += 4) {
      const v = words[w];
      histogram[v & 255]++;
      histogram[(v >>> 8) & 255]++;
      histogram[(v >>> 16) & 255]++;
      histogram[v >>> 24]++;
    }
  }
  for (; i < values.length; i++) histogram[values[i]]++;
}

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
