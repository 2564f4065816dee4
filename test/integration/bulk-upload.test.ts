// `npm run upload` against a running stack: folders, refusals, waiting, downloads, re-runs.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import { handMadePdf, utifPages } from "../support/documents.ts";
import { greyPixels, makePng } from "../support/images.ts";
import { usePipeline } from "../support/pipeline.ts";
import { startScript } from "../support/processes.ts";

const stack = usePipeline({ serve: true });
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "bitonal-bulk-"));
  await mkdir(join(work, "in", "chapter-2"), { recursive: true });
  for (const [n, name] of ["a.png", "b.png", "chapter-2/a.png", "chapter-2/c.png"].entries()) {
    await writeFile(join(work, "in", name), await makePng(20 + n, 10, (x) => [(x * 13 + n) % 256]));
  }
  await writeFile(join(work, "in", "notes.txt"), "not an image, and not named like one\n");
});

function runUpload(args: string[]) {
  return startScript(["scripts/upload.ts", ...args], baseChildEnv());
}

describe("npm run upload", () => {
  it("walks a folder, uploads, waits, downloads, and on a re-run skips what it sent", async () => {
    const manifest = join(work, "manifest.json");
    const out = join(work, "out");
    const args = ["--url", stack.url, "--manifest", manifest, "--concurrency", "3", "--wait", "--out", out];
    const first = runUpload([join(work, "in"), ...args]);
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(
      /4 files in [\d.]+ s: 4 uploaded, 0 skipped \(uploaded before\), 0 refused, 4 done, 0 failed/,
    );
    expect(first.output()).toMatch(/processing \[#+\] 4\/4 +[\d.]+\/s +ETA 0 s/);

    const written = (await readdir(out, { recursive: true })).filter((f) => f.endsWith(".png")).sort();
    expect(written).toEqual(["a.png", "b.png", "chapter-2/a.png", "chapter-2/c.png"]);
    const result = await greyPixels(await readFile(join(out, "chapter-2", "c.png")));
    expect([result.width, result.height]).toEqual([23, 10]);

    const again = runUpload([join(work, "in"), ...args]);
    expect(await again.exited).toBe(0);
    expect(again.output()).toMatch(/4 files .*: 0 uploaded, 4 skipped \(uploaded before\), 0 refused, 4 done/);

    // Catches: a --delete that leaves images on the server or in the manifest.
    const ids = Object.values(JSON.parse(await readFile(manifest, "utf8"))).map(
      (entry) => (entry as { id: string }).id,
    );
    expect(ids).toHaveLength(4);
    const deletion = runUpload(["--delete", "--url", stack.url, "--manifest", manifest]);
    expect(await deletion.exited).toBe(0);
    expect(deletion.output()).toContain(`Deleted 4 images from ${stack.url}; 0 could not be deleted.`);
    for (const id of ids) expect((await fetch(`${stack.url}/api/images/${id}`)).status).toBe(404);
    expect(JSON.parse(await readFile(manifest, "utf8"))).toEqual({});
  });

  it("reports every refusal with its reason and exits 1", async () => {
    const bad = join(work, "bad");
    await mkdir(bad, { recursive: true });
    await writeFile(join(bad, "fake.png"), "plain text in disguise\n");
    await writeFile(join(bad, "good.png"), await makePng(8, 8, () => [200]));
    const run = runUpload([
      bad,
      "--url",
      stack.url,
      "--manifest",
      join(work, "manifest-bad.json"),
      "--method",
      "fixed",
    ]);
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/2 files .*: 1 uploaded, 0 skipped \(uploaded before\), 1 refused/);
    expect(run.output()).toMatch(/refused: .*fake\.png: HTTP 415: Expected a PNG, JPEG, WebP, TIFF or PDF file/);
    await rm(bad, { recursive: true });
  });

  it("an API that does not answer: one sentence, exit 1", async () => {
    const run = runUpload([join(work, "in"), "--url", "http://127.0.0.1:9", "--manifest", join(work, "m-none.json")]);
    expect(await run.exited).toBe(1);
    expect(run.output().trim().split("\n").at(-1)).toBe(
      "The API at http://127.0.0.1:9 cannot be reached; start it (`npm start`, or `npm run api`) or pass --url.",
    );
  });

  it("sends a PDF as a G4 TIFF drawn at the --dpi asked for, and downloads it", async () => {
    const folder = join(work, "pdf-in");
    await mkdir(folder, { recursive: true });
    // A 200-point square page with a black bar drawn on it: vector, no image.
    await writeFile(
      join(folder, "drawn.pdf"),
      handMadePdf({ content: new TextEncoder().encode("0 0 0 rg 20 80 160 40 re f") }),
    );
    const out = join(work, "pdf-out");
    const run = runUpload([
      folder,
      ...["--url", stack.url, "--manifest", join(work, "pdf-manifest.json"), "--wait", "--out", out],
      ...["--format", "tiff", "--dpi", "150"],
    ]);
    expect(await run.exited).toBe(0);
    const [page] = utifPages(await readFile(join(out, "drawn.tif")));
    // 200 pt at 150 dpi, and the bar black.
    expect([page.width, page.height]).toEqual([417, 417]);
    expect(page.grey[208 * 417 + 208]).toBe(0);
  });

  it("refuses bad arguments with its usage", async () => {
    const run = runUpload(["--concurrency", "0", "--dpi", "50"]);
    expect(await run.exited).toBe(2);
    expect(run.output()).toContain("give at least one folder or file (or --delete)");
    expect(run.output()).toContain("--concurrency must be 1–256");
    expect(run.output()).toContain("--dpi must be 72–1200");
    expect(run.output()).toContain("usage: npm run upload");
  });
});
