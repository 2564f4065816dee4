// `npm run bench -- <name…> [--option value…]`: benchmarks that print numbers and ratios
// measured side by side. Options after the names go to each chosen benchmark.
import { runMain } from "../infra/lifecycle.ts";
import { benchApi } from "./bench/api.ts";
import { benchBinarizeKernel } from "./bench/binarize.ts";
import { benchCost } from "./bench/cost.ts";
import { benchDeskew } from "./bench/deskew.ts";
import { benchDocuments } from "./bench/documents.ts";
import { benchLoad, benchPipeline } from "./bench/pipeline.ts";
import { benchQuality } from "./bench/quality.ts";
import { benchSoak } from "./bench/soak.ts";
import { benchWorkerThroughput } from "./bench/worker-throughput.ts";

const BENCHMARKS: Record<string, (options: string[]) => Promise<unknown>> = {
  api: benchApi,
  pipeline: benchPipeline,
  load: benchLoad,
  binarize: async () => ({ kernel: await benchBinarizeKernel(), allCores: await benchWorkerThroughput() }),
  soak: benchSoak,
  cost: benchCost,
  quality: benchQuality,
  documents: benchDocuments,
  deskew: benchDeskew,
};

runMain(async () => {
  const args = process.argv.slice(2);
  const firstOption = args.findIndex((arg) => arg.startsWith("--"));
  const names = firstOption < 0 ? args : args.slice(0, firstOption);
  const options = firstOption < 0 ? [] : args.slice(firstOption);
  const chosen = names.length > 0 ? names : Object.keys(BENCHMARKS);
  for (const name of chosen) {
    const bench = BENCHMARKS[name];
    if (!bench) throw new Error(`unknown benchmark ${name}; choose from ${Object.keys(BENCHMARKS).join(", ")}`);
    console.log(`\n== ${name} ==`);
    await bench(options);
  }
});
