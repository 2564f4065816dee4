// The answer for a request no route takes: 405 with Allow when the path exists with other
// methods (TRACE, PUT, …), else 404; both problem+json like every other refusal.
import type { Context, Hono } from "hono";
import { problemJson } from "./errors.ts";

// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its variables
export function notFoundOrNotAllowed(app: Hono<any>) {
  return (c: Context): Response => {
    const allowed = allowedMethods(app.routes, c.req.path);
    if (allowed.length === 0) return problemJson(c, "not-found", `No route for ${c.req.method} ${c.req.path}.`);
    c.header("Allow", allowed.join(", "));
    return problemJson(c, "method-not-allowed", `${c.req.path} answers ${allowed.join(", ")}, not ${c.req.method}.`);
  };
}

/** The methods that routes (not middleware) answer on `path`; HEAD wherever GET is. */
function allowedMethods(routes: readonly { method: string; path: string }[], path: string): string[] {
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || route.path.includes("*")) continue;
    const pattern = new RegExp(`^${route.path.replace(/:[^/]+/g, "[^/]+")}$`);
    if (!pattern.test(path)) continue;
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
  }
  return [...methods].sort();
}
