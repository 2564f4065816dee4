// An upload travels the whole pipeline: API → S3 + SQS → worker → S3 + completion message.
import { randomUUID } from "node:crypto";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { outputKey } from "../../infra/image-objects.ts";
import { damagedDeflatePng, distinctValues, greyPixels, makePng } from "../support/images.ts";
import { injectJob } from "../support/jobs.ts";
import { usePipeline } from "../support/pipeline.ts";
import { waitForCompletions } from "../support/queues.ts";

const pipeline = usePipeline();

function upload(image: Uint8Array<ArrayBuffer>, filename: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.set("image", new File([image], filename, { type: "image/png" }));
  for (const [name, value] of Object.entries(fields)) form.set(name, value);
  return pipeline.app.request("/api/images", { method: "POST", body: form });
}

describe("the pipeline", () => {
  it("turns an uploaded PNG into a bitonal PNG of the same size, and says so", async () => {
    const png = await makePng(120, 80, (x, y) => [(x * 2) % 256, (y * 3) % 256, 128]);
    const response = await upload(png, "photo.png", { method: "fixed", threshold: "100" });
    expect(response.status).toBe(202);
    const { id, status } = await response.json();
    expect(status).toBe("queued");
    expect(response.headers.get("location")).toBe(`/api/images/${id}`);

    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({
      id,
      status: "done",
      output: { bucket: pipeline.env.config.outputBucket, key: outputKey(id) },
      width: 120,
      height: 80,
      method: "fixed",
      threshold: 100,
    });

    const object = await pipeline.env.s3.send(
      new GetObjectCommand({ Bucket: pipeline.env.config.outputBucket, Key: outputKey(id) }),
    );
    expect(object.ContentType).toBe("image/png");
    const bytes = await (object.Body?.transformToByteArray() ?? Promise.reject());
    // Catches: an 8-bit or RGB result (whose decoded pixels could still be only 0 and 255).
    const header = Buffer.from(bytes.subarray(0, 33));
    expect(header.toString("latin1", 12, 16)).toBe("IHDR");
    expect({ bitDepth: header[24], colourType: header[25] }).toEqual({ bitDepth: 1, colourType: 0 });
    const result = await greyPixels(bytes);
    expect([result.width, result.height]).toEqual([120, 80]);
    expect(distinctValues(result.values)).toEqual([0, 255]);

    const statusResponse = await pipeline.app.request(`/api/images/${id}`);
    expect(statusResponse.status).toBe(200);
    expect(await statusResponse.json()).toMatchObject({
      id,
      status: "done",
      filename: "photo.png",
      width: 120,
      height: 80,
      method: "fixed",
      threshold: 100,
    });
  });

  // Catches: another producer's message dead-lettered for its id's version (v4 is most
  // UUID libraries' default, and what the original Flask pipeline used).
  it("a version-4 id from another producer is processed, and its routes answer", async () => {
    const id = randomUUID();
    expect(id[14]).toBe("4");
    const job = await injectJob(pipeline.env, await makePng(20, 20, (x) => [x * 12]), { id });
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [job.id])).get(
      job.id,
    );
    expect(completion).toMatchObject({ id, status: "done" });
    expect(await (await pipeline.app.request(`/api/images/${id}`)).json()).toMatchObject({ id, status: "done" });
    expect((await pipeline.app.request(`/api/images/${id}/processed`)).status).toBe(200);
    expect((await pipeline.app.request(`/api/images/${id}`, { method: "DELETE" })).status).toBe(204);
    expect((await pipeline.app.request(`/api/images/${id}`)).status).toBe(404);
  });

  it("answers 404 for an unknown id and 400 for a malformed one", async () => {
    const unknown = await pipeline.app.request("/api/images/01900000-0000-7000-8000-000000000000");
    expect(unknown.status).toBe(404);
    const malformed = await pipeline.app.request("/api/images/..%2F..%2Fetc%2Fpasswd");
    expect(malformed.status).toBe(400);
  });

  // The API checks structure, not pixels (one decode per image, in the worker): a file whose
  // container is whole but whose compressed pixels are damaged is accepted, then ends as
  // `failed` with code `undecodable`, and the status says so in words.
  it.each([
    ["a PNG whose deflate stream is damaged under a correct CRC", damagedDeflatePng],
    ["a WebP whose VP8L bitstream is damaged inside an intact RIFF", damagedBitstreamWebp],
  ])("%s: 202, then failed/undecodable", async (_, make) => {
    const response = await upload(await make(), "damaged");
    expect(response.status).toBe(202);
    const { id } = await response.json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "failed", error: { code: "undecodable" } });
    const status = await (await pipeline.app.request(`/api/images/${id}`)).json();
    expect(status).toMatchObject({ status: "failed", error: { code: "undecodable" } });
    expect(status.error.message).toMatch(/damaged and cannot be decoded, though the file looked whole at upload/);
  });
});

/** A lossless WebP whose bitstream is overwritten; the RIFF and chunk sizes stay right. */
async function damagedBitstreamWebp(): Promise<Uint8Array<ArrayBuffer>> {
  const raw = Buffer.alloc(200 * 150 * 3);
  for (let i = 0, state = 1; i < raw.length; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    raw[i] = state >>> 24;
  }
  const webp = await sharp(raw, { raw: { width: 200, height: 150, channels: 3 } })
    .webp({ lossless: true })
    .toBuffer();
  const chunk = webp.indexOf("VP8L");
  webp.fill(0xa5, chunk + 8 + 5, Math.min(webp.length, chunk + 8 + 400)); // past the 5-byte VP8L header (size, flags)
  return new Uint8Array(webp);
}
