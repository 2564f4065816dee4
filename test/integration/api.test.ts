// The HTTP surface against the real LocalStack: every refusal, and that a refusal leaves nothing.
import { request as httpRequest } from "node:http";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import type { TestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { type PipelineOptions, startPipeline } from "../support/pipeline.ts";

const SMALL_LIMITS = { MAX_UPLOAD_BYTES: "200000", MAX_INPUT_PIXELS: "1000000" };

// No worker: these tests are about what the API accepts, stores and answers.
function setup(extra: Record<string, string> = {}, options: Omit<PipelineOptions, "settings" | "worker"> = {}) {
  return startPipeline({ settings: { ...SMALL_LIMITS, ...extra }, worker: false, ...options });
}

function form(image: Uint8Array<ArrayBuffer> | undefined, fields: Record<string, string> = {}, name = "x.png") {
  const body = new FormData();
  if (image) body.set("image", new File([image], name));
  for (const [key, value] of Object.entries(fields)) body.set(key, value);
  return body;
}

async function expectNothingStored(env: TestEnvironment) {
  expect(await listKeys(env.s3, env.config.inputBucket)).toEqual([]);
  expect(await messageCount(env.sqs, env.queueUrls.input)).toBe(0);
}

async function expectProblem(response: Response, status: number, type: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json();
  expect(problem).toMatchObject({ type: `/problems/${type}`, status });
  expect(problem.detail).toEqual(expect.any(String));
  return problem;
}

const UNKNOWN_ID = "01900000-0000-7000-8000-000000000000";
const png = () => makePng(40, 30, (x, y) => [(x * 6 + y) % 256, 90, 200]);
const noisy = () =>
  sharp(Buffer.from(Array.from({ length: 90 * 60 * 3 }, (_, i) => (i * 7919 + (i >> 7)) % 256)), {
    raw: { width: 90, height: 60, channels: 3 },
  });
const jpeg = async () => new Uint8Array(await noisy().jpeg().toBuffer());
const webp = async () => new Uint8Array(await noisy().webp().toBuffer());
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

describe("refusals leave nothing behind", () => {
  it.each([
    ["an SVG", new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')],
    ["a GIF", Uint8Array.from([...new TextEncoder().encode("GIF89a"), 1, 0, 1, 0, 0, 0, 0, 44, 0, 0, 0, 0, 1, 0])],
    ["a ZIP", Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, ...new Array(20).fill(0)])],
    ["HTML", new TextEncoder().encode("<!doctype html><html><body>hi</body></html>")],
    ["a script renamed .png", new TextEncoder().encode("#!/bin/sh\nrm -rf /\n")],
    ["an empty body", new Uint8Array(0)],
    [
      "a PNG signature followed by garbage",
      Uint8Array.from([...PNG_SIGNATURE, ...new TextEncoder().encode("garbage!garbage!")]),
    ],
  ])("415 for %s", async (_, bytes) => {
    const { env, app } = await setup();
    const response = await app.request("/api/images", { method: "POST", body: form(new Uint8Array(bytes)) });
    await expectProblem(response, 415, "unsupported-media-type");
    await expectNothingStored(env);
  });

  it("422 for a PDF with no page in it", async () => {
    const { env, app } = await setup();
    const empty = new TextEncoder().encode("%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF");
    const response = await app.request("/api/images", { method: "POST", body: form(empty) });
    const problem = await expectProblem(response, 422, "unprocessable-image");
    expect(problem.detail).toMatch(/PDF/);
    await expectNothingStored(env);
  });

  it("422 for a truncated PNG", async () => {
    const { env, app } = await setup();
    const whole = await png();
    const response = await app.request("/api/images", {
      method: "POST",
      body: form(whole.slice(0, whole.length - 40)),
    });
    await expectProblem(response, 422, "unprocessable-image");
    await expectNothingStored(env);
  });

  // Checked from the container alone (no decode in the API): lengths, CRCs, end markers.
  it.each([
    ["a JPEG cut before its end-of-image marker", async () => (await jpeg()).subarray(0, -300), /no end-of-image/],
    ["a JPEG of markers only, no scan", async () => Uint8Array.of(0xff, 0xd8, 0xff, 0xd9), /before any image data/],
    ["a WebP cut short of its RIFF size", async () => (await webp()).subarray(0, -100), /cut short/],
    ["a PNG without IEND", async () => (await png()).subarray(0, -12), /no IEND/],
  ])("422 for %s, with the reason", async (_, make, reason) => {
    const { env, app } = await setup();
    const response = await app.request("/api/images", { method: "POST", body: form(new Uint8Array(await make())) });
    const problem = await expectProblem(response, 422, "unprocessable-image");
    expect(problem.detail).toMatch(reason);
    await expectNothingStored(env);
  });

  it("422 for a PNG with corrupt pixel data", async () => {
    const { env, app } = await setup();
    const corrupt = await png();
    corrupt.fill(0x5a, 60, 90); // inside the IDAT stream
    const response = await app.request("/api/images", { method: "POST", body: form(corrupt) });
    await expectProblem(response, 422, "unprocessable-image");
    await expectNothingStored(env);
  });

  it("422 for more pixels than MAX_INPUT_PIXELS, judged from the header", async () => {
    const { env, app } = await setup();
    // 2000 × 1000 of one colour: a few KB on the wire, 2 MP decoded (the limit here is 1 MP).
    const bomb = await makePng(2000, 1000, () => [255]);
    const response = await app.request("/api/images", { method: "POST", body: form(bomb) });
    const problem = await expectProblem(response, 422, "unprocessable-image");
    expect(problem.detail).toContain("2000×1000");
    await expectNothingStored(env);
  });

  it("413 for an upload over MAX_UPLOAD_BYTES", async () => {
    const { env, app } = await setup();
    const big = new Uint8Array(300_000);
    big.set(await png());
    const response = await app.request("/api/images", { method: "POST", body: form(big) });
    await expectProblem(response, 413, "payload-too-large");
    await expectNothingStored(env);
  });

  it.each([
    ["no image field", () => form(undefined, { method: "otsu" }), /`image`/],
    ["an unknown method", async () => form(await png(), { method: "magic" }), /`method`/],
    ["a threshold over 255", async () => form(await png(), { method: "fixed", threshold: "300" }), /`threshold`/],
    ["a threshold that is not a number", async () => form(await png(), { threshold: "dark" }), /`threshold`/],
    [
      "two files",
      async () => {
        const body = form(await png());
        body.append("image", new File([await png()], "second.png"));
        return body;
      },
      /exactly one file/,
    ],
  ])("400 for %s, naming the field", async (_, makeBody, detail) => {
    const { env, app } = await setup();
    const response = await app.request("/api/images", { method: "POST", body: await makeBody() });
    const problem = await expectProblem(response, 400, "bad-request");
    expect(problem.detail).toMatch(detail);
    await expectNothingStored(env);
  });

  it.each([
    "not-a-uuid",
    "..%2F..%2Fetc%2Fpasswd",
    "01900000-0000-7000-c000-000000000000", // UUID-shaped, but not RFC 9562 (variant bits)
  ])("400 for a malformed id %s on every image route", async (id) => {
    const { app } = await setup();
    for (const suffix of ["", "/original", "/processed"]) {
      await expectProblem(await app.request(`/api/images/${id}${suffix}`), 400, "bad-request");
    }
  });

  it("401 without the API token when one is set, compared in constant time by hono's bearerAuth", async () => {
    const { env, app } = await setup({ API_TOKEN: "s3cret-token-0123456789abcdef0123456789" });
    const body = form(await png());
    await expectProblem(await app.request("/api/images", { method: "POST", body }), 401, "unauthorized");
    const wrong = { Authorization: "Bearer guess" };
    await expectProblem(
      await app.request("/api/images", { method: "POST", body: form(await png()), headers: wrong }),
      401,
      "unauthorized",
    );
    // Catches: the Flask-era alias left open when /api is closed.
    await expectProblem(await app.request("/upload", { method: "POST", body: form(await png()) }), 401, "unauthorized");
    await expectNothingStored(env);
    const right = { Authorization: "Bearer s3cret-token-0123456789abcdef0123456789" };
    expect((await app.request("/api/images", { method: "POST", body: form(await png()), headers: right })).status).toBe(
      202,
    );
  });
});

describe("accepted uploads", () => {
  it("accepts a raw image body, and the Flask-era POST /upload", async () => {
    const { app } = await setup();
    const raw = await app.request("/api/images?method=fixed&threshold=100&filename=raw.png", {
      method: "POST",
      body: await png(),
      headers: { "Content-Type": "image/png" },
    });
    expect(raw.status).toBe(202);
    const legacy = await app.request("/upload", { method: "POST", body: form(await png()) });
    expect(legacy.status).toBe(202);
    const status = await (await app.request((await raw.json()).links.self)).json();
    expect(status).toMatchObject({ status: "queued", method: "fixed", threshold: 100, filename: "raw.png" });
  });

  it("keeps a sanitised filename as metadata only", async () => {
    const { env, app } = await setup();
    const response = await app.request("/api/images", {
      method: "POST",
      // (Control bytes in a part header are a 400: see hostile-clients.test.ts.)
      body: form(await png(), {}, "../../etc/evil\u202Ename.png"),
    });
    const { id } = await response.json();
    expect((await (await app.request(`/api/images/${id}`)).json()).filename).toBe("evilname.png");
    expect((await listKeys(env.s3, env.config.inputBucket)).every((k) => !k.includes("evil"))).toBe(true);
  });

  it("50 parallel uploads: all 202, 50 objects, 50 messages, no duplicates", async () => {
    const { env, app } = await setup();
    const responses = await Promise.all(
      Array.from({ length: 50 }, async (_, n) =>
        app.request("/api/images", { method: "POST", body: form(await makePng(20, 20, () => [n * 5])) }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(202));
    const ids = await Promise.all(responses.map(async (r) => (await r.json()).id));
    expect(new Set(ids).size).toBe(50);
    const originals = (await listKeys(env.s3, env.config.inputBucket)).filter((k) => !k.startsWith("index/"));
    expect(originals).toHaveLength(50);
    expect(await messageCount(env.sqs, env.queueUrls.input)).toBe(50);
  });
});

describe("reading images back", () => {
  it("streams the original with its type, ETag, immutable caching and 304; 404 while not processed", async () => {
    const { app } = await setup();
    const bytes = await png();
    const { id, links } = await (await app.request("/api/images", { method: "POST", body: form(bytes) })).json();
    const original = await app.request(links.original);
    expect(original.status).toBe(200);
    expect(original.headers.get("content-type")).toBe("image/png");
    expect(original.headers.get("cache-control")).toContain("immutable");
    expect(new Uint8Array(await original.arrayBuffer())).toEqual(bytes);
    const etag = original.headers.get("etag") as string;
    expect(etag).toBeTruthy();
    const again = await app.request(links.original, { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
    await expectProblem(await app.request(links.processed), 404, "not-found");
    expect(id).not.toBe(UNKNOWN_ID);
    await expectProblem(await app.request(`/api/images/${UNKNOWN_ID}/original`), 404, "not-found");
  });

  it("lists newest first with a cursor that is stable under new uploads", async () => {
    const { app } = await setup();
    const upload = async () =>
      (await (await app.request("/api/images", { method: "POST", body: form(await png()) })).json()).id as string;
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      ids.push(await upload());
      await new Promise((r) => setTimeout(r, 3)); // distinct milliseconds
    }
    const first = await (await app.request("/api/images?limit=2")).json();
    expect(first.items.map((i: { id: string }) => i.id)).toEqual([ids[4], ids[3]]);
    await upload(); // arrives between pages
    const second = await (await app.request(`/api/images?limit=2&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((i: { id: string }) => i.id)).toEqual([ids[2], ids[1]]);
    const third = await (await app.request(`/api/images?limit=2&cursor=${second.nextCursor}`)).json();
    expect(third.items.map((i: { id: string }) => i.id)).toEqual([ids[0]]);
    expect(third.nextCursor).toBeNull();
    await expectProblem(await app.request("/api/images?limit=1000"), 400, "bad-request");
    await expectProblem(await app.request("/api/images?cursor=../x"), 400, "bad-request");
  });
});

describe("manners", () => {
  it("sends secure headers, a request id, and no server banner", async () => {
    const { app } = await setup();
    const response = await app.request("/healthz");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-request-id")).toMatch(/\S+/);
    expect(response.headers.get("server")).toBeNull();
    expect(response.headers.get("x-powered-by")).toBeNull();
  });

  it("answers CORS only for origins on the allow-list", async () => {
    const closed = (await setup()).app;
    const open = (await setup({ CORS_ORIGINS: "https://app.example.com" })).app;
    const ask = (app: typeof open, origin: string) =>
      app.request("/api/images", {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Method": "POST" },
      });
    expect((await ask(closed, "https://app.example.com")).headers.get("access-control-allow-origin")).toBeNull();
    expect((await ask(open, "https://app.example.com")).headers.get("access-control-allow-origin")).toBe(
      "https://app.example.com",
    );
    expect((await ask(open, "https://evil.example.com")).headers.get("access-control-allow-origin")).toBeNull();
  });

  it("readyz is 200 with everything present and 503 when a queue is gone", async () => {
    const { env, app } = await setup();
    expect((await app.request("/readyz")).status).toBe(200);
    const { DeleteQueueCommand } = await import("@aws-sdk/client-sqs");
    await env.sqs.send(new DeleteQueueCommand({ QueueUrl: env.queueUrls.output }));
    await expectProblem(await app.request("/readyz"), 503, "service-unavailable");
  });
});

describe("when S3 and SQS are unreachable", () => {
  it("uploads, status and readiness answer 503 within a bounded time", async () => {
    // The app, its clients pointed at a port where nothing listens.
    const { app } = await setup(
      {},
      {
        api: (env) => {
          const dead = { ...env.config, endpointUrl: "http://127.0.0.1:9" };
          return { config: dead, s3: createS3Client(dead), sqs: createSqsClient(dead) };
        },
      },
    );
    const started = Date.now();
    await expectProblem(
      await app.request("/api/images", { method: "POST", body: form(await png()) }),
      503,
      "service-unavailable",
    );
    await expectProblem(await app.request(`/api/images/${UNKNOWN_ID}`), 503, "service-unavailable");
    await expectProblem(await app.request("/readyz"), 503, "service-unavailable");
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe("when only SQS fails", () => {
  it("the stored original is deleted again and the answer is 503: no object without its message", async () => {
    const { env, app } = await setup(
      {},
      { api: (env) => ({ sqs: createSqsClient({ ...env.config, endpointUrl: "http://127.0.0.1:9" }) }) },
    );
    const response = await app.request("/api/images", { method: "POST", body: form(await png()) });
    await expectProblem(response, 503, "service-unavailable");
    await expectNothingStored(env);
  });
});

describe("a real socket", () => {
  it("413 for an endless chunked body, and the connection is closed rather than read on", async () => {
    const server = await setup({}, { serve: true });
    const { env } = server;
    const url = new URL(`${server.url}/api/images`);
    const outcome = await new Promise<{ status: number; closed: boolean }>((resolve, reject) => {
      const request = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          headers: { "Content-Type": "image/png" },
        },
        (response) => {
          response.resume();
          response.on("end", () =>
            resolve({ status: response.statusCode ?? 0, closed: response.headers.connection === "close" }),
          );
        },
      );
      request.on("error", reject);
      const chunk = Buffer.alloc(64 * 1024, 1);
      // Keeps sending until the server answers: far more than the limit if it never does.
      const pump = setInterval(() => {
        if (!request.destroyed) request.write(chunk);
      }, 1);
      request.on("response", () => clearInterval(pump));
      setTimeout(() => {
        clearInterval(pump);
        request.destroy();
      }, 10_000);
    });
    expect(outcome).toEqual({ status: 413, closed: true });
    await expectNothingStored(env);
  });
});

describe("options in the query of a multipart upload are read, not ignored", () => {
  // Catches: `?threshold=256` accepted on a multipart upload because only its fields were read.
  it.each([
    ["an out-of-range threshold in the query", "?method=fixed&threshold=256", /`threshold`/],
    ["a threshold in the query that is not a number", "?threshold=dark", /`threshold`/],
    ["an unknown method in the query", "?method=magic", /`method`/],
    // Catches: empty values taken as "not given", which the OpenAPI document does not allow.
    ["empty options in the query", "?method=&threshold=", /`method`|`threshold`/],
  ])("400 for %s", async (_, query, detail) => {
    const { env, app } = await setup();
    const response = await app.request(`/api/images${query}`, { method: "POST", body: form(await png()) });
    const problem = await expectProblem(response, 400, "bad-request");
    expect(problem.detail).toMatch(detail);
    await expectNothingStored(env);
  });

  it("the query's options apply when the form has none, and a form field wins over the query", async () => {
    const { app } = await setup();
    const fromQuery = await app.request("/api/images?method=fixed&threshold=80", {
      method: "POST",
      body: form(await png()),
    });
    expect(fromQuery.status).toBe(202);
    const queried = await (await app.request((await fromQuery.json()).links.self)).json();
    expect(queried).toMatchObject({ method: "fixed", threshold: 80 });
    const both = await app.request("/api/images?method=otsu", {
      method: "POST",
      body: form(await png(), { method: "fixed", threshold: "60" }),
    });
    expect(both.status).toBe(202);
    const fielded = await (await app.request((await both.json()).links.self)).json();
    expect(fielded).toMatchObject({ method: "fixed", threshold: 60 });
  });
});

describe("a method a path does not have", () => {
  it.each([
    ["TRACE", "/api/images", "GET, HEAD, POST"],
    ["PUT", `/api/images/${UNKNOWN_ID}`, "DELETE, GET, HEAD"],
    ["GET", "/upload", "POST"],
    ["PATCH", "/healthz", "GET, HEAD"],
  ])("%s %s is a 405 problem with Allow", async (method, path, allow) => {
    const answer = await rawRequest(method, path);
    expect(answer.status).toBe(405);
    expect(answer.headers["content-type"]).toBe("application/problem+json");
    expect(JSON.parse(answer.body)).toMatchObject({ type: "/problems/method-not-allowed", status: 405 });
    expect(answer.headers.allow).toBe(allow);
  });

  it("a path that does not exist is still a 404", async () => {
    expect((await rawRequest("TRACE", "/api/nothing-here")).status).toBe(404);
  });
});

/** Any method over real HTTP (fetch refuses TRACE and CONNECT). */
async function rawRequest(method: string, path: string) {
  const server = await setup({}, { serve: true });
  return await new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = httpRequest(`${server.url}${path}`, { method }, (res) => {
        let body = "";
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode as number, headers: res.headers, body }));
      });
      req.on("error", reject);
      req.end();
    },
  );
}
