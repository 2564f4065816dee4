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
    if ((y & 1) == 0) {
      for (let i = 0; i < width; i++) {
        const slot = histogram + (<usize>load<u8>(row + i) << 2);
        store<u32>(slot, load<u32>(slot) + 1);
      }
    }
  }
}

