// Runs PDFium where a hostile PDF cannot stall or crash its caller: on worker threads, each
// request with a deadline, each thread's WebAssembly memory capped at `maxHeapBytes`. A thread
// that passes its deadline is ended (terminate() stops even a loop inside WebAssembly) and a new
// one started for the next request; so is one whose PDFium stopped (out of its memory, or any
// other abort), and one whose memory has grown past half its cap (it never shrinks).
import { Worker } from "node:worker_threads";
import { ImageError } from "../errors.ts";
import type { PdfPageSize, RenderedPage } from "./pdf-pages.ts";
import type { PdfAnswer, PdfTask } from "./pdf-thread.ts";

export interface PdfRenderer {
  /** Each page's size in points; refuses (ImageError) encrypted, damaged and over-long PDFs. */
  pageSizes(bytes: Uint8Array, limits: { maxPages: number }): Promise<PdfPageSize[]>;
  /** Page `index` (from 0) as RGB pixels: a scan at its own resolution, anything else at `dpi`. */
  renderPage(bytes: Uint8Array, index: number, options: { dpi: number; maxInputPixels: number }): Promise<RenderedPage>;
  close(): Promise<void>;
}

export interface PdfRendererOptions {
  /** Requests run at once, one thread each. */
  threads?: number;
  timeoutMs?: number;
  /** A thread's WebAssembly memory at most (PDFium's own limit is 2 GiB). */
  maxHeapBytes?: number;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };
interface Slot {
  worker: Worker | undefined;
  ready: Promise<Worker> | undefined;
  busy: boolean;
}

export function createPdfRenderer({
  threads = 1,
  timeoutMs = 60_000,
  maxHeapBytes = 512 * 1024 * 1024,
}: PdfRendererOptions = {}): PdfRenderer {
  const slots: Slot[] = Array.from({ length: threads }, () => ({ worker: undefined, ready: undefined, busy: false }));
  const waiting: Array<(slot: Slot) => void> = [];
  const pending = new Map<number, Pending>();
  let nextId = 1;

  const start = (slot: Slot): Promise<Worker> => {
    slot.ready ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(new URL("./pdf-thread.ts", import.meta.url), { workerData: { maxHeapBytes } });
      worker.unref();
      slot.worker = worker;
      worker.once("message", () => resolve(worker));
      worker.on("message", (answer: PdfAnswer | { ready: true }) => {
        if (!("id" in answer)) return;
        const request = pending.get(answer.id);
        if (!request) return;
        pending.delete(answer.id);
        clearTimeout(request.timer);
        if (answer.heapBytes > maxHeapBytes / 2 || (!answer.ok && !answer.problem)) stop(slot);
        if (answer.ok) request.resolve(answer.value);
        else if (answer.problem) request.reject(new ImageError(answer.problem.code, answer.problem.message));
        else {
          const why = /abort/i.test(answer.message) ? "it needs more memory than a page may have" : answer.message;
          request.reject(new ImageError("undecodable", `The PDF could not be rendered (${why}).`));
        }
      });
      worker.once("error", (error) => {
        reject(error);
        stop(slot);
      });
    });
    return slot.ready;
  };
  const stop = (slot: Slot) => {
    const worker = slot.worker;
    slot.worker = undefined;
    slot.ready = undefined;
    void worker?.terminate();
  };
  const take = (): Promise<Slot> => {
    const free = slots.find((slot) => !slot.busy);
    if (free) {
      free.busy = true;
      return Promise.resolve(free);
    }
    return new Promise((resolve) => waiting.push(resolve));
  };
  const give = (slot: Slot) => {
    const next = waiting.shift();
    if (next) next(slot);
    else slot.busy = false;
  };

  async function run<T>(request: PdfTask, what: string): Promise<T> {
    const slot = await take();
    try {
      const worker = await start(slot);
      const id = nextId++;
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          stop(slot);
          reject(new ImageError("render-timeout", `${what} took longer than ${timeoutMs / 1000} s and was stopped.`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        worker.postMessage({ ...request, id });
      });
    } finally {
      give(slot);
    }
  }

  return {
    pageSizes: (bytes, { maxPages }) => run({ task: "sizes", bytes, maxPages }, "Reading the PDF's pages"),
    renderPage: (bytes, index, options) =>
      run({ task: "render", bytes, index, ...options }, `Rendering page ${index + 1} of the PDF`),
    async close() {
      for (const slot of slots) stop(slot);
    },
  };
}
