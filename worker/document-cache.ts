// The originals of the documents a worker is working through, kept for their next pages: each
// page job needs its whole document (a PDF's objects are anywhere in it), and a 40-page scan
// read from S3 once a page is 40 downloads of the whole file. Originals never change (an id is
// never reused); one deleted meanwhile is caught by the page job's check after its work.
import type { S3Client } from "@aws-sdk/client-s3";
import { readOriginal, type StoredOriginal } from "./job-objects.ts";

export interface DocumentCache {
  /** The original, from memory when a page of it was read lately; pages read at once share one download. */
  read(s3: S3Client, ref: { bucket: string; key: string }, maxBytes: number): Promise<StoredOriginal>;
}

/** Keeps the most recent documents up to `maxBytes` in all; one larger is read each time. */
export function createDocumentCache(maxBytes = 256 * 1024 * 1024): DocumentCache {
  const entries = new Map<string, { original: Promise<StoredOriginal>; bytes: number }>();
  const total = () => [...entries.values()].reduce((sum, entry) => sum + entry.bytes, 0);
  return {
    read(s3, ref, maxDocumentBytes) {
      const name = `${ref.bucket}/${ref.key}`;
      const kept = entries.get(name);
      if (kept) {
        // Most recent last: a Map iterates in insertion order.
        entries.delete(name);
        entries.set(name, kept);
        return kept.original;
      }
      const original = readOriginal(s3, ref, maxDocumentBytes);
      const entry = { original, bytes: 0 };
      entries.set(name, entry);
      original.then(
        ({ bytes }) => {
          entry.bytes = bytes.length;
          if (bytes.length > maxBytes) entries.delete(name);
          // Oldest first, until what is kept fits.
          for (const [other] of entries) {
            if (total() <= maxBytes) break;
            if (other !== name) entries.delete(other);
          }
        },
        () => entries.delete(name),
      );
      return original;
    },
  };
}
