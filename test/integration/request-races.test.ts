// What must hold when requests race, are huge, or come at the wrong moment, over real HTTP
// against the real LocalStack: bodies bounded before they are read, the rendition cap and one
// job per request under concurrency, and a deleted image that stays deleted.
import { request as httpRequest } from "node:http";
import type { S3Client } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createApp } from "../../api/app.ts";
import { serveApp } from "../../api/serve.ts";
import { createS3Client } from "../../infra/aws-clients.ts";
import { listKeys } from "../../infra/inspect.ts";
import { inputMessageSchema } from "../../infra/messages.ts";
import { makePng } from "../support/images.ts";
import { startPipeline, usePipeline } from "../support/pipeline.ts";
import { eventually } from "../support/processes.ts";

/** Holds back the calls a client makes that `matches` picks, until `release()`. */
function gate(client: S3Client, matches: (command: string, input: { Key?: string }) => boolean) {
  let open: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  let reached: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    reached = resolve;
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (matches(context.commandName as string, args.input as { Key?: string })) {
        reached();
        await opened;
      }
      return next(args);
    },
    { step: "initialize", name: `gate${Math.random()}` },
  );
  return {
    /** Resolves when a held call is waiting. */
    held,
    release: () => open(),
  };
}

// No worker: the tests count the messages the API sends.
const pipeline = usePipeline({ serve: true, worker: false });
const png = () => makePng(40, 30, (x, y) => [(x * 9 + y * 5) % 256, 80, 160]);

async function upload(base = pipeline.url): Promise<string> {
  const form = new FormData();
  form.set("image", new File([await png()], "race.png"));
  const response = await fetch(`${base}/api/images`, { method: "POST", body: form });
  expect(response.status).toBe(202);
  return (await response.json()).id;
}

function askRendition(id: string, body: unknown, base = pipeline.url) {
  return fetch(`${base}/api/images/${id}/renditions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Every input message queued so far for image `id`, taken off the queue. */
async function drainMessages(id: string) {
  const found = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await pipeline.env.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pipeline.env.queueUrls.input,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 300,
      }),
    );
    if (Messages.length === 0) empty++;
    for (const message of Messages) {
      // Deleted as it is read: an image's messages share a FIFO group, which one in flight would hold.
      await pipeline.env.sqs.send(
        new DeleteMessageCommand({ QueueUrl: pipeline.env.queueUrls.input, ReceiptHandle: message.ReceiptHandle }),
      );
      const parsed = inputMessageSchema.parse(JSON.parse(message.Body as string));
      if (parsed.id === id) found.push(parsed);
    }
  }
  return found;
}

/** A request whose headers promise `declaredBytes` of body and which sends only `sent` of it. */
function partialBody(path: string, declaredBytes: number, sent: string) {
  return new Promise<{ status: number; body: string; ms: number }>((resolve, reject) => {
    const started = performance.now();
    const req = httpRequest(`${pipeline.url}${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Length": String(declaredBytes) },
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => {
        resolve({ status: res.statusCode as number, body, ms: performance.now() - started });
        req.destroy();
      });
    });
    req.on("error", reject);
    req.write(sent);
    setTimeout(() => reject(new Error("no answer within 5 s: the server waits for the body")), 5_000).unref();
  });
}

describe("a JSON body is bounded before it is read", () => {
  // Catches: a 64 MiB body read whole before the request is answered.
  it("413 from the declared length alone, without waiting for the body", async () => {
    const id = await upload();
    const answer = await partialBody(`/api/images/${id}/renditions`, 64 * 1024 * 1024, '{"method":');
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ type: "/problems/payload-too-large" });
  });

  it("413 for a chunked body as soon as it passes the limit", async () => {
    const id = await upload();
    const response = await fetch(`${pipeline.url}/api/images/${id}/renditions`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(`{"method":"otsu","pad":"${"x".repeat(10_000)}"}`));
          controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
  });

  it("an unknown image is a 404 before a byte of the body arrives", async () => {
    const answer = await partialBody("/api/images/019a9b6e-2f1c-7d3a-9b1e-0c4f6a8e2d10/renditions", 1000, "");
    expect(answer.status).toBe(404);
  });
});

describe("the rendition cap and one job per request hold under concurrency", () => {
  it("100 parallel requests with distinct thresholds store exactly 16 renditions and send 16 messages", async () => {
    const id = await upload();
    await drainMessages(id);
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, n) => askRendition(id, { method: "fixed", threshold: n + 1 })),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(16);
    expect(statuses.filter((s) => s === 409)).toHaveLength(84);
    const listed = await (await fetch(`${pipeline.url}/api/images/${id}/renditions`)).json();
    expect(listed.items).toHaveLength(16);
    expect(await drainMessages(id)).toHaveLength(16);
  });

  it("50 parallel requests for one rendition make one job", async () => {
    const id = await upload();
    await drainMessages(id);
    const answers = await Promise.all(Array.from({ length: 50 }, () => askRendition(id, { method: "sauvola" })));
    expect(new Set(answers.map((r) => r.status))).toEqual(new Set([202]));
    const bodies = await Promise.all(answers.map((r) => r.json()));
    expect(new Set(bodies.map((b) => b.requestedAt)).size).toBe(1);
    const messages = await drainMessages(id);
    expect(messages.map((m) => m.rendition)).toEqual(["sauvola"]);
  });
});

describe("a deleted image stays deleted", () => {
  // Catches: a job that read the original before the DELETE writing its result after it, so
  // that the image reads `done` again with /processed 200.
  it("a job that finishes after the DELETE leaves nothing behind", async () => {
    let gated: ReturnType<typeof gate> | undefined;
    const api = await startPipeline({
      serve: true,
      // The worker's S3 client is gated: its result waits until the DELETE is done.
      workerDeps: (env) => {
        const gatedS3 = createS3Client(env.config);
        gated = gate(gatedS3, (command, input) => command === "PutObjectCommand" && !!input.Key?.endsWith(".png"));
        return { s3: gatedS3 };
      },
    });
    const { env: local, worker: slowWorker } = api;
    if (!gated || !slowWorker) throw new Error("the pipeline's worker is not gated");
    try {
      const id = await upload(api.url);
      await gated.held;
      expect((await fetch(`${api.url}/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
      gated.release();
      const gone = async () => {
        const keys = [
          ...(await listKeys(local.s3, local.config.inputBucket)),
          ...(await listKeys(local.s3, local.config.outputBucket)),
        ];
        return keys.every((key) => !key.includes(id));
      };
      // The job ends (its message deleted) and nothing of the image is stored.
      expect(await eventually(async () => (await gone()) && slowWorker.inFlight === 0, 20_000)).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      expect(await gone()).toBe(true);
      expect((await fetch(`${api.url}/api/images/${id}`)).status).toBe(404);
      expect((await fetch(`${api.url}/api/images/${id}/processed`)).status).toBe(404);
    } finally {
      gated.release();
    }
  });

  // Catches: a rendition stored after the DELETE listed the image's renditions, left "queued" for ever.
  it("a rendition requested while the image is deleted ends in 404 and leaves nothing", async () => {
    let gated: ReturnType<typeof gate> | undefined;
    const api = await startPipeline({
      serve: true,
      worker: false,
      api: (env) => {
        const apiS3 = createS3Client(env.config);
        gated = gate(
          apiS3,
          (command, input) => command === "PutObjectCommand" && !!input.Key?.startsWith("renditions/"),
        );
        return { s3: apiS3 };
      },
    });
    const local = api.env;
    if (!gated) throw new Error("the pipeline's API is not gated");
    try {
      const id = await upload(api.url);
      const asked = askRendition(id, { method: "otsu" }, api.url);
      await gated.held;
      // The DELETE through another API instance on the same resources, while the request waits.
      const other = await serveApp(createApp(local), { host: "127.0.0.1", port: 0 });
      expect((await fetch(`${other.url}/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
      await other.close();
      gated.release();
      expect((await asked).status).toBe(404);
      expect((await listKeys(local.s3, local.config.inputBucket)).filter((k) => k.includes(id))).toEqual([]);
      expect((await fetch(`${api.url}/api/images/${id}/renditions/otsu`)).status).toBe(404);
      expect((await fetch(`${api.url}/api/images/${id}/renditions`)).status).toBe(404);
    } finally {
      gated.release();
    }
  });
});
