// Builds the HTTP API from its dependencies: the middleware every request passes, then the
// route modules by resource. It never listens: api/main.ts and the tests do.
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { OpenAPIHono } from "@hono/zod-openapi";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { timing } from "hono/timing";
import { createPdfRenderer, type PdfRenderer } from "../imaging/decode/pdf-renderer.ts";
import { createS3Client, poolUsage } from "../infra/aws-clients.ts";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/logger.ts";
import type { QueueUrls } from "../infra/resources.ts";
import { createAccess } from "./access.ts";
import { AppError, errorHandler } from "./errors.ts";
import { createImageDownloads } from "./image-downloads.ts";
import { createApiMetrics } from "./metrics.ts";
import { notFoundOrNotAllowed } from "./not-found.ts";
import { hostAllowList, sameOriginWrites } from "./request-origin.ts";
import { mountImageRoutes } from "./routes/images.ts";
import { mountDocumentRoutes, mountProbeRoutes } from "./routes/operations.ts";
import { mountPageRoutes } from "./routes/pages.ts";
import { mountRenditionRoutes } from "./routes/renditions.ts";
import type { Env } from "./routes/route-deps.ts";
import { securityHeaders } from "./security-headers.ts";

export interface AppDeps {
  config: Config;
  s3: S3Client;
  /** The client image downloads use: a pool of its own, so that slow readers cannot starve the rest (default: a new one). */
  downloads?: S3Client;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  logger: Logger;
  /** Where uploaded PDFs are opened to be checked (default: one thread of its own). */
  pdf?: PdfRenderer;
}

// An upload's PDF is only counted and measured, which takes milliseconds; a file that takes
// longer is hostile or broken.
const PDF_CHECK_TIMEOUT_MS = 10_000;

export function createApp(deps: AppDeps): OpenAPIHono<Env> {
  const { config, s3, sqs, queueUrls, logger } = deps;
  const downloads = deps.downloads ?? createS3Client(config);
  const app = new OpenAPIHono<Env>({
    // A request that fails its schema is a 400 problem naming the field, like every other refusal.
    defaultHook: (result) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      throw new AppError("bad-request", `\`${issue.path.join(".") || "request"}\` ${issue.message}.`);
    },
  });
  const metrics = createApiMetrics(() => ({
    s3: poolUsage(s3),
    "s3-downloads": poolUsage(downloads),
    sqs: poolUsage(sqs),
  }));
  app.onError(errorHandler(logger));
  app.notFound(notFoundOrNotAllowed(app));

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    const log = logger.child({ reqId: c.get("requestId") });
    c.set("log", log);
    await next();
    // The image id on the request line too, so one id can be followed from upload to result.
    const id = c.get("imageId");
    log.info(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started), id },
      "request",
    );
  });
  app.use(metrics.middleware);
  // Server-Timing: the upload's stages for benchmarks and browsers' dev tools (no total, no app names).
  app.use(timing({ total: false, autoEnd: false }));
  app.use(securityHeaders());
  if (!config.apiToken) app.use(hostAllowList(config.publicHosts));
  app.use(sameOriginWrites({ allowedOrigins: config.corsOrigins, publicHosts: config.publicHosts }));
  if (config.corsOrigins.length > 0) {
    app.use("/api/*", cors({ origin: config.corsOrigins, exposeHeaders: ["Location", "X-Request-Id", "ETag"] }));
  }
  mountProbeRoutes(app, { config, s3, sqs, queueUrls, metrics });

  const access = createAccess(config, logger);
  app.use("/api/*", access.guard);
  const routeDeps = {
    config,
    sqs,
    queueUrls,
    store: { s3, config },
    downloads: createImageDownloads(downloads, config),
    links: access.links,
    requireToken: access.requireToken,
    pdf: deps.pdf ?? createPdfRenderer({ threads: 1, timeoutMs: PDF_CHECK_TIMEOUT_MS }),
  };
  mountImageRoutes(app, routeDeps);
  mountRenditionRoutes(app, routeDeps);
  mountPageRoutes(app, routeDeps);
  mountDocumentRoutes(app, config);
  return app;
}
