// Operations: liveness, readiness, metrics, the OpenAPI document and its docs, the web page.
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { poolUsage } from "../../infra/aws-clients.ts";
import type { Config } from "../../infra/config.ts";
import { findUnavailableResources, type QueueUrls } from "../../infra/resources.ts";
import { mountDocs } from "../docs.ts";
import { problemJson } from "../errors.ts";
import type { ApiMetrics } from "../metrics.ts";
import { documentUncheckedRoutes } from "../openapi.ts";
import { mountPage } from "../page.ts";
import type { Env } from "./route-deps.ts";

export interface OperationDeps {
  config: Config;
  s3: S3Client;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  metrics: ApiMetrics;
}

/** Health, readiness and metrics: before the /api guard, for load balancers and scrapers. */
export function mountProbeRoutes(app: OpenAPIHono<Env>, { config, s3, sqs, queueUrls, metrics }: OperationDeps): void {
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/metrics", async (c) =>
    c.body(await metrics.registry.metrics(), 200, { "Content-Type": metrics.registry.contentType }),
  );
  app.get("/readyz", async (c) => {
    // A pool with every socket taken and requests queued for one fails every call after its
    // connection timeout, while the resources themselves look fine: report it as what it is.
    const saturated = saturatedPools({ S3: s3, SQS: sqs });
    if (saturated.length > 0) return problemJson(c, "service-unavailable", `Saturated: ${saturated.join("; ")}.`);
    const unavailable = await findUnavailableResources({ s3, sqs }, config, queueUrls);
    if (unavailable.length > 0)
      return problemJson(c, "service-unavailable", `Not reachable: ${unavailable.join(", ")}.`);
    return c.json({ status: "ready" });
  });
}

/** The OpenAPI document (after every route is defined), its interactive docs, the web page. */
export function mountDocumentRoutes(app: OpenAPIHono<Env>, config: Config): void {
  documentUncheckedRoutes(app);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "bitonal", version: "1", description: "Uploaded images to clean black-and-white PNGs" },
  });
  mountDocs(app);
  mountPage(app, config);
}

// A full pool is normal for a moment under load (one listing fans out to dozens of S3 calls);
// a full pool that has given no socket back for this long is stuck, and no call will succeed.
const POOL_STALL_MS = 3_000;

function saturatedPools(clients: Record<string, S3Client | SQSClient>): string[] {
  return Object.entries(clients).flatMap(([name, client]) => {
    const { inUse, waiting, maxSockets, msSinceRelease } = poolUsage(client);
    return inUse >= maxSockets && waiting > 0 && msSinceRelease > POOL_STALL_MS
      ? [
          `${name} connection pool (${inUse} of ${maxSockets} sockets in use, ${waiting} requests waiting, ` +
            `none given back for ${Math.round(msSinceRelease / 1000)} s)`,
        ]
      : [];
  });
}
