// Images: upload (and the original pipeline's /upload), list, status, delete, and their bytes.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { endTime, startTime } from "hono/timing";
import { v7 as uuidv7 } from "uuid";
import { outputKey } from "../../infra/image-objects.ts";
import { sendInputMessage } from "../../infra/messages.ts";
import { AppError, unavailableOnError } from "../errors.ts";
import {
  idParamsSchema,
  imageBytesResponses,
  imagePageSchema,
  imageRouteProblems,
  imageStatusSchema,
  listQuerySchema,
  problemContent,
} from "../schemas.ts";
import {
  deleteImage,
  deleteStored,
  findOriginalKey,
  listImageIds,
  readImageStatus,
  storeOriginal,
  uuidV7Time,
} from "../store/images.ts";
import { readUploadRequest } from "../upload-request.ts";
import { validateImage } from "../upload-validation.ts";
import type { Env, RouteDeps } from "./route-deps.ts";

export function mountImageRoutes(app: OpenAPIHono<Env>, deps: RouteDeps): void {
  const { config, sqs, queueUrls, store, downloads, links, requireToken } = deps;

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
    return c.json({ id, status: "queued", links: links.image(id) }, 202);
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
          items: items.flatMap((status) => (status ? [{ ...status, links: links.image(status.id) }] : [])),
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
        ...imageRouteProblems,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const status = await unavailableOnError(() => readImageStatus(store, id));
      if (!status) throw new AppError("not-found", `No image with id ${id}.`);
      return c.json({ ...status, links: links.image(id) }, 200);
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

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/original",
      summary: "The uploaded image, as it was sent",
      request: { params: idParamsSchema },
      responses: imageBytesResponses("original", ["image/png", "image/jpeg", "image/webp"]),
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const key = await unavailableOnError(() => findOriginalKey(store, id));
      if (!key) throw new AppError("not-found", `No image with id ${id}.`);
      return downloads.send(c, config.inputBucket, key, `The original of ${id} is not stored.`);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/processed",
      summary: "The bitonal PNG",
      request: { params: idParamsSchema },
      responses: imageBytesResponses("processed"),
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      return downloads.send(c, config.outputBucket, outputKey(id), `Image ${id} is not processed (yet).`);
    },
  );
}
