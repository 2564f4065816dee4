// Where an upload's bytes wait while they are validated and stored: in memory while they may be
// an image (MAX_UPLOAD_BYTES at most), in a temporary file once the first bytes say document
// (up to MAX_DOCUMENT_BYTES), so that the API never holds a 100 MiB scan in its memory.
import { randomUUID } from "node:crypto";
import { closeSync, createReadStream, createWriteStream, openSync, readSync, type WriteStream } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { AppError } from "./errors.ts";
import { fileSizeLimit, type UploadLimits } from "./upload-limits.ts";

const SPOOL_FILE_PREFIX = "bitonal-upload-";
// A spooled file lives as long as its request: Node ends a request that has not arrived whole in
// 5 minutes (http's requestTimeout), and storing it is bounded by the SDK's retries. One older
// than this belongs to no live request of any API on this disk.
const STALE_SPOOL_FILE_MS = 60 * 60 * 1000;

/** An upload received whole: its bytes in memory, or in a file only this request knows. */
export interface SpooledUpload {
  size: number;
  /** The bytes, when they are held in memory (an image's are). */
  bytes: Uint8Array | undefined;
  /** The file the bytes are in, when they are not in memory. */
  path: string | undefined;
  /** `length` bytes from `at` (fewer past the end), read synchronously: the TIFF walk's access. */
  read(at: number, length: number): Uint8Array;
  /** The bytes again, from the start, for storing: the buffer, or a new stream of the file. */
  body(): Uint8Array | Readable;
  /** Removes the file, if there is one. Never throws. */
  dispose(): Promise<void>;
}

export interface Spool {
  /**
   * Takes the next chunk from `source`; returns the limit the file has passed, if it has (and
   * then keeps nothing more). Pauses `source` while the disk is behind.
   */
  write(chunk: Buffer, source: Readable): number | undefined;
  /** Everything written, once it is on disk; a 503 if the disk refused it (nothing is left). */
  finish(): Promise<SpooledUpload>;
  /** Drops what was written (a refused or broken upload). Never throws. */
  discard(): Promise<void>;
}

/** A spool for one file, kept in `dir` once it is a document's. */
export function createSpool(limits: UploadLimits, dir: string): Spool {
  const limit = fileSizeLimit(limits);
  const chunks: Buffer[] = [];
  let size = 0;
  let file: { path: string; out: WriteStream; failed: Error | undefined } | undefined;

  const toDisk = () => {
    const path = join(dir, `${SPOOL_FILE_PREFIX}${randomUUID()}`);
    const out = createWriteStream(path, { flags: "wx", mode: 0o600 });
    file = { path, out, failed: undefined };
    const opened = file;
    out.on("error", (error) => {
      opened.failed = error;
    });
    for (const chunk of chunks.splice(0)) out.write(chunk);
  };
  const removeFile = async () => {
    if (!file) return;
    const { path, out } = file;
    if (!out.closed) {
      const closed = new Promise<void>((resolve) => out.once("close", () => resolve()));
      out.destroy();
      await closed;
    }
    await rm(path, { force: true }).catch(() => {});
  };

  return {
    write(chunk, source) {
      const exceeded = limit.after(chunk);
      if (exceeded !== undefined) return exceeded;
      size += chunk.length;
      if (file) {
        if (!file.out.write(chunk)) {
          source.pause();
          file.out.once("drain", () => source.resume());
        }
        return undefined;
      }
      chunks.push(chunk);
      if (limit.isDocument()) toDisk();
      return undefined;
    },

    async finish() {
      if (!file) return inMemory(Buffer.concat(chunks, size));
      const written = file;
      try {
        await new Promise<void>((resolve, reject) => {
          if (written.failed) return reject(written.failed);
          // `on`, never `once`: a stream may fail more than once (see multipart.ts); the first
          // error settles this, the later ones are dropped here.
          written.out.on("error", reject);
          written.out.end(resolve);
        });
      } catch (error) {
        await removeFile();
        throw new AppError("service-unavailable", "The upload could not be held for checking; try again.", {
          cause: error,
        });
      }
      return onDisk(written.path, size);
    },

    discard: removeFile,
  };
}

/**
 * Removes the spool files an API killed mid-upload left behind (a crash, a SIGKILL, a power
 * cut: no `finally` ran), those old enough to belong to no live request. Returns how many.
 */
export async function sweepStaleSpoolFiles(dir: string, now = Date.now()): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(SPOOL_FILE_PREFIX)) continue;
    const path = join(dir, name);
    const modified = await stat(path).then(
      (s) => s.mtimeMs,
      () => now,
    );
    if (now - modified < STALE_SPOOL_FILE_MS) continue;
    await rm(path, { force: true }).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}

function inMemory(bytes: Buffer): SpooledUpload {
  return {
    size: bytes.length,
    bytes,
    path: undefined,
    read: (at, length) => bytes.subarray(at, at + length),
    body: () => bytes,
    dispose: async () => {},
  };
}

function onDisk(path: string, size: number): SpooledUpload {
  const read = (at: number, length: number) => {
    const wanted = Math.max(0, Math.min(length, size - at));
    const buffer = Buffer.alloc(wanted);
    if (wanted === 0) return buffer;
    const fd = openSync(path, "r");
    try {
      return buffer.subarray(0, readSync(fd, buffer, 0, wanted, at));
    } finally {
      closeSync(fd);
    }
  };
  return {
    size,
    bytes: undefined,
    path,
    read,
    body: () => createReadStream(path),
    dispose: () => rm(path, { force: true }).catch(() => {}),
  };
}
