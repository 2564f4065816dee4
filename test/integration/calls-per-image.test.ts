// What one image costs in S3 and SQS calls, counted on the real clients: the API's upload and
// the worker's job. Catches: a call added to the path of every image (each is CPU and money).
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createApp } from "../../api/app.ts";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { createWorker } from "../../worker/consumer.ts";
import { createTestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { waitForCompletions } from "../support/queues.ts";

/** Counts each command a client sends, by name. */
function countCalls(client: S3Client | SQSClient): Record<string, number> {
  const counts: Record<string, number> = {};
  // One middleware type for both clients: it reads only the command's name.
  (client.middlewareStack as S3Client["middlewareStack"]).add(
    (next, context) => async (args) => {
      counts[context.commandName as string] = (counts[context.commandName as string] ?? 0) + 1;
      return next(args);
    },
    { step: "initialize", name: "countCalls" },
  );
  return counts;
}

describe("calls per image", () => {
  it("upload: 2 PutObject and 1 SendMessage; first receive: GetObject, PutObject, HeadObject, SendMessage, DeleteMessage", async () => {
    const env = await createTestEnvironment();
    // Separate clients for each side, so the counts say who made each call.
    const api = { s3: createS3Client(env.config), sqs: createSqsClient(env.config) };
    const worker = { s3: createS3Client(env.config), sqs: createSqsClient(env.config) };
    const apiS3 = countCalls(api.s3);
    const apiSqs = countCalls(api.sqs);
    const workerS3 = countCalls(worker.s3);
    const workerSqs = countCalls(worker.sqs);

    const app = createApp({ ...env, ...api });
    const form = new FormData();
    form.set("image", new File([await makePng(50, 40, (x, y) => [x * 5, y * 6, 90])], "count.png"));
    const response = await app.request("/api/images", { method: "POST", body: form });
    expect(response.status).toBe(202);
    const { id } = await response.json();
    expect(apiS3).toEqual({ PutObjectCommand: 2 });
    expect(apiSqs).toEqual({ SendMessageCommand: 1 });

    const running = createWorker({ ...env, ...worker });
    running.start();
    try {
      await waitForCompletions(env.sqs, env.queueUrls.output, [id]);
      // The delete follows the completion: wait for it before counting.
      for (let n = 0; n < 50 && !workerSqs.DeleteMessageCommand; n++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await running.stop();
    }
    // No failure-record GetObject: on a first receive nothing can be stored yet. One HeadObject
    // after the put: the original still there, so a DELETE that ran meanwhile cannot be undone.
    expect(workerS3).toEqual({ GetObjectCommand: 1, PutObjectCommand: 1, HeadObjectCommand: 1 });
    const { ReceiveMessageCommand: receives, ...perImage } = workerSqs;
    expect(perImage).toEqual({ SendMessageCommand: 1, DeleteMessageCommand: 1 });
    expect(receives).toBeGreaterThanOrEqual(1);
  });
});
