// Prometheus metrics of the API: requests by route and status, latency, uploads by outcome.
import type { MiddlewareHandler } from "hono";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { PoolUsage } from "../infra/aws-clients.ts";

export interface ApiMetrics {
  registry: Registry;
  middleware: MiddlewareHandler;
}

/**
 * A registry of its own per app, so that several apps in one process (tests) never collide.
 * `pools` reads the S3 and SQS connection pools at each scrape.
 */
export function createApiMetrics(pools: () => Record<string, PoolUsage>): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: "bitonal_aws_sockets",
    help: "Sockets of the S3 and SQS clients: in use (a request or an unread body holds each), idle in the pool, and requests waiting for one",
    labelNames: ["client", "state"],
    registers: [registry],
    collect() {
      for (const [client, usage] of Object.entries(pools())) {
        this.set({ client, state: "in_use" }, usage.inUse);
        this.set({ client, state: "idle" }, usage.idle);
        this.set({ client, state: "waiting" }, usage.waiting);
      }
    },
  });
  const requests = new Counter({
    name: "bitonal_http_requests_total",
    help: "HTTP requests by method, route and status code",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "bitonal_http_request_duration_seconds",
    help: "HTTP request latency by method and route",
    labelNames: ["method", "route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const uploads = new Counter({
    name: "bitonal_uploads_total",
    help: "Uploads by outcome (accepted, rejected: a client mistake, failed: storage or queue) and status code",
    labelNames: ["outcome", "status"],
    registers: [registry],
  });
  const uploadBytes = new Counter({
    name: "bitonal_upload_bytes_total",
    help: "Bytes of accepted uploads",
    registers: [registry],
  });

  const middleware: MiddlewareHandler = async (c, next) => {
    const stop = latency.startTimer();
    await next();
    // The route pattern, never the path: ids would make a time series each.
    const route = c.req.routePath || "unmatched";
    const status = String(c.res.status);
    stop({ method: c.req.method, route });
    requests.inc({ method: c.req.method, route, status });
    if (c.req.method === "POST" && (route === "/api/images" || route === "/upload")) {
      const outcome = c.res.status === 202 ? "accepted" : c.res.status < 500 ? "rejected" : "failed";
      uploads.inc({ outcome, status });
      const bytes = c.get("acceptedBytes");
      if (outcome === "accepted" && typeof bytes === "number") uploadBytes.inc(bytes);
    }
  };
  return { registry, middleware };
}
