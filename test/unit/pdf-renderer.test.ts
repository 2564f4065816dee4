// The PDF renderer's promise to its callers: whatever its thread does, a request settles, soon.
import { describe, expect, it } from "vitest";
import { createPdfRenderer } from "../../imaging/decode/pdf-renderer.ts";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url);
const page = () => new Uint8Array([0x25, 0x50, 0x44, 0x46]);
const options = { dpi: 72, maxInputPixels: 1_000_000 };

describe("the PDF renderer", () => {
  it("fails a request at once when its thread ends without answering, and starts a new thread for the next", async () => {
    const renderer = createPdfRenderer({ thread: fixture("exiting-pdf-thread.ts"), timeoutMs: 30_000 });
    try {
      for (const attempt of [1, 2]) {
        const started = Date.now();
        await expect(renderer.renderPage(page(), 0, options), `attempt ${attempt}`).rejects.toMatchObject({
          code: "undecodable",
          message: "The PDF could not be rendered (its renderer stopped).",
        });
        expect(Date.now() - started, `attempt ${attempt}`).toBeLessThan(10_000);
      }
    } finally {
      await renderer.close();
    }
  });

  it("holds a thread that never starts to the request's deadline", async () => {
    const renderer = createPdfRenderer({ thread: fixture("silent-pdf-thread.ts"), timeoutMs: 500 });
    try {
      const started = Date.now();
      await expect(renderer.pageSizes(page(), { maxPages: 10 })).rejects.toMatchObject({
        code: "render-timeout",
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await renderer.close();
    }
  });
});
