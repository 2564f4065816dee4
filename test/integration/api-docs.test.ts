// /openapi.json, /docs and /metrics: the API describes and measures itself.
import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { makePng } from "../support/images.ts";
import { startPipeline } from "../support/pipeline.ts";

async function setup() {
  return (await startPipeline({ worker: false })).app;
}

describe("OpenAPI", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const document = await (await (await setup()).request("/openapi.json")).json();
    expect(document.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(document));
    expect(result.valid ? [] : result.errors).toEqual([]);
  });

  it("lists every route the app serves, and DESIGN.md's routes", async () => {
    const app = await setup();
    const document = await (await app.request("/openapi.json")).json();
    const documented = new Set(
      Object.entries(document.paths as Record<string, object>).flatMap(([path, methods]) =>
        Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    const served = app.routes
      .filter((r) => r.method !== "ALL" && !r.path.startsWith("/docs/") && !r.path.startsWith("/assets/"))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    for (const route of served) expect(documented, route).toContain(route);
    for (const route of [
      "POST /api/images",
      "POST /upload",
      "GET /api/images",
      "GET /api/images/{id}",
      "GET /api/images/{id}/original",
      "GET /api/images/{id}/processed",
      "GET /healthz",
      "GET /readyz",
      "GET /metrics",
      "GET /openapi.json",
      "GET /docs",
    ]) {
      expect(documented, route).toContain(route);
    }
  });

  it("serves interactive docs from its own origin, without inline script", async () => {
    const app = await setup();
    const page = await app.request("/docs");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    for (const asset of html.matchAll(/(?:src|href)="(\/docs\/[^"]+)"/g)) {
      expect((await app.request(asset[1])).status, asset[1]).toBe(200);
    }
  });
});

describe("metrics", () => {
  it("counts uploads by outcome and status, bytes, and latency by route (not by id)", async () => {
    const app = await setup();
    const image = await makePng(10, 10, () => [0]);
    const accepted = new FormData();
    accepted.set("image", new File([image], "a.png"));
    const { id } = await (await app.request("/api/images", { method: "POST", body: accepted })).json();
    const rejected = new FormData();
    rejected.set("image", new File([new TextEncoder().encode("nope")], "b.png"));
    await app.request("/api/images", { method: "POST", body: rejected });
    await app.request(`/api/images/${id}`);

    const response = await app.request("/metrics");
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    expect(text).toContain('bitonal_uploads_total{outcome="accepted",status="202"} 1');
    expect(text).toContain('bitonal_uploads_total{outcome="rejected",status="415"} 1');
    expect(text).toContain(`bitonal_upload_bytes_total ${image.length}`);
    expect(text).toMatch(
      /bitonal_http_request_duration_seconds_bucket\{le="[^"]+",method="GET",route="\/api\/images\/:id"\}/,
    );
    expect(text).not.toContain(id);
  });
});
