// Reads need the same right as writes, and images can be deleted: against the real LocalStack.
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../api/app.ts";
import { createLinkSigner } from "../../api/signed-links.ts";
import { failureKey } from "../../infra/image-objects.ts";
import { listKeys } from "../../infra/inspect.ts";
import { createWorker } from "../../worker/consumer.ts";
import type { TestEnvironment } from "../support/environment.ts";
import { damagedDeflatePng, makePng } from "../support/images.ts";
import { startPipeline } from "../support/pipeline.ts";
import { eventually } from "../support/processes.ts";
import { waitForCompletions } from "../support/queues.ts";

const TOKEN = "private-images-test-token-0123456789abcdef";
const KEY_A = "link-key-a-0123456789abcdef0123456789";
const KEY_B = "link-key-b-0123456789abcdef0123456789";
const bearer = { Authorization: `Bearer ${TOKEN}` };

async function uploadWith(app: ReturnType<typeof createApp>, headers: Record<string, string> = {}) {
  const form = new FormData();
  form.set("image", new File([await makePng(40, 30, (x, y) => [x * 6, y * 8, 90])], "contract.png"));
  const response = await app.request("/api/images", { method: "POST", body: form, headers });
  expect(response.status).toBe(202);
  return (await response.json()) as { id: string; links: { self: string; original: string; processed: string } };
}

async function keysOf(env: TestEnvironment, id: string) {
  const keys = [
    ...(await listKeys(env.s3, env.config.inputBucket)),
    ...(await listKeys(env.s3, env.config.outputBucket)),
  ];
  return keys.filter((key) => key.includes(id));
}

describe("with API_TOKEN set, images are private", () => {
  // Catches: a list, status or image route that answers without the token.
  it("every /api route wants the token; health, readiness and metrics do not", async () => {
    const { env, app } = await startPipeline({ settings: { API_TOKEN: TOKEN } });
    const { id, links } = await uploadWith(app, bearer);
    await waitForCompletions(env.sqs, env.queueUrls.output, [id]);
    const self = `/api/images/${id}`;
    for (const [method, path] of [
      ["GET", "/api/images"],
      ["GET", self],
      ["GET", `${self}/original`],
      ["GET", `${self}/processed`],
      ["HEAD", `${self}/original`],
      ["DELETE", self],
      ["POST", "/api/images"],
    ]) {
      const response = await app.request(path, { method });
      expect(response.status, `${method} ${path}`).toBe(401);
    }
    for (const path of ["/healthz", "/readyz", "/metrics"]) expect((await app.request(path)).status).toBe(200);

    expect((await app.request("/api/images", { headers: bearer })).status).toBe(200);
    const status = await (await app.request(self, { headers: bearer })).json();
    expect(status.status).toBe("done");
    const original = await app.request(`${self}/original`, { headers: bearer });
    expect(original.status).toBe(200);
    expect(original.headers.get("cache-control")).toMatch(/^private/);
    // The links the API gives out are signed: they work in an <img> tag, without the token.
    expect(links.processed).toMatch(/\?expires=\d+&sig=/);
    expect((await app.request(status.links.processed)).status).toBe(200);
    expect((await app.request(status.links.original, { method: "HEAD" })).status).toBe(200);

    // Renditions alike: asking, listing and reading need the token; their image link is signed.
    const renditions = `${self}/renditions`;
    const ask = { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"method":"otsu"}' };
    expect((await app.request(renditions, ask)).status).toBe(401);
    const asked = await app.request(renditions, { ...ask, headers: { ...ask.headers, ...bearer } });
    expect(asked.status).toBe(202);
    const rendition = await asked.json();
    expect(rendition.links.processed).toMatch(/^\/api\/images\/[^/]+\/renditions\/otsu\/processed\?expires=\d+&sig=/);
    for (const path of [renditions, rendition.links.self, `${rendition.links.self}/processed`]) {
      expect((await app.request(path)).status, path).toBe(401);
    }
    const done = async () =>
      (await (await app.request(rendition.links.self, { headers: bearer })).json()).status === "done";
    expect(await eventually(done, 30_000)).toBe(true);
    const image = await app.request(rendition.links.processed);
    expect(image.status).toBe(200);
    expect(image.headers.get("cache-control")).toMatch(/^private/);
  });

  // Catches: a signature that is not checked, or that grants more than its own path.
  it("a signed link grants only its own image and variant, unaltered", async () => {
    const { app } = await startPipeline({ settings: { API_TOKEN: TOKEN }, worker: false });
    const first = await uploadWith(app, bearer);
    const second = await uploadWith(app, bearer);
    expect((await app.request(first.links.original)).status).toBe(200);
    const [, query] = first.links.original.split("?");
    const tampered = first.links.original.replace(/sig=./, (m) => `sig=${m.endsWith("A") ? "B" : "A"}`);
    for (const path of [
      `/api/images/${second.id}/original?${query}`,
      `/api/images/${first.id}/processed?${query}`,
      `/api/images/${first.id}?${query}`,
      tampered,
      first.links.original.replace(/expires=\d+/, "expires=99999999999"),
    ]) {
      expect((await app.request(path)).status, path).toBe(401);
    }
  });

  // Catches: an expiry that is not checked (the link below is refused for its age alone).
  it("signed links expire", () => {
    const signer = createLinkSigner([KEY_A], 60);
    vi.useFakeTimers({ now: Date.parse("2026-01-01T00:00:00Z") });
    try {
      const link = signer.sign("/api/images/x/original");
      const expires = link.match(/expires=(\d+)/)?.[1] as string;
      const sig = link.match(/sig=([^&]+)/)?.[1] as string;
      expect(signer.verify("/api/images/x/original", expires, sig)).toBe(true);
      expect(Number(expires) - Date.now() / 1000).toBeLessThanOrEqual(120);
      vi.setSystemTime(Number(expires) * 1000 + 1000);
      expect(signer.verify("/api/images/x/original", expires, sig)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  // Catches: links signed with the token (one shared link then lets anyone test guesses at it
  // offline), or a rotation that breaks every link at once.
  it("links are signed with LINK_SIGNING_KEY, not the token; during a rotation both keys verify", () => {
    const link = createLinkSigner([KEY_A], 60).sign("/api/images/x/original");
    const expires = link.match(/expires=(\d+)/)?.[1] as string;
    const sig = link.match(/sig=([^&]+)/)?.[1] as string;
    expect(createLinkSigner([KEY_B, KEY_A], 60).verify("/api/images/x/original", expires, sig)).toBe(true);
    expect(createLinkSigner([KEY_B], 60).verify("/api/images/x/original", expires, sig)).toBe(false);
    expect(createLinkSigner([TOKEN], 60).verify("/api/images/x/original", expires, sig)).toBe(false);
  });

  it("replicas with one LINK_SIGNING_KEY accept each other's links; a replica with another key does not", async () => {
    const { env, app } = await startPipeline({
      settings: { API_TOKEN: TOKEN, LINK_SIGNING_KEY: KEY_A },
      worker: false,
    });
    const { links } = await uploadWith(app, bearer);
    expect((await createApp({ ...env }).request(links.original)).status).toBe(200);
    const rotated = { ...env, config: { ...env.config, linkSigningKeys: [KEY_B, KEY_A] } };
    expect((await createApp(rotated).request(links.original)).status).toBe(200);
    const other = { ...env, config: { ...env.config, linkSigningKeys: [KEY_B] } };
    expect((await createApp(other).request(links.original)).status).toBe(401);
  });
});

describe("delete", () => {
  // Catches: any stored trace of a deleted image (original, marker, result, failure record).
  it("removes the original, the result, the failure record and the listing entry; again is 204 too", async () => {
    const { env, app } = await startPipeline();
    const { id } = await uploadWith(app);
    await waitForCompletions(env.sqs, env.queueUrls.output, [id]);
    expect((await keysOf(env, id)).length).toBeGreaterThanOrEqual(3);
    expect((await app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    expect(await keysOf(env, id)).toEqual([]);
    expect((await app.request(`/api/images/${id}`)).status).toBe(404);
    const listed = await (await app.request("/api/images")).json();
    expect(listed.items.map((i: { id: string }) => i.id)).not.toContain(id);
    expect((await app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await app.request("/api/images/not-a-uuid", { method: "DELETE" })).status).toBe(400);
  });

  // Catches: a DELETE that leaves a failed image's failure record, so that it still reads `failed`.
  it("deleting a failed image removes its failure record too", async () => {
    const { env, app } = await startPipeline();
    const form = new FormData();
    form.set("image", new File([await damagedDeflatePng()], "damaged.png"));
    const { id } = await (await app.request("/api/images", { method: "POST", body: form })).json();
    const completion = (await waitForCompletions(env.sqs, env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "failed" });
    expect(await keysOf(env, id)).toContain(failureKey(id));
    expect((await app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    expect(await keysOf(env, id)).toEqual([]);
    expect((await app.request(`/api/images/${id}`)).status).toBe(404);
  });

  // Catches: the worker recreating a failure record (or a result) for an image deleted while queued.
  it("a job still queued for a deleted image ends without recreating anything", async () => {
    const { env, app } = await startPipeline({ worker: false });
    const { id } = await uploadWith(app);
    expect((await app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    const worker = createWorker(env);
    worker.start();
    try {
      const completion = (await waitForCompletions(env.sqs, env.queueUrls.output, [id])).get(id);
      expect(completion).toMatchObject({ status: "failed", error: { code: "object-missing" } });
      expect(await keysOf(env, id)).toEqual([]);
    } finally {
      await worker.stop();
    }
  });
});
