// The synthetic pages the quality benchmark scores: the same seed makes the same page, and
// each ground truth is the page's own ink. Catches: a generator that drifts between runs (no
// one could regenerate the numbers) or a truth that does not line up with what is drawn.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { dibcoScores } from "../../imaging/measures/dibco.ts";
import { PAGE_KINDS, type PageKind, syntheticPage } from "../../scripts/bench/synthetic-pages.ts";

describe("synthetic pages", () => {
  it("are the same for the same seed, and differ between seeds", async () => {
    const a = await syntheticPage("phone-photo", 1, 300, 200);
    const b = await syntheticPage("phone-photo", 1, 300, 200);
    const c = await syntheticPage("phone-photo", 2, 300, 200);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    expect(Buffer.from(a.truth).equals(Buffer.from(c.truth))).toBe(false);
  });

  const scoreOfOneThreshold = async (kind: PageKind) => {
    const page = await syntheticPage(kind, 1, 300, 200);
    const { data } = await sharp(page.bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
    const result = Uint8Array.from(data, (v) => (v > 110 ? 255 : 0));
    return dibcoScores(
      { data: page.truth, width: page.width, height: page.height },
      { data: result, width: page.width, height: page.height },
    ).fMeasure;
  };

  // Clean pages: one threshold between ink and paper recovers the truth, so it lines up.
  it.each(["office-scan", "screenshot", "logo", "filled-map"] as PageKind[])(
    "%s: its ground truth is its ink",
    async (kind) => {
      expect(await scoreOfOneThreshold(kind)).toBeGreaterThan(97);
    },
  );

  // Every kind, the hard ones included (hard on purpose): some ink, not a page of it.
  it.each(PAGE_KINDS)("%s: ink covers a plausible share of the page", async (kind) => {
    const page = await syntheticPage(kind, 1, 300, 200);
    const inkShare = page.truth.filter((v) => v === 0).length / page.truth.length;
    expect(inkShare).toBeGreaterThan(0.02);
    expect(inkShare).toBeLessThan(0.6);
  });
});
