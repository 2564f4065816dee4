// Bulk upload through the HTTP API: find the images, upload them with bounded concurrency,
// remember what was uploaded by content hash, optionally wait for the results and download
// them. The CLI (scripts/upload.ts) only parses arguments and prints.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, relative, resolve } from "node:path";
import { forEachInParallel } from "./in-parallel.ts";

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".pdf"]);
// What each result type is saved as.
const EXTENSION_OF_TYPE: Record<string, string> = {
  "image/png": ".png",
  "image/tiff": ".tif",
  "application/pdf": ".pdf",
};
const POLL_MS = { first: 250, max: 3000 };

export interface BulkUploadOptions {
  paths: string[];
  baseUrl: string;
  token: string | undefined;
  concurrency: number;
  method: string | undefined;
  threshold: number | undefined;
  /** png, tiff or pdf; unset: the API's default for the file (PNG for an image, TIFF or PDF for a document). */
  format?: string | undefined;
  /** What a PDF page that is not a scan is rendered at; unset: the API's 300. */
  dpi?: number | undefined;
  /** auto or off; unset: the API's default (auto). */
  deskew?: string | undefined;
  /** keep, clean or crop; unset: the API's default (clean). */
  borders?: string | undefined;
  wait: boolean;
  outDir: string | undefined;
  manifestPath: string;
  waitTimeoutMs: number;
}

export interface FileOutcome {
  file: string;
  id?: string;
  /** new: uploaded by this run; known: skipped, uploaded before (same content); refused: by the API. */
  upload: "new" | "known" | "refused";
  /** With --wait: how the image ended. */
  result?: "done" | "failed";
  reason?: string;
  output?: string;
  /** With --wait, once done: what was done to the page's geometry, in words. */
  geometry?: string;
}

export type Progress = (stage: "upload" | "wait", done: number, total: number) => void;

type Manifest = Record<string, { id: string; file: string; uploadedAt: string }>;

/** Image files under the given paths: folders are walked, files named directly are taken as they are. */
export async function findImages(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) {
    const info = await stat(path);
    if (info.isFile()) {
      found.push(resolve(path));
      continue;
    }
    const entries = await readdir(path, { withFileTypes: true, recursive: true });
    for (const entry of entries) {
      if (entry.isFile() && IMAGE_EXTENSIONS.has(extname(entry.name).toLowerCase())) {
        found.push(resolve(entry.parentPath, entry.name));
      }
    }
  }
  return [...new Set(found)].sort();
}

export async function bulkUpload(options: BulkUploadOptions, progress: Progress): Promise<FileOutcome[]> {
  const files = await findImages(options.paths);
  const manifest = await readManifest(options.manifestPath);
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  const outcomes: FileOutcome[] = [];

  // One write at a time: uploads finish concurrently, and two writes of one file would interleave.
  let saving = Promise.resolve();
  const save = () => {
    saving = saving.then(() => writeManifest(options.manifestPath, manifest));
    return saving;
  };

  let uploaded = 0;
  await forEachInParallel(files.length, options.concurrency, async (index) => {
    const file = files[index];
    const bytes = await readFile(file);
    // The server is part of the key: the same file sent to another deployment is new there.
    const key = `${options.baseUrl} ${createHash("sha256").update(bytes).digest("hex")}`;
    const known = manifest[key];
    if (known) {
      outcomes.push({ file, id: known.id, upload: "known" });
    } else {
      outcomes.push(await uploadOne(file, bytes, key, manifest, options, headers));
      // Saved after every upload, so that an interrupted run still skips what it sent.
      await save();
    }
    progress("upload", ++uploaded, files.length);
  });

  if (options.wait) {
    const waiting = outcomes.filter((o) => o.upload !== "refused");
    let settled = 0;
    await forEachInParallel(waiting.length, options.concurrency, async (index) => {
      await waitAndDownload(waiting[index], options, headers);
      progress("wait", ++settled, waiting.length);
    });
  }
  return outcomes.sort((a, b) => a.file.localeCompare(b.file));
}

async function uploadOne(
  file: string,
  bytes: Buffer,
  key: string,
  manifest: Manifest,
  options: BulkUploadOptions,
  headers: Record<string, string>,
): Promise<FileOutcome> {
  const form = new FormData();
  form.set("image", new File([new Uint8Array(bytes)], basename(file)));
  if (options.method) form.set("method", options.method);
  if (options.threshold !== undefined) form.set("threshold", String(options.threshold));
  if (options.format) form.set("format", options.format);
  if (options.dpi !== undefined) form.set("dpi", String(options.dpi));
  if (options.deskew !== undefined) form.set("deskew", options.deskew);
  if (options.borders !== undefined) form.set("borders", options.borders);
  let response: Response;
  try {
    response = await fetch(`${options.baseUrl}/api/images`, { method: "POST", body: form, headers });
  } catch (error) {
    return { file, upload: "refused", reason: `cannot reach ${options.baseUrl}: ${(error as Error).message}` };
  }
  const body = await response.json().catch(() => ({}));
  if (response.status !== 202) {
    return { file, upload: "refused", reason: `HTTP ${response.status}: ${body.detail ?? response.statusText}` };
  }
  manifest[key] = { id: body.id, file, uploadedAt: new Date().toISOString() };
  return { file, id: body.id, upload: "new" };
}

interface GeometryStatus {
  skew?: { angle: number | null; confidence: number; rotated: number; reason?: string } | null;
  borders?: { top: number; right: number; bottom: number; left: number; action: string } | null;
  document?: { pages: number; pagesDeskewed?: number | null; pagesFramed?: number | null };
}

/** "deskewed by 2.3° (found 2.3°, confidence 0.92); border cleaned at 41/0/38/12 px", or a document's counts. */
export function describeGeometry({ skew, borders, document }: GeometryStatus): string {
  if (document) {
    const turned = document.pagesDeskewed ?? 0;
    const framed = document.pagesFramed ?? 0;
    return `${turned} of ${document.pages} pages deskewed; a frame on ${framed}`;
  }
  const parts: string[] = [];
  if (skew) {
    if (skew.angle === null) parts.push(`no skew found (${skew.reason ?? "nothing to measure"})`);
    else if (skew.rotated === 0) parts.push(`level (${skew.angle}° found, confidence ${skew.confidence})`);
    else parts.push(`deskewed by ${-skew.rotated}° (found ${skew.angle}°, confidence ${skew.confidence})`);
  }
  if (borders) {
    const { top, right, bottom, left, action } = borders;
    parts.push(
      top + right + bottom + left === 0
        ? "no frame found"
        : `border ${action === "crop" ? "cut away" : "cleaned"} at ${top}/${right}/${bottom}/${left} px`,
    );
  }
  return parts.join("; ") || "geometry as uploaded";
}

async function waitAndDownload(
  outcome: FileOutcome,
  options: BulkUploadOptions,
  headers: Record<string, string>,
): Promise<void> {
  const deadline = Date.now() + options.waitTimeoutMs;
  let delay = POLL_MS.first;
  for (;;) {
    const response = await fetch(`${options.baseUrl}/api/images/${outcome.id}`, { headers }).catch(() => undefined);
    const status = response?.ok ? await response.json() : undefined;
    if (status?.status === "failed") {
      Object.assign(outcome, { result: "failed", reason: status.error?.message ?? "failed" });
      return;
    }
    if (status?.status === "done") {
      outcome.geometry = describeGeometry(status);
      break;
    }
    if (Date.now() > deadline) {
      Object.assign(outcome, { result: "failed", reason: `not done within ${options.waitTimeoutMs / 1000} s` });
      return;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, POLL_MS.max);
  }
  outcome.result = "done";
  if (!options.outDir) return;
  const response = await fetch(`${options.baseUrl}/api/images/${outcome.id}/processed`, { headers });
  if (!response.ok) {
    Object.assign(outcome, { result: "failed", reason: `download answered HTTP ${response.status}` });
    return;
  }
  const output = outputPathFor(outcome.file, options, EXTENSION_OF_TYPE[response.headers.get("content-type") ?? ""]);
  await mkdir(dirname(output), { recursive: true });
  await writeFile(output, new Uint8Array(await response.arrayBuffer()));
  outcome.output = output;
}

export interface DeleteOutcome {
  deleted: string[];
  failed: { file: string; reason: string }[];
}

/**
 * Deletes from the server every image this manifest says was uploaded to it, and forgets them
 * (a later upload of the same files sends them again). Files of other servers are kept.
 */
export async function bulkDelete(
  options: Pick<BulkUploadOptions, "baseUrl" | "token" | "concurrency" | "manifestPath">,
): Promise<DeleteOutcome> {
  const manifest = await readManifest(options.manifestPath);
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  const ours = Object.entries(manifest).filter(([key]) => key.startsWith(`${options.baseUrl} `));
  const outcome: DeleteOutcome = { deleted: [], failed: [] };
  await forEachInParallel(ours.length, options.concurrency, async (index) => {
    const [key, { id, file }] = ours[index];
    const response = await fetch(`${options.baseUrl}/api/images/${id}`, { method: "DELETE", headers }).catch(
      (error: Error) => error,
    );
    if (response instanceof Response && response.status === 204) {
      delete manifest[key];
      outcome.deleted.push(file);
    } else {
      const reason = response instanceof Response ? `HTTP ${response.status}` : response.message;
      outcome.failed.push({ file, reason });
    }
  });
  await writeManifest(options.manifestPath, manifest);
  return outcome;
}

/** DIR/<path below the folder given>/<name>.png (or .tif, .pdf), so that same-named files in subfolders never collide. */
function outputPathFor(file: string, options: BulkUploadOptions, extension = ".png"): string {
  const root = options.paths.map((p) => resolve(p)).find((p) => file.startsWith(`${p}/`));
  const below = root ? relative(root, file) : basename(file);
  return join(options.outDir as string, `${below.slice(0, below.length - extname(below).length)}${extension}`);
}

async function readManifest(path: string): Promise<Manifest> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new Error(`cannot read the upload manifest ${path}: ${(error as Error).message}`);
  }
}

async function writeManifest(path: string, manifest: Manifest): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(manifest, null, 2)}\n`);
}
