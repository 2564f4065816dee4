// The one way integration tests stand up the pipeline: resources of their own on the test
// LocalStack, an API (answered in process, and on a free port when asked), a worker, and a
// teardown that stops what was started. `usePipeline` for a whole file, `startPipeline` for
// one test (stopped when the test ends).
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, onTestFinished } from "vitest";
import { type AppDeps, createApp } from "../../api/app.ts";
import { serveApp } from "../../api/serve.ts";
import { createS3Client } from "../../infra/aws-clients.ts";
import { createWorker, type Worker, type WorkerOptions } from "../../worker/consumer.ts";
import type { JobDeps } from "../../worker/process-job.ts";
import { createTestEnvironment, type TestEnvironment } from "./environment.ts";

export interface PipelineOptions {
  /** Settings beyond the test defaults, by their environment variable names. */
  settings?: Record<string, string>;
  /** Serve the API on a free port of 127.0.0.1 too (`url`); otherwise `app.request` only. */
  serve?: boolean;
  /** What the API is built from, changed (clients through a proxy, a broken config…). */
  api?: (env: TestEnvironment) => Partial<AppDeps>;
  /** Run a worker (the default), with these options; `false` for none. */
  worker?: boolean | WorkerOptions;
  /** What the worker is built from, changed. */
  workerDeps?: (env: TestEnvironment) => Partial<JobDeps>;
}

export interface Pipeline {
  env: TestEnvironment;
  app: ReturnType<typeof createApp>;
  /** The served API's base URL (with `serve`). */
  url: string;
  /** The API's download client, so that tests can read its pool. */
  downloads: S3Client;
  worker: Worker | undefined;
  stop(): Promise<void>;
}

export async function startPipeline(options: PipelineOptions = {}): Promise<Pipeline> {
  const env = await createTestEnvironment(options.settings);
  const downloads = createS3Client(env.config);
  const app = createApp({ ...env, downloads, ...options.api?.(env) });
  const server = options.serve ? await serveApp(app, { host: "127.0.0.1", port: 0 }) : undefined;
  const worker =
    options.worker === false
      ? undefined
      : createWorker({ ...env, ...options.workerDeps?.(env) }, options.worker === true ? {} : options.worker);
  worker?.start();
  let stopped: Promise<void> | undefined;
  const pipeline: Pipeline = {
    env,
    app,
    get url() {
      if (!server) throw new Error("this pipeline's API is not served: start it with { serve: true }");
      return server.url;
    },
    downloads,
    worker,
    stop() {
      stopped ??= (async () => {
        await worker?.stop();
        await server?.close();
      })();
      return stopped;
    },
  };
  // Inside a test, it stops when the test ends, passed or failed.
  try {
    onTestFinished(() => pipeline.stop());
  } catch {
    // Outside a test (beforeAll): usePipeline's afterAll stops it.
  }
  return pipeline;
}

/** A pipeline for the whole file: started before its first test, stopped after its last. */
export function usePipeline(options: PipelineOptions = {}): Pipeline {
  let running: Pipeline | undefined;
  beforeAll(async () => {
    running = await startPipeline(options);
  });
  afterAll(async () => {
    await running?.stop();
  });
  const current = () => {
    if (!running) throw new Error("the pipeline is used before beforeAll started it");
    return running;
  };
  return {
    get env() {
      return current().env;
    },
    get app() {
      return current().app;
    },
    get url() {
      return current().url;
    },
    get downloads() {
      return current().downloads;
    },
    get worker() {
      return current().worker;
    },
    stop: () => current().stop(),
  };
}

/** A status route's answer once it is no longer queued (or after `timeoutMs`, as it then is). */
export async function settledStatus(pipeline: Pipeline, path: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await (await pipeline.app.request(path)).json();
    if (status.status !== "queued" || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
