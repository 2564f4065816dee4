// `npm start` with BITONAL_DATA_DIR: keeps every image on disk, because the embedded LocalStack
// keeps nothing across a restart (persistence is a paid LocalStack feature). As each job ends,
// its objects (original, listing marker, result or failure record) are copied into
// DATA_DIR/<id>/; the next start puts them all back; a stop forgets images deleted meanwhile.
// Objects are copied as they are (bytes, content type, metadata), so nothing here knows their
// meaning beyond which keys belong to an image.
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { findOriginalKey } from "../api/store/images.ts";
import type { Config } from "../infra/config.ts";
import {
  decodeMetadata,
  documentOutput,
  documentPrefix,
  failureKey,
  indexKey,
  outputKey,
  renditionsPrefix,
} from "../infra/image-objects.ts";
import { listKeys } from "../infra/inspect.ts";
import type { Logger } from "../infra/logger.ts";

type KeyOf = [StoredObject["bucket"], string];

interface StoredObject {
  bucket: "input" | "output";
  key: string;
  contentType: string | undefined;
  metadata: Record<string, string>;
}

export interface ImageKeeper {
  /** Copies what is stored for the image to disk (call when its job has ended). */
  save(id: string): Promise<void>;
  /** Puts every kept image back into the buckets; returns how many. */
  restore(): Promise<number>;
  /** Removes from disk the images whose original is no longer stored; returns how many. */
  forgetDeleted(): Promise<number>;
}

export function createImageKeeper(
  { s3, config, logger }: { s3: S3Client; config: Config; logger: Logger },
  dataDir: string,
): ImageKeeper {
  const bucketName = (bucket: StoredObject["bucket"]) =>
    bucket === "input" ? config.inputBucket : config.outputBucket;

  async function read(bucket: StoredObject["bucket"], key: string) {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucketName(bucket), Key: key }));
      const bytes = await object.Body?.transformToByteArray();
      return bytes && { bytes, contentType: object.ContentType, metadata: object.Metadata ?? {} };
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  async function renditionKeys(
    bucket: StoredObject["bucket"],
    id: string,
  ): Promise<[StoredObject["bucket"], string][]> {
    const keys = await listKeys(s3, bucketName(bucket), renditionsPrefix(id));
    return keys.map((key) => [bucket, key]);
  }

  return {
    async save(id) {
      const originalKey = await findOriginalKey({ s3, config }, id);
      if (!originalKey) return; // deleted already
      const original = await read("input", originalKey);
      if (!original) return;
      const uploadedAt = decodeMetadata(original.metadata)["uploaded-at"];
      const keys: [StoredObject["bucket"], string][] = [
        ["output", outputKey(id)],
        ["output", failureKey(id)],
        ...(uploadedAt ? [["input", indexKey(id, Date.parse(uploadedAt))] as [StoredObject["bucket"], string]] : []),
        // Renditions: their requests and their results or failure records.
        ...(await renditionKeys("input", id)),
        ...(await renditionKeys("output", id)),
        // A document's output and pages.
        ...(["tiff", "pdf"] as const).map((format) => ["output", documentOutput(id, format).key] as KeyOf),
        ...(await listKeys(s3, config.outputBucket, documentPrefix(id))).map((key) => ["output", key] as KeyOf),
      ];
      const folder = join(dataDir, id);
      await mkdir(folder, { recursive: true });
      const objects = [{ bucket: "input" as const, key: originalKey, ...original }];
      for (const [bucket, key] of keys) {
        const object = await read(bucket, key);
        if (object) objects.push({ bucket: bucket as "input", key, ...object });
      }
      for (const [n, object] of objects.entries()) {
        const { bytes, ...description } = object;
        await writeFile(join(folder, `${n}.bin`), bytes);
        await writeFile(join(folder, `${n}.json`), JSON.stringify(description));
      }
    },

    async restore() {
      const ids = await readdir(dataDir).catch(() => [] as string[]);
      for (const id of ids) {
        const folder = join(dataDir, id);
        const descriptions = (await readdir(folder)).filter((f) => f.endsWith(".json"));
        for (const file of descriptions) {
          const object = JSON.parse(await readFile(join(folder, file), "utf8")) as StoredObject;
          await s3.send(
            new PutObjectCommand({
              Bucket: bucketName(object.bucket),
              Key: object.key,
              Body: await readFile(join(folder, file.replace(/\.json$/, ".bin"))),
              ContentType: object.contentType,
              Metadata: object.metadata,
            }),
          );
        }
      }
      if (ids.length > 0) logger.info({ images: ids.length, dataDir }, "kept images put back");
      return ids.length;
    },

    async forgetDeleted() {
      const ids = await readdir(dataDir).catch(() => [] as string[]);
      let forgotten = 0;
      for (const id of ids) {
        if (await findOriginalKey({ s3, config }, id)) continue;
        await rm(join(dataDir, id), { recursive: true, force: true });
        forgotten++;
      }
      return forgotten;
    },
  };
}
