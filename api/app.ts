// Builds the HTTP API from its dependencies. It never listens: api/main.ts and the tests do.
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { type Context, Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { v7 as uuidv7 } from "uuid";
import type { Config } from "../infra/config.ts";
import { outputKey } from "../infra/image-objects.ts";
import type { Logger } from "../infra/logger.ts";
import { imageIdSchema, sendInputMessage } from "../infra/messages.ts";
import { findUnavailableResources, type QueueUrls } from "../infra/resources.ts";
import { AppError, errorHandler, problemJson } from "./errors.ts";
import {
  deleteStored,
  findOriginalKey,
  listImageIds,
  type OpenedObject,
  openObject,
  readImageStatus,
  storeOriginal,
} from "./image-store.ts";
import { readUploadRequest } from "./upload-request.ts";
import { validateImage } from "./upload-validation.ts";

export interface AppDeps {
  config: Config;
  s3: S3Client;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  logger: Logger;
}

type Env = { Variables: { requestId: string; log: Logger } };

// Room for the multipart envelope around an image of exactly MAX_UPLOAD_BYTES.
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
const PAGE_SIZE = { default: 20, max: 100 };
// Ids are keys and never reused, so what is stored under one never changes.
const IMMUTABLE = "public, max-age=31536000, immutable";

export function createApp(deps: AppDeps): Hono<Env> {
  const { config, s3, sqs, queueUrls, logger } = deps;
  const store = { s3, config };
  const app = new Hono<Env>();
  app.onError(errorHandler(logger));
  app.notFound((c) => problemJson(c, "not-found", `No route for ${c.req.method} ${c.req.path}.`));

  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    const log = logger.child({ reqId: c.get("requestId") });
    c.set("log", log);
    await next();
    log.info(
      { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) },
      "request",
    );
  });
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", "blob:", "data:"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
      },
      // The originals and results are meant to be shown by pages of other origins only via CORS.
      crossOriginResourcePolicy: "same-origin",
    }),
  );
  if (config.corsOrigins.length > 0) {
    app.use("/api/*", cors({ origin: config.corsOrigins, exposeHeaders: ["Location", "X-Request-Id", "ETag"] }));
  }

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const unavailable = await findUnavailableResources({ s3, sqs }, config, queueUrls);
    if (unavailable.length > 0)
      return problemJson(c, "service-unavailable", `Not reachable: ${unavailable.join(", ")}.`);
    return c.json({ status: "ready" });
  });

  const requireToken = config.apiToken
    ? bearerAuth({
        token: config.apiToken,
        noAuthenticationHeader: {
          message: (c: Context) => problemJson(c, "unauthorized", "Send Authorization: Bearer <API token>."),
        },
        invalidToken: { message: (c: Context) => problemJson(c, "unauthorized", "The API token is not valid.") },
        invalidAuthenticationHeader: {
          message: (c: Context) => problemJson(c, "unauthorized", "Send Authorization: Bearer <API token>."),
        },
      })
    : async (_: Context, next: () => Promise<void>) => next();
  const limitBody = bodyLimit({
    maxSize: config.maxUploadBytes + MULTIPART_OVERHEAD_BYTES,
    onError: (c) => {
      // Stop reading: without this, Node drains the rest of an endless body for keep-alive.
      c.header("Connection", "close");
      return problemJson(c, "payload-too-large", `The upload is larger than ${config.maxUploadBytes} bytes.`);
    },
  });

  const acceptUpload = async (c: Context<Env>) => {
    const request = await readUploadRequest(c, config.maxUploadBytes);
    const image = await validateImage(request.bytes, config);
    const id = uuidv7();
    const uploadedAt = new Date().toISOString();
    const keys = await storeOriginal(store, { id, ...image, ...request, uploadedAt }).catch((error) => {
      throw new AppError("service-unavailable", "The image could not be stored; try again.", { cause: error });
    });
    try {
      await sendInputMessage(sqs, queueUrls.input, {
        version: 1,
        id,
        bucket: config.inputBucket,
        key: keys[0],
        contentType: image.contentType,
        bytes: request.bytes.length,
        width: image.width,
        height: image.height,
        filename: request.filename,
        method: request.method,
        threshold: request.threshold,
        uploadedAt,
      });
    } catch (error) {
      // Never leave an object that no message will ever process.
      await deleteStored(store, keys).catch((cleanupError) =>
        c.var.log.error({ err: cleanupError, id }, "could not delete original after failed enqueue"),
      );
      throw new AppError("service-unavailable", "The image could not be queued; try again.", { cause: error });
    }
    c.var.log.info({ id, bytes: request.bytes.length, width: image.width, height: image.height }, "image accepted");
    const self = `/api/images/${id}`;
    c.header("Location", self);
    return c.json({ id, status: "queued", links: links(id) }, 202);
  };
  app.post("/api/images", requireToken, limitBody, acceptUpload);
  // The original Flask pipeline's route, kept so its clients and test_upload.sh keep working.
  app.post("/upload", requireToken, limitBody, acceptUpload);

  app.get("/api/images", async (c) => {
    const limit = Number(c.req.query("limit") ?? PAGE_SIZE.default);
    if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_SIZE.max) {
      throw new AppError("bad-request", `Query \`limit\` must be an integer from 1 to ${PAGE_SIZE.max}.`);
    }
    const cursor = c.req.query("cursor");
    if (cursor !== undefined && !/^\d{13}-[0-9a-f-]{36}$/.test(cursor)) {
      throw new AppError("bad-request", "Query `cursor` is not one this API gave out.");
    }
    const page = await unavailableOnError(() => listImageIds(store, limit, cursor));
    const items = await unavailableOnError(() => Promise.all(page.ids.map((id) => readImageStatus(store, id))));
    return c.json({
      items: items.flatMap((status) => (status ? [{ ...status, links: links(status.id) }] : [])),
      nextCursor: page.nextCursor ?? null,
    });
  });

  app.get("/api/images/:id", async (c) => {
    const id = parseId(c.req.param("id"));
    const status = await unavailableOnError(() => readImageStatus(store, id));
    if (!status) throw new AppError("not-found", `No image with id ${id}.`);
    return c.json({ ...status, links: links(id) });
  });

  app.get("/api/images/:id/original", async (c) => {
    const id = parseId(c.req.param("id"));
    const key = await unavailableOnError(() => findOriginalKey(store, id));
    if (!key) throw new AppError("not-found", `No image with id ${id}.`);
    const opened = await unavailableOnError(() =>
      openObject(store, config.inputBucket, key, c.req.header("if-none-match")),
    );
    return streamObject(c, opened, `The original of ${id} is not stored.`);
  });

  app.get("/api/images/:id/processed", async (c) => {
    const id = parseId(c.req.param("id"));
    const opened = await unavailableOnError(() =>
      openObject(store, config.outputBucket, outputKey(id), c.req.header("if-none-match")),
    );
    return streamObject(c, opened, `Image ${id} is not processed (yet).`);
  });

  return app;
}

function links(id: string) {
  const self = `/api/images/${id}`;
  return { self, original: `${self}/original`, processed: `${self}/processed` };
}

/** A malformed id is refused before S3 is touched: no traversal, no key injection. */
function parseId(raw: string): string {
  const id = imageIdSchema.safeParse(raw);
  if (!id.success) throw new AppError("bad-request", "The image id must be a UUID v7.");
  return id.data;
}

async function unavailableOnError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new AppError("service-unavailable", "Storage is unavailable; try again.", { cause: error });
  }
}

function streamObject(c: Context, opened: OpenedObject, missing: string): Response {
  if (opened.state === "missing") throw new AppError("not-found", missing);
  const headers: Record<string, string> = { "Cache-Control": IMMUTABLE };
  if (opened.etag) headers.ETag = opened.etag;
  if (opened.state === "not-modified") return c.body(null, 304, headers);
  if (opened.contentType) headers["Content-Type"] = opened.contentType;
  if (opened.contentLength !== undefined) headers["Content-Length"] = String(opened.contentLength);
  return c.body(opened.body, 200, headers);
}
