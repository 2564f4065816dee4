// Renditions: another method applied to a stored original, each with its own status and bytes.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { create as contentDisposition } from "content-disposition";
import { bodyLimit } from "hono/body-limit";
import { documentOutput, resultKeys } from "../../infra/image-objects.ts";
import { type OutputFormat, renditionName, sendInputMessage, sendPageMessages } from "../../infra/messages.ts";
import { AppError, unavailableOnError } from "../errors.ts";
import { assertFormatHoldsPages } from "../output-format.ts";
import {
  idParamsSchema,
  imageBytesResponses,
  imageRouteProblems,
  problemContent,
  renditionLinks as renditionLinksSpec,
  renditionListSchema,
  renditionParamsSchema,
  renditionRequestSchema,
  renditionStatusSchema,
} from "../schemas.ts";
import { findOriginalKey, readOriginal } from "../store/images.ts";
import {
  claimRendition,
  listRenditions,
  queuedRendition,
  type RenditionStatus,
  readRenditionStatus,
} from "../store/renditions.ts";
import type { Env, RouteDeps } from "./route-deps.ts";

// Every rendition is a whole job for one upload's bytes: without a cap, one small upload could
// buy 260 (5 methods, 256 fixed thresholds). Delete the image to start again.
const MAX_RENDITIONS_PER_IMAGE = 16;
// A rendition request is a method and a threshold: a few dozen bytes.
const MAX_JSON_BODY_BYTES = 4 * 1024;

export function mountRenditionRoutes(app: OpenAPIHono<Env>, deps: RouteDeps): void {
  const { config, sqs, queueUrls, store, downloads, links } = deps;
  const withLinks = (status: RenditionStatus) => ({ ...status, links: links.rendition(status.id, status.rendition) });

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
        422: { description: "A PNG asked of a document of several pages", content: problemContent },
        413: { description: "A body over 4 KiB", content: problemContent },
        415: { description: "The body is not JSON", content: problemContent },
        503: { description: "Storage or queue unavailable", content: problemContent },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { method, threshold, format, deskew, borders } = c.req.valid("json");
      const geometry = { deskew, borders };
      c.set("imageId", id);
      const original = c.var.original;
      const fixedThreshold = method === "fixed" ? threshold : undefined;
      const { run, ownFormat } = renditionRun(original, format);
      const wanted = format ?? ownFormat;
      const rendition = renditionName(method, fixedThreshold, wanted !== ownFormat ? wanted : undefined, geometry);
      c.header("Location", links.rendition(id, rendition).self);
      const requestedAt = new Date().toISOString();
      const request = {
        id,
        rendition,
        method,
        threshold: fixedThreshold,
        requestedAt,
        ...(run ? { format: wanted, pages: run.pages } : {}),
      };
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
        if (run) {
          // A document's rendition is a document: one job a page, as its upload was (images.ts).
          const job = { version: 3 as const, id, bucket: config.inputBucket, key: original.key, method, ...geometry };
          await sendPageMessages(
            sqs,
            queueUrls.input,
            Array.from({ length: run.pages }, (_, n) => ({
              ...job,
              threshold: fixedThreshold,
              format: wanted,
              pages: run.pages,
              page: n + 1,
              rendition,
              requestedAt,
            })),
          );
        } else {
          await sendInputMessage(sqs, queueUrls.input, {
            version: 2,
            id,
            rendition,
            method,
            threshold: fixedThreshold,
            ...geometry,
            requestedAt,
            bucket: config.inputBucket,
            key: original.key,
            contentType: original.contentType,
            bytes: original.bytes,
            width: original.width,
            height: original.height,
            filename: original.filename,
            uploadedAt: original.uploadedAt,
          });
        }
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
        ...imageRouteProblems,
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
      summary: "A rendition's result: a bitonal PNG, or a document's TIFF or PDF",
      request: { params: renditionParamsSchema },
      responses: imageBytesResponses("rendition's", ["image/png", "image/tiff", "application/pdf"]),
    }),
    async (c) => {
      const { id, rendition } = c.req.valid("param");
      c.set("imageId", id);
      const missing = `Rendition ${rendition} of ${id} is not processed (yet).`;
      const status = await unavailableOnError(() => readRenditionStatus(store, id, rendition));
      if (!status?.format) return downloads.send(c, config.outputBucket, resultKeys(id, rendition).output, missing);
      const output = documentOutput(id, status.format, rendition);
      const original = await unavailableOnError(() => readOriginal(store, id));
      const stem = original?.filename.replace(/\.[^.]*$/, "") || id;
      const disposition = contentDisposition(`${stem}.${rendition}.${output.extension}`, { type: "inline" });
      return downloads.send(c, config.outputBucket, output.key, missing, disposition);
    },
  );
}

/**
 * How a rendition is made: as the upload's own result was made. An image asked for as a PNG is
 * one image job; a document, or an image asked for as a TIFF or PDF, is page jobs (`run`).
 * `ownFormat` is what the upload's own result is, the rendition's default.
 */
function renditionRun(
  original: { contentType: string; document?: { pages: number; format: OutputFormat } },
  format: OutputFormat | undefined,
): { run: { pages: number } | undefined; ownFormat: OutputFormat } {
  const ownFormat = original.document?.format ?? "png";
  const wanted = format ?? ownFormat;
  const pages = original.document?.pages ?? 1;
  assertFormatHoldsPages(wanted, pages);
  const isImage = /^image\/(png|jpeg|webp)$/.test(original.contentType);
  return { run: isImage && wanted === "png" ? undefined : { pages }, ownFormat };
}
