// The parts of /openapi.json that no route definition carries: uploads, whose handler parses
// its own body (with the same option schema documented here), and the plain endpoints.
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { acceptedSchema, imageLinks, problemContent, uploadOptionsSchema } from "./schemas.ts";

/**
 * Routes whose handlers parse their own input, documented here from the same schemas:
 * uploads (multipart or raw body, parsed by readUploadRequest with the same schema),
 * and the plain endpoints.
 */
// biome-ignore lint/suspicious/noExplicitAny: any OpenAPIHono app, whatever its variables
export function documentUncheckedRoutes(app: OpenAPIHono<any>): void {
  const types = ["image/png", "image/jpeg", "image/webp", "image/tiff", "application/pdf"];
  const binary = { schema: { type: "string" as const, format: "binary" } };
  const uploadBody = {
    required: true,
    content: {
      "multipart/form-data": {
        schema: uploadOptionsSchema.extend({
          image: z.string().openapi({
            format: "binary",
            description: "The image (PNG, JPEG, WebP) or document (TIFF of one or many pages, PDF)",
          }),
        }),
        encoding: { image: { contentType: types.join(", ") } },
      },
      ...Object.fromEntries(types.map((type) => [type, binary])),
    },
  };
  const uploadResponses = {
    202: {
      description: "Stored and queued",
      content: { "application/json": { schema: acceptedSchema } },
      links: imageLinks,
    },
    400: { description: "Malformed request: a field is missing, wrong or unknown", content: problemContent },
    403: {
      description: "From another site's page, or (without a token) to a host not allowed",
      content: problemContent,
    },
    401: { description: "API token missing or wrong (when API_TOKEN is set)", content: problemContent },
    413: {
      description: "An image larger than MAX_UPLOAD_BYTES, a document larger than MAX_DOCUMENT_BYTES",
      content: problemContent,
    },
    415: { description: "Not a PNG, JPEG, WebP, TIFF or PDF file", content: problemContent },
    422: {
      description:
        "Damaged, truncated, encrypted (a PDF), more pages than MAX_PAGES, or a page over MAX_INPUT_PIXELS; a PNG asked of a document of several pages",
      content: problemContent,
    },
    503: { description: "Storage or queue unavailable", content: problemContent },
  };
  for (const path of ["/api/images", "/upload"]) {
    app.openAPIRegistry.registerPath({
      method: "post",
      path,
      summary: path === "/upload" ? "Upload (the original Flask pipeline's route)" : "Upload an image or a document",
      request: {
        body: uploadBody,
        query: uploadOptionsSchema.extend({
          filename: z.string().optional().openapi({ description: "For a raw body: the name to show" }),
        }),
      },
      responses: uploadResponses,
    });
  }
  const plain = (path: string, summary: string, responses: Record<number, { description: string }>) =>
    app.openAPIRegistry.registerPath({ method: "get", path, summary, responses });
  plain("/healthz", "Alive", { 200: { description: "Alive" } });
  plain("/readyz", "S3 and SQS reachable and resources present", {
    200: { description: "Ready" },
    503: { description: "Not ready" },
  });
  plain("/metrics", "Prometheus metrics", { 200: { description: "Prometheus text format" } });
  plain("/openapi.json", "This document", { 200: { description: "OpenAPI 3.1" } });
  plain("/docs", "Interactive documentation", { 200: { description: "HTML" } });
  plain("/", "The web page: upload, watch, compare, gallery", { 200: { description: "HTML" } });
}
