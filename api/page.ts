// GET / and its assets: the web page in templates/, served as files (no build step).
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Hono } from "hono";

const TEMPLATES = resolve(import.meta.dirname, "..", "templates");
const ASSETS = {
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
} as const;

// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its variables
export function mountPage(app: Hono<any>, { maxUploadBytes }: { maxUploadBytes: number }): void {
  // Read once, on first use: the files do not change while the server runs.
  let page: Promise<string> | undefined;
  const files = new Map<string, Promise<string>>();

  app.get("/", async (c) => {
    page ??= readFile(join(TEMPLATES, "index.html"), "utf8").then((html) =>
      // The limit goes in as a data attribute, not a script: the CSP allows no inline script.
      html.replace("{{MAX_UPLOAD_BYTES}}", String(maxUploadBytes)),
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
