// A PDF's pages through PDFium (Google's PDF engine, built to WebAssembly by @embedpdf/pdfium):
// how many, how large, and each one rendered to RGB pixels. Bytes (or a file) in, pixels out;
// runs inside pdf-thread.ts, never on a thread that serves anything else.
//
// A scanned page (one image covering the page) is rendered at the image's own resolution, so
// that its pixels are the scan's, not resampled; any other page at `dpi`. PDFium has no
// JavaScript engine in this build: a PDF's scripts are never run.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { WrappedPdfiumModule } from "@embedpdf/pdfium";
import { ImageError } from "../errors.ts";

export type Pdfium = WrappedPdfiumModule;

/** The module's memory as typed views, read afresh each time: they are replaced when it grows. */
function memory(pdfium: Pdfium) {
  const module = pdfium.pdfium as unknown as { HEAPU8: Uint8Array; HEAPU32: Uint32Array; HEAPF32: Float32Array };
  return {
    get u8() {
      return module.HEAPU8;
    },
    get u32() {
      return module.HEAPU32;
    },
    get f32() {
      return module.HEAPF32;
    },
    malloc: (bytes: number) => pdfium.pdfium.wasmExports.malloc(bytes),
    free: (at: number) => pdfium.pdfium.wasmExports.free(at),
  };
}

export interface PdfPageSize {
  /** In points (1/72 inch), as displayed (the page's rotation applied). */
  width: number;
  height: number;
}

export interface RenderedPage {
  /** 3 bytes a pixel, rows unpadded. */
  rgb: Uint8Array;
  width: number;
  height: number;
  dpi: number;
}

// FPDF_GetLastError's codes (fpdfview.h).
const ERROR_PASSWORD = 4;
const ERROR_SECURITY = 5;
const PAGE_OBJECT_IMAGE = 3;
const BITMAP_BGR = 2;
// Render flags (fpdfview.h): annotations drawn (stamps, signatures), and RGB byte order.
const RENDER_ANNOTATIONS = 0x01;
const RENDER_RGB_ORDER = 0x10;
/** What a page that is not a scan is rendered at. */
export const DEFAULT_RENDER_DPI = 300;
// A page is a scan when one image covers at least this share of it.
const SCAN_COVERAGE = 0.9;
// A render band's bitmap at most (see renderPdfPage).
const BAND_BYTES = 4 * 1024 * 1024;
// Below this a page is a thumbnail, not a scan to clean: rendered at this at least.
const MIN_DPI = 50;

/** An open document: PDFium's handle, and what it reads from (a copy of the bytes, or a file). */
export interface OpenPdf {
  doc: number;
  close(): void;
}

/**
 * A PDF in memory, or in a file (the API's spooled upload). PDFium reads a file, and bytes in
 * shared memory (the worker's kept documents), block by block where they lie; other bytes it
 * is given a copy of.
 */
export type PdfSource = Uint8Array | { path: string };

/** Opens a PDF in PDFium; refuses (ImageError) an encrypted or unreadable file. */
export function openPdf(pdfium: Pdfium, source: PdfSource): OpenPdf {
  const opened = !(source instanceof Uint8Array)
    ? loadFromFile(pdfium, source.path)
    : source.buffer instanceof SharedArrayBuffer
      ? loadFromShared(pdfium, source)
      : loadFromMemory(pdfium, source);
  if (!opened.doc) {
    const error = pdfium.FPDF_GetLastError();
    opened.release();
    if (error === ERROR_PASSWORD || error === ERROR_SECURITY) {
      throw new ImageError("encrypted", "The PDF is encrypted with a password; send it unencrypted.");
    }
    throw new ImageError("damaged", "The file is not a PDF that can be read (damaged, or not a PDF).");
  }
  return {
    doc: opened.doc,
    close() {
      pdfium.FPDF_CloseDocument(opened.doc);
      opened.release();
    },
  };
}

function loadFromMemory(pdfium: Pdfium, bytes: Uint8Array) {
  const heap = memory(pdfium);
  const at = heap.malloc(bytes.length);
  if (!at) throw new ImageError("damaged", "The PDF is too large to open.");
  heap.u8.set(bytes, at);
  return { doc: pdfium.FPDF_LoadMemDocument64(at, bytes.length, ""), release: () => heap.free(at) };
}

/**
 * Through FPDF_LoadCustomDocument: PDFium asks for the blocks it needs (the trailer, the
 * cross-reference, the page tree, one page's objects), so that counting the pages of a 100 MiB
 * scan reads kilobytes of it, and rendering a page reads that page's image, not all of it into
 * PDFium's memory. `read` copies `length` bytes from `position` to PDFium's memory at `into`.
 */
function loadWithReader(
  pdfium: Pdfium,
  size: number,
  read: (heap: Uint8Array, into: number, position: number, length: number) => boolean,
  release: () => void,
) {
  const module = pdfium.pdfium as unknown as {
    HEAPU8: Uint8Array;
    HEAPU32: Uint32Array;
    addFunction(fn: (...args: number[]) => number, signature: string): number;
    removeFunction(index: number): void;
  };
  const heap = memory(pdfium);
  // int m_GetBlock(void* param, unsigned long position, unsigned char* buffer, unsigned long size)
  const getBlock = module.addFunction((_param: number, position: number, buffer: number, length: number) => {
    const at = position >>> 0;
    const wanted = length >>> 0;
    if (at + wanted > size) return 0;
    return read(module.HEAPU8, buffer >>> 0, at, wanted) ? 1 : 0;
  }, "iiiii");
  // FPDF_FILEACCESS: { unsigned long m_FileLen; m_GetBlock; void* m_Param }, 4 bytes each here.
  const access = heap.malloc(12);
  module.HEAPU32.set([size, getBlock, 0], access >> 2);
  return {
    doc: pdfium.FPDF_LoadCustomDocument(access, ""),
    release() {
      heap.free(access);
      module.removeFunction(getBlock);
      release();
    },
  };
}

function loadFromFile(pdfium: Pdfium, path: string) {
  const fd = openSync(path, "r");
  return loadWithReader(
    pdfium,
    fstatSync(fd).size,
    (heap, into, position, length) => readSync(fd, heap, into, length, position) === length,
    () => closeSync(fd),
  );
}

function loadFromShared(pdfium: Pdfium, bytes: Uint8Array) {
  return loadWithReader(
    pdfium,
    bytes.length,
    (heap, into, position, length) => {
      heap.set(bytes.subarray(position, position + length), into);
      return true;
    },
    () => {},
  );
}

/** Opens `source`, runs `use` on the document, and frees everything, whatever happens. */
function withDocument<T>(pdfium: Pdfium, source: PdfSource, use: (doc: number) => T): T {
  const pdf = openPdf(pdfium, source);
  try {
    return use(pdf.doc);
  } finally {
    pdf.close();
  }
}

/**
 * Each page's size, without loading a page: what the API checks before accepting a PDF. Loading
 * parses the cross-reference (PDFium rebuilds a broken one, as readers do) and the page tree.
 */
export function pdfPageSizes(pdfium: Pdfium, source: PdfSource, maxPages: number): PdfPageSize[] {
  return withDocument(pdfium, source, (doc) => {
    const count = pdfium.FPDF_GetPageCount(doc);
    if (count < 1) throw new ImageError("damaged", "The PDF has no pages.");
    if (count > maxPages)
      throw new ImageError("too-many-pages", `The PDF has ${count} pages; at most ${maxPages} are accepted.`);
    const heap = memory(pdfium);
    const size = heap.malloc(8);
    try {
      return Array.from({ length: count }, (_, index) => {
        if (!pdfium.FPDF_GetPageSizeByIndexF(doc, index, size)) {
          throw new ImageError("damaged", `Page ${index + 1} of the PDF cannot be read.`);
        }
        return { width: heap.f32[size >> 2], height: heap.f32[(size >> 2) + 1] };
      });
    } finally {
      heap.free(size);
    }
  });
}

/**
 * Renders page `index` (from 0) of an open document: a scan at its image's resolution, anything
 * else at `dpi`; `bandBytes` at most of it at once.
 */
export function renderPdfPage(
  pdfium: Pdfium,
  doc: number,
  index: number,
  { dpi, maxInputPixels, bandBytes = BAND_BYTES }: { dpi: number; maxInputPixels: number; bandBytes?: number },
): RenderedPage {
  const page = pdfium.FPDF_LoadPage(doc, index);
  if (!page) throw new ImageError("damaged", `Page ${index + 1} of the PDF cannot be read.`);
  const heap = memory(pdfium);
  try {
    const widthPt = pdfium.FPDF_GetPageWidthF(page);
    const heightPt = pdfium.FPDF_GetPageHeightF(page);
    const scale = Math.max(MIN_DPI / 72, scanScale(pdfium, page, widthPt * heightPt) ?? dpi / 72);
    const width = Math.max(1, Math.round(widthPt * scale));
    const height = Math.max(1, Math.round(heightPt * scale));
    if (width * height > maxInputPixels) {
      throw new ImageError(
        "too-many-pixels",
        `Page ${index + 1} of the PDF is ${width}×${height} pixels at ${Math.round(scale * 72)} dpi; at most ${maxInputPixels} pixels a page are accepted.`,
      );
    }
    // In bands: PDFium's memory holds one band's bitmap, not the page's (26 MB at 300-dpi A4,
    // in every render thread, for good: WebAssembly memory never shrinks); the page is drawn
    // whole into each band, clipped, so the pixels are the same.
    const stride = width * 3;
    const bandRows = Math.max(1, Math.min(height, Math.floor(bandBytes / stride)));
    const band = heap.malloc(stride * bandRows);
    if (!band) throw new ImageError("too-many-pixels", `Page ${index + 1} of the PDF is too large to render.`);
    try {
      const rgb = new Uint8Array(stride * height);
      for (let top = 0; top < height; top += bandRows) {
        const rows = Math.min(bandRows, height - top);
        const bitmap = pdfium.FPDFBitmap_CreateEx(width, rows, BITMAP_BGR, band, stride);
        pdfium.FPDFBitmap_FillRect(bitmap, 0, 0, width, rows, 0xffffffff);
        pdfium.FPDF_RenderPageBitmap(bitmap, page, 0, -top, width, height, 0, RENDER_ANNOTATIONS | RENDER_RGB_ORDER);
        pdfium.FPDFBitmap_Destroy(bitmap);
        rgb.set(heap.u8.subarray(band, band + stride * rows), top * stride);
      }
      const rendered = Math.round(scale * 72 * 100) / 100;
      return { rgb, width, height, dpi: rendered };
    } finally {
      heap.free(band);
    }
  } finally {
    pdfium.FPDF_ClosePage(page);
  }
}

/**
 * Pixels per point of the one image that covers the page, when the page is a scan; undefined
 * otherwise. Other objects may be there too (an OCR layer's invisible text, a stamp).
 */
function scanScale(pdfium: Pdfium, page: number, pageArea: number): number | undefined {
  const heap = memory(pdfium);
  const scratch = heap.malloc(16);
  try {
    let found: number | undefined;
    const count = pdfium.FPDFPage_CountObjects(page);
    for (let n = 0; n < count; n++) {
      const object = pdfium.FPDFPage_GetObject(page, n);
      if (pdfium.FPDFPageObj_GetType(object) !== PAGE_OBJECT_IMAGE) continue;
      if (!pdfium.FPDFPageObj_GetBounds(object, scratch, scratch + 4, scratch + 8, scratch + 12)) continue;
      const [left, bottom, right, top] = heap.f32.subarray(scratch >> 2, (scratch >> 2) + 4);
      if ((right - left) * (top - bottom) < SCAN_COVERAGE * pageArea) continue;
      if (found !== undefined) return undefined; // two page-sized images: a composition, not a scan
      if (!pdfium.FPDFImageObj_GetImagePixelSize(object, scratch, scratch + 4)) continue;
      const pixels = heap.u32[scratch >> 2] * heap.u32[(scratch >> 2) + 1];
      // Pixels per point whichever way the image is turned on the page.
      found = Math.sqrt(pixels / ((right - left) * (top - bottom)));
    }
    return found;
  } finally {
    heap.free(scratch);
  }
}
