// The HTTP contract as zod schemas: they validate requests and generate /openapi.json, so the
// documentation cannot drift from what the API does.
import { z } from "@hono/zod-openapi";
import { BINARIZATION_METHODS, BORDER_MODES, DESKEW_MODES } from "../imaging/method-names.ts";
import {
  bordersReportSchema,
  DEFAULT_BORDERS,
  DEFAULT_DESKEW,
  DEFAULT_METHOD,
  imageIdSchema,
  OUTPUT_FORMATS,
  renditionNameSchema,
  skewReportSchema,
} from "../infra/messages.ts";

export const PAGE_SIZE = { default: 20, max: 100 } as const;

const methodSchema = z
  .enum(BINARIZATION_METHODS, { error: `must be one of ${BINARIZATION_METHODS.join(", ")}` })
  .default(DEFAULT_METHOD)
  .openapi({
    description:
      "Binarization method. `auto` (default) chooses per image between one global threshold (clean " +
      "two-tone images) and `document` (pages: uneven light, faint ink, stains, a dark mount or frame " +
      "around the page), and says which and why",
  });
// Validated whatever the method (a 256 or a `false` is refused), used by `fixed` alone: the
// OpenAPI document cannot say "only with fixed", and a fuzzer rightly counts a refusal of what
// the document allows as a broken contract.
const thresholdDescription = "Used by `fixed` (luma above it is white; default 127); other methods ignore it";
// The same in a form and in JSON: both are words.
const geometryOptions = {
  deskew: z
    .enum(DESKEW_MODES, { error: `must be one of ${DESKEW_MODES.join(", ")}` })
    .default(DEFAULT_DESKEW)
    .openapi({
      description:
        "`auto` (default): estimate the page's skew (±15°) and, when the estimate is sure and at least " +
        "0.1°, turn the page level before the final binarization (the canvas grows, with white); `off`: never",
    }),
  borders: z
    .enum(BORDER_MODES, { error: `must be one of ${BORDER_MODES.join(", ")}` })
    .default(DEFAULT_BORDERS)
    .openapi({
      description:
        "The dark frame around a page (scanner lid, table, book edge, mount): `clean` (default) makes it " +
        "white, `crop` cuts the result to the page inside it, `keep` leaves it",
    }),
};
const thresholdNumber = z
  .number({ error: "must be a number" })
  .int("must be an integer")
  .min(0, "must be 0–255")
  .max(255, "must be 0–255");

/**
 * The upload's options, from multipart fields or the query: text, so the threshold is a numeral.
 * Strict: a multipart field that is no option is refused, not ignored.
 */
export const uploadOptionsSchema = z.strictObject({
  method: methodSchema,
  threshold: z
    .string()
    // 0–255 as a pattern, so that the OpenAPI document says the range of this text field too.
    .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, "must be an integer 0–255")
    .transform(Number)
    .pipe(thresholdNumber)
    .optional()
    .openapi({ description: thresholdDescription }),
  format: z
    .enum(OUTPUT_FORMATS, { error: `must be one of ${OUTPUT_FORMATS.join(", ")}` })
    .optional()
    .openapi({
      description:
        "What the result is written as: a 1-bit PNG (one page), a CCITT G4 TIFF, or a PDF of G4 images. " +
        "Default: PNG for an image, PDF for a PDF, TIFF for a TIFF",
    }),
  dpi: z
    .string()
    // 72–1200 as a pattern, so that the OpenAPI document says the range of this text field too.
    .regex(/^(7[2-9]|[89]\d|[1-9]\d\d|1[01]\d\d|1200)$/, "must be a whole number of dots per inch, 72–1200")
    .transform(Number)
    .optional()
    .openapi({
      description:
        "What a PDF page that is not a scan is rendered at (default 300); a scanned page keeps its own resolution",
    }),
  ...geometryOptions,
});

export const idParamsSchema = z.object({
  // UUIDs are case-insensitive (RFC 9562); keys, links and messages use the lower-case form.
  id: imageIdSchema
    .transform((id) => id.toLowerCase())
    .openapi({ param: { name: "id", in: "path" }, example: "019a9b6e-2f1c-7d3a-9b1e-0c4f6a8e2d10" }),
});

/** Another method for a stored original: the upload's options, as JSON (a threshold is a number). */
export const renditionRequestSchema = z
  .object({
    method: methodSchema,
    threshold: thresholdNumber.optional().openapi({ description: thresholdDescription }),
    format: z
      .enum(OUTPUT_FORMATS, { error: `must be one of ${OUTPUT_FORMATS.join(", ")}` })
      .optional()
      .openapi({
        description:
          "What the rendition is written as; default: what the upload's own result is. A document's " +
          "rendition is a document (every page); a PNG holds one page only.",
      }),
    ...geometryOptions,
  })
  .openapi("RenditionRequest");

export const renditionParamsSchema = idParamsSchema.extend({
  // A clone: a schema made before @hono/zod-openapi was first imported has no `.openapi` (import
  // order decides that, and infra/messages.ts knows nothing of HTTP), a copy made now has.
  rendition: renditionNameSchema.clone().openapi({
    param: { name: "rendition", in: "path" },
    description:
      "The method, for fixed its threshold, and a format other than the upload's own: `sauvola`, `fixed-140`, `document-pdf`",
    example: "sauvola",
  }),
});

export const listQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(PAGE_SIZE.max)
    .default(PAGE_SIZE.default)
    .openapi({ param: { name: "limit", in: "query" } }),
  cursor: z
    .string()
    .regex(/^\d{13}-[0-9a-f-]{36}$/, "is not a cursor this API gave out")
    .optional()
    .openapi({ param: { name: "cursor", in: "query" } }),
});

const linksSchema = z.object({
  self: z.string(),
  original: z.string(),
  processed: z.string(),
  pages: z.string().optional().openapi({ description: "A document's: its pages" }),
  cover: z.string().optional().openapi({ description: "A document's: its first page, as a PNG" }),
});

export const acceptedSchema = z
  .object({ id: z.string(), status: z.literal("queued"), links: linksSchema })
  .openapi("Accepted");

const skewStatus = skewReportSchema.nullable().openapi({
  description:
    "What deskew found (`angle`: degrees the page was turned clockwise, null when no skew was found; " +
    "`confidence` 0–1) and did (`rotated`: the turn applied, 0 when none); null when deskew was off",
  example: { angle: 2.3, confidence: 0.92, rotated: -2.3 },
});
const bordersStatus = bordersReportSchema.nullable().openapi({
  description: "The dark frame found, pixels on each side (0: none), and what was done; null when borders were kept",
  example: { top: 41, right: 0, bottom: 38, left: 12, action: "clean" },
});

export const imageStatusSchema = z
  .object({
    id: z.string(),
    status: z.enum(["queued", "done", "failed"]),
    filename: z.string().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    method: z.string().nullable(),
    appliedMethod: z.string().nullable().openapi({ description: "What made the pixels; for `auto`, what it chose" }),
    reason: z.string().nullable().openapi({ description: "Why `auto` chose it", example: "uneven background" }),
    threshold: z.number().nullable().openapi({ description: "The global threshold used; null for local methods" }),
    createdAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    skew: skewStatus,
    borders: bordersStatus,
    document: z
      .object({
        pages: z.number().int(),
        format: z.enum(OUTPUT_FORMATS),
        progress: z.object({ done: z.number().int(), failed: z.number().int(), total: z.number().int() }),
        bytes: z.number().int().nullable().openapi({ description: "The assembled output's size, once written" }),
        inputBytes: z.number().int(),
        largerThanInput: z
          .boolean()
          .nullable()
          .openapi({ description: "Whether the output is larger than the upload" }),
        pagesDeskewed: z.number().int().nullable().openapi({ description: "Pages turned level, once assembled" }),
        pagesFramed: z.number().int().nullable().openapi({ description: "Pages with a frame found, once assembled" }),
      })
      .optional()
      .openapi({ description: "A document's (a TIFF, or an image asked for as TIFF or PDF): its pages and progress" }),
    links: linksSchema,
  })
  .openapi("ImageStatus");

export const pageParamsSchema = idParamsSchema.extend({
  page: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .openapi({ param: { name: "page", in: "path" }, description: "From 1", example: 1 }),
});

export const pageListSchema = z
  .object({
    items: z.array(
      z.object({
        page: z.number().int(),
        status: z.enum(["queued", "done", "failed"]),
        error: z.object({ code: z.string(), message: z.string() }).optional(),
        skew: skewReportSchema.optional(),
        borders: bordersReportSchema.optional(),
        links: z.object({ original: z.string(), processed: z.string() }),
      }),
    ),
  })
  .openapi("PageList");

const renditionLinksSchema = z.object({ self: z.string(), processed: z.string() });

export const renditionStatusSchema = z
  .object({
    id: z.string(),
    rendition: z.string(),
    status: z.enum(["queued", "done", "failed"]),
    method: z.string().nullable(),
    appliedMethod: z.string().nullable(),
    reason: z.string().nullable(),
    threshold: z.number().nullable(),
    requestedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    /** A document rendition's: what it is written as, and its pages; null for an image's PNG. */
    format: z.enum(OUTPUT_FORMATS).nullable(),
    pages: z.number().int().nullable(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    skew: skewStatus,
    borders: bordersStatus,
    links: renditionLinksSchema,
  })
  .openapi("RenditionStatus");

export const renditionListSchema = z.object({ items: z.array(renditionStatusSchema) }).openapi("RenditionList");

export const imagePageSchema = z
  .object({ items: z.array(imageStatusSchema), nextCursor: z.string().nullable() })
  .openapi("ImagePage");

export const problemSchema = z
  .object({
    type: z.string().openapi({ example: "/problems/unsupported-media-type" }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
  })
  .openapi("Problem");

export const problemContent = { "application/problem+json": { schema: problemSchema } };

/** The refusals of a route about one stored image. */
export const imageRouteProblems = {
  400: { description: "Malformed id", content: problemContent },
  404: { description: "No such image", content: problemContent },
  503: { description: "Storage unavailable", content: problemContent },
} as const;

/**
 * Where a client goes next from an answer about an image or a rendition (OpenAPI links: what a
 * stateful fuzzer follows, and what a generated client can offer).
 */
export const imageLinks = {
  status: { operationId: "getImage", parameters: { id: "$response.body#/id" } },
  delete: { operationId: "deleteImage", parameters: { id: "$response.body#/id" } },
};
export const renditionLinks = {
  status: {
    operationId: "getRendition",
    parameters: { id: "$response.body#/id", rendition: "$response.body#/rendition" },
  },
};

const binary = { schema: { type: "string", format: "binary" } } as const;

/** The responses of a route that sends an image's bytes. */
export const imageBytesResponses = (which: string, types: readonly string[] = ["image/png"]) =>
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
