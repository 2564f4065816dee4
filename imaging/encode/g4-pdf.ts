// Bitonal pages to a PDF: each page one CCITT Group 4 image (the same G4 data a TIFF strip
// holds) at the page's own size and resolution, so that it prints at the size it was scanned.
//
// By hand because what it writes is a dozen fixed objects: pdf-lib, the npm PDF writer, cannot
// embed a CCITT image without writing its stream and dictionary at this same low level, and has
// had no release since 2021. Nothing but the images and a title goes in: no JavaScript, no
// fonts, no metadata streams.
import type { G4Page } from "./ccitt-g4.ts";

/** A page's resolution when the input did not say: a document scan's commonest. */
export const DEFAULT_PDF_DPI = 300;

export function encodeG4Pdf(pages: G4Page[], title: string): Buffer {
  if (pages.length === 0) throw new Error("a PDF needs at least one page");
  const objects: Buffer[] = []; // object n + 1 at index n
  const add = (...parts: Array<string | Uint8Array>) => {
    objects.push(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : p))));
    return objects.length;
  };
  // 1: catalog, 2: page tree, 3: information; then per page its page, image and contents.
  const pageObject = (n: number) => 4 + 3 * n;
  add("<< /Type /Catalog /Pages 2 0 R >>");
  add(`<< /Type /Pages /Kids [${pages.map((_, n) => `${pageObject(n)} 0 R`).join(" ")}] /Count ${pages.length} >>`);
  add(`<< /Title ${pdfText(title)} /Producer (bitonal) >>`);
  for (const [n, page] of pages.entries()) {
    const dpi = page.dpi && page.dpi > 0 ? page.dpi : DEFAULT_PDF_DPI;
    const width = points(page.width, dpi);
    const height = points(page.height, dpi);
    const image = pageObject(n) + 1;
    const contents = pageObject(n) + 2;
    add(
      `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${width} ${height}] `,
      `/Resources << /XObject << /Page${n + 1} ${image} 0 R >> >> /Contents ${contents} 0 R >>`,
    );
    const { g4 } = page;
    add(
      `<< /Type /XObject /Subtype /Image /Width ${page.width} /Height ${page.height} /ColorSpace /DeviceGray `,
      `/BitsPerComponent 1 /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns ${page.width} /Rows ${page.height} >> `,
      `/Length ${g4.length} >>\nstream\n`,
      g4,
      "\nendstream",
    );
    const draw = `q ${width} 0 0 ${height} 0 0 cm /Page${n + 1} Do Q`;
    add(`<< /Length ${draw.length} >>\nstream\n${draw}\nendstream`);
  }
  // Header (its second line marks the file as binary), objects, cross-reference table, trailer.
  const parts: Buffer[] = [Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  let offset = parts[0].length;
  const offsets: number[] = [];
  for (const [n, body] of objects.entries()) {
    const object = Buffer.concat([
      Buffer.from(`${n + 1} 0 obj\n`, "latin1"),
      body,
      Buffer.from("\nendobj\n", "latin1"),
    ]);
    offsets.push(offset);
    parts.push(object);
    offset += object.length;
  }
  // Every entry exactly 20 bytes, its line ended by space and newline.
  const entries = offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("");
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${entries}`;
  parts.push(
    Buffer.from(
      `${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info 3 0 R >>\nstartxref\n${offset}\n%%EOF\n`,
      "latin1",
    ),
  );
  return Buffer.concat(parts);
}

/** Pixels at `dpi` as PDF points (1/72 inch), to 3 decimals. */
function points(pixels: number, dpi: number): string {
  return String(Math.round(((pixels * 72) / dpi) * 1000) / 1000);
}

/** Any text as a PDF text string: UTF-16BE with its byte-order mark, in hex (nothing to escape). */
function pdfText(text: string): string {
  const utf16 = Buffer.from(`\ufeff${text}`, "utf16le").swap16();
  return `<${utf16.toString("hex").toUpperCase()}>`;
}
