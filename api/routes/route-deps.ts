// What every route module is built from, and the variables a request carries through them.
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { MiddlewareHandler } from "hono";
import type { PdfRenderer } from "../../imaging/decode/pdf-renderer.ts";
import type { Config } from "../../infra/config.ts";
import type { Logger } from "../../infra/logger.ts";
import type { QueueUrls } from "../../infra/resources.ts";
import type { Access } from "../access.ts";
import type { ImageDownloads } from "../image-downloads.ts";
import type { StoreDeps, StoredOriginal } from "../store/images.ts";

export type Env = {
  Variables: {
    requestId: string;
    log: Logger;
    acceptedBytes: number;
    imageId: string;
    /** The stored original a rendition request is for, found before its body is read. */
    original: StoredOriginal;
  };
};

export interface RouteDeps {
  config: Config;
  sqs: SQSClient;
  queueUrls: QueueUrls;
  store: StoreDeps;
  downloads: ImageDownloads;
  links: Access["links"];
  requireToken: MiddlewareHandler;
  pdf: PdfRenderer;
}
