// Who may use the API: with API_TOKEN, every /api route wants the bearer token, and an image's
// bytes also accept a signed link (what <img> tags and shared links carry); the links the API
// hands out are signed accordingly.
import { randomBytes } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { Config } from "../infra/config.ts";
import type { Logger } from "../infra/logger.ts";
import { problemJson } from "./errors.ts";
import { createLinkSigner } from "./signed-links.ts";

// How long a signed link to an image lasts (one to two of these: see createLinkSigner).
const SIGNED_LINK_LIFETIME_S = 3600;
const IMAGE_BYTES_PATH =
  /^\/api\/images\/[^/]+\/(original|processed|renditions\/[^/]+\/processed|pages\/[^/]+\/(original|processed))$/;

export interface Access {
  /** The bearer token check alone (a pass-through without API_TOKEN). */
  requireToken: MiddlewareHandler;
  /** For /api/*: the token, or a valid signature on a read of an image's bytes. */
  guard: MiddlewareHandler;
  links: {
    image(id: string): { self: string; original: string; processed: string };
    rendition(id: string, rendition: string): { self: string; processed: string };
    /** A document's page n (from 1). */
    page(id: string, page: number): { original: string; processed: string };
  };
}

export function createAccess(config: Config, logger: Logger): Access {
  const requireToken: MiddlewareHandler = config.apiToken
    ? bearerAuth({
        token: config.apiToken,
        noAuthenticationHeader: {
          message: (c: Context) => problemJson(c, "unauthorized", "Send Authorization: Bearer <API token>."),
        },
        invalidToken: { message: (c: Context) => problemJson(c, "unauthorized", "The API token is not valid.") },
        invalidAuthenticationHeader: {
          message: (c: Context) => problemJson(c, "unauthorized", "Send Authorization: Bearer <API token>."),
        },
      })
    : async (_: Context, next: () => Promise<void>) => next();
  if (config.apiToken && !config.linkSigningKeys) {
    logger.warn(
      "LINK_SIGNING_KEY is not set: image links are signed with a key of this process, valid until it restarts and on no other replica",
    );
  }
  const signer = config.apiToken
    ? createLinkSigner(config.linkSigningKeys ?? [randomBytes(32).toString("base64url")], SIGNED_LINK_LIFETIME_S)
    : undefined;
  const guard: MiddlewareHandler = async (c, next) => {
    const signedRead =
      signer &&
      (c.req.method === "GET" || c.req.method === "HEAD") &&
      IMAGE_BYTES_PATH.test(c.req.path) &&
      signer.verify(c.req.path, c.req.query("expires"), c.req.query("sig"));
    return signedRead ? next() : requireToken(c, next);
  };
  const grant = (path: string) => (signer ? signer.sign(path) : path);
  return {
    requireToken,
    guard,
    links: {
      image(id) {
        const self = `/api/images/${id}`;
        return { self, original: grant(`${self}/original`), processed: grant(`${self}/processed`) };
      },
      rendition(id, rendition) {
        const self = `/api/images/${id}/renditions/${rendition}`;
        return { self, processed: grant(`${self}/processed`) };
      },
      page(id, page) {
        const self = `/api/images/${id}/pages/${page}`;
        return { original: grant(`${self}/original`), processed: grant(`${self}/processed`) };
      },
    },
  };
}
