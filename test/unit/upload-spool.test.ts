// An upload's bytes wait in memory while they may be an image, in a file of their own once the
// first bytes say document; the file goes when the upload is disposed of or refused.
import { existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { describe, expect, it } from "vitest";
import { createSpool, sweepStaleSpoolFiles } from "../../api/upload-spool.ts";

const limits = { maxUploadBytes: 1000, maxDocumentBytes: 100_000 };

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(bytes.length / size) }, (_, n) => bytes.subarray(n * size, (n + 1) * size));
}

function spoolOf(bytes: Buffer, dir: string) {
  const spool = createSpool(limits, dir);
  const source = new PassThrough();
  // In chunks smaller than a signature, as a socket may deliver them.
  for (const chunk of chunksOf(bytes, 5)) expect(spool.write(chunk, source)).toBeUndefined();
  return spool;
}

describe("the upload spool", () => {
  it("keeps an image in memory and writes no file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-"));
    const png = Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "latin1"), Buffer.alloc(600, 7)]);
    const file = await spoolOf(png, dir).finish();
    expect(file.path).toBeUndefined();
    expect(Buffer.from(file.bytes as Uint8Array).equals(png)).toBe(true);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("writes a document to a file of its own, reads it back by range and as a stream, and removes it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-"));
    const pdf = Buffer.concat([
      Buffer.from("%PDF-1.7\n"),
      Buffer.from(Array.from({ length: 50_000 }, (_, n) => n % 251)),
    ]);
    const file = await spoolOf(pdf, dir).finish();
    expect(file.bytes).toBeUndefined();
    expect(file.size).toBe(pdf.length);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(Buffer.from(file.read(30_000, 10)).equals(pdf.subarray(30_000, 30_010))).toBe(true);
    expect(file.read(pdf.length - 3, 10)).toHaveLength(3);
    expect((await buffer(file.body() as Readable)).equals(pdf)).toBe(true);
    await file.dispose();
    expect(existsSync(file.path as string)).toBe(false);
  });

  it("refuses a document past its limit, and a discarded one leaves no file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-"));
    const spool = createSpool(limits, dir);
    const source = new PassThrough();
    expect(spool.write(Buffer.concat([Buffer.from("II*\0"), Buffer.alloc(60_000)]), source)).toBeUndefined();
    expect(spool.write(Buffer.alloc(50_000), source)).toBe(limits.maxDocumentBytes);
    await spool.discard();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses an image past the image limit, though a document may be larger", () => {
    const spool = createSpool(limits, tmpdir());
    expect(spool.write(Buffer.alloc(1001, 1), new PassThrough())).toBe(limits.maxUploadBytes);
  });

  it("sweeps the spool files an API that died mid-upload left, older than any live request, and nothing else", async () => {
    const dir = mkdtempSync(join(tmpdir(), "spool-"));
    const pdf = Buffer.concat([Buffer.from("%PDF-1.7\n"), Buffer.alloc(20_000, 1)]);
    const orphan = await spoolOf(pdf, dir).finish();
    const live = await spoolOf(pdf, dir).finish();
    writeFileSync(join(dir, "someone-else"), "kept");
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(orphan.path as string, twoHoursAgo, twoHoursAgo);
    utimesSync(join(dir, "someone-else"), twoHoursAgo, twoHoursAgo);
    expect(await sweepStaleSpoolFiles(dir)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([basename(live.path as string), "someone-else"].sort());
    expect(await sweepStaleSpoolFiles(join(dir, "missing"))).toBe(0);
  });
});
