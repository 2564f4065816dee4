// Where an image's objects live and the metadata they carry. Keys come from the id alone,
// never from a user's filename, so no upload can choose or escape its key.

export type ImageExtension = "png" | "jpg" | "webp";

export function inputKey(id: string, extension: ImageExtension): string {
  return `${id}.${extension}`;
}

const EXTENSIONS: ImageExtension[] = ["png", "jpg", "webp"];

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
