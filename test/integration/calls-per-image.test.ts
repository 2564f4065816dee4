// What one image costs in S3 and SQS calls, counted on the real clients: the API's upload and
// the worker's job. Catches: a call added to the path of every image (each is CPU and money).
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import type { TestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { startPipeline } from "../support/pipeline.ts";
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
    // Separate clients for each side, so the counts say who made each call.
    const counted = (env: TestEnvironment) => {
      const clients = { s3: createS3Client(env.config), sqs: createSqsClient(env.config) };
      return { clients, s3: countCalls(clients.s3), sqs: countCalls(clients.sqs) };
    };
    let api: ReturnType<typeof counted> | undefined;
    let worker: ReturnType<typeof counted> | undefined;
    const pipeline = await startPipeline({
      api: (env) => {
        api = counted(env);
        return api.clients;
      },
      workerDeps: (env) => {
        worker = counted(env);
        return worker.clients;
      },
    });
    if (!api || !worker) throw new Error("the pipeline was not built from the counted clients");
    const { env, app } = pipeline;
    const apiS3 = api.s3;
    const apiSqs = api.sqs;
    const workerS3 = worker.s3;
    const workerSqs = worker.sqs;

    const form = new FormData();
    form.set("image", new File([await makePng(50, 40, (x, y) => [x * 5, y * 6, 90])], "count.png"));
    const response = await app.request("/api/images", { method: "POST", body: form });
    expect(response.status).toBe(202);
    const { id } = await response.json();
    expect(apiS3).toEqual({ PutObjectCommand: 2 });
    expect(apiSqs).toEqual({ SendMessageCommand: 1 });

    await waitForCompletions(env.sqs, env.queueUrls.output, [id]);
    // The delete follows the completion: wait for it before counting.
    for (let n = 0; n < 50 && !workerSqs.DeleteMessageCommand; n++) await new Promise((r) => setTimeout(r, 20));
    await pipeline.stop();
    // No failure-record GetObject: on a first receive nothing can be stored yet. One HeadObject
    // after the put: the original still there, so a DELETE that ran meanwhile cannot be undone.
    expect(workerS3).toEqual({ GetObjectCommand: 1, PutObjectCommand: 1, HeadObjectCommand: 1 });
    const { ReceiveMessageCommand: receives, ...perImage } = workerSqs;
    expect(perImage).toEqual({ SendMessageCommand: 1, DeleteMessageCommand: 1 });
    expect(receives).toBeGreaterThanOrEqual(1);
  });
});
