// Where an image's objects live and the metadata they carry. Keys come from the id alone,
// never from a user's filename, so no upload can choose or escape its key.

import { z } from "zod";
import {
  type BordersReport,
  bordersReportSchema,
  type OutputFormat,
  type SkewReport,
  skewReportSchema,
} from "./messages.ts";

/** An original's extension: an image's, or a document's (TIFF, PDF). */
export type ImageExtension = "png" | "jpg" | "webp" | "tif" | "pdf";

export function inputKey(id: string, extension: ImageExtension): string {
  return `${id}.${extension}`;
}

const EXTENSIONS: ImageExtension[] = ["png", "jpg", "webp", "tif", "pdf"];

/** Whether `key` is the input object of image `id` (a message may name no other). */
export function isInputKeyOf(id: string, key: string): boolean {
  return EXTENSIONS.some((extension) => key === inputKey(id, extension));
}

/** Prefix that finds an image's input object whatever its extension. */
export function inputKeyPrefix(id: string): string {
  return `${id}.`;
}

export function outputKey(id: string): string {
  return `${id}.png`;
}

const FORMAT_FILES = {
  png: { extension: "png", contentType: "image/png" },
  tiff: { extension: "tif", contentType: "image/tiff" },
  pdf: { extension: "pdf", contentType: "application/pdf" },
} as const satisfies Record<OutputFormat, { extension: string; contentType: string }>;

/**
 * What a document's result is stored as, and under which key: the upload's own beside an
 * image's (a PNG one's is an image's own), a rendition's under renditions/<id>/.
 */
export function documentOutput(
  id: string,
  format: OutputFormat,
  rendition?: string,
): { key: string; contentType: string; extension: string } {
  const { extension, contentType } = FORMAT_FILES[format];
  const stem = rendition ? `${renditionsPrefix(id)}${rendition}` : id;
  return { key: `${stem}.${extension}`, contentType, extension };
}

/**
 * Which processing of a document: its upload's own (undefined), or one request for one of its
 * renditions. Each request's pages are its own, so that asking again after a failure starts
 * from no pages rather than from the failed ones.
 */
export type DocumentRun = { rendition: string; requestedAt: string } | undefined;

// A document's pages, in the output bucket: each page's bitonal PNG (for viewing, and the mark
// that the page is done), its G4 stream (what assembly places in the TIFF or PDF), a preview of
// the page as it was uploaded (to view beside the result) and, for a page that failed, its
// failure record.
const DOCUMENTS_PREFIX = "documents/";

export function documentPrefix(id: string): string {
  return `${DOCUMENTS_PREFIX}${id}/`;
}

export function pagesPrefix(id: string, run?: DocumentRun): string {
  const of = run ? `renditions/${run.rendition}/${Date.parse(run.requestedAt)}/` : "";
  return `${documentPrefix(id)}${of}pages/`;
}

export function pageKeys(
  id: string,
  page: number,
  run?: DocumentRun,
): { png: string; g4: string; failure: string; preview: string } {
  const stem = `${pagesPrefix(id, run)}${String(page).padStart(5, "0")}`;
  return { png: `${stem}.png`, g4: `${stem}.g4`, failure: `${stem}.failed.json`, preview: `${stem}.original.jpg` };
}

/** The page a key under pagesPrefix(id, run) belongs to, and what it is; undefined for other keys. */
export function pageOfKey(
  id: string,
  key: string,
  run?: DocumentRun,
): { page: number; kind: "png" | "g4" | "failure" | "preview" } | undefined {
  const prefix = pagesPrefix(id, run);
  const match = /^(\d{5})\.(png|g4|failed\.json|original\.jpg)$/.exec(key.slice(prefix.length));
  if (!key.startsWith(prefix) || !match) return undefined;
  const kinds = { png: "png", g4: "g4", "failed.json": "failure", "original.jpg": "preview" } as const;
  return { page: Number(match[1]), kind: kinds[match[2] as keyof typeof kinds] };
}

// Renditions (another method applied to a stored original) live under renditions/<id>/ in both
// buckets: the request record in the input bucket (written by the API: "queued"), the result
// or failure record in the output bucket (written by the worker). An upload's own result keeps
// its key above, so objects stored before renditions existed read as they always did.
const RENDITIONS_PREFIX = "renditions/";

export function renditionsPrefix(id: string): string {
  return `${RENDITIONS_PREFIX}${id}/`;
}

export function renditionRequestKey(id: string, rendition: string): string {
  return `${renditionsPrefix(id)}${rendition}.json`;
}

/** Whether a key under renditionsPrefix(id) in the input bucket is a request record (not a slot). */
export function isRenditionRequestKey(key: string): boolean {
  return key.endsWith(".json");
}

/**
 * The claim on one of an image's rendition slots (n < the cap): created only if absent (an S3
 * conditional write), so however many requests race, no two hold one slot and no more exist.
 */
export function renditionSlotKey(id: string, slot: number): string {
  return `${renditionsPrefix(id)}slot-${String(slot).padStart(2, "0")}.claim`;
}

/** The rendition named at the end of a key under renditionsPrefix(id) (`…/<name>.<suffix>`). */
export function renditionOfKey(id: string, key: string): string {
  return key.slice(renditionsPrefix(id).length).split(".")[0];
}

/** Where the worker stores a processing's result and its failure record: the upload's own, or a rendition's. */
export function resultKeys(id: string, rendition?: string): { output: string; failure: string } {
  return rendition
    ? { output: `${renditionsPrefix(id)}${rendition}.png`, failure: `${renditionsPrefix(id)}${rendition}.failed.json` }
    : { output: outputKey(id), failure: failureKey(id) };
}

// Newest-first listing: S3 lists keys in ascending order only, so each upload also writes an
// empty marker whose key counts down with time. A page is one ascending list after a cursor,
// and images uploaded meanwhile sort before the cursor, so pages never shift.
const INDEX_PREFIX = "index/";
const MAX_TIME_MS = 9_999_999_999_999;

export function indexKey(id: string, uploadedAtMs: number): string {
  return `${INDEX_PREFIX}${String(MAX_TIME_MS - uploadedAtMs).padStart(13, "0")}-${id}`;
}

export function indexPrefix(): string {
  return INDEX_PREFIX;
}

/** The image id at the end of an index key. */
export function idFromIndexKey(key: string): string {
  return key.slice(INDEX_PREFIX.length + 14);
}

/** The worker's record of a deterministic failure, read by the status API. */
export function failureKey(id: string): string {
  return `failed/${id}.json`;
}

/**
 * S3 user metadata travels as HTTP headers (ASCII only), so every value is URI-encoded on the
 * way in and decoded on the way out. Keys are lower-case because S3 lower-cases them anyway.
 */
export function encodeMetadata(values: Record<string, string | number | undefined>): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    if (value !== undefined) metadata[key.toLowerCase()] = encodeURIComponent(String(value));
  }
  return metadata;
}

/**
 * A result's geometry (what deskew found and did, the frame found) as one metadata value: the
 * status and a republished completion read it back from there.
 */
export function geometryMetadata(result: { skew?: SkewReport; borders?: BordersReport }): string | undefined {
  if (!result.skew && !result.borders) return undefined;
  return JSON.stringify({ skew: result.skew, borders: result.borders });
}

/** The geometry geometryMetadata() wrote; nothing where there is none or it does not parse. */
export function readGeometry(metadata: Record<string, string>): { skew?: SkewReport; borders?: BordersReport } {
  const parsed = storedGeometrySchema.safeParse(safeJson(metadata.geometry));
  return parsed.success ? parsed.data : {};
}

const storedGeometrySchema = z.object({ skew: skewReportSchema.optional(), borders: bordersReportSchema.optional() });

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function decodeMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    try {
      values[key] = decodeURIComponent(value);
    } catch {
      values[key] = value; // written by someone else, unencoded: keep it as it is
    }
  }
  return values;
}
