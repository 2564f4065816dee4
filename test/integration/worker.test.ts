// The worker against the real LocalStack: methods, poison, retries and the DLQ, redelivery.
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { v7 as uuidv7 } from "uuid";
import { describe, expect, it, onTestFinished } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import { outputKey } from "../../infra/image-objects.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import { sendInputMessage } from "../../infra/messages.ts";
import { createWorker } from "../../worker/consumer.ts";
import { createWorkerMetrics, serveWorkerMetrics } from "../../worker/metrics.ts";
import { distinctValues, greyPixels, makePng } from "../support/images.ts";
import { injectJob } from "../support/jobs.ts";
import { startPipeline, usePipeline } from "../support/pipeline.ts";
import { startScript } from "../support/processes.ts";
import { waitForCompletions } from "../support/queues.ts";

const metrics = createWorkerMetrics();
const pipeline = usePipeline({ settings: { MAX_RECEIVE_COUNT: "2" }, worker: { observer: metrics } });

async function upload(
  image: Uint8Array<ArrayBuffer>,
  fields: Record<string, string> = {},
  app = pipeline.app,
): Promise<string> {
  const form = new FormData();
  form.set("image", new File([image], "page.png"));
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  const response = await app.request("/api/images", { method: "POST", body: form });
  expect(response.status).toBe(202);
  return (await response.json()).id;
}

describe("each method, end to end through the API", () => {
  // A bimodal page: dark ink (50) on light paper (200), lit unevenly for Sauvola to matter.
  const page = () => makePng(200, 120, (x, y) => [(x % 20 < 4 && y % 30 < 20 ? 50 : 200) - Math.round(x / 4)]);

  it.each([
    ["otsu", {}, (t: number | null) => t !== null && t > 40 && t < 190],
    ["fixed", { threshold: "90" }, (t: number | null) => t === 90],
    ["sauvola", {}, (t: number | null) => t === null],
  ] as const)("%s", async (method, fields, thresholdIsRight) => {
    const id = await upload(await page(), { method, ...fields });
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    if (completion?.status !== "done" || completion.version === 3) {
      throw new Error(`expected an image done, got ${JSON.stringify(completion)}`);
    }
    expect(completion.method).toBe(method);
    expect(thresholdIsRight(completion.threshold)).toBe(true);
    const status = await (await pipeline.app.request(`/api/images/${id}`)).json();
    expect(status).toMatchObject({ status: "done", method, threshold: completion.threshold });
    const object = await pipeline.env.s3.send(
      new GetObjectCommand({ Bucket: pipeline.env.config.outputBucket, Key: outputKey(id) }),
    );
    const pixels = await greyPixels(await (object.Body?.transformToByteArray() ?? Promise.reject()));
    expect([pixels.width, pixels.height]).toEqual([200, 120]);
    expect(distinctValues(pixels.values)).toEqual([0, 255]);
  });
});

describe("failures", () => {
  it("a poison object: failed with a reason, message gone, worker still serving", async () => {
    const poison = await injectJob(pipeline.env, new TextEncoder().encode("this is not an image at all"));
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [poison.id])).get(
      poison.id,
    );
    expect(completion).toMatchObject({ status: "failed", error: { code: "undecodable" } });

    const status = await (await pipeline.app.request(`/api/images/${poison.id}`)).json();
    expect(status).toMatchObject({ id: poison.id, status: "failed", error: { code: "undecodable" } });
    expect(status.error.message).toMatch(/cannot be decoded/);

    const next = await upload(await makePng(16, 16, (x) => [x * 16]));
    expect((await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [next])).get(next)?.status).toBe(
      "done",
    );
    // The delete follows the completion: poll, do not race it.
    await expect.poll(() => messageCount(pipeline.env.sqs, pipeline.env.queueUrls.input), { timeout: 10_000 }).toBe(0);
  });

  it("an object larger than MAX_UPLOAD_BYTES, put straight into S3: failed with too-large, not read", async () => {
    const big = new Uint8Array(pipeline.env.config.maxUploadBytes + 1);
    const { id } = await injectJob(pipeline.env, big);
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "failed", error: { code: "too-large" } });
  });

  // Catches: a job for a deleted image recreating a failure record (or anything else) for it.
  it("an object that is missing (a deleted image): failed with object-missing, nothing stored", async () => {
    const { id } = await injectJob(pipeline.env, undefined);
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "failed", error: { code: "object-missing" } });
    expect((await listKeys(pipeline.env.s3, pipeline.env.config.outputBucket)).filter((k) => k.includes(id))).toEqual(
      [],
    );
    expect((await pipeline.app.request(`/api/images/${id}`)).status).toBe(404);
  });

  it("a message that breaks the contract goes straight to the DLQ", async () => {
    // Relative to what is there: other tests of this file park messages in the same DLQ.
    const deadBefore = await messageCount(pipeline.env.sqs, pipeline.env.queueUrls.deadLetter);
    await pipeline.env.sqs.send(
      new SendMessageCommand({
        QueueUrl: pipeline.env.queueUrls.input,
        MessageBody: '{"hello":"world"}',
        MessageGroupId: "stray",
        MessageDeduplicationId: uuidv7(),
      }),
    );
    await expect
      .poll(() => messageCount(pipeline.env.sqs, pipeline.env.queueUrls.deadLetter), { timeout: 15_000 })
      .toBe(deadBefore + 1);
  });
});

describe("messages are untrusted input", () => {
  const outputsOf = async (id: string) =>
    (await listKeys(pipeline.env.s3, pipeline.env.config.outputBucket)).filter((key) => key.includes(id));

  // Catches: the worker reading whatever bucket and key a message names.
  it.each([
    ["another bucket", async () => ({ bucket: `${pipeline.env.config.inputBucket}-someone-else`, key: "secret.png" })],
    [
      "a key in the input bucket that is not the image's own",
      async () => ({ bucket: pipeline.env.config.inputBucket, key: "not-an-id/secret.png" }),
    ],
    ["another image's original", async () => ({ bucket: pipeline.env.config.inputBucket, key: `${uuidv7()}.png` })],
  ])("a message naming %s goes to the DLQ; nothing is read or written", async (_, target) => {
    const { bucket, key } = await target();
    if (bucket !== pipeline.env.config.inputBucket)
      await pipeline.env.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await pipeline.env.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: await makePng(12, 12, () => [40]) }),
    );
    const deadBefore = await messageCount(pipeline.env.sqs, pipeline.env.queueUrls.deadLetter);
    const id = uuidv7();
    await sendInputMessage(pipeline.env.sqs, pipeline.env.queueUrls.input, {
      version: 1,
      id,
      bucket,
      key,
      contentType: "image/png",
      bytes: 100,
      width: 12,
      height: 12,
      filename: "secret.png",
      method: "otsu",
      uploadedAt: new Date().toISOString(),
    });
    await expect
      .poll(() => messageCount(pipeline.env.sqs, pipeline.env.queueUrls.deadLetter), { timeout: 15_000 })
      .toBe(deadBefore + 1);
    expect(await outputsOf(id)).toEqual([]);
    expect((await pipeline.app.request(`/api/images/${id}/processed`)).status).toBe(404);
  });

  // Catches: output metadata (and so the status) taken from what a message claims.
  it("the filename, size and upload time come from the stored original, not from the message", async () => {
    const job = await injectJob(pipeline.env, await makePng(30, 20, (x) => [x * 8]), {
      filename: "a-lie\u202Egnp.exe",
      width: 9999,
      height: 1,
      uploadedAt: "2001-01-01T00:00:00.000Z",
    });
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [job.id])).get(
      job.id,
    );
    expect(completion).toMatchObject({ status: "done", width: 30, height: 20 });
    const status = await (await pipeline.app.request(`/api/images/${job.id}`)).json();
    expect(status.filename).not.toContain("a-lie");
    expect(status.createdAt).not.toBe("2001-01-01T00:00:00.000Z");
    expect([status.width, status.height]).toEqual([30, 20]);
  });
});

describe("transient failures, the DLQ and redrive", () => {
  it("retries with backoff, parks the job in the DLQ after MAX_RECEIVE_COUNT, and redrive completes it", async () => {
    // A second worker on its own queues, writing to a bucket that does not exist yet: every
    // attempt fails in S3, which is not the image's fault, so it is retried, not failed.
    const missingBucketOf = (config: { outputBucket: string }) => `${config.outputBucket}-later`;
    const { env: broken } = await startPipeline({
      settings: { MAX_RECEIVE_COUNT: "2" },
      worker: { retryBaseSeconds: 1 },
      workerDeps: (env) => ({ config: { ...env.config, outputBucket: missingBucketOf(env.config) } }),
    });
    const missingBucket = missingBucketOf(broken.config);
    const { id } = await injectJob(broken, await makePng(8, 8, () => [255]));
    await expect.poll(() => messageCount(broken.sqs, broken.queueUrls.deadLetter), { timeout: 30_000 }).toBe(1);
    expect(await messageCount(broken.sqs, broken.queueUrls.output)).toBe(0);

    // The fix: the bucket appears. Then `npm run redrive`, and the job completes.
    await broken.s3.send(new CreateBucketCommand({ Bucket: missingBucket }));
    const redrive = startScript("scripts/redrive.ts", { ...baseChildEnv(), ...broken.env });
    expect(await redrive.exited).toBe(0);
    expect(redrive.output()).toContain("Moved 1 message");
    const completion = (await waitForCompletions(broken.sqs, broken.queueUrls.output, [id])).get(id);
    expect(completion?.status).toBe("done");
    expect(await messageCount(broken.sqs, broken.queueUrls.deadLetter)).toBe(0);
  });
});

describe("redelivery", () => {
  // Resources and a worker of its own: the test stops the worker, so the file's must go on.
  const redelivered = usePipeline({ settings: { MAX_RECEIVE_COUNT: "2" }, worker: { observer: metrics } });
  it("a message delivered twice yields one output and no conflicting completion", async () => {
    const id = await upload(await makePng(30, 30, (x, y) => [(x * y) % 256]), {}, redelivered.app);
    const first = (await waitForCompletions(redelivered.env.sqs, redelivered.env.queueUrls.output, [id])).get(id);
    const before = await redelivered.env.s3.send(
      new HeadObjectCommand({ Bucket: redelivered.env.config.outputBucket, Key: outputKey(id) }),
    );

    // Past S3's one-second LastModified resolution, so a rewrite of the output would show.
    await new Promise((r) => setTimeout(r, 1100));
    // The same job again, as SQS would hand it out after a worker died before its delete: a
    // second receive of one message (the worker looks for a stored result only then, since
    // on a first receive nothing can be stored yet). The worker waits while the test makes
    // that first receive itself.
    await redelivered.worker?.stop();
    const key = (await listKeys(redelivered.env.s3, redelivered.env.config.inputBucket)).find((k) =>
      k.startsWith(id),
    ) as string;
    await redelivered.env.sqs.send(
      new SendMessageCommand({
        QueueUrl: redelivered.env.queueUrls.input,
        MessageBody: JSON.stringify({
          version: 1,
          id,
          bucket: redelivered.env.config.inputBucket,
          key,
          contentType: "image/png",
          bytes: 1,
          width: 30,
          height: 30,
          filename: "page.png",
          method: "otsu",
          uploadedAt: new Date().toISOString(),
        }),
        MessageGroupId: id,
        MessageDeduplicationId: `${id}-again`,
      }),
    );
    const firstReceive = await redelivered.env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: redelivered.env.queueUrls.input,
        VisibilityTimeout: 0,
        WaitTimeSeconds: 5,
      }),
    );
    expect(firstReceive.Messages).toHaveLength(1);
    const restarted = createWorker(redelivered.env, { observer: metrics });
    restarted.start();
    onTestFinished(() => restarted.stop());
    await expect
      .poll(() => messageCount(redelivered.env.sqs, redelivered.env.queueUrls.input), { timeout: 15_000 })
      .toBe(0);
    const after = await redelivered.env.s3.send(
      new HeadObjectCommand({ Bucket: redelivered.env.config.outputBucket, Key: outputKey(id) }),
    );
    expect(after.ETag).toBe(before.ETag);
    expect(after.LastModified).toEqual(before.LastModified);
    // The republished completion arrives (it has a dedup id of its own, so SQS's five-minute
    // window does not hide it, and it would arrive the same after the window) and repeats the
    // stored result under the same processingId. Catches: a redelivery that processes again
    // (new processingId, rewritten output) or that republishes nothing.
    const again = (await waitForCompletions(redelivered.env.sqs, redelivered.env.queueUrls.output, [id], 15_000)).get(
      id,
    );
    const { stages: _, ...result } = first as Extract<typeof first, { status: "done"; version: 1 | 2 }>;
    expect(again).toEqual(result);
    expect(again?.processingId).toEqual(expect.any(String));
  });
});

describe("shutdown deadline", () => {
  it("hands a job it cannot finish in time back to SQS at once", async () => {
    let started: () => void = () => {};
    const jobStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    // A job far longer than the deadline (the handler never settles on its own).
    const { env: own, worker: stuck } = await startPipeline({
      settings: { VISIBILITY_TIMEOUT_S: "60" },
      worker: {
        handle: () => {
          started();
          return new Promise(() => {});
        },
      },
    });
    if (!stuck) throw new Error("the pipeline has no worker");
    const { id } = await injectJob(own, await makePng(8, 8, () => [0]));
    await jobStarted;
    const stopping = Date.now();
    await stuck.stop({ deadlineMs: 300 });
    expect(Date.now() - stopping).toBeLessThan(5_000);

    // Visible again now, not after the 60 s timeout: a fresh worker finishes it in seconds.
    const rescuer = createWorker(own);
    rescuer.start();
    try {
      const completion = (await waitForCompletions(own.sqs, own.queueUrls.output, [id], 10_000)).get(id);
      expect(completion?.status).toBe("done");
    } finally {
      await rescuer.stop();
    }
  });
});

describe("worker metrics", () => {
  // Stands alone: its own worker and metrics, fed the jobs it counts (not what earlier tests left).
  it("counts outcomes by method, times jobs, tracks queue lag and in-flight, over HTTP", async () => {
    const ownMetrics = createWorkerMetrics();
    const { env: own } = await startPipeline({ worker: { observer: ownMetrics } });
    const server = await serveWorkerMetrics(ownMetrics, { host: "127.0.0.1", port: 0 });
    try {
      const jobs = [
        await injectJob(own, await makePng(16, 16, (x) => [x * 16]), { method: "otsu" }),
        await injectJob(own, await makePng(16, 16, (x) => [x * 16]), { method: "otsu" }),
        await injectJob(own, await makePng(16, 16, (x) => [x * 16]), { method: "sauvola" }),
        await injectJob(own, await makePng(16, 16, (x) => [x * 16]), { method: "fixed", threshold: 90 }),
        await injectJob(own, new TextEncoder().encode("not an image"), { method: "otsu" }),
      ];
      await waitForCompletions(
        own.sqs,
        own.queueUrls.output,
        jobs.map((j) => j.id),
      );
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(text).toMatch(/bitonal_images_processed_total\{outcome="done",method="otsu"\} 2/);
      expect(text).toMatch(/bitonal_images_processed_total\{outcome="done",method="sauvola"\} 1/);
      expect(text).toMatch(/bitonal_images_processed_total\{outcome="failed",method="otsu"\} 1/);
      expect(text).toMatch(/bitonal_image_processing_seconds_count\{method="fixed"\} 1/);
      expect(text).toMatch(/bitonal_queue_lag_seconds \d/);
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text())
        .toMatch(/bitonal_jobs_in_flight 0/);
      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
