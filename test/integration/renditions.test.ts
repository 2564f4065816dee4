// Another method for a stored original, without uploading it again: each rendition its own
// object and status, through the real API, queue, worker and LocalStack.
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { renditionRequestKey, renditionsPrefix, resultKeys } from "../../infra/image-objects.ts";
import { syntheticPage } from "../../scripts/bench/synthetic-pages.ts";
import { damagedDeflatePng, greyPixels } from "../support/images.ts";
import { settledStatus, usePipeline } from "../support/pipeline.ts";
import { collectCompletions } from "../support/queues.ts";

const pipeline = usePipeline();

async function uploadPage(): Promise<string> {
  const page = await syntheticPage("phone-photo", 1, 300, 220);
  const form = new FormData();
  form.set("image", new File([new Uint8Array(page.bytes)], "page.jpg", { type: "image/jpeg" }));
  const response = await pipeline.app.request("/api/images", { method: "POST", body: form });
  expect(response.status).toBe(202);
  return (await response.json()).id;
}

function requestRendition(id: string, body: unknown, contentType = "application/json") {
  return pipeline.app.request(`/api/images/${id}/renditions`, {
    method: "POST",
    headers: { "Content-Type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const settled = (path: string) => settledStatus(pipeline, path);

describe("renditions", () => {
  let id: string;
  beforeAll(async () => {
    id = await uploadPage();
  });

  it("an upload with the default method is `auto`, and its status says what auto chose and why", async () => {
    const status = await settled(`/api/images/${id}`);
    expect(status).toMatchObject({
      status: "done",
      method: "auto",
      appliedMethod: "document",
      reason: "uneven background",
      threshold: null,
    });
  });

  it("queues another method for the stored original; its result is its own object, the upload's stays", async () => {
    const before = await pipeline.app.request(`/api/images/${id}/processed`);
    const response = await requestRendition(id, { method: "sauvola" });
    expect(response.status).toBe(202);
    expect(response.headers.get("location")).toBe(`/api/images/${id}/renditions/sauvola`);
    const queued = await response.json();
    expect(queued).toMatchObject({ id, rendition: "sauvola", status: "queued", method: "sauvola" });
    expect(queued.links).toEqual({
      self: `/api/images/${id}/renditions/sauvola`,
      processed: `/api/images/${id}/renditions/sauvola/processed`,
    });

    const done = await settled(queued.links.self);
    expect(done).toMatchObject({ status: "done", method: "sauvola", appliedMethod: "sauvola", threshold: null });
    const png = await pipeline.app.request(done.links.processed);
    expect(png.status).toBe(200);
    expect(png.headers.get("content-type")).toBe("image/png");
    const pixels = await greyPixels(new Uint8Array(await png.arrayBuffer()));
    expect([pixels.width, pixels.height]).toEqual([300, 220]);

    const after = await pipeline.app.request(`/api/images/${id}/processed`);
    expect(after.headers.get("etag")).toBe(before.headers.get("etag"));
    expect(await (await pipeline.app.request(`/api/images/${id}`)).json()).toMatchObject({
      method: "auto",
      status: "done",
    });
  });

  it("asking again for a done rendition changes nothing (200, same request time, no second job)", async () => {
    const own = await uploadPage();
    expect((await requestRendition(own, { method: "sauvola" })).status).toBe(202);
    const first = await settled(`/api/images/${own}/renditions/sauvola`);
    expect(first.status).toBe("done");
    const again = await requestRendition(own, { method: "sauvola" });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: "done", requestedAt: first.requestedAt });
  });

  it("names fixed renditions by their threshold, lists every rendition, and publishes version-2 completions", async () => {
    // An image of its own: the list below is every rendition this test asked for, in any test order.
    const id = await uploadPage();
    const fixed = await (await requestRendition(id, { method: "fixed", threshold: 140 })).json();
    expect(fixed.rendition).toBe("fixed-140");
    const defaultFixed = await (await requestRendition(id, { method: "fixed" })).json();
    expect(defaultFixed.rendition).toBe("fixed-127");
    expect(await settled(fixed.links.self)).toMatchObject({ status: "done", method: "fixed", threshold: 140 });
    expect(await settled(defaultFixed.links.self)).toMatchObject({ status: "done", threshold: 127 });

    const list = await (await pipeline.app.request(`/api/images/${id}/renditions`)).json();
    expect(list.items.map((r: { rendition: string }) => r.rendition)).toEqual(["fixed-127", "fixed-140"]);
    expect(list.items.every((r: { status: string }) => r.status === "done")).toBe(true);

    // Every processing of this image (the upload, two renditions) published its own completion.
    const completions = (
      await collectCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id], { settleMs: 1_000 })
    ).get(id);
    const byRendition = new Map(completions?.map((c) => [(c.version !== 3 && c.rendition) || "(upload)", c]));
    expect([...byRendition.keys()].sort()).toEqual(["(upload)", "fixed-127", "fixed-140"]);
    expect(byRendition.get("(upload)")).toMatchObject({ version: 1, status: "done", appliedMethod: "document" });
    expect(byRendition.get("fixed-140")).toMatchObject({
      version: 2,
      status: "done",
      threshold: 140,
      output: { key: `${renditionsPrefix(id)}fixed-140.png` },
    });
    expect(new Set(completions?.map((c) => c.processingId)).size).toBe(completions?.length);
  });

  it.each([
    ["an unknown method", { method: "magic" }, 400, /`method` must be one of auto, document, otsu, sauvola, fixed/],
    ["a threshold over 255", { method: "fixed", threshold: 300 }, 400, /`threshold` must be 0–255/],
    ["malformed JSON", '{"method": "sauv', 400, /Malformed JSON/],
    ["a threshold that is not a number", { method: "fixed", threshold: false }, 400, /`threshold` must be a number/],
    ["a form instead of JSON", "method=sauvola", 415, /Content-Type: application\/json/],
  ])("refuses %s with a problem, and stores nothing", async (name, body, status, detail) => {
    const contentType = name === "a form instead of JSON" ? "application/x-www-form-urlencoded" : "application/json";
    const names = async () =>
      (await (await pipeline.app.request(`/api/images/${id}/renditions`)).json()).items.map(
        (r: { rendition: string }) => r.rendition,
      );
    const before = await names();
    const response = await requestRendition(id, body, contentType);
    expect(response.status).toBe(status);
    expect(response.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect((await response.json()).detail).toMatch(detail);
    expect(await names()).toEqual(before);
  });

  it("answers 404 for an image or a rendition that does not exist, and 400 for a malformed name", async () => {
    expect((await requestRendition("01900000-0000-7000-8000-000000000000", { method: "otsu" })).status).toBe(404);
    expect((await pipeline.app.request(`/api/images/${id}/renditions/document`)).status).toBe(404);
    expect((await pipeline.app.request(`/api/images/${id}/renditions/document/processed`)).status).toBe(404);
    expect((await pipeline.app.request(`/api/images/${id}/renditions/fixed-999`)).status).toBe(400);
    expect((await pipeline.app.request(`/api/images/${id}/renditions/..%2Fx`)).status).toBe(400);
  });

  it("a failed rendition says why, and asking again tries again", async () => {
    const form = new FormData();
    form.set("image", new File([await damagedDeflatePng()], "damaged.png", { type: "image/png" }));
    const broken = (await (await pipeline.app.request("/api/images", { method: "POST", body: form })).json()).id;
    const first = await (await requestRendition(broken, { method: "otsu" })).json();
    const failed = await settled(first.links.self);
    expect(failed).toMatchObject({ status: "failed", error: { code: "undecodable" } });
    const retry = await requestRendition(broken, { method: "otsu" });
    expect(retry.status).toBe(202);
    const retried = await retry.json();
    expect(retried.status).toBe("queued");
    expect(Date.parse(retried.requestedAt)).toBeGreaterThan(Date.parse(failed.requestedAt));
    expect(await settled(first.links.self)).toMatchObject({ status: "failed", error: { code: "undecodable" } });
  });

  // Catches: a retried rendition read as its old failure until the retry ends (the status must
  // compare the failure with the newest request). The records are written as the API and the
  // worker write them, with no worker involved, so nothing can end the retry meanwhile.
  it("a rendition asked for again after its failure reads queued, not failed", async () => {
    const own = await uploadPage();
    const failedAt = new Date(Date.now() - 60_000).toISOString();
    const { failure } = resultKeys(own, "otsu");
    await pipeline.env.s3.send(
      new PutObjectCommand({
        Bucket: pipeline.env.config.outputBucket,
        Key: failure,
        Body: JSON.stringify({
          version: 2,
          id: own,
          rendition: "otsu",
          status: "failed",
          input: { bucket: pipeline.env.config.inputBucket, key: `${own}.jpg` },
          error: { code: "undecodable", message: "damaged" },
          completedAt: failedAt,
          processingId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        }),
      }),
    );
    const request = { id: own, rendition: "otsu", method: "otsu", requestedAt: new Date().toISOString(), slot: 0 };
    await pipeline.env.s3.send(
      new PutObjectCommand({
        Bucket: pipeline.env.config.inputBucket,
        Key: renditionRequestKey(own, "otsu"),
        Body: JSON.stringify(request),
      }),
    );
    const status = await (await pipeline.app.request(`/api/images/${own}/renditions/otsu`)).json();
    expect(status).toMatchObject({ status: "queued", requestedAt: request.requestedAt });
    expect(status.error).toBeUndefined();
    // And the other way round: a failure newer than the request is what the status says.
    await pipeline.env.s3.send(
      new PutObjectCommand({
        Bucket: pipeline.env.config.inputBucket,
        Key: renditionRequestKey(own, "otsu"),
        Body: JSON.stringify({ ...request, requestedAt: new Date(Date.parse(failedAt) - 1000).toISOString() }),
      }),
    );
    expect(await (await pipeline.app.request(`/api/images/${own}/renditions/otsu`)).json()).toMatchObject({
      status: "failed",
    });
  });

  // Catches: one small upload buying unbounded work (5 methods and 256 thresholds are 260 jobs).
  it("caps an image at 16 renditions with a 409 that says so; those it has can still be asked for", async () => {
    const capped = await uploadPage();
    const asked = await Promise.all(
      Array.from({ length: 16 }, (_, t) => requestRendition(capped, { method: "fixed", threshold: t * 10 })),
    );
    expect(asked.map((r) => r.status)).toEqual(Array(16).fill(202));
    const refused = await requestRendition(capped, { method: "sauvola" });
    expect(refused.status).toBe(409);
    expect((await refused.json()).detail).toMatch(/has 16 renditions, the most one image may have/);
    expect([200, 202]).toContain((await requestRendition(capped, { method: "fixed", threshold: 30 })).status);
    const list = await (await pipeline.app.request(`/api/images/${capped}/renditions`)).json();
    expect(list.items).toHaveLength(16);
  });

  it("deleting the image deletes its renditions, requests and results alike", async () => {
    const other = await uploadPage();
    const rendition = await (await requestRendition(other, { method: "otsu" })).json();
    expect(await settled(rendition.links.self)).toMatchObject({ status: "done" });
    expect((await pipeline.app.request(`/api/images/${other}`, { method: "DELETE" })).status).toBe(204);
    expect((await pipeline.app.request(rendition.links.self)).status).toBe(404);
    expect((await pipeline.app.request(rendition.links.processed)).status).toBe(404);
    for (const bucket of [pipeline.env.config.inputBucket, pipeline.env.config.outputBucket]) {
      const left = await pipeline.env.s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: renditionsPrefix(other) }),
      );
      expect(left.KeyCount ?? 0, bucket).toBe(0);
    }
  });
});
