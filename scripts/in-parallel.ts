// Bounded concurrency: the one loop the bulk uploader and the benchmarks all need.

/** Calls `work(0)` … `work(count − 1)`, at most `limit` at a time, starting them in index order. */
export async function forEachInParallel(
  count: number,
  limit: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}
