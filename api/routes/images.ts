// Images: upload (and the original pipeline's /upload), list, status, delete, and their bytes.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { create as contentDisposition } from "content-disposition";
import type { Context } from "hono";
import { endTime, startTime } from "hono/timing";
import { v7 as uuidv7 } from "uuid";
import { documentOutput, outputKey } from "../../infra/image-objects.ts";
import { type OutputFormat, sendInputMessage, sendPageMessages } from "../../infra/messages.ts";
import { AppError, unavailableOnError } from "../errors.ts";
import { assertFormatHoldsPages } from "../output-format.ts";
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
  type ImageStatus,
  listImageIds,
  readDocumentInfo,
  readImageStatus,
  storeOriginal,
  uuidV7Time,
} from "../store/images.ts";
import { readUploadRequest, type UploadRequest } from "../upload-request.ts";
import { type ValidDocument, type ValidImage, validateUpload } from "../upload-validation.ts";
import type { Env, RouteDeps } from "./route-deps.ts";

export function mountImageRoutes(app: OpenAPIHono<Env>, deps: RouteDeps): void {
  const { config, sqs, queueUrls, store, downloads, links, requireToken } = deps;

  // A document's answers also link to its pages, and to its first page to show it by.
  const linksOf = (status: ImageStatus) => ({
    ...links.image(status.id),
    ...(status.document ? { pages: `/api/images/${status.id}/pages`, cover: links.page(status.id, 1).processed } : {}),
  });

  const acceptUpload = async (c: Context<Env>) => {
    startTime(c, "validate");
    const request = await readUploadRequest(c, config);
    // The upload's temporary file, if it has one, is gone when the answer is.
    try {
      return await storeAndEnqueue(c, request);
    } finally {
      await request.file.dispose();
    }
  };
  const storeAndEnqueue = async (c: Context<Env>, request: UploadRequest) => {
    const { file, ...options } = request;
    const upload = await validateUpload(file, { ...config, dpi: request.dpi }, deps.pdf);
    const document = asDocument(upload, request.format);
    endTime(c, "validate");
    const id = uuidv7();
    c.set("imageId", id);
    // The id's own timestamp, so that the listing marker's key can be found from the id alone.
    const uploadedAt = new Date(uuidV7Time(id) as number).toISOString();
    const first = upload.kind === "image" ? upload : upload.pages[0];
    startTime(c, "s3put");
    const keys = await storeOriginal(store, {
      id,
      extension: upload.extension,
      contentType: upload.contentType,
      ...options,
      body: file.body,
      size: file.size,
      width: first.width,
      height: first.height,
      uploadedAt,
      document,
    }).catch((error) => {
      throw new AppError("service-unavailable", "The image could not be stored; try again.", { cause: error });
    });
    endTime(c, "s3put");
    startTime(c, "enqueue");
    const job = {
      id,
      bucket: config.inputBucket,
      key: keys[0],
      method: request.method,
      threshold: request.threshold,
      deskew: request.deskew,
      borders: request.borders,
    };
    const rendering = request.dpi ? { dpi: request.dpi } : {};
    try {
      if (document) {
        // One job a page, sent from here rather than fanned out by a worker: the worker, which
        // parses hostile files, may not send jobs (infra/iam/worker-policy.json).
        const pages = Array.from({ length: document.pages }, (_, n) => ({
          version: 3 as const,
          ...job,
          ...document,
          ...rendering,
          page: n + 1,
        }));
        await sendPageMessages(sqs, queueUrls.input, pages);
      } else {
        await sendInputMessage(sqs, queueUrls.input, {
          version: 1,
          ...job,
          contentType: upload.contentType,
          bytes: file.size,
          width: first.width,
          height: first.height,
          filename: request.filename,
          uploadedAt,
        });
      }
    } catch (error) {
      // Never leave an object that no message will ever process.
      await deleteStored(store, keys).catch((cleanupError) =>
        c.var.log.error({ err: cleanupError, id }, "could not delete original after failed enqueue"),
      );
      throw new AppError("service-unavailable", "The image could not be queued; try again.", { cause: error });
    }
    endTime(c, "enqueue");
    c.set("acceptedBytes", file.size);
    c.var.log.info(
      { id, bytes: file.size, width: first.width, height: first.height, pages: document?.pages },
      "image accepted",
    );
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
          items: items.flatMap((status) => (status ? [{ ...status, links: linksOf(status) }] : [])),
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
      return c.json({ ...status, links: linksOf(status) }, 200);
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
      responses: imageBytesResponses("original", [
        "image/png",
        "image/jpeg",
        "image/webp",
        "image/tiff",
        "application/pdf",
      ]),
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
      summary: "The result: an image's bitonal PNG, or a document's TIFF or PDF",
      request: { params: idParamsSchema },
      responses: imageBytesResponses("processed", ["image/png", "image/tiff", "application/pdf"]),
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const missing = `Image ${id} is not processed (yet).`;
      try {
        return await downloads.send(c, config.outputBucket, outputKey(id), missing);
      } catch (error) {
        // Not an image's PNG: perhaps a document's TIFF or PDF (looked for only then, so that an
        // image's download costs no more than it did).
        if (!(error instanceof AppError && error.type === "not-found")) throw error;
        const document = await unavailableOnError(() => readDocumentInfo(store, id));
        if (!document || document.format === "png") throw error;
        const output = documentOutput(id, document.format);
        const name = `${document.filename.replace(/\.[^.]*$/, "") || id}.bitonal.${output.extension}`;
        const disposition = contentDisposition(name, { type: "inline" });
        return downloads.send(
          c,
          config.outputBucket,
          output.key,
          `Document ${id} is not assembled (yet).`,
          disposition,
        );
      }
    },
  );
}

/**
 * An upload is processed as a document when it is one (a TIFF) or when its result is to be one
 * (an image asked for as TIFF or PDF); an image asked for as PNG stays an image job.
 */
function asDocument(
  upload: ValidImage | ValidDocument,
  format: OutputFormat | undefined,
): { pages: number; format: OutputFormat } | undefined {
  if (upload.kind === "image") return format && format !== "png" ? { pages: 1, format } : undefined;
  const pages = upload.pages.length;
  const chosen = format ?? (upload.contentType === "application/pdf" ? "pdf" : "tiff");
  assertFormatHoldsPages(chosen, pages);
  return { pages, format: chosen };
}
