// The hostile-client soak: for a bounded time, on loopback only, normal uploads and downloads
// mixed with everything an unfriendly or unlucky client does (HEAD storms, abandoned downloads,
// conditional GETs, trickled bodies, idle keep-alive sockets, malformed and oversize bodies,
// the same bytes at once), while 200 slow readers trickle a large original for the whole run.
// Uploads must keep answering fast and /readyz 200 meanwhile; afterwards every 202 must be
// done, neither process may have died, and the API must be as it was before.
// `npm run bench -- soak [--seconds N]`; the 10 s version runs in `npm test`.
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { loadConfig } from "../../infra/config.ts";
import { startLocalStack } from "../../infra/localstack.ts";
import { ensureResources } from "../../infra/resources.ts";
import { forEachInParallel } from "../in-parallel.ts";
import { freePort, processStats, startNode, waitForHealth } from "./run-pipeline.ts";
import { samplePng } from "./sample-images.ts";
import { benchProcessEnv } from "./shared.ts";

export interface SoakReport {
  seconds: number;
  requests: Record<string, number>;
  statuses: Record<string, number>;
  accepted: number;
  done: number;
  notDone: string[];
  /** 5xx answers to anything: a hostile client must never cause one. */
  serverErrors: number;
  /** The first few of them, request and answer, to say what went wrong. */
  serverErrorSamples: string[];
  readyzAfter: number;
  /** /readyz polled through the run: answers other than 200 (a load balancer would pull the task). */
  readyzNotReadyDuring: number;
  readyzPolls: number;
  /** p50 and p99: beside the slow readers (`count` uploads), and among the hostile mix. */
  uploadMs: {
    before: number;
    after: number;
    p50: number;
    p99: number;
    count: number;
    hostile: { p50: number; p99: number };
  };
  slowReaders: number;
  /** Processes (API, worker) that exited during the run: a request must never end one. */
  crashes: number;
  sockets: { before: SocketFigures; after: SocketFigures };
  fds: { before: number; after: number };
  rssMiB: { before: number; after: number; peak: number };
}

interface SocketFigures {
  inUse: number;
  idle: number;
  waiting: number;
}

// Clients at once, the few kept open and idle for the whole soak, and the readers who take
// their time over the big original.
const ACTORS = 12;
const IDLE_CONNECTIONS = 100;
const SLOW_READERS = 200;
const READER_ARRIVAL_MS = 2_000;
// Small enough that oversize bodies are cheap to send, large enough for the big image.
const MAX_UPLOAD_BYTES = 4 * 1024 * 1024;
const SERVER_KEEP_ALIVE_MS = 5_000;

export async function runSoak({ endpoint, seconds }: { endpoint: string; seconds: number }): Promise<SoakReport> {
  const env = benchProcessEnv(endpoint, "soak", { MAX_UPLOAD_BYTES: String(MAX_UPLOAD_BYTES) });
  const config = loadConfig(env);
  await ensureResources({ s3: createS3Client(config), sqs: createSqsClient(config) }, config);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const api = startNode("api/main.ts", { ...env, PORT: String(port) });
  const worker = startNode("worker/main.ts", env);
  try {
    await waitForHealth(base, api);
    // Small images for speed; a big one, larger than every buffer on the way, for leaks.
    const small = new Uint8Array(await samplePng("document", 0.05));
    const big = new Uint8Array(await samplePng("photo", 1.2));
    const client = createClient(base);

    // Warm: pools opened, one of each image stored and processed, then the baseline.
    const seed = [await client.upload(small), await client.upload(big)];
    await client.waitUntilDone(
      seed.map((s) => s.id as string),
      60_000,
    );
    const uploadBefore = await client.timedUpload(small);
    const before = await figures(base, api);

    const idle = await openIdleConnections(port, IDLE_CONNECTIONS);
    const deadline = Date.now() + seconds * 1000;
    let readyzPolls = 0;
    let readyzNotReadyDuring = 0;
    const polling = setInterval(async () => {
      readyzPolls++;
      const status = await fetch(`${base}/readyz`).then(
        (r) => r.status,
        () => 0,
      );
      if (status !== 200) readyzNotReadyDuring++;
    }, 500);
    const targets = seed.map((s) => s.links as { self: string; original: string; processed: string });
    const actions = hostileActions(client, { small, big, targets, port, maxBytes: MAX_UPLOAD_BYTES });
    const names = Object.keys(actions);
    let turn = 0;
    let peakRss = before.rssMiB;
    const sampling = setInterval(async () => {
      peakRss = Math.max(peakRss, (await processStats(api.pid as number)).peakRssMiB);
    }, 500);
    await Promise.all(
      Array.from({ length: ACTORS }, async () => {
        while (Date.now() < deadline) {
          const name = names[turn++ % names.length];
          client.count(name);
          await actions[name]().catch(() => client.count("client-side error"));
        }
      }),
    );
    for (const socket of idle) socket.destroy();
    const hostileUploadMs = percentiles(client.uploadTimes);

    // Then the slow readers, and one upload after another beside them: what a user sees while
    // readers who take their time hold every socket they can get. The mix's backlog is worked
    // off first, so that the worker's CPU is not what the uploads wait for (two cores here).
    await client.waitUntilDone([...client.accepted], 300_000);
    const slowDeadline = Date.now() + slowPhaseSeconds(seconds) * 1000;
    // They arrive over the first READER_ARRIVAL_MS (100 a second), not in one millisecond.
    const slowReaders = Array.from({ length: SLOW_READERS }, async (_, n) => {
      await new Promise((r) => setTimeout(r, (n * READER_ARRIVAL_MS) / SLOW_READERS));
      await slowReader(port, seed[1].links.original, slowDeadline);
    });
    const probeTimes: number[] = [];
    while (Date.now() < slowDeadline) probeTimes.push(await client.timedUpload(small));
    await Promise.all(slowReaders);
    clearInterval(sampling);
    clearInterval(polling);
    const crashes = [api, worker].filter((child) => child.exitCode !== null || child.signalCode !== null).length;

    const notDone = await client.waitUntilDone([...client.accepted], 120_000);
    // Let the soak's own keep-alive connections to the API close (the API drops an idle one
    // after Node's 5 s keepAliveTimeout), so that what stays open is the API's own.
    await new Promise((r) => setTimeout(r, SERVER_KEEP_ALIVE_MS + 500));
    const readyzAfter = (await fetch(`${base}/readyz`)).status;
    const uploadAfter = await client.timedUpload(small);
    const after = await figures(base, api);
    return {
      seconds,
      requests: client.requests,
      statuses: client.statuses,
      accepted: client.accepted.size,
      done: client.accepted.size - notDone.length,
      notDone,
      serverErrors: Object.entries(client.statuses)
        .filter(([status]) => status.startsWith("5"))
        .reduce((sum, [, n]) => sum + n, 0),
      serverErrorSamples: client.serverErrors,
      readyzAfter,
      readyzNotReadyDuring,
      readyzPolls,
      uploadMs: {
        before: uploadBefore,
        after: uploadAfter,
        hostile: hostileUploadMs,
        ...percentiles(probeTimes),
        count: probeTimes.length,
      },
      slowReaders: SLOW_READERS,
      crashes,
      sockets: { before: before.sockets, after: after.sockets },
      fds: { before: before.fds, after: after.fds },
      rssMiB: { before: before.rssMiB, after: after.rssMiB, peak: Math.max(peakRss, after.peakRssMiB) },
    };
  } finally {
    await Promise.all([api, worker].map(stop));
  }
}

/** The API's pools as it reports them, its open descriptors and its memory. */
async function figures(base: string, api: ChildProcess) {
  const metrics = await (await fetch(`${base}/metrics`)).text();
  const gauge = (state: string) =>
    [...metrics.matchAll(new RegExp(`^bitonal_aws_sockets\\{[^}]*state="${state}"[^}]*\\} (\\d+)`, "gm"))].reduce(
      (sum, m) => sum + Number(m[1]),
      0,
    );
  const status = await readFile(`/proc/${api.pid}/status`, "utf8");
  return {
    sockets: { inUse: gauge("in_use"), idle: gauge("idle"), waiting: gauge("waiting") },
    fds: (await readdir(`/proc/${api.pid}/fd`)).length,
    rssMiB: Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024,
    peakRssMiB: Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024,
  };
}

function createClient(base: string) {
  const requests: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  const accepted = new Set<string>();
  const serverErrors: string[] = [];
  const answered = async (response: Response, what: string) => {
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
    if (response.status >= 500 && serverErrors.length < 20) {
      serverErrors.push(`${what} → ${response.status} ${await response.clone().text()}`);
    }
    return response;
  };
  const uploadTimes: number[] = [];
  const client = {
    base,
    uploadTimes,
    requests,
    statuses,
    serverErrors,
    accepted,
    count(name: string) {
      requests[name] = (requests[name] ?? 0) + 1;
    },
    async fetch(path: string, init?: RequestInit): Promise<Response> {
      return answered(await fetch(`${base}${path}`, init), `${init?.method ?? "GET"} ${path}`);
    },
    async upload(bytes: Uint8Array) {
      const form = new FormData();
      form.set("image", new File([new Uint8Array(bytes)], "soak.png"));
      const started = performance.now();
      const response = await client.fetch("/api/images", { method: "POST", body: form });
      const body = await response.json();
      uploadTimes.push(performance.now() - started);
      if (response.status === 202) accepted.add(body.id);
      return body;
    },
    async timedUpload(bytes: Uint8Array): Promise<number> {
      const started = performance.now();
      const body = await client.upload(bytes);
      if (!body.id) throw new Error(`upload refused: ${JSON.stringify(body)}`);
      return performance.now() - started;
    },
    /** Waits until none of `ids` is queued; returns those still not done. */
    async waitUntilDone(ids: string[], timeoutMs: number): Promise<string[]> {
      const deadline = Date.now() + timeoutMs;
      let pending = ids;
      while (pending.length > 0 && Date.now() < deadline) {
        const states = new Map<string, string>();
        await forEachInParallel(pending.length, 8, async (n) => {
          const status = await (await fetch(`${base}/api/images/${pending[n]}`)).json();
          states.set(pending[n], status.status);
        });
        const queued = pending.filter((id) => states.get(id) === "queued");
        if (queued.length === 0) return pending.filter((id) => states.get(id) !== "done");
        pending = queued;
        await new Promise((r) => setTimeout(r, 250));
      }
      return pending;
    },
  };
  return client;
}

type Client = ReturnType<typeof createClient>;

function hostileActions(
  client: Client,
  {
    small,
    big,
    targets,
    port,
    maxBytes,
  }: {
    small: Uint8Array;
    big: Uint8Array;
    targets: { self: string; original: string; processed: string }[];
    port: number;
    maxBytes: number;
  },
): Record<string, () => Promise<unknown>> {
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];
  const someImage = () => pick(targets);
  const routes = () => {
    const t = someImage();
    return [t.self, t.original, t.processed, "/api/images", "/healthz", "/readyz", "/", "/openapi.json"];
  };
  const drain = async (response: Response) => {
    await response.arrayBuffer();
  };
  return {
    "upload (small)": () => client.upload(small),
    "upload (big)": () => client.upload(big),
    download: () => client.fetch(pick([someImage().original, someImage().processed])).then(drain),
    "HEAD storm": () =>
      Promise.all(Array.from({ length: 10 }, () => client.fetch(pick(routes()), { method: "HEAD" }).then(drain))),
    "aborted download": () => abortedDownload(port, someImage().original, Math.random()),
    "conditional GET": async () => {
      const path = someImage().original;
      const etag = (await client.fetch(path, { method: "HEAD" })).headers.get("etag") ?? '"none"';
      await drain(await client.fetch(path, { headers: { "If-None-Match": etag } }));
    },
    "trickled body": () => trickledUpload(port, small),
    "malformed multipart": () =>
      client
        .fetch("/api/images", {
          method: "POST",
          headers: { "Content-Type": pick(["multipart/form-data", "multipart/form-data; boundary=B"]) },
          body: pick([
            '--B\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nshort',
            '--B\r\nContent-Disposition: form-data; name="method"\r\n\r\notsu\r\n--B--\r\n',
            `--B\r\nX: ${"x".repeat(20_000)}\r\n\r\n`,
            // The body that used to end the process: a field given twice, then a control
            // character in a later part header (busboy's second error).
            '--B\r\nContent-Disposition: form-data; name="method"\r\n\r\notsu\r\n--B\r\nContent-Disposition: form-data; name="method"\r\n\r\nfixed\r\n--B\r\nContent-Disposition: form-data; name="x"\r\nX-Bad: a\u0001b\r\n\r\nv\r\n--B--\r\n',
            "garbage",
          ]),
        })
        .then(drain),
    "random bytes": () =>
      client
        .fetch("/api/images", {
          method: "POST",
          headers: { "Content-Type": pick(["image/png", "application/octet-stream"]) },
          body: crypto.getRandomValues(new Uint8Array(1 + Math.floor(Math.random() * 60_000))),
        })
        .then(drain),
    "oversize body": () => oversizeUpload(port, maxBytes),
    "same bytes at once": () => Promise.all(Array.from({ length: 4 }, () => client.upload(small))),
  };
}

/** GET that reads a random fraction of the body, then hangs up. */
function abortedDownload(port: number, path: string, fraction: number): Promise<void> {
  return new Promise((resolve) => {
    const request = httpRequest({ host: "127.0.0.1", port, path }, (response) => {
      const total = Number(response.headers["content-length"] ?? 1);
      let read = 0;
      response.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read >= total * fraction) request.destroy();
      });
      response.on("end", resolve);
    });
    request.on("error", () => resolve());
    request.on("close", () => resolve());
    request.end();
  });
}

/** The slow readers' phase follows the hostile mix: half as long, and at least 8 s. */
function slowPhaseSeconds(seconds: number): number {
  return Math.max(8, seconds / 2);
}

/** GET that reads 1 KB every 200 ms (5 KB/s) until `deadline` or until the server cuts it. */
function slowReader(port: number, path: string, deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const request = httpRequest({ host: "127.0.0.1", port, path }, (response) => {
      response.pause();
      const sip = setInterval(() => {
        response.read(1024);
        if (Date.now() > deadline) request.destroy();
      }, 200);
      response.on("close", () => clearInterval(sip));
    });
    request.on("error", () => {});
    request.on("close", () => resolve());
    request.end();
  });
}

function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/** A multipart upload sent a few hundred bytes at a time, with pauses: about a second in all. */
async function trickledUpload(port: number, image: Uint8Array): Promise<void> {
  const body = Buffer.concat([
    Buffer.from('--T\r\nContent-Disposition: form-data; name="image"; filename="slow.png"\r\n\r\n'),
    image.subarray(0, 2000),
  ]);
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write(
    `POST /api/images HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=T\r\nContent-Length: ${body.length + 1000}\r\n\r\n`,
  );
  for (let offset = 0; offset < body.length && !socket.destroyed; offset += 400) {
    socket.write(body.subarray(offset, offset + 400));
    await new Promise((r) => setTimeout(r, 100));
  }
  // The promised rest never comes: the client hangs up.
  socket.destroy();
}

/** A chunked body that goes on past the limit until the server answers (413) or 2 s pass. */
function oversizeUpload(port: number, maxBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const request = httpRequest(
      { host: "127.0.0.1", port, path: "/api/images", method: "POST", headers: { "Content-Type": "image/png" } },
      (response) => {
        response.resume();
        response.on("end", resolve);
      },
    );
    request.on("error", () => resolve());
    const chunk = Buffer.alloc(256 * 1024, 7);
    let sent = 0;
    const pump = () => {
      while (!request.destroyed && sent < maxBytes * 2 && request.write(chunk)) sent += chunk.length;
      if (!request.destroyed && sent < maxBytes * 2) request.once("drain", pump);
      else request.end();
    };
    pump();
    setTimeout(() => {
      request.destroy();
      resolve();
    }, 2_000);
  });
}

/** Keep-alive connections that send one request and then sit idle. */
async function openIdleConnections(port: number, count: number): Promise<Socket[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      await once(socket, "connect");
      socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
      socket.resume();
      return socket;
    }),
  );
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

export function printSoak(report: SoakReport): void {
  const line = (label: string, value: unknown) => console.log(`${label.padEnd(28)} ${value}`);
  line(
    "duration",
    `${report.seconds} s, ${ACTORS} clients, ${IDLE_CONNECTIONS} idle keep-alive connections, ${SLOW_READERS} slow readers`,
  );
  for (const [name, n] of Object.entries(report.requests)) line(`  ${name}`, n);
  line("answers by status", JSON.stringify(report.statuses));
  line("5xx answers", report.serverErrors);
  for (const sample of report.serverErrorSamples) line("  5xx", sample);
  line("accepted (202) → done", `${report.accepted} → ${report.done}`);
  line("slow readers (5 KB/s)", `${report.slowReaders}, for ${slowPhaseSeconds(report.seconds)} s after the mix`);
  line("crashes (API, worker)", report.crashes);
  line("/readyz not 200 during", `${report.readyzNotReadyDuring} of ${report.readyzPolls} polls`);
  line("/readyz after", report.readyzAfter);
  const u = report.uploadMs;
  line(
    "upload p50 / p99, slow readers",
    `${u.p50.toFixed(0)} ms / ${u.p99.toFixed(0)} ms (${u.count} uploads, one at a time)`,
  );
  line(
    "upload p50 / p99, hostile mix",
    `${u.hostile.p50.toFixed(0)} ms / ${u.hostile.p99.toFixed(0)} ms (${ACTORS} clients at once)`,
  );
  line("upload before → after", `${u.before.toFixed(0)} ms → ${u.after.toFixed(0)} ms`);
  const s = report.sockets;
  line("S3+SQS sockets before", `in use ${s.before.inUse}, idle ${s.before.idle}, waiting ${s.before.waiting}`);
  line("S3+SQS sockets after", `in use ${s.after.inUse}, idle ${s.after.idle}, waiting ${s.after.waiting}`);
  line("open fds before → after", `${report.fds.before} → ${report.fds.after}`);
  line(
    "API RSS before → after, peak",
    `${report.rssMiB.before.toFixed(0)} → ${report.rssMiB.after.toFixed(0)} MiB, peak ${report.rssMiB.peak.toFixed(0)} MiB`,
  );
}

export async function benchSoak(args: string[] = []): Promise<SoakReport> {
  const at = args.indexOf("--seconds");
  const seconds = at >= 0 ? Number(args[at + 1]) : 120;
  const localstack = await startLocalStack({
    ...loadConfig().localstack,
    log: (m) => console.log(`[localstack] ${m}`),
  });
  try {
    const report = await runSoak({ endpoint: localstack.endpoint, seconds });
    printSoak(report);
    return report;
  } finally {
    await localstack.stop();
  }
}
