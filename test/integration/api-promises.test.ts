// What the API promises about what it lets out: its logs and its 500s. Real processes, the
// real LocalStack.
import { crc32 } from "node:zlib";
import { describe, expect, inject, it } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import type { Logger } from "../../infra/logger.ts";
import { createTestEnvironment } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { startPipeline } from "../support/pipeline.ts";
import { freePort, startCommand as spawnScript, startScript } from "../support/processes.ts";
import { waitForCompletions } from "../support/queues.ts";
import { startTcpProxy } from "../support/tcp-proxy.ts";

describe("what the API lets out", () => {
  // Catches: a log line with the token, the user's filename or the image's bytes, at any level.
  it("logs never hold the token, the filename or image bytes, even at trace level", async () => {
    const env = await createTestEnvironment({
      API_TOKEN: "tok-SECRET-4c1e-0123456789abcdef012345",
      LOG_LEVEL: "trace",
    });
    const port = await freePort();
    const api = startScript("api/main.ts", { ...baseChildEnv(), ...env.env, PORT: String(port) });
    const worker = startScript("worker/main.ts", { ...baseChildEnv(), ...env.env });
    try {
      await api.waitFor(/api listening/, 20_000);
      // The image carries a marker in a PNG text chunk: the bytes are in it if the marker is.
      const png = Buffer.from(await makePng(20, 20, (x) => [x * 12]));
      const marked = Buffer.concat([
        png.subarray(0, 33),
        textChunk("Comment", "IMAGE-BYTES-MARKER-77"),
        png.subarray(33),
      ]);
      const form = new FormData();
      form.set("image", new File([new Uint8Array(marked)], "private-name-of-a-contract.png"));
      const response = await fetch(`http://127.0.0.1:${port}/api/images`, {
        method: "POST",
        body: form,
        headers: { Authorization: "Bearer tok-SECRET-4c1e-0123456789abcdef012345" },
      });
      expect(response.status).toBe(202);
      const { id } = await response.json();
      await waitForCompletions(env.sqs, env.queueUrls.output, [id]);
      await fetch(`http://127.0.0.1:${port}/api/images/${id}`, { headers: { Authorization: "Bearer wrong-token" } });
      await api.waitFor(new RegExp(`"path":"/api/images/${id}"`), 5_000);
      const logs = api.output() + worker.output();
      expect(logs).toContain(id); // the logs are there, and name the image
      for (const secret of [
        "tok-SECRET-4c1e-0123456789abcdef012345",
        "wrong-token",
        "private-name-of-a-contract",
        "IMAGE-BYTES-MARKER-77",
      ]) {
        expect(logs, secret).not.toContain(secret);
      }
    } finally {
      api.interrupt();
      worker.interrupt();
      await Promise.all([api.exited, worker.exited]);
    }
  });

  // Catches: an unexpected error's message (or stack) in the answer.
  it("a 500 says only that the server could not handle the request", async () => {
    // A dependency that fails in a way no code path expects: the request logger itself.
    const { app } = await startPipeline({
      worker: false,
      api: (env) => ({ logger: failingRequestLogger(env.logger) }),
    });
    const response = await app.request("/healthz");
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({
      type: "/problems/internal",
      detail: "The server could not handle this request.",
    });
    expect(text).not.toMatch(/SECRET|TypeError|\/srv\/app/);
  });

  // Catches: an API that exits (or serves 503s for good) when SQS is not there yet at start.
  it("an API started while SQS is unreachable waits for it, then serves", async () => {
    const env = await createTestEnvironment({ LOG_LEVEL: "warn" });
    const proxy = await startTcpProxy(new URL(inject("awsEndpoint")));
    proxy.cut();
    const port = await freePort();
    const api = startScript("api/main.ts", {
      ...baseChildEnv(),
      ...env.env,
      PORT: String(port),
      AWS_ENDPOINT_URL: proxy.url,
    });
    try {
      await api.waitFor(/SQS not reachable yet; retrying/, 15_000);
      expect(api.child.exitCode).toBeNull();
      proxy.restore();
      await expect
        .poll(
          () =>
            fetch(`http://127.0.0.1:${port}/healthz`).then(
              (r) => r.ok,
              () => false,
            ),
          { timeout: 30_000 },
        )
        .toBe(true);
      const form = new FormData();
      form.set("image", new File([await makePng(10, 10, () => [100])], "late.png"));
      expect((await fetch(`http://127.0.0.1:${port}/api/images`, { method: "POST", body: form })).status).toBe(202);
    } finally {
      if (api.child.exitCode === null) api.interrupt();
      await api.exited;
      await proxy.close();
    }
  });
});

describe("logs for people and for machines", () => {
  // Catches: JSON lines in a person's terminal, or coloured text in a log collector's pipe.
  it("one readable line per event on a terminal, JSON lines in a pipe", async () => {
    const env = await createTestEnvironment({ LOG_LEVEL: "info" });
    const workerEnv = { ...baseChildEnv(), ...env.env };
    // `script` gives the worker a pseudo-terminal, as a shell window would.
    const onTerminal = spawnScript("script", ["-qfec", `${process.execPath} worker/main.ts`, "/dev/null"], workerEnv);
    const inPipe = startScript("worker/main.ts", workerEnv);
    try {
      const [terminalLine] = await onTerminal.waitFor(/^.*worker polling.*$/m, 20_000);
      expect(terminalLine).not.toMatch(/^\s*\{/);
      expect(terminalLine).toMatch(/\d\d:\d\d:\d\d.*INFO.*worker polling/);
      const [pipeLine] = await inPipe.waitFor(/^.*worker polling.*$/m, 20_000);
      expect(JSON.parse(pipeLine)).toMatchObject({ level: 30, service: "worker", msg: "worker polling" });
    } finally {
      onTerminal.interrupt();
      inPipe.interrupt();
      await Promise.all([onTerminal.exited, inPipe.exited]);
    }
  });
});

/** A logger whose request loggers throw on their first line, as no code path expects. */
function failingRequestLogger(base: Logger): Logger {
  const failing = base.child({});
  return new Proxy(base, {
    get(target, property) {
      if (property === "child") {
        return () =>
          new Proxy(failing, {
            get(inner, name) {
              if (name === "info") {
                return () => {
                  throw new TypeError("SECRET-internal-detail at /srv/app/x.ts:42");
                };
              }
              return Reflect.get(inner, name);
            },
          });
      }
      return Reflect.get(target, property);
    },
  }) as Logger;
}

/** A PNG tEXt chunk: length, type, keyword NUL text, CRC. */
function textChunk(keyword: string, text: string): Buffer {
  const data = Buffer.from(`${keyword}\0${text}`, "latin1");
  const typeAndData = Buffer.concat([Buffer.from("tEXt"), data]);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(typeAndData));
  return Buffer.concat([length, typeAndData, crc]);
}
