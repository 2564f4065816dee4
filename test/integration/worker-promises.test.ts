// What the worker's header promises, each through the real queue: the heartbeat, the retry
// backoff, and never more messages held than WORKER_CONCURRENCY.
import { describe, expect, it } from "vitest";
import { inFlightCount } from "../../infra/inspect.ts";
import { createWorker } from "../../worker/consumer.ts";
import { processJob } from "../../worker/process-job.ts";
import { createTestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { injectJob } from "../support/jobs.ts";
import { startPipeline } from "../support/pipeline.ts";
import { waitForCompletions } from "../support/queues.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the worker's promises", () => {
  // Catches: a missing or too slow heartbeat (the message would reappear after 5 s and a second
  // worker, or this one, would start the same job again).
  it("a job that outlasts the visibility timeout is not handed out again while it runs", async () => {
    const starts: number[] = [];
    const slowHandle: typeof processJob = async (job, deps, attempt) => {
      starts.push(Date.now());
      await sleep(9_000);
      return processJob(job, deps, attempt);
    };
    const { env } = await startPipeline({ settings: { VISIBILITY_TIMEOUT_S: "5" }, worker: { handle: slowHandle } });
    const second = createWorker(env, { handle: slowHandle });
    second.start();
    try {
      const { id } = await injectJob(env, await makePng(10, 10, () => [200]));
      await waitForCompletions(env.sqs, env.queueUrls.output, [id], 30_000);
      expect(starts).toHaveLength(1);
    } finally {
      await second.stop();
    }
  }, 60_000);

  // Catches: retries without backoff, or a backoff that does not double.
  it("a transiently failing job is retried after base × 2^(receives − 1) seconds", async () => {
    const attempts: number[] = [];
    const failing: typeof processJob = async () => {
      attempts.push(Date.now());
      throw new Error("S3 is having a bad day");
    };
    // Base 1 s to keep the test short; the default base is 5 s (5, 10, 20 s …), same formula.
    const pipeline = await startPipeline({
      settings: { MAX_RECEIVE_COUNT: "10" },
      worker: { handle: failing, retryBaseSeconds: 1 },
    });
    await injectJob(pipeline.env, await makePng(10, 10, () => [200]));
    await expect.poll(() => attempts.length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    await pipeline.stop();
    const gaps = attempts.slice(1, 4).map((at, n) => (at - attempts[n]) / 1000);
    // Waits of 1, 2 and 4 s, each plus up to one poll of latency.
    for (const [n, expected] of [1, 2, 4].entries()) {
      expect(gaps[n], `gap ${n + 1}: ${gaps.join(", ")}`).toBeGreaterThanOrEqual(expected - 0.2);
      expect(gaps[n], `gap ${n + 1}: ${gaps.join(", ")}`).toBeLessThan(expected + 2);
    }
  }, 60_000);

  // Catches: a worker that receives more messages than it has slots (they would sit invisible,
  // waiting, instead of going to another worker).
  it("never holds more messages than WORKER_CONCURRENCY", async () => {
    const env = await createTestEnvironment({ WORKER_CONCURRENCY: "2" });
    let running = 0;
    let mostAtOnce = 0;
    const slowHandle: typeof processJob = async (job, deps, attempt) => {
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      await sleep(700);
      running--;
      return processJob(job, deps, attempt);
    };
    const ids = [];
    for (let n = 0; n < 8; n++) ids.push((await injectJob(env, await makePng(10, 10, () => [n * 20]))).id);
    const worker = createWorker(env, { handle: slowHandle });
    worker.start();
    let mostInvisible = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        mostInvisible = Math.max(mostInvisible, await inFlightCount(env.sqs, env.queueUrls.input));
        await sleep(50);
      }
    })();
    try {
      await waitForCompletions(env.sqs, env.queueUrls.output, ids, 30_000);
    } finally {
      sampling = false;
      await sampler;
      await worker.stop();
    }
    expect(mostAtOnce).toBe(2);
    expect(mostInvisible).toBeGreaterThanOrEqual(1);
    expect(mostInvisible).toBeLessThanOrEqual(2);
  }, 60_000);
});
