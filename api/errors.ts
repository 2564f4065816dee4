// The one place that turns errors into HTTP answers: RFC 9457 problem+json, a stable `type`
// per class of error, and nothing of an unexpected error's internals in the response.
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Logger } from "pino";

const PROBLEMS = {
  "bad-request": { status: 400, title: "Bad request" },
  unauthorized: { status: 401, title: "Missing or wrong API token" },
  forbidden: { status: 403, title: "Not from here" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  "too-many-renditions": { status: 409, title: "This image has as many renditions as it may" },
  "payload-too-large": { status: 413, title: "Upload too large" },
  "unsupported-media-type": { status: 415, title: "Not a PNG, JPEG, WebP or TIFF file" },
  "json-expected": { status: 415, title: "This route takes a JSON body" },
  "too-many-downloads": { status: 429, title: "Too many large downloads at once" },
  "unprocessable-image": { status: 422, title: "The image or document is damaged or too large to decode" },
  "service-unavailable": { status: 503, title: "Storage or queue unavailable" },
  internal: { status: 500, title: "Internal server error" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemType = keyof typeof PROBLEMS;

/** An error whose detail is safe to show to the client. */
export class AppError extends Error {
  override name = "AppError";
  readonly type: ProblemType;
  constructor(type: ProblemType, detail: string, options?: { cause?: unknown }) {
    super(detail, options);
    this.type = type;
  }
  get status(): ContentfulStatusCode {
    return PROBLEMS[this.type].status;
  }
}

export function problemJson(c: Context, type: ProblemType, detail: string): Response {
  const { status, title } = PROBLEMS[type];
  c.header("Content-Type", "application/problem+json");
  return c.body(JSON.stringify({ type: `/problems/${type}`, title, status, detail, instance: c.req.path }), status);
}

/** Hono's onError handler: known errors keep their status and detail; anything else is a logged 500. */
export function errorHandler(logger: Logger) {
  return (error: Error, c: Context): Response => {
    // The request's own logger when there is one, so the line carries its request id.
    const log: Logger = c.get("log") ?? logger;
    if (error instanceof AppError) {
      if (error.status >= 500) log.warn({ err: error.cause ?? error, path: c.req.path }, error.message);
      // The rest of a too-large body is never read: close the connection rather than drain it.
      if (error.type === "payload-too-large") c.header("Connection", "close");
      return problemJson(c, error.type, error.message);
    }
    // Middleware that answers for itself (bearer auth) has already built a problem response.
    if (error instanceof HTTPException && error.res) return error.getResponse();
    if (error instanceof HTTPException && error.status < 500) {
      return problemJson(c, error.status === 413 ? "payload-too-large" : "bad-request", error.message);
    }
    log.error({ err: error, path: c.req.path }, "unhandled error");
    return problemJson(c, "internal", "The server could not handle this request.");
  };
}

/** Runs a call to storage; any failure of it is a 503 that says so, never a 500. */
export async function unavailableOnError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw new AppError("service-unavailable", "Storage is unavailable; try again.", { cause: error });
  }
}
