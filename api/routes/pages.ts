// A document's pages: which are done, and each page's bitonal PNG and original for viewing.
import { createRoute, type OpenAPIHono } from "@hono/zod-openapi";
import { pageKeys } from "../../infra/image-objects.ts";
import { headObject } from "../../infra/stored-results.ts";
import { AppError, unavailableOnError } from "../errors.ts";
import {
  idParamsSchema,
  imageBytesResponses,
  imageRouteProblems,
  pageListSchema,
  pageParamsSchema,
} from "../schemas.ts";
import { listPageStatuses, readDocumentInfo } from "../store/images.ts";
import type { Env, RouteDeps } from "./route-deps.ts";

export function mountPageRoutes(app: OpenAPIHono<Env>, deps: RouteDeps): void {
  const { config, store, downloads, links } = deps;

  const documentOf = async (id: string) => {
    const document = await unavailableOnError(() => readDocumentInfo(store, id));
    if (!document) throw new AppError("not-found", `No document with id ${id} (an image has no pages).`);
    return document;
  };
  const pageOf = async (id: string, page: number) => {
    const { pages } = await documentOf(id);
    if (page > pages) throw new AppError("not-found", `Document ${id} has ${pages} pages; there is no page ${page}.`);
  };

  app.openapi(
    createRoute({
      operationId: "listPages",
      method: "get",
      path: "/api/images/{id}/pages",
      summary: "A document's pages, in order, each queued, done or failed",
      request: { params: idParamsSchema },
      responses: {
        200: { description: "Every page", content: { "application/json": { schema: pageListSchema } } },
        ...imageRouteProblems,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      c.set("imageId", id);
      const { pages } = await documentOf(id);
      const statuses = await unavailableOnError(() => listPageStatuses(store, id, pages));
      return c.json({ items: statuses.map((page) => ({ ...page, links: links.page(id, page.page) })) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/pages/{page}/original",
      summary:
        "One page of a document as it was uploaded: a JPEG preview (at most 1600 px a side), or the page's PNG when it was black and white already",
      request: { params: pageParamsSchema },
      responses: imageBytesResponses("page's original", ["image/jpeg", "image/png"]),
    }),
    async (c) => {
      const { id, page } = c.req.valid("param");
      c.set("imageId", id);
      await pageOf(id, page);
      const keys = pageKeys(id, page);
      // A page that was black and white already has no preview: it is its own result.
      const kept = await unavailableOnError(() => headObject(store.s3, config.outputBucket, keys.preview));
      const key = kept ? keys.preview : keys.png;
      return downloads.send(c, config.outputBucket, key, `Page ${page} of ${id} is not done (yet).`);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/api/images/{id}/pages/{page}/processed",
      summary: "One page of a document as a bitonal PNG, for viewing",
      request: { params: pageParamsSchema },
      responses: imageBytesResponses("page's processed"),
    }),
    async (c) => {
      const { id, page } = c.req.valid("param");
      c.set("imageId", id);
      await pageOf(id, page);
      return downloads.send(c, config.outputBucket, pageKeys(id, page).png, `Page ${page} of ${id} is not done (yet).`);
    },
  );
}
