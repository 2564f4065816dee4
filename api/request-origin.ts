// Who may talk to the API from a browser. Without a token, anything a web page can make a
// browser send would be answered: a page that rebinds its own DNS name to 127.0.0.1 could read
// every image (the Host allow-list stops it), and a form on any site could upload or delete
// (the Origin check stops it). curl and the CLI send no Origin and are not affected.
import type { MiddlewareHandler } from "hono";
import { AppError } from "./errors.ts";

const LOOPBACK_NAME = /^(localhost|[a-z0-9-]+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The name and port of a Host header or an origin's host, lower-cased; the port may be absent. */
function splitHost(host: string): { name: string; port: string | undefined } {
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(host.toLowerCase());
  return { name: match?.[1] ?? "", port: match?.[2] };
}

/** Whether `host` is `entry` (an entry without a port matches any port). */
function matchesEntry(host: string, entry: string): boolean {
  const given = splitHost(host);
  const expected = splitHost(entry);
  return expected.name === given.name && (expected.port === undefined || expected.port === given.port);
}

/** Whether `host` is a loopback name or one of `allowed`. */
function isAllowedHost(host: string, allowed: string[]): boolean {
  return LOOPBACK_NAME.test(splitHost(host).name) || allowed.some((entry) => matchesEntry(host, entry));
}

/**
 * Without an API token: requests addressed to a name other than a loopback one or one of
 * `publicHosts` (PUBLIC_HOSTS) are refused, as a DNS-rebinding page would address them.
 */
export function hostAllowList(publicHosts: string[]): MiddlewareHandler {
  return async (c, next) => {
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!isAllowedHost(host, publicHosts)) {
      throw new AppError(
        "forbidden",
        `This API answers requests to localhost only, not to ${host}; add the name to PUBLIC_HOSTS to serve it (see README).`,
      );
    }
    await next();
  };
}

/**
 * A request that changes something (POST, DELETE, …) and comes from a page of another origin
 * is refused; a request with no Origin (curl, the CLI, a server) is not a browser's and passes.
 * Written here rather than with hono/csrf, which also refuses form posts that carry no Origin
 * at all, and so every `curl -F` upload.
 */
export function sameOriginWrites({
  allowedOrigins,
  publicHosts,
}: {
  allowedOrigins: string[];
  publicHosts: string[];
}): MiddlewareHandler {
  return async (c, next) => {
    if (SAFE_METHODS.has(c.req.method)) return next();
    const origin = c.req.header("origin");
    const crossSite = c.req.header("sec-fetch-site") === "cross-site";
    if (
      origin === undefined ? crossSite : !isAllowedOrigin(origin, c.req.header("host"), allowedOrigins, publicHosts)
    ) {
      throw new AppError(
        "forbidden",
        `Requests that change something are accepted from this API's own pages${allowedOrigins.length > 0 ? " and CORS_ORIGINS" : ""}, not from ${origin ?? "another site"}.`,
      );
    }
    await next();
  };
}

function isAllowedOrigin(origin: string, host: string | undefined, allowedOrigins: string[], publicHosts: string[]) {
  if (allowedOrigins.includes(origin)) return true;
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    return false; // "null" (a sandboxed frame, a file:// page) or garbage
  }
  // The page's own origin: it names the host the request was sent to.
  if (host !== undefined && originHost === host.toLowerCase()) return true;
  return publicHosts.some(
    (entry) => isAllowedHost(originHost, [entry]) && !LOOPBACK_NAME.test(splitHost(originHost).name),
  );
}
