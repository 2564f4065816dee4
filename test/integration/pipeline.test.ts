// An upload travels the whole pipeline: API → S3 + SQS → worker → S3 + completion message.
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../api/app.ts";
import { outputKey } from "../../infra/image-objects.ts";
import { createWorker, type Worker } from "../../worker/consumer.ts";
import { createTestEnvironment, type TestEnvironment } from "../support/environment.ts";
import { distinctValues, greyPixels, makePng } from "../support/images.ts";
import { waitForCompletions } from "../support/queues.ts";

let env: TestEnvironment;
let app: ReturnType<typeof createApp>;
let worker: Worker;

beforeAll(async () => {
  env = await createTestEnvironment();
  app = createApp(env);
  worker = createWorker(env);
  worker.start();
});

afterAll(async () => {
  await worker?.stop();
});

function upload(image: Uint8Array<ArrayBuffer>, filename: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.set("image", new File([image], filename, { type: "image/png" }));
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return app.request("/api/images", { method: "POST", body: form });
}

describe("the pipeline", () => {
  it("turns an uploaded PNG into a bitonal PNG of the same size, and says so", async () => {
    const png = await makePng(120, 80, (x, y) => [(x * 2) % 256, (y * 3) % 256, 128]);
    const response = await upload(png, "photo.png", { method: "fixed", threshold: "100" });
    expect(response.status).toBe(202);
    const { id, status } = await response.json();
    expect(status).toBe("queued");
    expect(response.headers.get("location")).toBe(`/api/images/${id}`);

    const completion = (await waitForCompletions(env.sqs, env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({
      id,
      status: "done",
      output: { bucket: env.config.outputBucket, key: outputKey(id) },
      width: 120,
      height: 80,
      method: "fixed",
      threshold: 100,
    });

    const object = await env.s3.send(new GetObjectCommand({ Bucket: env.config.outputBucket, Key: outputKey(id) }));
    expect(object.ContentType).toBe("image/png");
    const result = await greyPixels(await (object.Body?.transformToByteArray() ?? Promise.reject()));
    expect([result.width, result.height]).toEqual([120, 80]);
    expect(distinctValues(result.values)).toEqual([0, 255]);

    const statusResponse = await app.request(`/api/images/${id}`);
    expect(statusResponse.status).toBe(200);
    expect(await statusResponse.json()).toMatchObject({
      id,
      status: "done",
      filename: "photo.png",
      width: 120,
      height: 80,
      method: "fixed",
      threshold: 100,
    });
  });

  it("answers 404 for an unknown id and 400 for a malformed one", async () => {
    const unknown = await app.request("/api/images/01900000-0000-7000-8000-000000000000");
    expect(unknown.status).toBe(404);
    const malformed = await app.request("/api/images/..%2F..%2Fetc%2Fpasswd");
    expect(malformed.status).toBe(400);
  });
});
