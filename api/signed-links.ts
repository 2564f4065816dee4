// Short-lived signed links to an image's bytes, so that a deployment with API_TOKEN can still
// show images in <img> tags and share them as links without handing out the token.
// As imgproxy signs its URLs: an HMAC-SHA256 over what the link grants (the path and its expiry),
// compared in constant time. The key is a random secret of its own (LINK_SIGNING_KEY), never
// derived from the API token: a shared link must not let anyone test guesses at the token
// offline. As imgproxy does, the first key signs and every key verifies, so a new key can be
// put first while links signed with the old one still work.
import { createHmac, timingSafeEqual } from "node:crypto";

export interface LinkSigner {
  /** `path` with `expires` and `sig` query parameters that grant GET and HEAD on it until then. */
  sign(path: string): string;
  /** Whether `expires` and `sig` grant `path` now. */
  verify(path: string, expires: string | undefined, sig: string | undefined): boolean;
}

export function createLinkSigner(keys: string[], lifetimeSeconds: number): LinkSigner {
  const signature = (key: string, path: string, expires: string) =>
    createHmac("sha256", key).update(`bitonal signed links v2\n${path}\n${expires}`).digest("base64url");
  return {
    sign(path) {
      // Expiry rounded up to a whole lifetime, so that a link stays the same for a while and
      // browsers can cache the image under it; it is valid for one to two lifetimes.
      const now = Math.floor(Date.now() / 1000);
      const expires = String((Math.floor(now / lifetimeSeconds) + 2) * lifetimeSeconds);
      return `${path}?expires=${expires}&sig=${signature(keys[0], path, expires)}`;
    },
    verify(path, expires, sig) {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires)) return false;
      if (Number(expires) < Date.now() / 1000) return false;
      const given = Buffer.from(sig);
      // Every key is tried, whichever matches, so the time taken says nothing of which did.
      let valid = false;
      for (const key of keys) {
        const expected = Buffer.from(signature(key, path, expires));
        if (given.length === expected.length && timingSafeEqual(given, expected)) valid = true;
      }
      return valid;
    },
  };
}
