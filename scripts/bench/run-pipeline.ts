// Drives the real pipeline as its users do: an API process and W worker processes on a
// LocalStack, C clients uploading over HTTP, completion messages read off the queue. Used by
// `npm run bench -- load|pipeline` and, smaller, by the load test in `npm test`.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { readdir, readFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { baseChildEnv, loadConfig } from "../../infra/config.ts";
import { listKeys, messageCount } from "../../infra/inspect.ts";
import { type CompletionMessage, completionMessageSchema, parseMessage } from "../../infra/messages.ts";
import { ensureResources } from "../../infra/resources.ts";
import { forEachInParallel } from "../in-parallel.ts";
import { benchProcessEnv } from "./shared.ts";

export interface PipelineRun {
  endpoint: string;
  images: Uint8Array<ArrayBuffer>[];
  uploads: number;
  concurrency: number;
  workers: number;
  /** Extra environment for the API and workers (e.g. a poll wait). */
  env?: Record<string, string>;
}

export interface PipelineReport {
  uploads: number;
  accepted: number;
  statusCounts: Record<string, number>;
  doneMessages: number;
  failedMessages: number;
  /** Ids processed more than once: their completions name more than one processingId. */
  duplicateProcessings: number;
  outputObjects: number;
  deadLetters: number;
  seconds: number;
  imagesPerSecond: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Mean milliseconds per image in each stage. */
  stagesMs: Record<string, number>;
  cpuSeconds: Record<string, number>;
  peakRssMiB: Record<string, number>;
}

const percentile = (sorted: number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

export async function runPipeline(run: PipelineRun): Promise<PipelineReport> {
  const env = benchProcessEnv(run.endpoint, "pipeline", run.env);
  const config = loadConfig(env);
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  const { queueUrls } = await ensureResources({ s3, sqs }, config);

  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const api = startNode("api/main.ts", { ...env, PORT: String(port) });
  const workers = Array.from({ length: run.workers }, () => startNode("worker/main.ts", env));
  try {
    await waitForHealth(baseUrl, api);
    const acceptedAt = new Map<string, number>();
    const apiStages: Record<string, number[]> = {};
    const statusCounts: Record<string, number> = {};
    const started = performance.now();

    const uploading = forEachInParallel(run.uploads, run.concurrency, async (n) => {
      const form = new FormData();
      form.set("image", new File([run.images[n % run.images.length]], `${n}.png`));
      const response = await fetch(`${baseUrl}/api/images`, { method: "POST", body: form }).catch(() => undefined);
      const status = String(response?.status ?? "no answer");
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (response?.status === 202) {
        acceptedAt.set((await response.json()).id, performance.now());
        for (const [stage, ms] of parseServerTiming(response.headers.get("server-timing"))) {
          addSample(apiStages, stage, ms);
        }
      } else {
        await response?.arrayBuffer();
      }
    });

    const completions = new Map<
      string,
      { message: CompletionMessage; at: number; wallAt: number; processings: Set<string | undefined> }
    >();
    let uploadsFinished = false;
    uploading.finally(() => {
      uploadsFinished = true;
    });
    const collecting = (async () => {
      const deadline = Date.now() + 600_000;
      while ((!uploadsFinished || completions.size < acceptedAt.size) && Date.now() < deadline) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrls.output, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
        );
        const now = performance.now();
        const wallAt = Date.now();
        for (const message of Messages) {
          const completion = parseMessage(completionMessageSchema, message.Body);
          const seen = completions.get(completion.id);
          if (seen) seen.processings.add(completion.processingId);
          else {
            const processings = new Set([completion.processingId]);
            completions.set(completion.id, { message: completion, at: now, wallAt, processings });
          }
        }
        if (Messages.length > 0) {
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrls.output,
              Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
            }),
          );
        }
      }
    })();
    // Completions are read while uploads still run, so latency is not inflated by waiting.
    await Promise.all([uploading, collecting]);
    const seconds = (performance.now() - started) / 1000;

    // One more look for late duplicates.
    const { Messages: late = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrls.output, MaxNumberOfMessages: 10, WaitTimeSeconds: 2 }),
    );
    for (const message of late) {
      const seen = completions.get(parseMessage(completionMessageSchema, message.Body).id);
      if (seen) seen.processings.add(parseMessage(completionMessageSchema, message.Body).processingId);
    }

    const latencies = [...completions.entries()]
      .filter(([id]) => acceptedAt.has(id))
      // A tiny image can finish before its 202 is read: its latency counts as zero.
      .map(([id, c]) => Math.max(0, c.at - (acceptedAt.get(id) as number)))
      .sort((a, b) => a - b);
    const done = [...completions.values()].filter((c) => c.message.status === "done");
    const workerStages: Record<string, number[]> = {};
    for (const { message, wallAt } of done) {
      if (message.status !== "done" || message.version === 3 || !message.stages) continue;
      for (const [stage, ms] of Object.entries(message.stages)) addSample(workerStages, stage, ms);
      // completedAt is stamped before the result's put: what follows the put is publishing the
      // completion and its trip through the queue to us.
      const publishedMs = wallAt - Date.parse(message.completedAt) - (message.stages.put ?? 0);
      addSample(workerStages, "completion", Math.max(0, publishedMs));
    }
    const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
    const stagesMs = Object.fromEntries(
      [...Object.entries(apiStages), ...Object.entries(workerStages)].map(([stage, values]) => [stage, mean(values)]),
    );

    const measured: Record<string, number[]> = {
      api: [api.pid as number],
      workers: workers.map((w) => w.pid as number),
    };
    const cpuSeconds: Record<string, number> = {};
    const peakRssMiB: Record<string, number> = {};
    for (const [name, pids] of Object.entries(measured)) {
      const stats = await Promise.all(pids.map(processStats));
      cpuSeconds[name] = stats.reduce((sum, s) => sum + s.cpuSeconds, 0);
      peakRssMiB[name] = Math.max(...stats.map((s) => s.peakRssMiB));
    }

    return {
      uploads: run.uploads,
      accepted: acceptedAt.size,
      statusCounts,
      doneMessages: done.length,
      failedMessages: completions.size - done.length,
      duplicateProcessings: [...completions.values()].filter((c) => c.processings.size > 1).length,
      outputObjects: (await listKeys(s3, config.outputBucket)).filter((k) => !k.startsWith("failed/")).length,
      deadLetters: await messageCount(sqs, queueUrls.deadLetter),
      seconds,
      imagesPerSecond: done.length / seconds,
      latencyMs: {
        p50: percentile(latencies, 0.5),
        p95: percentile(latencies, 0.95),
        p99: percentile(latencies, 0.99),
      },
      stagesMs,
      cpuSeconds,
      peakRssMiB,
    };
  } finally {
    for (const child of [api, ...workers]) {
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      await exited;
    }
  }
}

function addSample(samples: Record<string, number[]>, name: string, value: number): void {
  if (!samples[name]) samples[name] = [];
  samples[name].push(value);
}

/** `name;dur=12.3, other;dur=4` → [[name, 12.3], [other, 4]] */
function parseServerTiming(header: string | null): Array<[string, number]> {
  if (!header) return [];
  return header.split(",").flatMap((entry) => {
    const [name, ...params] = entry.trim().split(";");
    const duration = params.find((p) => p.trim().startsWith("dur="));
    return duration ? [[name, Number(duration.trim().slice(4))] as [string, number]] : [];
  });
}

/** CPU seconds (user + system) and peak RSS of a live process, from /proc. */
export async function processStats(pid: number): Promise<{ cpuSeconds: number; peakRssMiB: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 a second on Linux).
  const cpuSeconds = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / 100;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const peakRssMiB = Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0) / 1024;
  return { cpuSeconds, peakRssMiB };
}

/**
 * CPU seconds of a process and every live process below it: `npm start` runs the API and the
 * worker as child processes of a supervisor, whose own /proc counters hold almost nothing.
 */
export async function processTreeCpuSeconds(root: number): Promise<number> {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of await readdir("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // ppid is field 4 of /proc/<pid>/stat; utime and stime 14 and 15, in ticks of 1/100 s.
    parents.set(pid, Number(fields[1]));
    cpu.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
  }
  let total = 0;
  for (const [pid, seconds] of cpu) {
    for (let p: number | undefined = pid; p !== undefined && p > 0; p = parents.get(p)) {
      if (p === root) {
        total += seconds;
        break;
      }
    }
  }
  return total;
}

export function startNode(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [script], {
    env: { ...baseChildEnv(), ...env, MALLOC_ARENA_MAX: "2" },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

export async function waitForHealth(baseUrl: string, api: ChildProcess): Promise<void> {
  for (let tries = 0; tries < 150; tries++) {
    if (
      await fetch(`${baseUrl}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    if (api.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the API process did not start");
}

/**
 * A port nothing listens on, from the OS. A random one could be taken: one between 20 000 and
 * 40 000 sat in the range of the ephemeral ports a run's own connections to LocalStack use.
 */
export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
