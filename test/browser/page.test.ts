// The web page in a real headless Chromium, against the real API, worker and LocalStack.
import { mkdir } from "node:fs/promises";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { type Browser, chromium, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { samplePng } from "../../scripts/bench/sample-images.ts";
import { syntheticPage } from "../../scripts/bench/synthetic-pages.ts";
import { handMadePdf, multiPageTiff } from "../support/documents.ts";
import { makePng } from "../support/images.ts";
import { startPipeline, usePipeline } from "../support/pipeline.ts";

const CHROMIUM = "/usr/bin/chromium";
// Without the background-networking flags Chromium keeps dialling out of a closed network.
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
const ARTIFACTS = new URL("../../test-artifacts/", import.meta.url);

const stack = usePipeline({ serve: true });
let browser: Browser;
const problems: string[] = [];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
});

afterAll(async () => {
  await browser?.close();
});

async function openPage(width = 1280): Promise<Page> {
  // Each test judges the problems of its own page, never those an earlier test left.
  problems.length = 0;
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("dialog", (dialog) => {
    problems.push(`a script opened a ${dialog.type()} dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(stack.url);
  return page;
}

const file = async (name: string, bytes: Uint8Array, mimeType = "image/png") => ({
  name,
  mimeType,
  buffer: Buffer.from(bytes),
});

describe("the page", () => {
  it("uploads a PNG through the file input and shows the result beside the original", async () => {
    const page = await openPage();
    await page.setInputFiles("#file-input", [await file("scan.png", await samplePng("document", 0.2))]);
    const card = page.locator(".upload", { hasText: "scan.png" });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    for (const selector of [".original", ".processed"]) {
      const loaded = await card.locator(selector).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth);
      expect(loaded, selector).toBeGreaterThan(0);
    }
    // The default is auto, and the card says what it chose for this page and why.
    await expect(card.locator(".facts").textContent()).resolves.toMatch(
      /Methodauto → document: uneven backgroundThresholdlocal \(per pixel\)/,
    );
    expect(await card.locator("a.download").getAttribute("download")).toBe("scan-bitonal.png");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("straightens a skewed page and says by how much beside the result; with the boxes cleared it does not", async () => {
    const level = await syntheticPage("office-scan", 5, 1000, 760);
    const turned = await sharp(level.bytes)
      .rotate(-3.1, { background: "#ffffff" })
      .toBuffer({ resolveWithObject: true });
    const skewed = await sharp(turned.data)
      .extract({ left: 60, top: 60, width: turned.info.width - 120, height: turned.info.height - 120 })
      .png()
      .toBuffer();
    const page = await openPage();
    await page.setInputFiles("#file-input", [await file("skewed.png", skewed)]);
    const card = page.locator(".upload", { hasText: "skewed.png" });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    await expect(card.locator(".facts").textContent()).resolves.toMatch(
      /Straighteneddeskewed by (2\.9\d|3\.[0-2]\d?)° clockwise \(confidence 0\.\d+\)Framenone found/,
    );
    await page.uncheck("input[name=deskew]");
    await page.check("input[name=borders][value=keep]");
    await page.setInputFiles("#file-input", [await file("as sent.png", skewed)]);
    const second = page.locator(".upload", { hasText: "as sent.png" });
    await second.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    await expect(second.locator(".facts").textContent()).resolves.toMatch(/StraightenedoffFramekept/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("uploads two at once, with the fixed method, and both finish", async () => {
    const page = await openPage();
    await page.check("input[name=method][value=fixed]");
    await page.locator("#threshold").fill("90");
    await page.setInputFiles("#file-input", [
      await file("photo.png", await samplePng("photo", 0.15)),
      await file("page.png", await samplePng("document", 0.15, 7)),
    ]);
    for (const name of ["photo.png", "page.png"]) {
      const card = page.locator(".upload", { hasText: name });
      await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
      await expect(card.locator(".facts").textContent()).resolves.toContain("Threshold90");
    }
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("page-after-two-uploads.png", ARTIFACTS).pathname, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("takes a multi-page TIFF, shows its pages completing, pages through original and result, and offers the PDF", async () => {
    const page = await openPage();
    await page.check("input[name=format][value=pdf]");
    const tiff = await multiPageTiff(
      [
        (x, y) => (y % 40 < 8 && x % 60 < 50 ? 30 : 235),
        (x, y) => (Math.abs(Math.hypot(x - 160, y - 100) - 60) < 6 ? 20 : 240),
      ],
      { width: 320, height: 200 },
    );
    await page.setInputFiles("#file-input", [await file("two pages.tif", tiff, "image/tiff")]);
    const card = page.locator(".upload", { hasText: "two pages.tif" });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    const counter = card.locator(".page-counter");
    await expect(counter.textContent()).resolves.toBe("Page 1 of 2");
    const shown = async () =>
      card.locator(".processed").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth);
    await card.locator(".original").evaluate((img: HTMLImageElement) => img.decode());
    await card.locator(".processed").evaluate((img: HTMLImageElement) => img.decode());
    expect(await shown()).toBe(320);
    const first = await card.locator(".processed").getAttribute("src");
    await card.locator(".page-next").click();
    await counter.filter({ hasText: "Page 2 of 2" }).waitFor();
    await expect(card.locator(".page-next").isDisabled()).resolves.toBe(true);
    await expect.poll(async () => (await card.locator(".processed").getAttribute("src")) !== first).toBe(true);
    await card.locator(".processed").evaluate((img: HTMLImageElement) => img.decode());
    await expect(card.locator(".facts").textContent()).resolves.toMatch(/Pages2PDF/);
    const download = card.locator("a.download");
    expect(await download.getAttribute("download")).toBe("two pages.bitonal.pdf");
    const pdf = await page.evaluate(
      async (href) => {
        const response = await fetch(href);
        return { type: response.headers.get("content-type"), start: (await response.text()).slice(0, 5) };
      },
      (await download.getAttribute("href")) as string,
    );
    expect(pdf).toEqual({ type: "application/pdf", start: "%PDF-" });
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL("page-document.png", ARTIFACTS).pathname, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("draws a PDF page that is not a scan at the dpi asked for", async () => {
    const page = await openPage();
    await page.fill("#dpi", "150");
    // A 200-point square page with a black bar drawn on it: vector, no image.
    const pdf = handMadePdf({ content: new TextEncoder().encode("0 0 0 rg 20 80 160 40 re f") });
    await page.setInputFiles("#file-input", [await file("drawn.pdf", pdf, "application/pdf")]);
    const card = page.locator(".upload", { hasText: "drawn.pdf" });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    const processed = card.locator(".processed");
    await processed.evaluate((img: HTMLImageElement) => img.decode());
    // 200 pt at 150 dpi.
    expect(await processed.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([
      417, 417,
    ]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows the refusal of a text file renamed .png in plain words", async () => {
    const page = await openPage();
    await page.setInputFiles("#file-input", [await file("notes.png", new TextEncoder().encode("just some text\n"))]);
    const card = page.locator(".upload", { hasText: "notes.png" });
    const status = card.locator(".status", { hasText: "Refused" });
    await status.waitFor({ timeout: 10_000 });
    await expect(status.textContent()).resolves.toBe("Refused: Not a PNG, JPEG, WebP, TIFF or PDF file.");
    await page.close();
  });

  // Stands alone: it uploads (through the API) the images it then finds in the gallery.
  it("lists earlier uploads in the gallery and opens one", async () => {
    const names = ["gallery-1.png", "gallery-2.png", "gallery-photo.png"];
    const ids = await Promise.all(
      names.map(async (name, n) => {
        const form = new FormData();
        form.set("image", new File([await makePng(40, 30, (x, y) => [x * 5 + n * 40, y * 7, 90])], name));
        return (await (await fetch(`${stack.url}/api/images`, { method: "POST", body: form })).json()).id as string;
      }),
    );
    for (const id of ids) {
      await expect
        .poll(async () => (await (await fetch(`${stack.url}/api/images/${id}`)).json()).status, { timeout: 30_000 })
        .toBe("done");
    }
    const page = await openPage();
    for (const name of names) await page.locator(".gallery .thumb", { hasText: name }).waitFor({ timeout: 10_000 });
    await page.locator(".gallery .thumb", { hasText: "gallery-photo.png" }).click();
    const viewer = page.locator("#viewer");
    await viewer.locator(".processed").waitFor();
    await expect(page.locator("#viewer-title").textContent()).resolves.toBe("gallery-photo.png");
    await page.keyboard.press("Escape");
    await page.close();
  });

  it("tries other methods on an upload without uploading again, and shows them side by side", async () => {
    const page = await openPage();
    await page.setInputFiles("#file-input", [await file("renditions.png", await samplePng("document", 0.1, 3))]);
    const card = page.locator(".upload", { hasText: "renditions.png" });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    const form = card.locator("form.try-another");
    await form.locator("select[name=method]").selectOption("sauvola");
    await expect(form.locator(".try-threshold").isHidden()).resolves.toBe(true);
    await form.locator("button[type=submit]").click();
    await form.locator("select[name=method]").selectOption("fixed");
    await form.locator("input[name=threshold]").fill("90");
    await form.locator("button[type=submit]").click();

    const renditions = card.locator(".renditions .rendition");
    for (const caption of ["sauvola", "fixed"]) {
      const item = renditions.filter({ has: page.locator("figcaption", { hasText: new RegExp(`^${caption}$`) }) });
      const image = item.locator("img");
      await image.waitFor({ timeout: 30_000 });
      await expect
        .poll(() => image.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth), { timeout: 10_000 })
        .toBeGreaterThan(0);
    }
    expect(
      await renditions.locator("a[download]").evaluateAll((links) => links.map((a) => a.getAttribute("download"))),
    ).toEqual(["renditions-sauvola.png", "renditions-fixed-90.png"]);
    await page.screenshot({ path: new URL("page-renditions.png", ARTIFACTS).pathname, fullPage: true });
    // The renditions are stored: the card opened again from the gallery shows them too.
    const id = await card.getAttribute("data-id");
    const listed = await (await fetch(`${stack.url}/api/images/${id}/renditions`)).json();
    expect(listed.items.map((r: { rendition: string }) => r.rendition)).toEqual(["fixed-90", "sauvola"]);
    await page.locator(".gallery .thumb", { hasText: "renditions.png" }).click();
    await expect.poll(() => page.locator("#viewer .renditions .rendition img").count(), { timeout: 10_000 }).toBe(2);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows a hostile filename as text and runs nothing", async () => {
    const page = await openPage();
    const hostile = "<img src=x onerror=alert(1)>.png";
    await page.setInputFiles("#file-input", [await file(hostile, await makePng(24, 24, (x) => [x * 10]))]);
    const card = page.locator(".upload", { hasText: hostile });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    await expect(card.locator(".filename").textContent()).resolves.toBe(hostile);
    await page.locator("#gallery-refresh").click();
    await page.locator(".gallery .thumb-name", { hasText: hostile }).first().waitFor();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(problems.filter((p) => p.includes("dialog"))).toEqual([]);
    await page.close();
  });

  // Catches: a name whose cut falls inside an emoji failing the upload as if storage were down.
  it("uploads files with odd names and lists them by their sanitised names", async () => {
    const page = await openPage();
    const names = [
      [`${"a".repeat(199)}😀😀😀.png`, `${"a".repeat(199)}😀`],
      ["invoice\u202Egnp.png", "invoicegnp.png"],
    ];
    const image = await makePng(24, 24, (x, y) => [x * 9, y * 9, 50]);
    await page.setInputFiles("#file-input", await Promise.all(names.map(([name]) => file(name, image))));
    for (const [sent] of names) {
      const card = page.locator(".upload", { hasText: sent });
      await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    }
    await page.locator("#gallery-refresh").click();
    for (const [, stored] of names) {
      await page.locator(".gallery .thumb-name", { hasText: stored }).first().waitFor();
    }
    await page.close();
  });

  // Catches: a delete that leaves the image in the gallery, or that needs no confirmation.
  it("deletes an image after an in-page confirmation, and it leaves the gallery", async () => {
    const page = await openPage();
    await page.setInputFiles("#file-input", [await file("to-delete.png", await makePng(30, 30, (x) => [x * 8]))]);
    const card = page.locator(".upload", { hasText: "to-delete.png" });
    await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
    const id = await card.getAttribute("data-id");
    await card.locator("button.delete").click();
    const confirm = card.locator("button.confirm-delete");
    await confirm.waitFor();
    expect(
      await stack.env.s3.send(new HeadObjectCommand({ Bucket: stack.env.config.outputBucket, Key: `${id}.png` })),
    ).toBeTruthy(); // nothing deleted before the confirmation
    await confirm.click();
    await card.waitFor({ state: "detached" });
    await expect.poll(async () => (await fetch(`${stack.url}/api/images/${id}`)).status).toBe(404);
    await expect.poll(async () => page.locator(".gallery .thumb-name", { hasText: "to-delete.png" }).count()).toBe(0);
    await page.close();
  });

  // Catches: a page that stops working once the API wants a token for reads too.
  it("works with API_TOKEN set: upload, result and gallery through the token and signed links", async () => {
    const privateStack = await startPipeline({
      serve: true,
      settings: { API_TOKEN: "page-token-0123456789abcdef0123456789" },
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(privateStack.url);
      await page.locator("details.token summary").click();
      await page.locator("#api-token").fill("page-token-0123456789abcdef0123456789");
      await page.locator("#api-token").dispatchEvent("change");
      await page.setInputFiles("#file-input", [await file("private.png", await samplePng("document", 0.05))]);
      const card = page.locator(".upload", { hasText: "private.png" });
      await card.locator(".status", { hasText: "Done." }).waitFor({ timeout: 30_000 });
      const loaded = await card.locator("img.processed").evaluate((img: HTMLImageElement) => img.naturalWidth);
      expect(loaded).toBeGreaterThan(0);
      // The gallery's thumbnails are plain <img> tags: they load through signed links.
      const thumb = page.locator(".gallery img").first();
      await thumb.waitFor();
      await expect
        .poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
        .toBeGreaterThan(0);
      expect(await thumb.getAttribute("src")).toMatch(/\?expires=\d+&sig=/);
      // Without the token, nothing of it is readable.
      expect((await fetch(`${privateStack.url}/api/images`)).status).toBe(401);
    } finally {
      await page.close();
      await privateStack.stop();
    }
  });

  it("fits a phone's width and is reachable by keyboard", async () => {
    const page = await openPage(390);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const reached = new Set<string>();
    for (let i = 0; i < 8; i++) {
      await page.keyboard.press("Tab");
      reached.add(await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ""));
    }
    expect(reached).toContain("file-input");
    await page.close();
  });
});
