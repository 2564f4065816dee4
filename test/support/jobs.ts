// Jobs put straight into S3 and onto the input queue, as the API would, or as a poison would arrive.
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { v7 as uuidv7 } from "uuid";
import { inputKey } from "../../infra/image-objects.ts";
import { type InputMessage, sendInputMessage } from "../../infra/messages.ts";
import type { TestEnvironment } from "./environment.ts";

/** Stores `bytes` (unless undefined: a missing object) and queues a job for them. */
export async function injectJob(
  env: Pick<TestEnvironment, "s3" | "sqs" | "config" | "queueUrls">,
  bytes: Uint8Array | undefined,
  change: Partial<InputMessage> = {},
): Promise<InputMessage> {
  const id = change.id ?? uuidv7();
  const job: InputMessage = {
    version: 1,
    id,
    bucket: env.config.inputBucket,
    key: inputKey(id, "png"),
    contentType: "image/png",
    bytes: bytes?.length ?? 0,
    width: 1,
    height: 1,
    filename: "injected.png",
    method: "otsu",
    uploadedAt: new Date().toISOString(),
    ...change,
  };
  if (bytes) await env.s3.send(new PutObjectCommand({ Bucket: job.bucket, Key: job.key, Body: bytes }));
  await sendInputMessage(env.sqs, env.queueUrls.input, job);
  return job;
}
