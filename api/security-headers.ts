// Secure response headers: a strict CSP everywhere (no inline script, frame-ancestors none),
// nosniff and the rest of hono's defaults; /docs alone allows the inline styles Swagger UI sets.
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

const STRICT_CSP = {
  defaultSrc: ["'self'"],
  imgSrc: ["'self'", "blob:", "data:"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
  formAction: ["'self'"],
};

export function securityHeaders(): MiddlewareHandler {
  const strict = secureHeaders({ contentSecurityPolicy: STRICT_CSP, crossOriginResourcePolicy: "same-origin" });
  const docs = secureHeaders({
    contentSecurityPolicy: { ...STRICT_CSP, styleSrc: ["'self'", "'unsafe-inline'"] },
  });
  return (c, next) => (c.req.path === "/docs" || c.req.path.startsWith("/docs/") ? docs(c, next) : strict(c, next));
}
