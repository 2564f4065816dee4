import { once } from "node:events";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { loadConfig } from "../../infra/config.ts";
import { startLocalStack } from "../../infra/localstack.ts";
import { ensureResources } from "../../infra/resources.ts";
import { forEachInParallel } from "../in-parallel.ts";
import { freePort, processStats, startNode, waitForHealth } from "./run-pipeline.ts";
import { samplePng } from "./sample-images.ts";
import { freshResourceEnv, putAndEnqueue } from "./shared.ts";

const CONCURRENCY = [1, 8, 32];
const SIZES = [
  { label: "100 KB", megapixels: 0.045, requests: 200 },
  { label: "2 MB", megapixels: 0.9, requests: 120 },
];

interface Run {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Runs `task` `count` times, `concurrency` at once; throughput and latency percentiles. */
async function measure(count: number, concurrency: number, task: () => Promise<void>): Promise<Run> {
  const latencies: number[] = [];
  const started = performance.now();
  await forEachInParallel(count, concurrency, async () => {
    const t = performance.now();
    await task();
    latencies.push(performance.now() - t);
  });
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { perSecond: count / seconds, p50Ms: at(0.5), p99Ms: at(0.99) };
}

export async function benchApi() {
  const base = loadConfig();
  const localstack = await startLocalStack({ ...base.localstack, log: (m) => console.log(`[localstack] ${m}`) });
  const resourceEnv = freshResourceEnv("api");
  const config = { ...loadConfig(resourceEnv), endpointUrl: localstack.endpoint };
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const results: Array<Record<string, unknown>> = [];
  try {
    const { queueUrls } = await ensureResources({ s3, sqs }, config);
    // The API in a process of its own, as deployed: the load generator here must not share
    // its event loop.
    const server = await startApiProcess({ ...resourceEnv, AWS_ENDPOINT_URL: localstack.endpoint });
    try {
      for (const size of SIZES) {
        const png = new Uint8Array(await samplePng("photo", size.megapixels));
        const viaApi = async () => {
          const form = new FormData();
          form.set("image", new File([png], "bench.png", { type: "image/png" }));
          const response = await fetch(`${server.url}/api/images`, { method: "POST", body: form });
          await response.arrayBuffer();
          if (response.status !== 202) throw new Error(`upload answered ${response.status}`);
        };
        const bare = () => putAndEnqueue({ s3, sqs, config, queueUrls }, png);
        for (const concurrency of CONCURRENCY) {
          await measure(Math.min(20, size.requests), concurrency, viaApi); // warm-up
          const sdk = await measure(size.requests, concurrency, bare);
          const api = await measure(size.requests, concurrency, viaApi);
          const ratio = sdk.perSecond / api.perSecond;
          results.push({ size: size.label, bytes: png.length, concurrency, api, sdk, ratio });
          console.log(
            `${size.label.padEnd(6)} c=${String(concurrency).padEnd(2)}  API ${api.perSecond.toFixed(1)}/s ` +
              `p50 ${api.p50Ms.toFixed(0)} ms p99 ${api.p99Ms.toFixed(0)} ms   ` +
              `bare SDK ${sdk.perSecond.toFixed(1)}/s p50 ${sdk.p50Ms.toFixed(0)} ms p99 ${sdk.p99Ms.toFixed(0)} ms   ` +
              `API cost ${ratio.toFixed(2)}x`,
          );
        }
      }
      results.push(await peakRssWithLargeUploads(server));
    } finally {
      await server.close();
    }
  } finally {
    await localstack.stop();
  }
  return results;
}

// Near the 20 MiB upload limit, 32 at once: what the API holds in memory for a burst of them.
const LARGE_UPLOAD = { megapixels: 9.2, concurrency: 32, count: 64 };

async function peakRssWithLargeUploads(server: { url: string; pid: number }) {
  const png = new Uint8Array(await samplePng("photo", LARGE_UPLOAD.megapixels, 7));
  let accepted = 0;
  await forEachInParallel(LARGE_UPLOAD.count, LARGE_UPLOAD.concurrency, async () => {
    const form = new FormData();
    form.set("image", new File([png], "large.png", { type: "image/png" }));
    const response = await fetch(`${server.url}/api/images`, { method: "POST", body: form });
    await response.arrayBuffer();
    if (response.status === 202) accepted++;
  });
  const { peakRssMiB } = await processStats(server.pid);
  const mb = (png.length / 1e6).toFixed(1);
  console.log(
    `${mb} MB uploads, c=${LARGE_UPLOAD.concurrency}: ${accepted}/${LARGE_UPLOAD.count} accepted, API peak RSS ${peakRssMiB.toFixed(0)} MiB`,
  );
  return { largeUploadBytes: png.length, concurrency: LARGE_UPLOAD.concurrency, accepted, peakRssMiB };
}

async function startApiProcess(
  env: Record<string, string>,
): Promise<{ url: string; pid: number; close(): Promise<void> }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // info: a request log line each, as in production
  const child = startNode("api/main.ts", { ...env, PORT: String(port), LOG_LEVEL: "info" });
  await waitForHealth(url, child);
  return {
    url,
    pid: child.pid as number,
    close: async () => {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    },
  };
}
