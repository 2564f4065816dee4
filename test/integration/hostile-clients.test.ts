// Clients that are unfriendly or just unlucky, against a served API on the real LocalStack:
// HEAD storms and abandoned downloads must not drain the S3 pool, malformed bodies are 400,
// any filename is safe, and an id's case does not matter.
import { request as httpRequest } from "node:http";
import type { Readable } from "node:stream";
import { GetObjectCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { poolUsage } from "../../infra/aws-clients.ts";
import { listKeys } from "../../infra/inspect.ts";
import { makePng } from "../support/images.ts";
import { usePipeline } from "../support/pipeline.ts";

const stack = usePipeline({ serve: true });

const png = () => makePng(64, 48, (x, y) => [(x * 5 + y * 3) % 256, 120, 40]);
// Larger than the socket and stream buffers together (about 2.4 MB, its result about 100 KB):
// a small body is read to its end by the buffers alone, and would hide a leak.
const noisyPng = () => makePng(900, 900, (x, y) => [(x * 7919 + y * 104729) % 256, (x ^ y) % 256, 9]);

async function upload(body: FormData) {
  const response = await fetch(`${stack.url}/api/images`, { method: "POST", body });
  return { status: response.status, body: await response.json() };
}

function imageForm(bytes: Uint8Array<ArrayBuffer>, name = "page.png") {
  const form = new FormData();
  form.set("image", new File([bytes], name));
  return form;
}

async function waitForDone(id: string) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const status = await (await fetch(`${stack.url}/api/images/${id}`)).json();
    if (status.status !== "queued") return status;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`image ${id} never completed`);
}

/** Sockets the API holds to S3 (both pools) should all be back once nothing is in flight. */
async function expectS3PoolIdle() {
  const inUse = () => poolUsage(stack.env.s3).inUse + poolUsage(stack.downloads).inUse;
  for (let attempt = 0; attempt < 50 && inUse() > 0; attempt++) {
    await new Promise((r) => setTimeout(r, 20));
  }
  expect(poolUsage(stack.env.s3)).toMatchObject({ inUse: 0, waiting: 0 });
  expect(poolUsage(stack.downloads)).toMatchObject({ inUse: 0, waiting: 0 });
}

describe("HEAD, aborted and conditional requests never leak an S3 socket", () => {
  // Catches: a HEAD answered by opening the object's body and dropping it (each one keeps a
  // socket out of the pool; 50 of them and every S3 call fails until the process restarts).
  it("a HEAD storm on /original and /processed leaves the pool idle, readyz 200 and uploads fast", async () => {
    const accepted = await upload(imageForm(await noisyPng()));
    expect(accepted.status).toBe(202);
    await waitForDone(accepted.body.id);
    const { links } = accepted.body;

    for (const path of [links.original, links.processed]) {
      const answers = await Promise.all(
        Array.from({ length: 60 }, () => fetch(`${stack.url}${path}`, { method: "HEAD" })),
      );
      expect(new Set(answers.map((r) => r.status))).toEqual(new Set([200]));
      expect(Number(answers[0].headers.get("content-length"))).toBeGreaterThan(0);
      expect(answers[0].headers.get("etag")).toBeTruthy();
    }
    await expectS3PoolIdle();

    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
    const started = performance.now();
    expect((await upload(imageForm(await png()))).status).toBe(202);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("HEAD answers 404 for a missing image and 304 when the ETag matches", async () => {
    const accepted = await upload(imageForm(await png()));
    const original = `${stack.url}${accepted.body.links.original}`;
    const etag = (await fetch(original, { method: "HEAD" })).headers.get("etag") as string;
    expect((await fetch(original, { method: "HEAD", headers: { "If-None-Match": etag } })).status).toBe(304);
    const missing = "01900000-0000-7000-8000-000000000000";
    expect((await fetch(`${stack.url}/api/images/${missing}/processed`, { method: "HEAD" })).status).toBe(404);
    await expectS3PoolIdle();
  });

  // Catches: a download whose client hangs up mid-body keeping the S3 response open.
  it("downloads abandoned after their first bytes give their sockets back", async () => {
    const accepted = await upload(imageForm(await noisyPng(), "big.png"));
    const url = new URL(`${stack.url}${accepted.body.links.original}`);
    await Promise.all(
      Array.from(
        { length: 60 },
        () =>
          new Promise<void>((resolve, reject) => {
            const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname }, (response) => {
              response.once("data", () => {
                request.destroy();
                resolve();
              });
            });
            request.on("error", (error) => (request.destroyed ? resolve() : reject(error)));
            request.end();
          }),
      ),
    );
    await expectS3PoolIdle();
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
  });
});

describe("slow readers cannot starve anyone but themselves", () => {
  // Catches: downloads and uploads sharing one S3 pool, so that readers who take their time
  // hold every socket and uploads, status and readiness fail (the finding: 60 readers did it).
  it("20 stalled readers of a large original: 16 stream, 4 are told 429; uploads stay fast, readyz 200; each stream is cut", async () => {
    // Noise, which does not compress: about 20 MB, more than the socket buffers between S3 and
    // a reader hold together on loopback (up to about 10 MB), so a stalled reader does stall.
    const noise = () => Math.floor(Math.random() * 256);
    const large = await makePng(2580, 2580, () => [noise(), noise(), noise()]);
    const accepted = await upload(imageForm(large, "large.png"));
    expect(accepted.status).toBe(202);
    const url = new URL(`${stack.url}${accepted.body.links.original}`);
    const readers = Array.from(
      { length: 20 },
      () =>
        new Promise<{ status: number; retryAfter: unknown; received: number; total: number }>((resolve) => {
          let received = 0;
          let total = Number.NaN;
          let status = 0;
          let retryAfter: unknown;
          const request = httpRequest({ host: url.hostname, port: url.port, path: url.pathname }, (response) => {
            total = Number(response.headers["content-length"]);
            status = response.statusCode as number;
            retryAfter = response.headers["retry-after"];
            // A trickle: 1 KB now and then, far below any useful rate, until the grace period
            // is over; then it reads what is left, to see whether it was all sent. The guard cuts
            // 11 s after the megabytes the buffers took at once; on a loaded machine those take
            // seconds to pass, so the trickle lasts well beyond (14 s once let a stream finish).
            response.pause();
            const sip = setInterval(() => {
              const chunk = response.read(1024) as Buffer | null;
              if (chunk) received += chunk.length;
            }, 200);
            setTimeout(() => {
              clearInterval(sip);
              response.on("data", (chunk: Buffer) => {
                received += chunk.length;
              });
              response.resume();
            }, 25_000);
          });
          request.on("close", () => resolve({ status, retryAfter, received, total }));
          // The cut itself resets the connection: expected, and counted below by what arrived
          // (a reader that never got an answer has status 0 and fails both counts).
          request.on("error", () => {});
          request.end();
        }),
    );
    await new Promise((r) => setTimeout(r, 1_500));
    expect(poolUsage(stack.downloads).inUse).toBeGreaterThan(0);
    const small = await png();
    const times = [];
    for (let n = 0; n < 5; n++) {
      const started = performance.now();
      expect((await upload(imageForm(small))).status).toBe(202);
      times.push(performance.now() - started);
      expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
    }
    expect(Math.max(...times)).toBeLessThan(1_000);
    // 16 stream at once, the rest are told to come back; below the minimum rate for a whole
    // window, every stream is cut, and its socket returns.
    const ends = await Promise.all(readers);
    const streamed = ends.filter((end) => end.status === 200);
    expect(streamed).toHaveLength(16);
    expect(streamed.filter((end) => end.received < end.total)).toHaveLength(16);
    expect(ends.filter((end) => end.status === 429 && end.retryAfter === "5")).toHaveLength(4);
    await expectS3PoolIdle();
  }, 60_000);
});

describe("readiness sees a saturated S3 pool", () => {
  // Catches: /readyz passing (or blaming the buckets) while every upload waits for a socket.
  it("503 naming the pool while every socket is held and a call waits; 200 once they are given back", async () => {
    const accepted = await upload(imageForm(await noisyPng()));
    const { s3, config } = stack.env;
    const key = (await listKeys(s3, config.inputBucket)).find((k) => k.startsWith(accepted.body.id)) as string;
    const { maxSockets } = poolUsage(s3);
    // The leak itself, made on purpose: bodies opened and never read.
    const held = await Promise.all(
      Array.from({ length: maxSockets }, () => s3.send(new GetObjectCommand({ Bucket: config.inputBucket, Key: key }))),
    );
    // Calls that keep waiting for a socket (each gives up after the connection timeout and retries).
    let holding = true;
    const waiting = (async () => {
      while (holding) await s3.send(new HeadBucketCommand({ Bucket: config.inputBucket })).catch(() => {});
    })();
    try {
      // A full pool for a moment is load; one that gives nothing back for 3 s is stuck.
      await new Promise((r) => setTimeout(r, 3_500));
      const ready = await fetch(`${stack.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await ready.json()).detail).toMatch(new RegExp(`S3 connection pool \\(${maxSockets} of ${maxSockets}`));
    } finally {
      holding = false;
      for (const object of held) (object.Body as Readable).destroy();
      await waiting;
    }
    await expectS3PoolIdle();
    expect((await fetch(`${stack.url}/readyz`)).status).toBe(200);
  });
});

/** Sends a hand-made multipart body, so that it can be as broken as a real client's. */
async function postMultipart(body: string | Buffer, contentType = "multipart/form-data; boundary=XyZ") {
  const response = await fetch(`${stack.url}/api/images`, {
    method: "POST",
    body: new Uint8Array(typeof body === "string" ? Buffer.from(body, "latin1") : body),
    headers: { "Content-Type": contentType },
  });
  return { status: response.status, type: response.headers.get("content-type"), body: await response.json() };
}

function part(name: string, content: string, filename?: string, extraHeaders = "") {
  const disposition = `form-data; name="${name}"${filename === undefined ? "" : `; filename="${filename}"`}`;
  return `--XyZ\r\nContent-Disposition: ${disposition}\r\n${extraHeaders}\r\n${content}\r\n`;
}

describe("malformed bodies are 400 with a specific detail and leave nothing behind", () => {
  const pngText = async () => Buffer.from(await png()).toString("latin1");

  it.each([
    [
      "no boundary",
      async () => postMultipart(part("image", await pngText(), "a.png"), "multipart/form-data"),
      /boundary/,
    ],
    ["no closing boundary", async () => postMultipart(part("image", await pngText(), "a.png")), /closing boundary/],
    [
      "a body cut inside the file",
      async () =>
        postMultipart(
          `--XyZ\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n${(await pngText()).slice(0, 100)}`,
        ),
      /closing boundary/,
    ],
    ["no image field", async () => postMultipart(`${part("method", "otsu")}--XyZ--\r\n`), /`image`.*missing/],
    [
      "two image files",
      async () =>
        postMultipart(
          `${part("image", await pngText(), "a.png")}${part("image", await pngText(), "b.png")}--XyZ--\r\n`,
        ),
      /exactly one file/,
    ],
    ["the image as text", async () => postMultipart(`${part("image", "hello")}--XyZ--\r\n`), /must be a file/],
    [
      "a file in an option field",
      async () =>
        postMultipart(`${part("image", await pngText(), "a.png")}${part("method", "otsu", "m.txt")}--XyZ--\r\n`),
      /must be text/,
    ],
    [
      "method given twice",
      async () =>
        postMultipart(
          `${part("image", await pngText(), "a.png")}${part("method", "otsu")}${part("method", "fixed")}--XyZ--\r\n`,
        ),
      /more than once/,
    ],
    [
      // Catches: busboy's second error (the header, after the refused repeat) with no listener
      // left, which ended the whole process: this file's own API and worker run in it.
      "a field given twice, then a control character in a later part header",
      async () =>
        postMultipart(
          `${part("image", await pngText(), "a.png")}${part("method", "otsu")}${part("method", "fixed")}` +
            `${part("threshold", "9", undefined, "X-Bad: a\u0001b\r\n")}--XyZ--\r\n`,
        ),
      /more than once|part header/,
    ],
    [
      "an oversized part header",
      async () =>
        postMultipart(`${part("image", await pngText(), "a.png", `X-Padding: ${"p".repeat(20_000)}\r\n`)}--XyZ--\r\n`),
      /part header/,
    ],
    [
      "hundreds of parts",
      async () =>
        postMultipart(
          `${part("image", await pngText(), "a.png")}${Array.from({ length: 200 }, (_, n) => part(`f${n}`, "x")).join("")}--XyZ--\r\n`,
        ),
      /more than \d+ parts/,
    ],
    [
      "garbage",
      async () => postMultipart(Buffer.from(Array.from({ length: 5000 }, (_, n) => (n * 7919) % 256))),
      /closing boundary|malformed/,
    ],
  ])("%s", async (_, send, detail) => {
    const before = await listKeys(stack.env.s3, stack.env.config.inputBucket);
    const answer = await send();
    expect(answer.status).toBe(400);
    expect(answer.type).toBe("application/problem+json");
    expect(answer.body.type).toBe("/problems/bad-request");
    expect(answer.body.detail).toMatch(detail);
    expect(await listKeys(stack.env.s3, stack.env.config.inputBucket)).toEqual(before);
    // Still serving after it: the process did not die of an unheard error event.
    await new Promise((r) => setTimeout(r, 50));
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
  });

  it("a valid hand-made body is still accepted (the cases above fail for their own reason)", async () => {
    const answer = await postMultipart(
      `${part("image", await pngText(), "a.png")}${part("method", "fixed")}--XyZ--\r\n`,
    );
    expect(answer.status).toBe(202);
    const status = await (await fetch(`${stack.url}${answer.body.links.self}`)).json();
    expect(status).toMatchObject({ filename: "a.png", method: "fixed" });
  });
});

// Names as clients really send them: each is uploaded raw (bytes of our choosing in the
// Content-Disposition) and must come back from the status route as a clean display name.
const ACCEPTED_NAMES: [string, Buffer, string | RegExp][] = [
  ["an emoji cut at the length limit", Buffer.from(`${"a".repeat(199)}😀😀😀.png`), `${"a".repeat(199)}😀`],
  ["only emoji, 2 KB of them", Buffer.from("😀".repeat(500)), /^(😀)+$/],
  ["a lone surrogate", Buffer.from([0x61, 0xed, 0xa0, 0x80, 0x2e, 0x70, 0x6e, 0x67]), "a\uFFFD\uFFFD\uFFFD.png"],
  ["a tab", Buffer.from("a\tb.png"), "ab.png"],
  ["a right-to-left override", Buffer.from("invoice\u202Egnp.exe"), "invoicegnp.exe"],
  ["a 10 KB name", Buffer.from("n".repeat(10_000)), "n".repeat(200)],
  ["a path that climbs", Buffer.from("../../../etc/passwd"), "passwd"],
  ["only dots", Buffer.from(".."), ""],
  ["percent-encoded bytes", Buffer.from("%2e%2e%2f%00%ff.png"), "%2e%2e%2f%00%ff.png"],
  ["Latin-1 bytes that are not UTF-8", Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x70, 0x6e, 0x67]), "caf\uFFFD.png"],
  ["a family emoji (joined by ZWJ) kept whole", Buffer.from("👨‍👩‍👧.png"), "👨‍👩‍👧.png"],
];

/** A multipart upload of a small PNG whose Content-Disposition carries exactly these bytes. */
async function uploadNamed(nameBytes: Buffer) {
  return postMultipart(
    Buffer.concat([
      Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="image"; filename="'),
      nameBytes,
      Buffer.from('"\r\nContent-Type: image/png\r\n\r\n'),
      Buffer.from(await png()),
      Buffer.from("\r\n--XyZ--\r\n"),
    ]),
  );
}

describe("any filename is safe", () => {
  it.each(ACCEPTED_NAMES)("%s: accepted under a clean display name", async (_, nameBytes, expected) => {
    const answer = await uploadNamed(nameBytes);
    expect(answer.status).toBe(202);
    const status = await (await fetch(`${stack.url}${answer.body.links.self}`)).json();
    expect(status.filename).toEqual(expected instanceof RegExp ? expect.stringMatching(expected) : expected);
    expect(status.filename.isWellFormed()).toBe(true);
    expect(Buffer.byteLength(encodeURIComponent(status.filename))).toBeLessThanOrEqual(1024);
  });

  // busboy refuses control bytes in a part header outright: a 400 that names the header.
  it("control characters and NUL in the name: 400 naming the part header, nothing stored", async () => {
    const before = await listKeys(stack.env.s3, stack.env.config.inputBucket);
    const answer = await uploadNamed(Buffer.from("a\u0000b\u0007c\u001b[31m.png"));
    expect(answer).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/part header/) } });
    expect(await listKeys(stack.env.s3, stack.env.config.inputBucket)).toEqual(before);
  });

  it("the raw-body upload's ?filename= goes through the same sanitising", async () => {
    const response = await fetch(`${stack.url}/api/images?filename=%F0%9F%98%80%E2%80%AEx%00.png`, {
      method: "POST",
      body: await png(),
      headers: { "Content-Type": "image/png" },
    });
    expect(response.status).toBe(202);
    const status = await (await fetch(`${stack.url}${(await response.json()).links.self}`)).json();
    expect(status.filename).toBe("😀x.png");
  });
});

describe("ids are case-insensitive", () => {
  // Catches: an upper-case id reaching S3 as a key that does not exist (404 for a stored image).
  it("any case finds the image; links use the lower-case form", async () => {
    const accepted = await upload(imageForm(await png()));
    const upper = accepted.body.id.toUpperCase();
    for (const path of [`/api/images/${upper}`, `/api/images/${upper}/original`]) {
      expect((await fetch(`${stack.url}${path}`)).status).toBe(200);
    }
    const status = await (await fetch(`${stack.url}/api/images/${upper}`)).json();
    expect(status.id).toBe(accepted.body.id);
    expect(status.links.self).toBe(`/api/images/${accepted.body.id}`);
  });
});
