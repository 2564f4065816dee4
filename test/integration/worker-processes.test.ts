// Worker processes as they run in production: killed, stopped, and side by side.
import { describe, expect, it } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import { outputKey } from "../../infra/image-objects.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import { readOutputMetadata } from "../../infra/stored-results.ts";
import { samplePng } from "../../scripts/bench/sample-images.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { injectJob } from "../support/jobs.ts";
import { startPipeline } from "../support/pipeline.ts";
import { type Script, startScript } from "../support/processes.ts";
import { collectCompletions, processedMoreThanOnce, waitForCompletions } from "../support/queues.ts";

function startWorker(env: TestEnvironment) {
  return startScript("worker/main.ts", { ...baseChildEnv(), ...env.env });
}

// The slow job's PNG is about 25 MB: more than the default upload limit the worker enforces.
const ROOM_FOR_SLOW_JOB = { MAX_UPLOAD_BYTES: String(64 * 1024 * 1024) };

/** A job that takes the worker a good second: a 30 MP page through Sauvola. */
async function slowJob(env: TestEnvironment): Promise<string> {
  return (await injectJob(env, await samplePng("document", 30), { method: "sauvola" })).id;
}

/**
 * Waits for the worker to say it has begun the job (a debug line). In flight on SQS is not yet
 * begun: a message whose receive answer is still on its way when a SIGTERM lands is handed
 * back at once, by design.
 */
async function waitUntilStarted(worker: Script, id: string): Promise<void> {
  await worker.waitFor(new RegExp(`"id":"${id}"[^\\n]*"job started"`), 20_000);
}

describe("worker processes", () => {
  it("SIGKILL mid-job: the message comes back after the visibility timeout and a new worker completes it", async () => {
    const env = await createTestEnvironment({ VISIBILITY_TIMEOUT_S: "5", LOG_LEVEL: "debug", ...ROOM_FOR_SLOW_JOB });
    const first = startWorker(env);
    const id = await slowJob(env);
    await waitUntilStarted(first, id);
    first.child.kill("SIGKILL");
    await first.exited;
    // Killed before it could finish: no output yet, the message still invisible.
    expect(await readOutputMetadata(env.s3, env.config.outputBucket, id)).toBeUndefined();

    const second = startWorker(env);
    try {
      const completion = (await waitForCompletions(env.sqs, env.queueUrls.output, [id], 40_000)).get(id);
      expect(completion?.status).toBe("done");
      // The delete follows the completion: poll, do not race it.
      await expect.poll(() => messageCount(env.sqs, env.queueUrls.input), { timeout: 10_000 }).toBe(0);
    } finally {
      second.interrupt();
      await second.exited;
    }
  });

  it("SIGTERM during a job: the job finishes, then the process exits 0", async () => {
    const env = await createTestEnvironment({ LOG_LEVEL: "debug", ...ROOM_FOR_SLOW_JOB });
    const worker = startWorker(env);
    const id = await slowJob(env);
    await waitUntilStarted(worker, id);
    worker.child.kill("SIGTERM");
    expect(await worker.exited).toBe(0);
    expect(await readOutputMetadata(env.s3, env.config.outputBucket, id)).toBeDefined();
    expect((await waitForCompletions(env.sqs, env.queueUrls.output, [id])).get(id)?.status).toBe("done");
    await expect.poll(() => messageCount(env.sqs, env.queueUrls.input), { timeout: 10_000 }).toBe(0);
  });

  it("two workers and 100 uploads: 100 outputs, 100 distinct done messages, nothing in the DLQ", async () => {
    const { env, app } = await startPipeline({ settings: { LOG_LEVEL: "warn" }, worker: false });
    const workers = [startWorker(env), startWorker(env)];
    try {
      const ids = await Promise.all(
        Array.from({ length: 100 }, async (_, n) => {
          const form = new FormData();
          form.set("image", new File([await makePng(48, 32, (x, y) => [(x * 5 + y * 7 + n) % 256])], `${n}.png`));
          const response = await app.request("/api/images", { method: "POST", body: form });
          expect(response.status).toBe(202);
          return (await response.json()).id as string;
        }),
      );
      expect(new Set(ids).size).toBe(100);
      const completions = await collectCompletions(env.sqs, env.queueUrls.output, ids, { timeoutMs: 60_000 });
      expect([...completions.values()].flat().every((c) => c.status === "done")).toBe(true);
      // Catches: two workers both processing one image (two processingIds for it).
      expect(processedMoreThanOnce(completions)).toEqual([]);
      const outputs = (await listKeys(env.s3, env.config.outputBucket)).sort();
      expect(outputs).toEqual(ids.map(outputKey).sort());
      expect(await messageCount(env.sqs, env.queueUrls.deadLetter)).toBe(0);
    } finally {
      for (const worker of workers) worker.interrupt();
      expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0]);
    }
  });
});
