// AssemblyScript, compiled by `npm run build:simd` to kernels.wasm (committed; a unit test checks it
// matches this source). Pixel loops that V8 runs one byte at a time, here 16 at a time.

// 3×3 max − min of every pixel, edges repeated, 16 pixels an instruction.
export function localContrast(image: usize, width: i32, height: i32, out: usize, scratch: usize, histogram: usize): void {
  const high = scratch;
  const low = scratch + <usize>width + 16;
  const last = width - 1;
  for (let y = 0; y < height; y++) {
    const here = image + <usize>(y * width);
    const up = y > 0 ? here - <usize>width : here;
    const down = y < height - 1 ? here + <usize>width : here;
    let x = 0;
    for (; x + 16 <= width; x += 16) {
      const a = v128.load(up + x);
      const b = v128.load(here + x);
      const c = v128.load(down + x);
      v128.store(high + x, i8x16.max_u(i8x16.max_u(a, b), c));
      v128.store(low + x, i8x16.min_u(i8x16.min_u(a, b), c));
    }
    for (; x < width; x++) {
      const a = load<u8>(up + x);
      const b = load<u8>(here + x);
      const c = load<u8>(down + x);
      store<u8>(high + x, max(max(a, b), c));
      store<u8>(low + x, min(min(a, b), c));
    }
    const row = out + <usize>(y * width);
    x = 1;
    for (; x + 17 <= width; x += 16) {
      const most = i8x16.max_u(i8x16.max_u(v128.load(high + x - 1), v128.load(high + x)), v128.load(high + x + 1));
      const least = i8x16.min_u(i8x16.min_u(v128.load(low + x - 1), v128.load(low + x)), v128.load(low + x + 1));
      v128.store(row + x, i8x16.sub(most, least));
    }
    for (; x < last; x++) {
      const most = max(max(load<u8>(high + x - 1), load<u8>(high + x)), load<u8>(high + x + 1));
      const least = min(min(load<u8>(low + x - 1), load<u8>(low + x)), load<u8>(low + x + 1));
      store<u8>(row + x, most - least);
    }
    store<u8>(row, max(load<u8>(high), load<u8>(high + min(1, last))) - min(load<u8>(low), load<u8>(low + min(1, last))));
    if (last > 0) store<u8>(row + last, max(load<u8>(high + last - 1), load<u8>(high + last)) - min(load<u8>(low + last - 1), load<u8>(low + last)));
    if ((y & 1) == 0) countRow(row, width, histogram);
  }
  foldHistogram(histogram);
}


// luma × 255 ÷ the paper level, capped at white and rounded to the nearest (ties to even), as a
// Uint8ClampedArray stores it. The level of a pixel is the bilinear one between cell centres:
// levelRows holds each row's levels at the cells (rowStride f32s a row, the last repeated), cellX
// and fractionX each column's cell and fraction. The level is computed in f64 and rounded to f32
// where the JavaScript reference rounds it, into `scratch` (an f32 per column, then where each
// cell's span of columns ends: 8 (width + 4) bytes); then the quotient in f32, 4 pixels an instruction. An f32 quotient rounds
// to another integer than the reference's f64 one only within an f32 step of a half: the four
// pixels of any quotient within 2⁻¹⁵ of one (a pixel in about 16 000) are divided again in f64.
// So the two agree to the bit.
export function normalise(
  luma: usize,
  width: i32,
  height: i32,
  levelRows: usize,
  rowStride: i32,
  cellX: usize,
  fractionX: usize,
  out: usize,
  scratch: usize,
): void {
  const scale = f32x4.splat(255);
  const half = f32x4.splat(0.5);
  // Above every f32 step below 256 (2⁻¹⁶): a quotient this near a half is decided in f64.
  const near = f32x4.splat(<f32>(1.0 / 32768.0));
  // Where each cell's span of columns ends, the same on every row: after the row's levels.
  const spanEnds = scratch + ((<usize>width + 4) << 2);
  let spans = 0;
  for (let x = 1; x <= width; x++) {
    if (x == width || load<i32>(cellX + (<usize>x << 2)) != load<i32>(cellX + (<usize>(x - 1) << 2))) {
      store<i32>(spanEnds + (<usize>spans << 2), x);
      spans++;
    }
  }
  for (let y = 0; y < height; y++) {
    pixelLevels(levelRows + ((<usize>y * <usize>rowStride) << 2), spanEnds, spans, cellX, fractionX, scratch);
    const row = luma + <usize>(y * width);
    const o = out + <usize>(y * width);
    let x = 0;
    for (; x + 4 <= width; x += 4) {
      const level = v128.load(scratch + (<usize>x << 2));
      const pixels = f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(row + x))));
      const quotient = f32x4.div(f32x4.mul(pixels, scale), level);
      const fromHalf = f32x4.abs(f32x4.sub(f32x4.sub(quotient, f32x4.floor(quotient)), half));
      if (v128.any_true(f32x4.le(fromHalf, near))) {
        for (let k = 0; k < 4; k++) store<u8>(o + x + k, normalisedPixel(row, scratch, x + k));
        continue;
      }
      const whole = i32x4.trunc_sat_f32x4_u(f32x4.min(f32x4.nearest(quotient), scale));
      const narrow = i16x8.narrow_i32x4_u(whole, whole);
      v128.store32_lane(o + x, i8x16.narrow_i16x8_u(narrow, narrow), 0);
    }
    for (; x < width; x++) store<u8>(o + x, normalisedPixel(row, scratch, x));
  }
}

// One pixel as the JavaScript reference computes it: in f64, against its f32 level.
// @ts-ignore: decorator
@inline
function normalisedPixel(row: usize, levels: usize, x: i32): u8 {
  const level = <f64>load<f32>(levels + (<usize>x << 2));
  return <u8>min(nearest((<f64>load<u8>(row + x) * 255) / level), 255);
}

// Each column's level in one row, f32(a + (b − a) × fraction) computed in f64, a cell's span of
// columns at a time (they share its two levels), 2 columns an instruction.
function pixelLevels(levels: usize, spanEnds: usize, spans: i32, cellX: usize, fractionX: usize, out: usize): void {
  let x = 0;
  for (let s = 0; s < spans; s++) {
    const end = load<i32>(spanEnds + (<usize>s << 2));
    const c = load<i32>(cellX + (<usize>x << 2));
    const a = <f64>load<f32>(levels + (<usize>c << 2));
    const b = <f64>load<f32>(levels + (<usize>c << 2) + 4);
    const from = f64x2.splat(a);
    const step = f64x2.splat(b - a);
    for (; x + 2 <= end; x += 2) {
      const fraction = f64x2.promote_low_f32x4(v128.load64_zero(fractionX + (<usize>x << 2)));
      v128.store64_lane(out + (<usize>x << 2), f32x4.demote_f64x2_zero(f64x2.add(from, f64x2.mul(step, fraction))), 0);
    }
    if (x < end) {
      store<f32>(out + (<usize>x << 2), <f32>(a + (b - a) * <f64>load<f32>(fractionX + (<usize>x << 2))));
      x++;
    }
  }
}

// The mean of every 3×3 neighbourhood (edges repeated), rounded as (sum × 7282 + 2¹⁵) >> 16, and
// the histogram (countRow's) of the result's even rows. Column sums of three rows as u16, then three of them
// side by side: (sum × 3641 + 2¹⁴) >> 15 is that rounding, which q15mulr does 8 lanes at a time.
export function smooth3x3(image: usize, width: i32, height: i32, out: usize, scratch: usize, histogram: usize): void {
  const ninth = i16x8.splat(3641);
  const last = width - 1;
  for (let y = 0; y < height; y++) {
    const here = image + <usize>(y * width);
    const up = y > 0 ? here - <usize>width : here;
    const down = y < height - 1 ? here + <usize>width : here;
    let x = 0;
    for (; x + 16 <= width; x += 16) {
      const a = v128.load(up + x);
      const b = v128.load(here + x);
      const c = v128.load(down + x);
      const low = i16x8.add(i16x8.add(i16x8.extend_low_i8x16_u(a), i16x8.extend_low_i8x16_u(b)), i16x8.extend_low_i8x16_u(c));
      const high = i16x8.add(
        i16x8.add(i16x8.extend_high_i8x16_u(a), i16x8.extend_high_i8x16_u(b)),
        i16x8.extend_high_i8x16_u(c),
      );
      v128.store(scratch + (<usize>x << 1), low);
      v128.store(scratch + (<usize>x << 1) + 16, high);
    }
    for (; x < width; x++) {
      store<u16>(scratch + (<usize>x << 1), <u16>load<u8>(up + x) + <u16>load<u8>(here + x) + <u16>load<u8>(down + x));
    }
    const row = out + <usize>(y * width);
    x = 1;
    for (; x + 17 <= width; x += 16) {
      const at = scratch + (<usize>x << 1);
      const low = i16x8.add(i16x8.add(v128.load(at - 2), v128.load(at)), v128.load(at + 2));
      const high = i16x8.add(i16x8.add(v128.load(at + 14), v128.load(at + 16)), v128.load(at + 18));
      v128.store(row + x, i8x16.narrow_i16x8_u(i16x8.q15mulr_sat_s(low, ninth), i16x8.q15mulr_sat_s(high, ninth)));
    }
    for (; x < last; x++) {
      const at = scratch + (<usize>x << 1);
      store<u8>(row + x, mean9(<u32>load<u16>(at - 2) + <u32>load<u16>(at) + <u32>load<u16>(at + 2)));
    }
    const first = <u32>load<u16>(scratch);
    store<u8>(row, mean9(first * 2 + <u32>load<u16>(scratch + (<usize>min(1, last) << 1))));
    if (last > 0) {
      const end = <u32>load<u16>(scratch + (<usize>last << 1));
      store<u8>(row + last, mean9(<u32>load<u16>(scratch + (<usize>(last - 1) << 1)) + end * 2));
    }
    if ((y & 1) == 0) countRow(row, width, histogram);
  }
  foldHistogram(histogram);
}

// @ts-ignore: decorator
@inline
function mean9(sum: u32): u8 {
  return <u8>((sum * 7282 + 32768) >> 16);
}

// Adds a row's values to a histogram: four tables of 256 u32 bins, pixel i counted in table i % 4,
// because a page's runs of equal values would otherwise wait on the same bin (each increment on
// the one before: measured 3 ns a pixel). foldHistogram sums them into the first.
export function countRow(row: usize, width: i32, histogram: usize): void {
  let i = 0;
  for (; i + 4 <= width; i += 4) {
    const at = row + <usize>i;
    const a = histogram + (<usize>load<u8>(at) << 2);
    const b = histogram + 1024 + (<usize>load<u8>(at + 1) << 2);
    const c = histogram + 2048 + (<usize>load<u8>(at + 2) << 2);
    const d = histogram + 3072 + (<usize>load<u8>(at + 3) << 2);
    store<u32>(a, load<u32>(a) + 1);
    store<u32>(b, load<u32>(b) + 1);
    store<u32>(c, load<u32>(c) + 1);
    store<u32>(d, load<u32>(d) + 1);
  }
  for (; i < width; i++) {
    const slot = histogram + (<usize>load<u8>(row + <usize>i) << 2);
    store<u32>(slot, load<u32>(slot) + 1);
  }
}

// The four tables of countRow summed into the first.
export function foldHistogram(histogram: usize): void {
  for (let v: usize = 0; v < 1024; v += 16) {
    const sum = i32x4.add(
      i32x4.add(v128.load(histogram + v), v128.load(histogram + 1024 + v)),
      i32x4.add(v128.load(histogram + 2048 + v), v128.load(histogram + 3072 + v)),
    );
    v128.store(histogram + v, sum);
  }
}

// The document method's ink thresholds (document.ts, step 4). Per column, the count, sum and sum of
// squares of the edge pixels (contrast above edgeThreshold) of rows y − half … y + half, moved down a
// row at a time 16 columns an iteration; then along each row the window's sums from those columns,
// moved only to the pixels that can be ink (no lighter than `ceiling`). A pixel's level is
// ⌊(ownTenths × unsmoothed + (10 − ownTenths) × image + 5) / 10⌋: with ownTenths 0, image's alone.
// `thresholds` (i16), when kept, gets the threshold of every pixel, −1 where none; `ink` 1 where the
// level is at or below it. The arithmetic of a threshold is the JavaScript reference's, in f64 and in the
// same order, so the two agree.
export function inkThresholds(
  image: usize,
  unsmoothed: usize,
  ownTenths: i32,
  contrast: usize,
  width: i32,
  height: i32,
  edgeThreshold: i32,
  half: i32,
  minimumEdges: i32,
  ceiling: i32,
  stdWeight: f64,
  keepThresholds: i32,
  thresholds: usize,
  ink: usize,
  columns: usize,
): void {
  const count = columns;
  const sum = columns + ((<usize>width + 16) << 2);
  const squares = sum + ((<usize>width + 16) << 2);
  memory.fill(columns, 0, ((<usize>width + 16) << 2) * 3);
  if (keepThresholds) memory.fill(thresholds, 0xff, <usize>(width * height) << 1); // −1 as i16
  memory.fill(ink, 0, <usize>(width * height));
  const light = i8x16.splat(<i8>ceiling);
  const meanDecides = !keepThresholds && stdWeight >= 0;
  // The level each pixel is decided on: `unsmoothed`, overwritten row by row with the blend.
  const level = ownTenths == 0 ? image : unsmoothed;
  for (let y = 0; y < min(half, height); y++) slideColumns(image, contrast, width, y, -1, edgeThreshold, count, sum, squares);
  for (let y = 0; y < height; y++) {
    const entering = y + half < height ? y + half : -1;
    const leaving = y - half - 1 >= 0 ? y - half - 1 : -1;
    if (entering >= 0 || leaving >= 0) slideColumns(image, contrast, width, entering, leaving, edgeThreshold, count, sum, squares);
    let at = -half - 1;
    let n = 0;
    let total = 0;
    let squared: i64 = 0;
    const row = <usize>(y * width);
    if (ownTenths != 0) blendRow(image + row, unsmoothed + row, width, ownTenths);
    for (let x = 0; x < width; x++) {
      const i = row + <usize>x;
      // Most of a page is paper: 16 pixels lighter than the ceiling are passed at once.
      if ((x & 15) == 0 && x + 16 <= width && i8x16.all_true(i8x16.gt_u(v128.load(level + i), light))) {
        x += 15;
        continue;
      }
      const decided = <i32>load<u8>(level + i);
      if (decided > ceiling) continue;
      if (x - at > half) {
        n = 0;
        total = 0;
        squared = 0;
        for (let c = max(0, x - half), last = min(width - 1, x + half); c <= last; c++) {
          n += load<i32>(count + (<usize>c << 2));
          total += load<i32>(sum + (<usize>c << 2));
          squared += <i64>load<i32>(squares + (<usize>c << 2));
        }
      } else {
        for (let p = at + 1; p <= x; p++) {
          if (p + half < width) {
            n += load<i32>(count + (<usize>(p + half) << 2));
            total += load<i32>(sum + (<usize>(p + half) << 2));
            squared += <i64>load<i32>(squares + (<usize>(p + half) << 2));
          }
          if (p > half) {
            n -= load<i32>(count + (<usize>(p - half - 1) << 2));
            total -= load<i32>(sum + (<usize>(p - half - 1) << 2));
            squared -= <i64>load<i32>(squares + (<usize>(p - half - 1) << 2));
          }
        }
      }
      at = x;
      if (n < minimumEdges) continue;
      // No lighter than the window's mean: the threshold, the mean plus a share of a deviation, is
      // at least the pixel's level (rounding is monotonic). When no threshold is kept, that needs
      // no division.
      if (meanDecides && <i64>decided * <i64>n <= <i64>total) {
        store<u8>(ink + i, 1);
        continue;
      }
      const mean = <f64>total / <f64>n;
      const threshold = <i32>Math.floor(mean + stdWeight * Math.sqrt(max(0, <f64>squared / <f64>n - mean * mean)));
      const limited = threshold < ceiling ? threshold : ceiling;
      if (keepThresholds) store<i16>(thresholds + (i << 1), <i16>limited);
      store<u8>(ink + i, decided <= limited ? 1 : 0);
    }
  }
}

// ⌊(tenths × own + (10 − tenths) × mean + 5) / 10⌋ of one row into `own`, 16 pixels at a time; the
// division as × 6554 >> 16, exact for every numerator up to 2 555.
function blendRow(mean: usize, own: usize, width: i32, tenths: i32): void {
  const ownWeight = i16x8.splat(<i16>tenths);
  const meanWeight = i16x8.splat(<i16>(10 - tenths));
  const five = i16x8.splat(5);
  const reciprocal = i32x4.splat(6554);
  let x = 0;
  for (; x + 16 <= width; x += 16) {
    const a = v128.load(own + x);
    const b = v128.load(mean + x);
    const low = i16x8.add(i16x8.add(i16x8.mul(i16x8.extend_low_i8x16_u(a), ownWeight), i16x8.mul(i16x8.extend_low_i8x16_u(b), meanWeight)), five);
    const high = i16x8.add(i16x8.add(i16x8.mul(i16x8.extend_high_i8x16_u(a), ownWeight), i16x8.mul(i16x8.extend_high_i8x16_u(b), meanWeight)), five);
    const q0 = i32x4.shr_u(i32x4.mul(i32x4.extend_low_i16x8_u(low), reciprocal), 16);
    const q1 = i32x4.shr_u(i32x4.mul(i32x4.extend_high_i16x8_u(low), reciprocal), 16);
    const q2 = i32x4.shr_u(i32x4.mul(i32x4.extend_low_i16x8_u(high), reciprocal), 16);
    const q3 = i32x4.shr_u(i32x4.mul(i32x4.extend_high_i16x8_u(high), reciprocal), 16);
    v128.store(own + x, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q0, q1), i16x8.narrow_i32x4_u(q2, q3)));
  }
  for (; x < width; x++) {
    store<u8>(own + x, <u8>((tenths * <i32>load<u8>(own + x) + (10 - tenths) * <i32>load<u8>(mean + x) + 5) / 10));
  }
}

// One row's edge pixels into the column sums and another's out (−1: none), 16 columns at a time.
function slideColumns(
  image: usize,
  contrast: usize,
  width: i32,
  entering: i32,
  leaving: i32,
  edgeThreshold: i32,
  count: usize,
  sum: usize,
  squares: usize,
): void {
  const limit = i8x16.splat(<i8>edgeThreshold);
  const zero = i8x16.splat(0);
  const inValues = image + <usize>(max(entering, 0) * width);
  const inContrast = contrast + <usize>(max(entering, 0) * width);
  const outValues = image + <usize>(max(leaving, 0) * width);
  const outContrast = contrast + <usize>(max(leaving, 0) * width);
  let x = 0;
  for (; x + 16 <= width; x += 16) {
    // 0xff where a pixel is an edge: contrast > threshold, unsigned.
    const edgeIn = entering >= 0 ? i8x16.gt_u(v128.load(inContrast + x), limit) : zero;
    const edgeOut = leaving >= 0 ? i8x16.gt_u(v128.load(outContrast + x), limit) : zero;
    if (!v128.any_true(v128.or(edgeIn, edgeOut))) continue; // most columns of a page hold no edge
    const vIn = v128.and(v128.load(inValues + x), edgeIn);
    const vOut = v128.and(v128.load(outValues + x), edgeOut);
    // Per 16-bit lane: +1 entering, −1 leaving (edge masks are −1 as signed bytes).
    const dLow = i16x8.sub(i16x8.extend_low_i8x16_s(edgeOut), i16x8.extend_low_i8x16_s(edgeIn));
    const dHigh = i16x8.sub(i16x8.extend_high_i8x16_s(edgeOut), i16x8.extend_high_i8x16_s(edgeIn));
    const inLow = i16x8.extend_low_i8x16_u(vIn);
    const inHigh = i16x8.extend_high_i8x16_u(vIn);
    const outLow = i16x8.extend_low_i8x16_u(vOut);
    const outHigh = i16x8.extend_high_i8x16_u(vOut);
    addLanes(count, sum, squares, x, i32x4.extend_low_i16x8_s(dLow), inLow, outLow, false);
    addLanes(count, sum, squares, x + 4, i32x4.extend_high_i16x8_s(dLow), inLow, outLow, true);
    addLanes(count, sum, squares, x + 8, i32x4.extend_low_i16x8_s(dHigh), inHigh, outHigh, false);
    addLanes(count, sum, squares, x + 12, i32x4.extend_high_i16x8_s(dHigh), inHigh, outHigh, true);
  }
  for (; x < width; x++) {
    const edgeIn = entering >= 0 && <i32>load<u8>(inContrast + x) > edgeThreshold ? 1 : 0;
    const edgeOut = leaving >= 0 && <i32>load<u8>(outContrast + x) > edgeThreshold ? 1 : 0;
    const vIn = edgeIn * <i32>load<u8>(inValues + x);
    const vOut = edgeOut * <i32>load<u8>(outValues + x);
    const at = <usize>x << 2;
    store<i32>(count + at, load<i32>(count + at) + edgeIn - edgeOut);
    store<i32>(sum + at, load<i32>(sum + at) + vIn - vOut);
    store<i32>(squares + at, load<i32>(squares + at) + vIn * vIn - vOut * vOut);
  }
}

// Four columns' sums moved by the values entering and leaving (u16 lanes, the high four when `high`).
// @ts-ignore: decorator
@inline
function addLanes(count: usize, sum: usize, squares: usize, x: i32, delta: v128, inValues: v128, outValues: v128, high: bool): void {
  const vIn = high ? i32x4.extend_high_i16x8_u(inValues) : i32x4.extend_low_i16x8_u(inValues);
  const vOut = high ? i32x4.extend_high_i16x8_u(outValues) : i32x4.extend_low_i16x8_u(outValues);
  const at = <usize>x << 2;
  v128.store(count + at, i32x4.add(v128.load(count + at), delta));
  v128.store(sum + at, i32x4.add(v128.load(sum + at), i32x4.sub(vIn, vOut)));
  v128.store(squares + at, i32x4.add(v128.load(squares + at), i32x4.sub(i32x4.mul(vIn, vIn), i32x4.mul(vOut, vOut))));
}

// 1-bit rows, set = white where `ink` is 0, each led by PNG's filter byte (stride bytes a row).
export function packPaper(ink: usize, width: i32, height: i32, out: usize, stride: i32): void {
  const zero = i8x16.splat(0);
  memory.fill(out, 0, <usize>(stride * height));
  for (let y = 0; y < height; y++) {
    const row = ink + <usize>(y * width);
    const o = out + <usize>(y * stride) + 1;
    let x = 0;
    for (; x + 16 <= width; x += 16) {
      // Lanes reversed within each 8 so that the bitmask puts a byte's first pixel in its high bit.
      const paper = i8x16.eq(v128.load(row + x), zero);
      const reversed = i8x16.shuffle(paper, paper, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
      store<u16>(o + (<usize>x >> 3), <u16>i8x16.bitmask(reversed));
    }
    for (; x < width; x++) {
      if (load<u8>(row + x) == 0) {
        const at = o + (<usize>x >> 3);
        store<u8>(at, <u8>(<i32>load<u8>(at) | (0x80 >> (x & 7))));
      }
    }
  }
}

// 1 in `mask` where `luma` is at or below `dark`; returns how many of those are 0 in `ink`.
// 16 pixels at a time.
export function darkMask(luma: usize, ink: usize, pixels: i32, dark: i32, mask: usize): i32 {
  const limit = i8x16.splat(<i8>dark);
  const zero = i8x16.splat(0);
  const one = i8x16.splat(1);
  let count = 0;
  let i = 0;
  for (; i + 16 <= pixels; i += 16) {
    const isDark = i8x16.le_u(v128.load(luma + i), limit);
    v128.store(mask + i, v128.and(isDark, one));
    count += popcnt(i8x16.bitmask(v128.and(isDark, i8x16.eq(v128.load(ink + i), zero))));
  }
  for (; i < pixels; i++) {
    const isDark = <i32>load<u8>(luma + i) <= dark;
    store<u8>(mask + i, isDark ? 1 : 0);
    if (isDark && load<u8>(ink + i) == 0) count++;
  }
  return count;
}

// The maximum of each cell × cell block (fewer at the right and bottom edges), as f32, row-major.
// Rows are folded into one with max 16 columns at a time, then each 8-column cell by shuffles.
export function cellMaxima(luma: usize, width: i32, height: i32, cell: i32, out: usize, scratch: usize): void {
  const columns = (width + cell - 1) / cell;
  for (let top = 0, r = 0; top < height; top += cell, r++) {
    const bottom = min(top + cell, height);
    memory.copy(scratch, luma + <usize>(top * width), <usize>width);
    for (let y = top + 1; y < bottom; y++) {
      const row = luma + <usize>(y * width);
      let x = 0;
      for (; x + 16 <= width; x += 16) v128.store(scratch + x, i8x16.max_u(v128.load(scratch + x), v128.load(row + x)));
      for (; x < width; x++) store<u8>(scratch + x, max(load<u8>(scratch + x), load<u8>(row + x)));
    }
    const o = out + (<usize>(r * columns) << 2);
    let c = 0;
    if (cell == 8) {
      // Two cells a vector: fold halves of each 8-byte half together, three times.
      for (; (c + 2) * 8 <= width; c += 2) {
        let v = v128.load(scratch + (<usize>c << 3));
        v = i8x16.max_u(v, i8x16.shuffle(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
        v = i8x16.max_u(v, i8x16.shuffle(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
        v = i8x16.max_u(v, i8x16.shuffle(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
        store<f32>(o + (<usize>c << 2), <f32>i8x16.extract_lane_u(v, 0));
        store<f32>(o + (<usize>c << 2) + 4, <f32>i8x16.extract_lane_u(v, 8));
      }
    }
    for (; c < columns; c++) {
      let most: u8 = 0;
      for (let x = c * cell; x < min((c + 1) * cell, width); x++) most = max(most, load<u8>(scratch + x));
      store<f32>(o + (<usize>c << 2), <f32>most);
    }
  }
}

// Means of the whole 2 × 2 blocks, rounded half up ((sum + 2) >> 2), into rows of ⌈width / 2⌉;
// the caller takes an odd last row or column itself. 8 blocks an iteration.
export function shrink2(luma: usize, width: i32, height: i32, out: usize): void {
  const two = i16x8.splat(2);
  const half = width >> 1;
  const outWidth = (width + 1) >> 1;
  for (let y = 0; y + 2 <= height; y += 2) {
    const top = luma + <usize>(y * width);
    const bottom = top + <usize>width;
    const o = out + <usize>((y >> 1) * outWidth);
    let b = 0;
    for (; b + 8 <= half; b += 8) {
      const sums = i16x8.add(
        i16x8.extadd_pairwise_i8x16_u(v128.load(top + (<usize>b << 1))),
        i16x8.extadd_pairwise_i8x16_u(v128.load(bottom + (<usize>b << 1))),
      );
      const means = i16x8.shr_u(i16x8.add(sums, two), 2);
      v128.store64_lane(o + b, i8x16.narrow_i16x8_u(means, means), 0);
    }
    for (; b < half; b++) {
      const at = <usize>b << 1;
      const sum = <u32>load<u8>(top + at) + <u32>load<u8>(top + at + 1) + <u32>load<u8>(bottom + at) + <u32>load<u8>(bottom + at + 1);
      store<u8>(o + b, <u8>((sum + 2) >> 2));
    }
  }
}

// Every full-scale pixel against the limit of the working pixel it falls in (factor × factor
// pixels a working pixel, `limits` i16, workWidth a row): set = white where luma > limit, packed
// eight a byte, rows led by PNG's filter byte. 16 pixels an iteration.
export function packAboveLimits(
  luma: usize,
  width: i32,
  height: i32,
  limits: usize,
  workWidth: i32,
  factor: i32,
  out: usize,
  stride: i32,
  rowLimits: usize,
): void {
  memory.fill(out, 0, <usize>(stride * height));
  for (let y = 0; y < height; y++) {
    if (y % factor == 0) {
      const row = limits + (<usize>((y / factor) * workWidth) << 1);
      for (let x = 0, b = 0; x < width; b++) {
        const limit = load<i16>(row + (<usize>b << 1));
        for (const end = min(x + factor, width); x < end; x++) store<i16>(rowLimits + (<usize>x << 1), limit);
      }
    }
    const pixels = luma + <usize>(y * width);
    const o = out + <usize>(y * stride) + 1;
    let x = 0;
    for (; x + 16 <= width; x += 16) {
      const v = v128.load(pixels + x);
      const low = i16x8.gt_s(i16x8.extend_low_i8x16_u(v), v128.load(rowLimits + (<usize>x << 1)));
      const high = i16x8.gt_s(i16x8.extend_high_i8x16_u(v), v128.load(rowLimits + (<usize>x << 1) + 16));
      const white = i8x16.narrow_i16x8_s(low, high);
      const reversed = i8x16.shuffle(white, white, 7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8);
      store<u16>(o + (<usize>x >> 3), <u16>i8x16.bitmask(reversed));
    }
    for (; x < width; x++) {
      if (<i32>load<u8>(pixels + x) > <i32>load<i16>(rowLimits + (<usize>x << 1))) {
        const at = o + (<usize>x >> 3);
        store<u8>(at, <u8>(<i32>load<u8>(at) | (0x80 >> (x & 7))));
      }
    }
  }
}

// A working pixel's threshold turned back into luma: × its paper level ÷ 255, as the last luma at
// or below it (ceil − 1); −1 stays −1 (nothing is ink), FILLED (256) and above become filledLimit.
// The paper level is normalise's, bilinear between cells, in the same arithmetic.
export function lumaLimits(
  thresholds: usize,
  width: i32,
  height: i32,
  levelRows: usize,
  rowStride: i32,
  cellX: usize,
  fractionX: usize,
  filledLimit: i32,
  out: usize,
): void {
  for (let y = 0; y < height; y++) {
    const levels = levelRows + ((<usize>y * <usize>rowStride) << 2);
    for (let x = 0; x < width; x++) {
      const at = (<usize>(y * width + x)) << 1;
      const threshold = <i32>load<i16>(thresholds + at);
      let limit = -1;
      if (threshold >= 256) {
        limit = filledLimit;
      } else if (threshold >= 0) {
        const c = <usize>load<i32>(cellX + (<usize>x << 2));
        const a = <f64>load<f32>(levels + (c << 2));
        const b = <f64>load<f32>(levels + (c << 2) + 4);
        const level = <f64>(<f32>(a + (b - a) * <f64>load<f32>(fractionX + (<usize>x << 2))));
        limit = <i32>Math.ceil(((<f64>threshold + 0.5) * level) / 255) - 1;
      }
      store<i16>(out + at, <i16>limit);
    }
  }
}

// The runs of pixels equal to `value` along each row: their number, from the bits where a row
// changes between `value` and not, 16 pixels a bitmask.
export function countRuns(mask: usize, width: i32, height: i32, value: i32): i32 {
  let runs = 0;
  for (let y = 0; y < height; y++) {
    const row = mask + <usize>(y * width);
    let previous = 0; // 1 when the pixel before this chunk is `value`
    for (let x = 0; x < width; x += 16) {
      const bits = valueBits(row, x, width, value);
      // A run starts where a bit is set and the one before it is not.
      runs += popcnt(bits & ~((bits << 1) | previous));
      previous = (bits >> 15) & 1;
    }
  }
  return runs;
}

// Bit k: pixel x + k of the row equals `value` (only pixels before `width`).
// @ts-ignore: decorator
@inline
function valueBits(row: usize, x: i32, width: i32, value: i32): i32 {
  let bits = i8x16.bitmask(i8x16.eq(v128.load(row + x), i8x16.splat(<i8>value)));
  if (x + 16 > width) bits &= (1 << (width - x)) - 1;
  return bits;
}

// The runs [start, end) of `value` along each row, in raster order, into `row`, `start`, `end`
// (i32, as many as countRuns found), joined into 8-connected components by a union-find forest
// over them in `parent`; at the end every run's `parent` is its root, the first run of its
// component.
export function connectedRuns(
  mask: usize,
  width: i32,
  height: i32,
  value: i32,
  rowOf: usize,
  startOf: usize,
  endOf: usize,
  parent: usize,
): void {
  let runs = 0;
  let previousFirst = 0; // the previous row's runs are [previousFirst, rowFirst)
  for (let y = 0; y < height; y++) {
    const rowFirst = runs;
    let overlap = previousFirst;
    const row = mask + <usize>(y * width);
    let previous = 0;
    let start = 0;
    for (let x = 0; x < width; x += 16) {
      const bits = valueBits(row, x, width, value);
      // Every set bit of `changes` starts a run (the bit is set) or ends one (it is not).
      let changes = (bits ^ ((bits << 1) | previous)) & (x + 16 > width ? (1 << (width - x)) - 1 : 0xffff);
      while (changes != 0) {
        const k = ctz(changes);
        changes &= changes - 1;
        if ((bits >> k) & 1) {
          start = x + k;
        } else {
          overlap = addRun(y, start, x + k, runs, rowFirst, overlap, rowOf, startOf, endOf, parent);
          runs++;
        }
      }
      previous = (bits >> 15) & 1;
      if (x + 16 > width) previous = (bits >> (width - x - 1)) & 1;
    }
    if (previous) {
      overlap = addRun(y, start, width, runs, rowFirst, overlap, rowOf, startOf, endOf, parent);
      runs++;
    }
    previousFirst = rowFirst;
  }
  // A run's parent is never after it, so in order each parent is already a root when it is read.
  for (let r = 0; r < runs; r++) {
    const at = <usize>r << 2;
    store<i32>(parent + at, load<i32>(parent + (<usize>load<i32>(parent + at) << 2)));
  }
}

// Adds run r = [start, end) of row y and joins it with the runs of the row above touching
// [start − 1, end] (8-connected); returns where the next run's search of the row above begins.
// @ts-ignore: decorator
@inline
function addRun(
  y: i32,
  start: i32,
  end: i32,
  r: i32,
  rowFirst: i32,
  overlap: i32,
  rowOf: usize,
  startOf: usize,
  endOf: usize,
  parent: usize,
): i32 {
  const at = <usize>r << 2;
  store<i32>(rowOf + at, y);
  store<i32>(startOf + at, start);
  store<i32>(endOf + at, end);
  store<i32>(parent + at, r);
  while (overlap < rowFirst && load<i32>(endOf + (<usize>overlap << 2)) < start) overlap++;
  for (let o = overlap; o < rowFirst && load<i32>(startOf + (<usize>o << 2)) <= end; o++) {
    const a = findRoot(parent, r);
    const b = findRoot(parent, o);
    if (a != b) store<i32>(parent + (<usize>max(a, b) << 2), min(a, b));
  }
  return overlap;
}

// The root of run r, every run on the way pointed straight at it.
function findRoot(parent: usize, r: i32): i32 {
  let root = r;
  while (load<i32>(parent + (<usize>root << 2)) != root) root = load<i32>(parent + (<usize>root << 2));
  while (load<i32>(parent + (<usize>r << 2)) != root) {
    const next = load<i32>(parent + (<usize>r << 2));
    store<i32>(parent + (<usize>r << 2), root);
    r = next;
  }
  return root;
}

// Every 8-connected component of `value` smaller than `minimumArea` pixels flipped to `other`,
// in place; the runs' arrays (countRuns of them) and `area` (i32 a run) are scratch.
export function removeSmallComponents(
  mask: usize,
  width: i32,
  height: i32,
  value: i32,
  other: i32,
  minimumArea: i32,
  runs: i32,
  rowOf: usize,
  startOf: usize,
  endOf: usize,
  parent: usize,
  area: usize,
): void {
  connectedRuns(mask, width, height, value, rowOf, startOf, endOf, parent);
  memory.fill(area, 0, <usize>runs << 2);
  for (let r = 0; r < runs; r++) {
    const at = <usize>r << 2;
    const rootAt = <usize>load<i32>(parent + at) << 2;
    store<i32>(area + rootAt, load<i32>(area + rootAt) + load<i32>(endOf + at) - load<i32>(startOf + at));
  }
  for (let r = 0; r < runs; r++) {
    const at = <usize>r << 2;
    if (load<i32>(area + (<usize>load<i32>(parent + at) << 2)) >= minimumArea) continue;
    const start = load<i32>(startOf + at);
    memory.fill(mask + <usize>(load<i32>(rowOf + at) * width + start), <u8>other, <usize>(load<i32>(endOf + at) - start));
  }
}

// Luma of interleaved 8-bit RGB as OpenCV's cvtColor(RGB2GRAY) takes it in fixed point:
// (R × 9798 + G × 19235 + B × 3735 + 2¹⁴) >> 15, 16 pixels an iteration: each 4 pixels' bytes are
// shuffled into 16-bit pairs (R, G) and (B, 1), whose dot products with (9798, 19235) and
// (3735, 2¹⁴) are the sums, in 32-bit lanes. Counted into `histogram` (countRow's) when it is not 0.
export function rgbToLuma(rgb: usize, pixels: i32, out: usize, histogram: usize): void {
  const weightsRG = i32x4.splat((19235 << 16) | 9798);
  const weightsB1 = i32x4.splat((16384 << 16) | 3735);
  let i = 0;
  for (; i + 16 <= pixels; i += 16) {
    const p = rgb + <usize>i * 3;
    const first = lumaOf4(v128.load(p), weightsRG, weightsB1);
    const second = lumaOf4(v128.load(p + 12), weightsRG, weightsB1);
    const third = lumaOf4(v128.load(p + 24), weightsRG, weightsB1);
    const fourth = lumaOf4(v128.load(p + 36), weightsRG, weightsB1);
    v128.store(out + <usize>i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(first, second), i16x8.narrow_i32x4_u(third, fourth)));
  }
  for (; i < pixels; i++) {
    const p = rgb + <usize>i * 3;
    const value = (<u32>load<u8>(p) * 9798 + <u32>load<u8>(p + 1) * 19235 + <u32>load<u8>(p + 2) * 3735 + 16384) >> 15;
    store<u8>(out + <usize>i, <u8>value);
  }
  if (histogram != 0) {
    countRow(out, pixels, histogram);
    foldHistogram(histogram);
  }
}

// The luma of the 4 pixels in bytes 0–11 of `bytes`, in 32-bit lanes.
// @ts-ignore: decorator
@inline
function lumaOf4(bytes: v128, weightsRG: v128, weightsB1: v128): v128 {
  // Lane 16 of the second operand is a zero byte, lane 17 a one.
  const constants = i16x8.splat(0x0100);
  const rg = i8x16.shuffle(bytes, constants, 0, 16, 1, 16, 3, 16, 4, 16, 6, 16, 7, 16, 9, 16, 10, 16);
  const b1 = i8x16.shuffle(bytes, constants, 2, 16, 17, 16, 5, 16, 17, 16, 8, 16, 17, 16, 11, 16, 17, 16);
  return i32x4.shr_u(i32x4.add(i32x4.dot_i16x8_s(rg, weightsRG), i32x4.dot_i16x8_s(b1, weightsB1)), 15);
}

// Per pixel of `mask` (1 = in an area): 1 when it is on the area's boundary (a 4-neighbour
// inside the image is 0), 3 when it is and its `range` is at least `sharpFrom` as well, else 0.
// 16 pixels at a time; the first and last pixel of a row, whose outside neighbour must not
// count, afterwards one by one.
export function boundaryFlags(mask: usize, range: usize, width: i32, height: i32, sharpFrom: i32, out: usize): void {
  const zero = i8x16.splat(0);
  const one = i8x16.splat(1);
  const two = i8x16.splat(2);
  const sharpLimit = i8x16.splat(<i8>min(sharpFrom, 255));
  const neverSharp = sharpFrom > 255;
  for (let y = 0; y < height; y++) {
    const row = mask + <usize>(y * width);
    const up = y > 0 ? row - <usize>width : row;
    const down = y < height - 1 ? row + <usize>width : row;
    const o = out + <usize>(y * width);
    const r = range + <usize>(y * width);
    let x = 0;
    for (; x + 16 <= width; x += 16) {
      const inside = i8x16.ne(v128.load(row + x), zero);
      // An edge row's own pixels stand in for its missing row: equal to them, never 0 where they are 1.
      const open = v128.or(
        v128.or(i8x16.eq(v128.load(row + x - 1), zero), i8x16.eq(v128.load(row + x + 1), zero)),
        v128.or(i8x16.eq(v128.load(up + x), zero), i8x16.eq(v128.load(down + x), zero)),
      );
      const boundary = v128.and(inside, open);
      const sharp = neverSharp ? zero : v128.and(boundary, i8x16.ge_u(v128.load(r + x), sharpLimit));
      v128.store(o + x, v128.or(v128.and(boundary, one), v128.and(sharp, two)));
    }
    for (; x < width; x++) store<u8>(o + x, flagOf(row, up, down, r, x, width, sharpFrom));
    store<u8>(o, flagOf(row, up, down, r, 0, width, sharpFrom));
    if (width > 1) store<u8>(o + <usize>(width - 1), flagOf(row, up, down, r, width - 1, width, sharpFrom));
  }
}

// boundaryFlags for one pixel, its neighbours outside the image not counted.
function flagOf(row: usize, up: usize, down: usize, range: usize, x: i32, width: i32, sharpFrom: i32): u8 {
  if (load<u8>(row + x) == 0) return 0;
  const open =
    (x > 0 && load<u8>(row + x - 1) == 0) ||
    (x + 1 < width && load<u8>(row + x + 1) == 0) ||
    load<u8>(up + x) == 0 ||
    load<u8>(down + x) == 0;
  if (!open) return 0;
  return <i32>load<u8>(range + x) >= sharpFrom ? 3 : 1;
}

// How many runs of each length (below 64) of pixels at or below `threshold` the even rows hold,
// into `counts` (u32 × 64), the runs found from 16-pixel bitmasks as in connectedRuns.
export function darkRunLengths(image: usize, width: i32, height: i32, threshold: i32, counts: usize): void {
  const limit = i8x16.splat(<i8>threshold);
  for (let y = 0; y < height; y += 2) {
    const row = image + <usize>(y * width);
    let previous = 0;
    let start = 0;
    for (let x = 0; x < width; x += 16) {
      let bits = i8x16.bitmask(i8x16.le_u(v128.load(row + x), limit));
      const valid = x + 16 > width ? (1 << (width - x)) - 1 : 0xffff;
      bits &= valid;
      let changes = (bits ^ ((bits << 1) | previous)) & valid;
      while (changes != 0) {
        const k = ctz(changes);
        changes &= changes - 1;
        if ((bits >> k) & 1) start = x + k;
        else countRun(counts, x + k - start);
      }
      previous = x + 16 > width ? (bits >> (width - x - 1)) & 1 : (bits >> 15) & 1;
    }
    if (previous) countRun(counts, width - start);
  }
}

// @ts-ignore: decorator
@inline
function countRun(counts: usize, length: i32): void {
  if (length < 64) {
    const slot = counts + (<usize>length << 2);
    store<u32>(slot, load<u32>(slot) + 1);
  }
}
