// PDFs as scanners and archives write them: a page's image compressed as CCITT G4, JBIG2,
// JPEG 2000, JPEG (grey and CMYK) or Flate (1, 8 and 16 bits, grey and RGB), pages turned by
// /Rotate, pages of different sizes and resolutions, a blank page. Each comes out with its
// page count, each page at its scan's own resolution and turned as a reader shows it; a page
// that was black and white already comes out pixel for pixel as it went in.
import { readFileSync } from "node:fs";
import { deflateSync } from "node:zlib";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { ccittImage, imagePdf, jbig2Mmr, type PdfImage, pdfPages } from "../support/documents.ts";
import { greyPixels } from "../support/images.ts";
import { usePipeline } from "../support/pipeline.ts";
import { waitForCompletions } from "../support/queues.ts";

const pipeline = usePipeline({ settings: { MAX_PAGES: "20" } });

// The pattern of test/fixtures/make-jpx-fixture.py: black bars on white, 240×160, scanned at 200 dpi.
const WIDTH = 240;
const HEIGHT = 160;
const DPI = 200;
const pattern = new Uint8Array(WIDTH * HEIGHT).map((_, i) =>
  (i % WIDTH) % 40 < 20 && Math.floor(i / WIDTH) % 20 < 6 ? 0 : 255,
);
const SIZE: [number, number] = [(WIDTH * 72) / DPI, (HEIGHT * 72) / DPI];

/** The pattern's bits, 1 = white, rows padded to a byte: a 1-bit DeviceGray image's samples. */
function packed(): Buffer {
  const rowBytes = Math.ceil(WIDTH / 8);
  const bits = Buffer.alloc(rowBytes * HEIGHT);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) if (pattern[y * WIDTH + x]) bits[y * rowBytes + (x >> 3)] |= 0x80 >> (x & 7);
  }
  return bits;
}

interface Case {
  name: string;
  image?: PdfImage;
  rotate?: number;
  size?: [number, number];
  /** What the page's result must be: the pattern exactly, turned; or only its bars and gaps. */
  exact: boolean;
  pixels: [number, number];
}

let cases: Case[];
beforeAll(async () => {
  const ccitt = await ccittImage(pattern, WIDTH, HEIGHT);
  const g4 = ccitt.data;
  const raw = sharp(Buffer.from(pattern), { raw: { width: WIDTH, height: HEIGHT, channels: 1 } }).toColourspace("b-w");
  const rgb = Buffer.from(Array.from(pattern).flatMap((v) => [v, v, v]));
  const sixteen = Buffer.from(Array.from(pattern).flatMap((v) => [v, v]));
  const scanned = { width: WIDTH, height: HEIGHT, pixels: [WIDTH, HEIGHT] as [number, number] };
  cases = [
    { name: "CCITT G4", image: ccitt, exact: true, ...scanned },
    {
      name: "CCITT G4 turned by /Rotate 90",
      image: ccitt,
      rotate: 90,
      exact: true,
      ...scanned,
      pixels: [HEIGHT, WIDTH],
    },
    {
      name: "CCITT G4 turned by /Rotate 270",
      image: ccitt,
      rotate: 270,
      exact: true,
      ...scanned,
      pixels: [HEIGHT, WIDTH],
    },
    {
      name: "JBIG2 (generic region, MMR)",
      image: { ...ccitt, filter: "JBIG2Decode", data: jbig2Mmr(g4, WIDTH, HEIGHT), decodeParms: undefined },
      exact: true,
      ...scanned,
    },
    {
      name: "JPEG 2000 (lossless)",
      image: {
        filter: "JPXDecode",
        data: readFileSync(new URL("../fixtures/pattern-240x160.jp2", import.meta.url)),
        width: WIDTH,
        height: HEIGHT,
      },
      exact: true,
      ...scanned,
    },
    {
      name: "Flate, 1 bit",
      image: { ...ccitt, filter: "FlateDecode", data: deflateSync(packed()), decodeParms: undefined },
      exact: true,
      ...scanned,
    },
    {
      name: "Flate, 8-bit grey",
      image: {
        filter: "FlateDecode",
        data: deflateSync(pattern),
        width: WIDTH,
        height: HEIGHT,
        colorSpace: "DeviceGray",
        bitsPerComponent: 8,
      },
      exact: true,
      ...scanned,
    },
    {
      name: "Flate, 16-bit grey",
      image: {
        filter: "FlateDecode",
        data: deflateSync(sixteen),
        width: WIDTH,
        height: HEIGHT,
        colorSpace: "DeviceGray",
        bitsPerComponent: 16,
      },
      exact: true,
      ...scanned,
    },
    {
      name: "Flate, RGB",
      image: {
        filter: "FlateDecode",
        data: deflateSync(rgb),
        width: WIDTH,
        height: HEIGHT,
        colorSpace: "DeviceRGB",
        bitsPerComponent: 8,
      },
      exact: true,
      ...scanned,
    },
    {
      name: "JPEG, grey",
      image: {
        filter: "DCTDecode",
        data: await raw.clone().jpeg({ quality: 85 }).toBuffer(),
        width: WIDTH,
        height: HEIGHT,
        colorSpace: "DeviceGray",
        bitsPerComponent: 8,
      },
      exact: false,
      ...scanned,
    },
    {
      name: "JPEG, CMYK",
      image: {
        filter: "DCTDecode",
        data: await raw.clone().toColourspace("cmyk").jpeg({ quality: 85 }).toBuffer(),
        width: WIDTH,
        height: HEIGHT,
        colorSpace: "DeviceCMYK",
        bitsPerComponent: 8,
        // libjpeg writes CMYK inverted, as Adobe does; the PDFs such JPEGs go into say so.
        decode: [1, 0, 1, 0, 1, 0, 1, 0],
      },
      exact: false,
      ...scanned,
    },
    { name: "a blank page, US Letter", size: [612, 792], exact: false, pixels: [2550, 3300] },
  ];
});

describe("a PDF of pages as scanners write them", () => {
  it("ends done with every page, each at its own resolution, turned as shown, bitonal pages exact", async () => {
    const pdf = imagePdf(cases.map(({ image, rotate, size }) => ({ size: size ?? SIZE, rotate, image })));
    const form = new FormData();
    form.set("image", new File([pdf], "scans.pdf", { type: "application/pdf" }));
    const response = await pipeline.app.request("/api/images", { method: "POST", body: form });
    expect(response.status).toBe(202);
    const { id } = await response.json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id], 120_000)).get(
      id,
    );
    expect(completion).toMatchObject({ status: "done", pages: cases.length, format: "pdf" });

    const assembled = await pdfPages(
      new Uint8Array(await (await pipeline.app.request(`/api/images/${id}/processed`)).arrayBuffer()),
    );
    expect(assembled.pages).toHaveLength(cases.length);
    for (const [n, page] of cases.entries()) {
      const png = await pipeline.app.request(`/api/images/${id}/pages/${n + 1}/processed`);
      expect(png.status, page.name).toBe(200);
      const result = await greyPixels(new Uint8Array(await png.arrayBuffer()));
      expect([result.width, result.height], page.name).toEqual(page.pixels);
      // The assembled PDF's page holds the same pixels, at the size the input's page is shown at.
      expect(Buffer.from(assembled.pages[n].grey).equals(Buffer.from(result.values)), page.name).toBe(true);
      const [shownWidth, shownHeight] = page.rotate ? [...(page.size ?? SIZE)].reverse() : (page.size ?? SIZE);
      expect(assembled.pages[n].view[2], page.name).toBeCloseTo(shownWidth, 0);
      expect(assembled.pages[n].view[3], page.name).toBeCloseTo(shownHeight, 0);
      if (!page.image) {
        expect(
          result.values.every((v) => v === 255),
          page.name,
        ).toBe(true);
        continue;
      }
      const expected = await turned(page.rotate ?? 0);
      if (page.exact) {
        expect(Buffer.from(result.values).equals(Buffer.from(expected)), page.name).toBe(true);
      } else {
        const wrong = result.values.filter((v, i) => v !== expected[i]).length;
        expect(wrong / expected.length, page.name).toBeLessThan(0.01);
      }
    }
  }, 150_000); // the wait for the completion above is 120 s, longer than the default test timeout
});

describe("a PDF of CCITT scans", () => {
  it("comes out no larger than it went in: the same G4 data (libtiff's and ours agree to the byte), in a PDF as lean", async () => {
    const ccitt = cases[0].image as PdfImage;
    const pdf = imagePdf(
      Array.from({ length: 4 }, () => ({ size: SIZE, image: ccitt })),
      // What a scanner's driver writes about itself.
      { info: "<< /Producer (ScanSnap Manager #S1300i) /CreationDate (D:20261203120000+01'00') >>" },
    );
    const form = new FormData();
    form.set("image", new File([pdf], "fax.pdf", { type: "application/pdf" }));
    const { id } = await (await pipeline.app.request("/api/images", { method: "POST", body: form })).json();
    const completion = (await waitForCompletions(pipeline.env.sqs, pipeline.env.queueUrls.output, [id], 60_000)).get(
      id,
    );
    expect(completion).toMatchObject({ status: "done", pages: 4, inputBytes: pdf.length });
    if (completion?.status !== "done" || completion.version !== 3) throw new Error("expected a document's completion");
    expect(completion.bytes).toBeLessThanOrEqual(pdf.length);
    const status = await (await pipeline.app.request(`/api/images/${id}`)).json();
    expect(status.document).toMatchObject({ bytes: completion.bytes, inputBytes: pdf.length, largerThanInput: false });
  });
});

/** The pattern as a reader shows it on a page turned clockwise by `degrees`. */
async function turned(degrees: number): Promise<Uint8Array> {
  const image = sharp(Buffer.from(pattern), { raw: { width: WIDTH, height: HEIGHT, channels: 1 } }).rotate(degrees);
  return new Uint8Array(await image.toColourspace("b-w").raw().toBuffer());
}
