// GET / and its assets: the web page in templates/, served as files (no build step).
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Hono } from "hono";

const TEMPLATES = resolve(import.meta.dirname, "..", "templates");
const ASSETS = {
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
} as const;

export function mountPage(
  // biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its variables
  app: Hono<any>,
  {
    maxUploadBytes,
    maxDocumentBytes,
    endpointUrl,
  }: { maxUploadBytes: number; maxDocumentBytes: number; endpointUrl: string | undefined },
): void {
  // An emulator on this machine (what `npm start` runs) keeps images in memory only: the page says so.
  const localEmulator =
    endpointUrl !== undefined && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(endpointUrl);
  // Read once, on first use: the files do not change while the server runs.
  let page: Promise<string> | undefined;
  const files = new Map<string, Promise<string>>();

  app.get("/", async (c) => {
    page ??= readFile(join(TEMPLATES, "index.html"), "utf8").then((html) =>
      // The limit goes in as a data attribute, not a script: the CSP allows no inline script.
      html
        .replace("{{MAX_UPLOAD_BYTES}}", String(maxUploadBytes))
        .replace("{{MAX_DOCUMENT_BYTES}}", String(maxDocumentBytes))
        .replace("{{LOCAL_EMULATOR}}", String(localEmulator)),
    );
    c.header("Cache-Control", "no-cache");
    return c.html(await page);
  });
  for (const [file, type] of Object.entries(ASSETS)) {
    app.get(`/assets/${file}`, async (c) => {
      if (!files.has(file)) files.set(file, readFile(join(TEMPLATES, file), "utf8"));
      return c.body(await (files.get(file) as Promise<string>), 200, {
        "Content-Type": type,
        "Cache-Control": "no-cache",
      });
    });
  }
}
