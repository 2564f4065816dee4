// Builds the HTTP API from its dependencies. It never listens: api/main.ts and the tests do.
import type { S3Client } from "@aws-sdk/client-s3";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { v7 as uuidv7 } from "uuid";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/logger.ts";
import { imageIdSchema, sendInputMessage } from "../infra/messages.ts";
import type { QueueUrls } from "../infra/resources.ts";
import { AppError, errorHandler, problemJson } from "./errors.ts";
import { deleteOriginal, readImageStatus, storeOriginal } from "./image-store.ts";
import { readUploadRequest } from "./upload-request.ts";
import { validateImage } from "./upload-validation.ts";

export interface AppDeps {
  config: Config;
  s3: S3Client;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  logger: Logger;
}

// Room for the multipart envelope around an image of exactly MAX_UPLOAD_BYTES.
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

export function createApp(deps: AppDeps): Hono {
  const { config, s3, sqs, queueUrls, logger } = deps;
  const app = new Hono();
  app.onError(errorHandler(logger));
  app.notFound((c) => problemJson(c, "not-found", `No route for ${c.req.method} ${c.req.path}.`));

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  const limitBody = bodyLimit({
    maxSize: config.maxUploadBytes + MULTIPART_OVERHEAD_BYTES,
    onError: (c) => problemJson(c, "payload-too-large", `The upload is larger than ${config.maxUploadBytes} bytes.`),
  });

  const acceptUpload = async (c: Context) => {
    const request = await readUploadRequest(c, config.maxUploadBytes);
    const image = await validateImage(request.bytes, config);
    const id = uuidv7();
    const uploadedAt = new Date().toISOString();
    const key = await storeOriginal({ s3, config }, { id, ...image, ...request, uploadedAt }).catch((error) => {
      throw new AppError("service-unavailable", "The image could not be stored; try again.", { cause: error });
    });
    try {
      await sendInputMessage(sqs, queueUrls.input, {
        version: 1,
        id,
        bucket: config.inputBucket,
        key,
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
      await deleteOriginal({ s3, config }, key).catch((cleanupError) =>
        logger.error({ err: cleanupError, id, key }, "could not delete original after failed enqueue"),
      );
      throw new AppError("service-unavailable", "The image could not be queued; try again.", { cause: error });
    }
    logger.info({ id, bytes: request.bytes.length, width: image.width, height: image.height }, "image accepted");
    const self = `/api/images/${id}`;
    c.header("Location", self);
    return c.json(
      { id, status: "queued", links: { self, original: `${self}/original`, processed: `${self}/processed` } },
      202,
    );
  };
  app.post("/api/images", limitBody, acceptUpload);
  // The original Flask pipeline's route, kept so its clients and test_upload.sh keep working.
  app.post("/upload", limitBody, acceptUpload);

  app.get("/api/images/:id", async (c) => {
    const id = imageIdSchema.safeParse(c.req.param("id"));
    if (!id.success) throw new AppError("bad-request", "The image id must be a UUID v7.");
    const status = await readImageStatus({ s3, config }, id.data).catch((error) => {
      throw new AppError("service-unavailable", "Storage is unavailable; try again.", { cause: error });
    });
    if (!status) throw new AppError("not-found", `No image with id ${id.data}.`);
    return c.json(status);
  });

  return app;
}
