// `npm run bench -- <name>`: benchmarks that print numbers and ratios measured side by side.
import { runMain } from "../infra/lifecycle.ts";
import { benchApi } from "./bench/api.ts";
import { benchBinarizeKernel } from "./bench/binarize.ts";
import { benchLoad, benchPipeline } from "./bench/pipeline.ts";
import { benchWorkerThroughput } from "./bench/worker-throughput.ts";

const BENCHMARKS: Record<string, () => Promise<unknown>> = {
  api: benchApi,
  pipeline: benchPipeline,
  load: benchLoad,
  binarize: async () => ({ kernel: await benchBinarizeKernel(), allCores: await benchWorkerThroughput() }),
};

runMain(async () => {
  const names = process.argv.slice(2);
  const chosen = names.length > 0 ? names : Object.keys(BENCHMARKS);
  for (const name of chosen) {
    const bench = BENCHMARKS[name];
    if (!bench) throw new Error(`unknown benchmark ${name}; choose from ${Object.keys(BENCHMARKS).join(", ")}`);
    console.log(`\n== ${name} ==`);
    await bench();
  }
});
