// The thread PDFium runs on (see pdf-renderer.ts): one request at a time, answered by message.
// A page that loops or exhausts memory takes only this thread down, which its host then ends.
import { readFileSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { init } from "@embedpdf/pdfium";
import { ImageError, type ImageErrorCode } from "../errors.ts";
import { type OpenPdf, openPdf, type PdfSource, pdfPageSizes, renderPdfPage } from "./pdf-pages.ts";

/**
 * A render names its document: the thread keeps the last one open for the pages after it, and
 * its bytes are sent only when the thread does not hold it already (a 100 MiB scan is copied
 * into PDFium once, not once a page).
 */
export type PdfTask =
  | { task: "sizes"; source: PdfSource; maxPages: number }
  | {
      task: "render";
      document: string;
      bytes: Uint8Array | undefined;
      index: number;
      dpi: number;
      maxInputPixels: number;
    };
type PdfRequest = PdfTask & { id: number };

export type PdfAnswer =
  | { id: number; ok: true; value: unknown; heapBytes: number; held: string | undefined }
  | {
      id: number;
      ok: false;
      problem?: { code: ImageErrorCode; message: string };
      message: string;
      heapBytes: number;
      held: string | undefined;
    };

const wasmBinary = readFileSync(new URL(import.meta.resolve("@embedpdf/pdfium/pdfium.wasm")));
const { maxHeapBytes } = workerData as { maxHeapBytes: number };
type Imports = { env: Record<string, unknown> };
// PDFium's memory grows through one import; refused past the cap, an allocation fails inside
// PDFium, which then stops (abort) instead of taking the machine's memory: a deflate bomb in a
// content stream measured 2.2 GB of RSS and 4.6 s before this cap.
const pdfium = await init({
  // PDFium's own messages (an abort's) are said by the renderer's error instead.
  print: () => {},
  printErr: () => {},
  instantiateWasm(imports: Imports, receive: (instance: WebAssembly.Instance) => void) {
    const grow = imports.env.emscripten_resize_heap as (bytes: number) => number;
    imports.env.emscripten_resize_heap = (bytes: number) => (bytes >>> 0 > maxHeapBytes ? 0 : grow(bytes));
    void WebAssembly.instantiate(wasmBinary, imports as WebAssembly.Imports).then(({ instance }) => receive(instance));
    return {};
  },
} as unknown as Parameters<typeof init>[0]);
pdfium.FPDF_InitLibraryWithConfig(0);
const port = parentPort;
if (!port) throw new Error("pdf-thread.ts runs as a worker thread");

let held: { document: string; pdf: OpenPdf } | undefined;

function heldDocument(request: Extract<PdfRequest, { task: "render" }>): OpenPdf {
  if (request.bytes) {
    held?.pdf.close();
    held = undefined;
    held = { document: request.document, pdf: openPdf(pdfium, request.bytes) };
  }
  if (held?.document !== request.document) throw new Error(`document ${request.document} is not open here`);
  return held.pdf;
}

port.on("message", (request: PdfRequest) => {
  const heapBytes = () => (pdfium.pdfium as unknown as { HEAPU8: Uint8Array }).HEAPU8.length;
  try {
    const value =
      request.task === "sizes"
        ? pdfPageSizes(pdfium, request.source, request.maxPages)
        : renderPdfPage(pdfium, heldDocument(request).doc, request.index, request);
    const transfer = request.task === "render" ? [(value as { rgb: Uint8Array }).rgb.buffer as ArrayBuffer] : [];
    port.postMessage(
      { id: request.id, ok: true, value, heapBytes: heapBytes(), held: held?.document } satisfies PdfAnswer,
      transfer,
    );
  } catch (error) {
    const problem = error instanceof ImageError ? { code: error.code, message: error.message } : undefined;
    port.postMessage({
      id: request.id,
      ok: false,
      problem,
      message: (error as Error).message ?? String(error),
      heapBytes: heapBytes(),
      held: held?.document,
    } satisfies PdfAnswer);
  }
});
port.postMessage({ ready: true });
