// Deskew and borders through the whole pipeline: a skewed page comes back level and says by how
// much, in its completion message and its status; a framed page's frame is cleaned or cut away;
// both can be turned off, on uploads and on renditions, and a document says it page by page.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { syntheticPage } from "../../scripts/bench/synthetic-pages.ts";
import { multiPageTiff } from "../support/documents.ts";
import { greyPixels } from "../support/images.ts";
import { settledStatus, usePipeline } from "../support/pipeline.ts";
import { waitForCompletions } from "../support/queues.ts";

const pipeline = usePipeline();

async function skewedPage(degrees: number): Promise<Uint8Array<ArrayBuffer>> {
  const level = await syntheticPage("office-scan", 5, 1200, 900);
  // Turned on white, then cut to the box inside the turned page: no fill edge, only the text's slant.
  const turned = await sharp(level.bytes)
    .rotate(degrees, { background: "#ffffff" })
    .toBuffer({ resolveWithObject: true });
  const margin = 90;
  const png = await sharp(turned.data)
    .extract({
      left: margin,
      top: margin,
      width: turned.info.width - 2 * margin,
      height: turned.info.height - 2 * margin,
    })
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

async function upload(bytes: Uint8Array<ArrayBuffer>, name: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.set("image", new File([bytes], name, { type: name.endsWith(".tif") ? "image/tiff" : "image/png" }));
  for (const [field, value] of Object.entries(fields)) form.set(field, value);
  const response = await pipeline.app.request("/api/images", { method: "POST", body: form });
  expect(response.status, await response.clone().text()).toBe(202);
  return (await response.json()).id as string;
}

const settled = (path: string) => settledStatus(pipeline, path);

async function processedSize(path: string) {
  const response = await pipeline.app.request(path);
  expect(response.status).toBe(200);
  const { width, height } = await greyPixels(new Uint8Array(await response.arrayBuffer()));
  return [width, height];
}

describe("a skewed page", () => {
  it("comes back level by default, its angle and confidence in the completion and the status", async () => {
    const page = await skewedPage(3.4);
    const { width = 0, height = 0 } = await sharp(page).metadata();
    const id = await upload(page, "skewed.png");
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done" });
    const skew = (completion as { skew?: { angle: number; rotated: number; confidence: number } }).skew;
    expect(skew?.angle).toBeCloseTo(3.4, 0);
    expect(skew?.rotated).toBeCloseTo(-(skew?.angle ?? 0), 5);
    expect(skew?.confidence).toBeGreaterThan(0.55);

    const status = await settled(`/api/images/${id}`);
    expect(status).toMatchObject({
      status: "done",
      skew,
      borders: { top: 0, right: 0, bottom: 0, left: 0, action: "clean" },
    });
    // What was written is what the status says: the canvas grown by the turn.
    expect(status.width).toBeGreaterThan(width);
    expect(status.height).toBeGreaterThan(height);
    expect(await processedSize(`/api/images/${id}/processed`)).toEqual([status.width, status.height]);
  });

  it("is left as it is with deskew off and borders kept, and says nothing was asked", async () => {
    const page = await skewedPage(3.4);
    const { width = 0, height = 0 } = await sharp(page).metadata();
    const id = await upload(page, "as-is.png", { deskew: "off", borders: "keep" });
    const status = await settled(`/api/images/${id}`);
    expect(status).toMatchObject({ status: "done", skew: null, borders: null, width, height });
  });

  it("gets a rendition without deskew of its own, named so, beside the levelled upload", async () => {
    const id = await upload(await skewedPage(-2.6), "rendition.png");
    expect((await settled(`/api/images/${id}`)).skew.rotated).toBeGreaterThan(2);
    const response = await pipeline.app.request(`/api/images/${id}/renditions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ method: "otsu", deskew: "off" }),
    });
    expect(response.status).toBe(202);
    const queued = await response.json();
    expect(queued.rendition).toBe("otsu-deskew-off");
    const done = await settled(queued.links.self);
    expect(done).toMatchObject({ status: "done", method: "otsu", skew: null });
    const { width = 0, height = 0 } = await sharp(await skewedPage(-2.6)).metadata();
    expect(await processedSize(done.links.processed)).toEqual([width, height]);
  });

  it("refuses an option it does not know with a 400 that names it, and stores nothing", async () => {
    for (const [field, value] of [
      ["deskew", "sideways"],
      ["borders", "trim"],
    ]) {
      const form = new FormData();
      form.set("image", new File([await skewedPage(1)], "x.png", { type: "image/png" }));
      form.set(field, value);
      const response = await pipeline.app.request("/api/images", { method: "POST", body: form });
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect((await response.json()).detail).toContain(field);
    }
  });
});

describe("a framed page", () => {
  it("has its frame cut away with borders=crop, and the status says where it was", async () => {
    const framed = await syntheticPage("dark-frame", 4, 1200, 900);
    const id = await upload(new Uint8Array(framed.bytes), "framed.png", { borders: "crop" });
    const status = await settled(`/api/images/${id}`);
    const { top, right, bottom, left, action } = status.borders;
    expect(action).toBe("crop");
    expect(top).toBeGreaterThan(30);
    expect(left).toBeGreaterThan(60);
    expect([right, bottom]).toEqual([0, 0]);
    expect([status.width, status.height]).toEqual([1200 - left - right, 900 - top - bottom]);
    expect(await processedSize(`/api/images/${id}/processed`)).toEqual([status.width, status.height]);
  });
});

describe("a document", () => {
  it("says page by page what was done, and counts the pages straightened and framed", async () => {
    const skewed = await sharp(await skewedPage(2.2))
      .greyscale()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const { width, height } = skewed.info;
    const level = await sharp((await syntheticPage("office-scan", 6, width, height)).bytes)
      .greyscale()
      .raw()
      .toBuffer();
    const tiff = await multiPageTiff(
      [skewed.data, level].map((data) => (x: number, y: number) => data[y * width + x]),
      { width, height },
    );
    const id = await upload(tiff, "two pages.tif");
    const status = await settled(`/api/images/${id}`);
    const list = await (await pipeline.app.request(`/api/images/${id}/pages`)).json();
    expect(list.items[0].skew.rotated).toBeLessThan(-1.5);
    // A level page is left level: found within the estimate's precision, turned by as little.
    expect(Math.abs(list.items[1].skew.angle)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(list.items[1].skew.rotated)).toBeLessThanOrEqual(0.2);
    const turned = list.items.filter((p: { skew: { rotated: number } }) => p.skew.rotated !== 0).length;
    expect(status.document).toMatchObject({ pages: 2, pagesDeskewed: turned, pagesFramed: 0 });
  });
});
