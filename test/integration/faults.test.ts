// Faults under load: the network to S3/SQS cut, a worker killed, the API killed. Nothing
// accepted may be lost, nothing may be done twice.
import { describe, expect, inject, it } from "vitest";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { baseChildEnv } from "../../infra/config.ts";
import { outputKey } from "../../infra/image-objects.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import type { CompletionMessage } from "../../infra/messages.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { startPipeline } from "../support/pipeline.ts";
import { freePort, startScript } from "../support/processes.ts";
import { collectCompletions, processedMoreThanOnce, waitForCompletions } from "../support/queues.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

const image = (n: number) => makePng(64, 48, (x, y) => [(x * 3 + y * 5 + n * 7) % 256, 120, 60]);

async function uploadTo(baseUrl: string, n: number): Promise<{ status: number; id?: string; ms: number }> {
  const form = new FormData();
  form.set("image", new File([await image(n)], `${n}.png`));
  const started = Date.now();
  try {
    const response = await fetch(`${baseUrl}/api/images`, { method: "POST", body: form });
    const body = await response.json().catch(() => ({}));
    return { status: response.status, id: body.id, ms: Date.now() - started };
  } catch {
    return { status: 0, ms: Date.now() - started };
  }
}

/**
 * Every accepted id is done, by exactly one processing: one output object, and every completion
 * for it (a redelivery may republish one) names the same processingId. Catches: a worker that
 * processes an image twice (its second completion carries a second processingId).
 */
async function expectDoneExactlyOnce(env: TestEnvironment, ids: string[]) {
  const completions = await collectCompletions(env.sqs, env.queueUrls.output, ids, { timeoutMs: 90_000 });
  for (const messages of completions.values()) {
    expect(messages.every((c: CompletionMessage) => c.status === "done")).toBe(true);
  }
  expect(processedMoreThanOnce(completions)).toEqual([]);
  const outputs = (await listKeys(env.s3, env.config.outputBucket)).filter((k) => !k.startsWith("failed/"));
  expect(outputs.sort()).toEqual(ids.map(outputKey).sort());
  expect(await messageCount(env.sqs, env.queueUrls.deadLetter)).toBe(0);
}

describe("faults", () => {
  it("S3 and SQS cut off for a while: 503s fast, the worker backs off without spinning, then catches up", async () => {
    // One proxy for the API, one for the worker: the same cut, each side's retries counted apart.
    const proxy = await startTcpProxy(new URL(inject("awsEndpoint")));
    const workerProxy = await startTcpProxy(new URL(inject("awsEndpoint")));
    const api = await startPipeline({
      settings: { VISIBILITY_TIMEOUT_S: "5", LOG_LEVEL: "warn" },
      serve: true,
      worker: false,
      api: (env) => {
        const viaProxy = { ...env.config, endpointUrl: proxy.url };
        return { config: viaProxy, s3: createS3Client(viaProxy), sqs: createSqsClient(viaProxy) };
      },
    });
    const { env } = api;
    const worker = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env, AWS_ENDPOINT_URL: workerProxy.url });
    try {
      const before = await Promise.all(Array.from({ length: 24 }, (_, n) => uploadTo(api.url, n)));
      expect(before.map((r) => r.status)).toEqual(Array(24).fill(202));

      await expect
        .poll(async () => (await listKeys(env.s3, env.config.outputBucket)).length, { timeout: 30_000, interval: 20 })
        .toBeGreaterThan(0);
      proxy.cut();
      workerProxy.cut();
      // Catches: a cut that lands after the work is done, so that nothing is tested across it.
      const doneAtCut = (await listKeys(env.s3, env.config.outputBucket)).length;
      expect(doneAtCut).toBeLessThan(24);
      const during = await Promise.all(Array.from({ length: 4 }, (_, n) => uploadTo(api.url, 100 + n)));
      expect(during.map((r) => r.status)).toEqual(Array(4).fill(503));
      for (const { ms } of during) expect(ms).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 6_000));
      // Backing off, not spinning: each SDK call tries 3 times, the poll loop waits 0.5, 1, 2,
      // 4 s between receives, and jobs in flight fail once each; a spinning loop would make
      // thousands of attempts in these six seconds.
      expect(workerProxy.refusedWhileCut).toBeGreaterThan(0);
      expect(workerProxy.refusedWhileCut).toBeLessThan(50);
      expect(worker.child.exitCode, worker.output()).toBeNull();
      proxy.restore();
      workerProxy.restore();

      await expectDoneExactlyOnce(
        env,
        before.map((r) => r.id as string),
      );
    } finally {
      if (worker.child.exitCode === null) worker.interrupt();
      await worker.exited;
      await proxy.close();
      await workerProxy.close();
    }
  });

  it("a worker started while SQS is unreachable waits for it, then works; a missing queue stops it at once", async () => {
    const { env, app: api } = await startPipeline({ settings: { LOG_LEVEL: "warn" }, worker: false });
    const proxy = await startTcpProxy(new URL(inject("awsEndpoint")));
    proxy.cut();
    const worker = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env, AWS_ENDPOINT_URL: proxy.url });
    try {
      await worker.waitFor(/SQS not reachable yet; retrying/, 15_000);
      expect(worker.child.exitCode).toBeNull();
      proxy.restore();
      const form = new FormData();
      form.set("image", new File([await image(1)], "late.png"));
      const { id } = await (await api.request("/api/images", { method: "POST", body: form })).json();
      expect((await waitForCompletions(env.sqs, env.queueUrls.output, [id], 30_000)).get(id)?.status).toBe("done");
    } finally {
      if (worker.child.exitCode === null) worker.interrupt();
      await worker.exited;
      await proxy.close();
    }

    const lost = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env, INPUT_QUEUE: "never-created.fifo" });
    expect(await lost.exited).toBe(1);
    expect(lost.output()).toContain("Queue never-created.fifo does not exist; run `npm run setup` first");
  });

  it("a worker killed under load: after a restart every accepted image is done exactly once", async () => {
    const api = await startPipeline({
      settings: { VISIBILITY_TIMEOUT_S: "5", LOG_LEVEL: "warn" },
      serve: true,
      worker: false,
    });
    const { env } = api;
    const first = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env });
    let second: ReturnType<typeof startScript> | undefined;
    try {
      const uploads = await Promise.all(Array.from({ length: 40 }, (_, n) => uploadTo(api.url, n)));
      expect(uploads.map((r) => r.status)).toEqual(Array(40).fill(202));
      // Kill it once it is in the middle of the batch.
      await expect
        .poll(async () => (await listKeys(env.s3, env.config.outputBucket)).length, { timeout: 30_000, interval: 20 })
        .toBeGreaterThanOrEqual(5);
      first.child.kill("SIGKILL");
      await first.exited;
      expect((await listKeys(env.s3, env.config.outputBucket)).length).toBeLessThan(40);
      second = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env });
      await expectDoneExactlyOnce(
        env,
        uploads.map((r) => r.id as string),
      );
    } finally {
      second?.interrupt();
      await second?.exited;
    }
  });

  it("the API killed under load: every 202 is processed, and no message is left without its object", async () => {
    const env = await createTestEnvironment({ LOG_LEVEL: "warn" });
    const port = await freePort();
    const api = startScript("api/main.ts", { ...baseChildEnv(), ...env.env, PORT: String(port) });
    const worker = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env });
    try {
      const url = `http://127.0.0.1:${port}`;
      await expect
        .poll(
          () =>
            fetch(`${url}/healthz`).then(
              (r) => r.ok,
              () => false,
            ),
          { timeout: 15_000 },
        )
        .toBe(true);
      // Kill it once some uploads have been accepted and others are still on their way.
      let answered = 0;
      const pending = Array.from({ length: 60 }, (_, n) =>
        uploadTo(url, n).then((result) => {
          if (result.status === 202) answered++;
          return result;
        }),
      );
      await expect.poll(() => answered, { timeout: 15_000, interval: 5 }).toBeGreaterThanOrEqual(5);
      api.child.kill("SIGKILL");
      const results = await Promise.all(pending);
      const accepted = results.filter((r) => r.status === 202).map((r) => r.id as string);
      expect(results.every((r) => r.status === 202 || r.status === 0)).toBe(true);
      // Catches: a kill that lands before anything was accepted (then nothing below is checked)
      // or after everything was.
      expect(accepted.length).toBeGreaterThanOrEqual(5);
      expect(accepted.length).toBeLessThan(60);

      // Every accepted image done; any other message the queue held had its object too
      // (a message without one would come back as "failed: object-missing").
      const completions = await waitForCompletions(env.sqs, env.queueUrls.output, accepted, 60_000);
      expect([...completions.values()].every((c) => c.status === "done")).toBe(true);
      await expect.poll(() => messageCount(env.sqs, env.queueUrls.input), { timeout: 20_000 }).toBe(0);
      const { Messages = [] } = await env.sqs.send(
        new (await import("@aws-sdk/client-sqs")).ReceiveMessageCommand({
          QueueUrl: env.queueUrls.output,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
        }),
      );
      for (const message of Messages) expect(JSON.parse(message.Body ?? "{}").status).toBe("done");
    } finally {
      worker.interrupt();
      await worker.exited;
      await api.exited;
    }
  });
});
