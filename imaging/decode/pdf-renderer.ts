// Runs PDFium where a hostile PDF cannot stall or crash its caller: on worker threads, each
// request with a deadline, each thread's WebAssembly memory capped at `maxHeapBytes`. A thread
// that passes its deadline is ended (terminate() stops even a loop inside WebAssembly) and a new
// one started for the next request; so is one whose PDFium stopped (out of its memory, or any
// other abort), and one whose memory has grown past half its cap (it never shrinks).
import { Worker } from "node:worker_threads";
import { ImageError } from "../errors.ts";
import type { PdfPageSize, PdfSource, RenderedPage } from "./pdf-pages.ts";
import type { PdfAnswer, PdfTask } from "./pdf-thread.ts";

export interface PdfRenderer {
  /**
   * Each page's size in points; refuses (ImageError) encrypted, damaged and over-long PDFs. A
   * file is read where it lies, only the blocks PDFium needs.
   */
  pageSizes(source: PdfSource, limits: { maxPages: number }): Promise<PdfPageSize[]>;
  /**
   * Page `index` (from 0) as RGB pixels: a scan at its own resolution, anything else at `dpi`.
   * `document` names the bytes (they never change under one name): a thread that rendered a
   * page of it keeps it open, and its next page goes to that thread without the bytes.
   */
  renderPage(
    bytes: Uint8Array,
    index: number,
    options: { dpi: number; maxInputPixels: number; document?: string },
  ): Promise<RenderedPage>;
  close(): Promise<void>;
}

export interface PdfRendererOptions {
  /** Requests run at once, one thread each. */
  threads?: number;
  timeoutMs?: number;
  /** A thread's WebAssembly memory at most (PDFium's own limit is 2 GiB). */
  maxHeapBytes?: number;
  /** The thread's script: PDFium's (./pdf-thread.ts) unless a test needs one that misbehaves. */
  thread?: URL;
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };
interface Slot {
  worker: Worker | undefined;
  ready: Promise<Worker> | undefined;
  busy: boolean;
  /** The document the thread holds open. */
  held: string | undefined;
  /** The request it is answering. */
  current?: number;
}

export function createPdfRenderer({
  threads = 1,
  timeoutMs = 60_000,
  maxHeapBytes = 512 * 1024 * 1024,
  thread = new URL("./pdf-thread.ts", import.meta.url),
}: PdfRendererOptions = {}): PdfRenderer {
  const slots: Slot[] = Array.from({ length: threads }, () => ({
    worker: undefined,
    ready: undefined,
    busy: false,
    held: undefined,
  }));
  const waiting: Array<(slot: Slot) => void> = [];
  let unnamed = 0;
  const pending = new Map<number, Pending>();
  let nextId = 1;

  const start = (slot: Slot): Promise<Worker> => {
    slot.ready ??= new Promise<Worker>((resolve, reject) => {
      const worker = new Worker(thread, { workerData: { maxHeapBytes } });
      worker.unref();
      slot.worker = worker;
      worker.once("message", () => resolve(worker));
      // A thread that ends of itself (not by stop()) answers nothing more: what it was asked
      // fails now rather than at its deadline, and the next request starts a new thread.
      worker.once("exit", () => {
        if (slot.worker !== worker) return;
        const why = new ImageError("undecodable", "The PDF could not be rendered (its renderer stopped).");
        reject(why);
        slot.worker = undefined;
        slot.ready = undefined;
        slot.held = undefined;
        const request = slot.current === undefined ? undefined : pending.get(slot.current);
        if (request && slot.current !== undefined) {
          pending.delete(slot.current);
          clearTimeout(request.timer);
          request.reject(why);
        }
      });
      worker.on("message", (answer: PdfAnswer | { ready: true }) => {
        if (!("id" in answer)) return;
        const request = pending.get(answer.id);
        if (!request) return;
        pending.delete(answer.id);
        clearTimeout(request.timer);
        slot.held = answer.held;
        if (answer.heapBytes > (maxHeapBytes * 3) / 4 || (!answer.ok && !answer.problem)) stop(slot);
        if (answer.ok) request.resolve(answer.value);
        else if (answer.problem) request.reject(new ImageError(answer.problem.code, answer.problem.message));
        else {
          const why = /abort/i.test(answer.message) ? "it needs more memory than a page may have" : answer.message;
          request.reject(new ImageError("undecodable", `The PDF could not be rendered (${why}).`));
        }
      });
      // An uncaught error ends the thread: "exit" follows and cleans up.
      worker.once("error", reject);
    });
    return slot.ready;
  };
  const stop = (slot: Slot) => {
    const worker = slot.worker;
    slot.worker = undefined;
    slot.ready = undefined;
    slot.held = undefined;
    void worker?.terminate();
  };
  // A free thread that holds the document, else any free one.
  const take = (document?: string): Promise<Slot> => {
    const free = slots.find((slot) => !slot.busy && slot.held === document) ?? slots.find((slot) => !slot.busy);
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

  async function run<T>(task: PdfTask, what: string): Promise<T> {
    const slot = await take(task.task === "render" ? task.document : undefined);
    const id = nextId++;
    try {
      // The deadline runs from here, so that it covers a thread's start (PDFium's WebAssembly
      // compiled on it) as well as the answer: neither may hang the caller.
      return await new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          stop(slot);
          reject(new ImageError("render-timeout", `${what} took longer than ${timeoutMs / 1000} s and was stopped.`));
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        slot.current = id;
        start(slot).then(
          (worker) => {
            if (!pending.has(id)) return;
            const request =
              task.task === "render" && slot.held === task.document ? { ...task, bytes: undefined } : task;
            worker.postMessage({ ...request, id });
          },
          (error: Error) => {
            if (!pending.delete(id)) return;
            clearTimeout(timer);
            reject(error);
          },
        );
      });
    } finally {
      slot.current = undefined;
      give(slot);
    }
  }

  return {
    pageSizes: (source, { maxPages }) => run({ task: "sizes", source, maxPages }, "Reading the PDF's pages"),
    renderPage: (bytes, index, { document, ...options }) =>
      run(
        { task: "render", document: document ?? `unnamed-${unnamed++}`, bytes, index, ...options },
        `Rendering page ${index + 1} of the PDF`,
      ),
    async close() {
      for (const slot of slots) stop(slot);
    },
  };
}
