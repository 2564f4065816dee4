// scripts/test_upload.sh against a running stack: API and worker on the real LocalStack.
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import { makePng } from "../support/images.ts";
import { usePipeline } from "../support/pipeline.ts";

const run = promisify(execFile);
const stack = usePipeline({ serve: true });
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bitonal-upload-"));
});

const script = (...args: string[]) =>
  run("bash", ["scripts/test_upload.sh", ...args], { env: { ...baseChildEnv(), TIMEOUT_S: "30" } });

describe("scripts/test_upload.sh", () => {
  it("uploads its own sample, waits, downloads and checks the result", async () => {
    const { stdout } = await script("", stack.url);
    expect(stdout).toMatch(/^id\s+[0-9a-f-]{36}$/m);
    expect(stdout).toMatch(/^size\s+24x16, \d+ bytes$/m);
    expect(stdout).toMatch(/^total\s+\d+ ms$/m);
  });

  it("uploads a given PNG and a JPEG", async () => {
    const png = join(dir, "ramp.png");
    await writeFile(png, await makePng(50, 40, (x, y) => [(x * 5 + y) % 256]));
    expect((await script(png, stack.url)).stdout).toMatch(/^size\s+50x40,/m);
    const jpeg = join(dir, "photo.jpg");
    await writeFile(
      jpeg,
      await sharp(await makePng(30, 20, (x) => [x * 8, 100, 200]))
        .jpeg()
        .toBuffer(),
    );
    expect((await script(jpeg, stack.url)).stdout).toMatch(/^size\s+30x20,/m);
  });

  it("fails with the API's reason for a refused upload", async () => {
    const text = join(dir, "notes.png");
    await writeFile(text, "not an image\n");
    const error = await script(text, stack.url).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/upload refused with HTTP 415: Expected a PNG, JPEG, WebP, TIFF or PDF file/);
  });

  it("fails clearly when the API is not there", async () => {
    const error = await script("", "http://127.0.0.1:9").catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toContain("test_upload: cannot reach http://127.0.0.1:9");
  });
});
