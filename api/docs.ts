// GET /docs: interactive API docs, served from the swagger-ui-dist package rather than a CDN,
// so they work offline and under the page's strict CSP (no inline script).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Hono } from "hono";

const ASSETS = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
} as const;

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>bitonal API</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script>
</body>
</html>`;

const INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui" });`;

// biome-ignore lint/suspicious/noExplicitAny: any Hono app, whatever its variables
export function mountDocs(app: Hono<any>): void {
  const dist = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
  app.get("/docs", (c) => c.html(PAGE));
  app.get("/docs/init.js", (c) => c.body(INIT, 200, { "Content-Type": "text/javascript; charset=utf-8" }));
  for (const [file, type] of Object.entries(ASSETS)) {
    app.get(`/docs/${file}`, async (c) =>
      c.body(await readFile(join(dist, file)), 200, { "Content-Type": type, "Cache-Control": "public, max-age=86400" }),
    );
  }
}
