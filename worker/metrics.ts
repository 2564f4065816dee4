// The worker's Prometheus metrics, and the small HTTP server that exposes them with /healthz.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface WorkerObserver {
  /** A poll brought these messages; ages are seconds since each was sent. */
  received(ages: number[]): void;
  inFlight(count: number): void;
  /** A job ended: done or failed (settled), or retried (handed back to SQS). */
  settled(outcome: "done" | "failed" | "retried", method: string, seconds: number): void;
}

export interface WorkerMetrics extends WorkerObserver {
  registry: Registry;
}

export function createWorkerMetrics(): WorkerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const processed = new Counter({
    name: "bitonal_images_processed_total",
    help: "Images the worker finished, by outcome (done, failed, retried) and method",
    labelNames: ["outcome", "method"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "bitonal_image_processing_seconds",
    help: "Time from receiving an image's message to its result being durable",
    labelNames: ["method"],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const lag = new Gauge({
    name: "bitonal_queue_lag_seconds",
    help: "Age of the oldest message in the worker's latest non-empty receive",
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "bitonal_jobs_in_flight",
    help: "Images the worker is working on now",
    registers: [registry],
  });
  return {
    registry,
    received: (ages) => {
      if (ages.length > 0) lag.set(Math.max(...ages));
    },
    inFlight: (count) => inFlight.set(count),
    settled: (outcome, method, seconds) => {
      processed.inc({ outcome, method });
      if (outcome !== "retried") duration.observe({ method }, seconds);
    },
  };
}

/** Serves GET /metrics and GET /healthz; resolves with the port it listens on. */
export async function serveWorkerMetrics(
  metrics: WorkerMetrics,
  { host, port }: { host: string; port: number },
): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer(async (request, response) => {
    if (request.url === "/metrics") {
      response.writeHead(200, { "Content-Type": metrics.registry.contentType });
      response.end(await metrics.registry.metrics());
    } else if (request.url === "/healthz") {
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end('{"status":"ok"}');
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
