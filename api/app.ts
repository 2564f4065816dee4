// Builds the HTTP API from its dependencies. It never listens: api/main.ts and the tests do.
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { endTime, startTime, timing } from "hono/timing";
import { v7 as uuidv7 } from "uuid";
import { createS3Client, poolUsage } from "../infra/aws-clients.ts";
import type { Config } from "../infra/config.ts";
import { outputKey, resultKeys } from "../infra/image-objects.ts";
import type { Logger } from "../infra/logger.ts";
import { renditionName, sendInputMessage } from "../infra/messages.ts";
import { findUnavailableResources, type QueueUrls } from "../infra/resources.ts";
import { mountDocs } from "./docs.ts";
import { AppError, errorHandler, problemJson } from "./errors.ts";
import {
  claimRendition,
  deleteImage,
  deleteStored,
  findOriginalKey,
  listImageIds,
  listRenditions,
  type OpenedObject,
  openObject,
  queuedRendition,
  type RenditionStatus,
  readImageStatus,
  readOriginal,
  readRenditionStatus,
  type StoredOriginal,
  storeOriginal,
  uuidV7Time,
} from "./image-store.ts";
import { createApiMetrics } from "./metrics.ts";
import { documentUncheckedRoutes } from "./openapi.ts";
import { mountPage } from "./page.ts";
import { hostAllowList, sameOriginWrites } from "./request-origin.ts";
import {
  idParamsSchema,
  imagePageSchema,
  imageStatusSchema,
  listQuerySchema,
  problemContent,
  renditionLinks as renditionLinksSpec,
  renditionListSchema,
  renditionParamsSchema,
  renditionRequestSchema,
  renditionStatusSchema,
} from "./schemas.ts";
import { securityHeaders } from "./security-headers.ts";
import { createLinkSigner } from "./signed-links.ts";
import { createStreamSlots, holdToMinimumRate, type StreamSlots } from "./slow-readers.ts";
import { readUploadRequest } from "./upload-request.ts";
import { validateImage } from "./upload-validation.ts";

export interface AppDeps {
  config: Config;
  s3: S3Client;
  /** The client image downloads use: a pool of its own, so that slow readers cannot starve the rest (default: a new one). */
  downloads?: S3Client;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  logger: Logger;
}

type Env = {
  Variables: {
    requestId: string;
    log: Logger;
    acceptedBytes: number;
    imageId: string;
    /** The stored original a rendition request is for, found before its body is read. */
    original: StoredOriginal;
  };
};

// Every rendition is a whole job for one upload's bytes: without a cap, one small upload could
// buy 260 (5 methods, 256 fixed thresholds). Delete the image to start again.
const MAX_RENDITIONS_PER_IMAGE = 16;
// Ids are keys and never reused, so what is stored under one never changes.
// Large downloads streaming at once, each holding a socket of the download pool for as long as
// its reader takes (see api/slow-readers.ts); one more is told to come back (429). The rest of
// that pool (50 sockets) stays free for HEADs and small images.
const STREAMED_DOWNLOADS = 16;
const BUSY_RETRY_AFTER_S = 5;
// A rendition request is a method and a threshold: a few dozen bytes.
const MAX_JSON_BODY_BYTES = 4 * 1024;
const IMMUTABLE = "max-age=31536000, immutable";
// How long a signed link to an image lasts (one to two of these: see createLinkSigner).
const SIGNED_LINK_LIFETIME_S = 3600;
const IMAGE_BYTES_PATH = /^\/api\/images\/[^/]+\/(original|processed|renditions\/[^/]+\/processed)$/;

export function createApp(deps: AppDeps): OpenAPIHono<Env> {
  const { config, s3, sqs, queueUrls, logger } = deps;
  const store = { s3, config };
  const downloads = deps.downloads ?? createS3Client(config);
  const streamSlots = createStreamSlots(STREAMED_DOWNLOADS);
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
  app.notFound((c) => {
    // A path that exists, asked with a method it does not have (TRACE, PUT, …), is a 405 that says which it has.
    const allowed = allowedMethods(app.routes, c.req.path);
    if (allowed.length === 0) return problemJson(c, "not-found", `No route for ${c.req.method} ${c.req.path}.`);
    c.header("Allow", allowed.join(", "));
    return problemJson(c, "method-not-allowed", `${c.req.path} answers ${allowed.join(", ")}, not ${c.req.method}.`);
  });

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

  const requireToken: MiddlewareHandler = config.apiToken
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
  // With a token, reads need the same right as writes: every /api route wants the token, and
  // an image's bytes also accept a signed link (what <img> tags and shared links carry).
  if (config.apiToken && !config.linkSigningKeys) {
    logger.warn(
      "LINK_SIGNING_KEY is not set: image links are signed with a key of this process, valid until it restarts and on no other replica",
    );
  }
  const signer = config.apiToken
    ? createLinkSigner(config.linkSigningKeys ?? [randomBytes(32).toString("base64url")], SIGNED_LINK_LIFETIME_S)
    : undefined;
  app.use("/api/*", async (c, next) => {
    const signedRead =
      signer &&
      (c.req.method === "GET" || c.req.method === "HEAD") &&
      IMAGE_BYTES_PATH.test(c.req.path) &&
      signer.verify(c.req.path, c.req.query("expires"), c.req.query("sig"));
    return signedRead ? next() : requireToken(c, next);
  });
  const links = (id: string) => {
    const self = `/api/images/${id}`;
    const grant = (path: string) => (signer ? signer.sign(path) : path);
    return { self, original: grant(`${self}/original`), processed: grant(`${self}/processed`) };
  };
  const renditionLinks = (id: string, rendition: string) => {
    const self = `/api/images/${id}/renditions/${rendition}`;
    return { self, processed: signer ? signer.sign(`${self}/processed`) : `${self}/processed` };
  };
  const withLinks = (status: RenditionStatus) => ({ ...status, links: renditionLinks(status.id, status.rendition) });
  // Private images are not for shared caches.
  const cacheControl = config.apiToken ? `private, ${IMMUTABLE}` : `public, ${IMMUTABLE}`;

  const acceptUpload = async (c: Context<Env>) => {
    startTime(c, "validate");
    const request = await readUploadRequest(c, config.maxUploadBytes);
    const image = await validateImage(request.bytes, config);
    endTime(c, "validate");
    const id = uuidv7();
    c.set("imageId", id);
    // The id's own timestamp, so that the listing marker's key can be found from the id alone.
    const uploadedAt = new Date(uuidV7Time(id) as number).toISOString();
    startTime(c, "s3put");
    const keys = await storeOriginal(store, { id, ...image, ...request, uploadedAt }).catch((error) => {
      throw new AppError("service-unavailable", "The image could not be stored; try again.", { cause: error });
    });
    endTime(c, "s3put");
    startTime(c, "enqueue");
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
    endTime(c, "enqueue");
    c.set("acceptedBytes", request.bytes.length);
    c.var.log.info({ id, bytes: request.bytes.length, width: image.width, height: image.height }, "image accepted");
    const self = `/api/images/${id}`;
    c.header("Location", self);
    return c.json({ id, status: "queued", links: links(id) }, 202);
  };
  app.post("/api/images", acceptUpload);
  // The original Flask pipeline's route, kept so its clients and test_upload.sh keep working.
  app.post("/upload", requireToken, acceptUpload);

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images",
      summary: "A page of images, newest first",
      request: { query: listQuerySchema },
      responses: {
        200: {
          description: "A page and the cursor of the next",
          content: { "application/json": { schema: imagePageSchema } },
        },
        400: { description: "Bad limit or cursor", content: problemContent },
        503: { description: "Storage unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const page = await unavailableOnError(() => listImageIds(store, limit, cursor));
      const items = await unavailableOnError(() => Promise.all(page.ids.map((id) => readImageStatus(store, id))));
      return c.json(
        {
          items: items.flatMap((status) => (status ? [{ ...status, links: links(status.id) }] : [])),
          nextCursor: page.nextCursor ?? null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      operationId: "getImage",
      method: "get",
      path: "/api/images/{id}",
      summary: "An image's status",
      request: { params: idParamsSchema },
      responses: {
        200: { description: "Queued, done or failed", content: { "application/json": { schema: imageStatusSchema } } },
        400: { description: "Malformed id", content: problemContent },
        404: { description: "No such image", content: problemContent },
        503: { description: "Storage unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const status = await unavailableOnError(() => readImageStatus(store, id));
      if (!status) throw new AppError("not-found", `No image with id ${id}.`);
      return c.json({ ...status, links: links(id) }, 200);
    },
  );

  app.openapi(
    createRoute({
      operationId: "deleteImage",
      method: "delete",
      path: "/api/images/{id}",
      summary: "Delete an image: its original, every result, its failure record and its listing entry",
      request: { params: idParamsSchema },
      responses: {
        204: { description: "Deleted, or there was nothing to delete" },
        400: { description: "Malformed id", content: problemContent },
        401: { description: "Missing or wrong API token", content: problemContent },
        503: { description: "Storage unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      await unavailableOnError(() => deleteImage(store, id));
      c.var.log.info({ id }, "image deleted");
      return c.body(null, 204);
    },
  );

  const binary = { schema: { type: "string", format: "binary" } } as const;
  const imageBytes = (which: string, types: readonly string[] = ["image/png"]) =>
    ({
      200: {
        description: `The ${which} image, streamed`,
        content: Object.fromEntries(types.map((type) => [type, binary])),
      },
      304: { description: "Not modified (If-None-Match)" },
      400: { description: "Malformed id", content: problemContent },
      404: { description: `No ${which} image (yet)`, content: problemContent },
      429: { description: "Too many large downloads at once: retry after Retry-After", content: problemContent },
      503: { description: "Storage unavailable", content: problemContent },
    }) as const;

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/original",
      summary: "The uploaded image, as it was sent",
      request: { params: idParamsSchema },
      responses: imageBytes("original", ["image/png", "image/jpeg", "image/webp"]),
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const key = await unavailableOnError(() => findOriginalKey(store, id));
      if (!key) throw new AppError("not-found", `No image with id ${id}.`);
      const opened = await unavailableOnError(() =>
        openObject(downloads, streamSlots, config.inputBucket, key, readOptions(c)),
      );
      return streamObject(c, opened, streamSlots, `The original of ${id} is not stored.`, cacheControl);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/processed",
      summary: "The bitonal PNG",
      request: { params: idParamsSchema },
      responses: imageBytes("processed"),
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const opened = await unavailableOnError(() =>
        openObject(downloads, streamSlots, config.outputBucket, outputKey(id), readOptions(c)),
      );
      return streamObject(c, opened, streamSlots, `Image ${id} is not processed (yet).`, cacheControl);
    },
  );

  // Before a byte of the body is read: the JSON validator would refuse another Content-Type
  // with a bare 400 (say what to send instead); an unknown image is answered without reading
  // the body at all; and a body is bounded by its declared length, or while it streams in.
  app.post(
    "/api/images/:id/renditions",
    async (c, next) => {
      if (!/^application\/json\b/i.test(c.req.header("content-type") ?? "")) {
        throw new AppError(
          "json-expected",
          'Send Content-Type: application/json and a body like {"method": "sauvola"}.',
        );
      }
      const id = idParamsSchema.safeParse({ id: c.req.param("id") });
      // A malformed id is left to the route's own validator, which names it.
      if (id.success) {
        const original = await unavailableOnError(() => readOriginal(store, id.data.id));
        if (!original) throw new AppError("not-found", `No image with id ${id.data.id}.`);
        c.set("original", original);
      }
      await next();
    },
    bodyLimit({
      maxSize: MAX_JSON_BODY_BYTES,
      onError: () => {
        throw new AppError("payload-too-large", `A JSON body may be at most ${MAX_JSON_BODY_BYTES} bytes.`);
      },
    }),
  );
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/images/{id}/renditions",
      summary: "Apply another method to a stored original, without uploading it again",
      description:
        "Each method (and each threshold of `fixed`) is one rendition with its own result and status, " +
        "named like `sauvola` or `fixed-140`. Asking again for one that is done or queued changes nothing; " +
        "asking again for one that failed tries again.",
      request: {
        params: idParamsSchema,
        body: { required: true, content: { "application/json": { schema: renditionRequestSchema } } },
      },
      responses: {
        200: {
          description: "Already done",
          content: { "application/json": { schema: renditionStatusSchema } },
          links: renditionLinksSpec,
        },
        202: {
          description: "Queued",
          content: { "application/json": { schema: renditionStatusSchema } },
          links: renditionLinksSpec,
        },
        400: { description: "Malformed id, method or threshold", content: problemContent },
        401: { description: "Missing or wrong API token", content: problemContent },
        404: { description: "No such image", content: problemContent },
        409: { description: "The image has 16 renditions already", content: problemContent },
        413: { description: "A body over 4 KiB", content: problemContent },
        415: { description: "The body is not JSON", content: problemContent },
        503: { description: "Storage or queue unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { method, threshold } = c.req.valid("json");
      c.set("imageId", id);
      const rendition = renditionName(method, method === "fixed" ? threshold : undefined);
      const original = c.var.original;
      c.header("Location", renditionLinks(id, rendition).self);
      const requestedAt = new Date().toISOString();
      const request = { id, rendition, method, threshold: method === "fixed" ? threshold : undefined, requestedAt };
      const claim = await unavailableOnError(() => claimRendition(store, request, MAX_RENDITIONS_PER_IMAGE));
      if (claim.outcome === "existing")
        return c.json(withLinks(claim.status), claim.status.status === "done" ? 200 : 202);
      if (claim.outcome === "full") {
        throw new AppError(
          "too-many-renditions",
          `Image ${id} has ${MAX_RENDITIONS_PER_IMAGE} renditions, the most one image may have; ask again for one of them, or upload it again.`,
        );
      }
      try {
        await sendInputMessage(sqs, queueUrls.input, {
          version: 2,
          ...request,
          bucket: config.inputBucket,
          key: original.key,
          contentType: original.contentType,
          bytes: original.bytes,
          width: original.width,
          height: original.height,
          filename: original.filename,
          uploadedAt: original.uploadedAt,
        });
      } catch (error) {
        await claim.release().catch(() => {});
        throw new AppError("service-unavailable", "The rendition could not be queued; try again.", { cause: error });
      }
      // A DELETE that listed the image's renditions before this request was stored would leave
      // it queued for ever; deletes remove the original first, so if it is gone now, so is the image.
      if (!(await unavailableOnError(() => findOriginalKey(store, id)))) {
        await claim.release().catch(() => {});
        throw new AppError("not-found", `Image ${id} was deleted.`);
      }
      c.var.log.info({ id, rendition }, "rendition requested");
      return c.json(withLinks(queuedRendition(request)), 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/renditions",
      summary: "Every rendition asked for of an image",
      request: { params: idParamsSchema },
      responses: {
        200: { description: "The renditions", content: { "application/json": { schema: renditionListSchema } } },
        400: { description: "Malformed id", content: problemContent },
        404: { description: "No such image", content: problemContent },
        503: { description: "Storage unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const [original, items] = await unavailableOnError(() =>
        Promise.all([findOriginalKey(store, id), listRenditions(store, id)]),
      );
      if (!original) throw new AppError("not-found", `No image with id ${id}.`);
      return c.json({ items: items.map(withLinks) }, 200);
    },
  );

  app.openapi(
    createRoute({
      operationId: "getRendition",
      method: "get",
      path: "/api/images/{id}/renditions/{rendition}",
      summary: "A rendition's status",
      request: { params: renditionParamsSchema },
      responses: {
        200: {
          description: "Queued, done or failed",
          content: { "application/json": { schema: renditionStatusSchema } },
        },
        400: { description: "Malformed id or rendition name", content: problemContent },
        404: { description: "No such rendition", content: problemContent },
        503: { description: "Storage unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { id, rendition } = c.req.valid("param");
      c.set("imageId", id);
      const status = await unavailableOnError(() => readRenditionStatus(store, id, rendition));
      if (!status) throw new AppError("not-found", `No rendition ${rendition} of image ${id}.`);
      return c.json(withLinks(status), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/renditions/{rendition}/processed",
      summary: "A rendition's bitonal PNG",
      request: { params: renditionParamsSchema },
      responses: imageBytes("rendition's"),
    }),
    async (c) => {
      const { id, rendition } = c.req.valid("param");
      c.set("imageId", id);
      const key = resultKeys(id, rendition).output;
      const opened = await unavailableOnError(() =>
        openObject(downloads, streamSlots, config.outputBucket, key, readOptions(c)),
      );
      return streamObject(
        c,
        opened,
        streamSlots,
        `Rendition ${rendition} of ${id} is not processed (yet).`,
        cacheControl,
      );
    },
  );

  documentUncheckedRoutes(app);
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: { title: "bitonal", version: "1", description: "Uploaded images to clean black-and-white PNGs" },
  });
  mountDocs(app);
  mountPage(app, config);

  return app;
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

async function unavailableOnError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new AppError("service-unavailable", "Storage is unavailable; try again.", { cause: error });
  }
}

// Hono answers HEAD with the GET route and drops the body; the route must know, to open none.
function readOptions(c: Context) {
  return { ifNoneMatch: c.req.header("if-none-match"), headOnly: c.req.method === "HEAD" };
}

function streamObject(
  c: Context,
  opened: OpenedObject,
  slots: StreamSlots,
  missing: string,
  cacheControl: string,
): Response {
  if (opened.state === "missing") throw new AppError("not-found", missing);
  if (opened.state === "busy") {
    c.header("Retry-After", String(BUSY_RETRY_AFTER_S));
    throw new AppError(
      "too-many-downloads",
      `${STREAMED_DOWNLOADS} large downloads are under way; try again in ${BUSY_RETRY_AFTER_S} s.`,
    );
  }
  const headers: Record<string, string> = { "Cache-Control": cacheControl };
  if (opened.etag) headers.ETag = opened.etag;
  if (opened.state === "not-modified") return c.body(null, 304, headers);
  if (opened.contentType) headers["Content-Type"] = opened.contentType;
  if (opened.contentLength !== undefined) headers["Content-Length"] = String(opened.contentLength);
  if (!opened.body) return c.body(null, 200, headers);
  if (opened.body instanceof Uint8Array) return c.body(opened.body, 200, headers);
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  return c.body(
    holdToMinimumRate(opened.body, outgoing, () => slots.give()),
    200,
    headers,
  );
}

/** The methods that routes (not middleware) answer on `path`; HEAD wherever GET is. */
function allowedMethods(routes: readonly { method: string; path: string }[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    const pattern = new RegExp(`^${route.path.replace(/:[^/]+/g, "[^/]+")}$`);
    if (!pattern.test(path)) continue;
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
  }
  return [...methods].sort();
}
