// S3 and SQS clients for real AWS or any S3+SQS emulator behind AWS_ENDPOINT_URL.
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { Config } from "./config.ts";

// Bounded so that a dead endpoint turns into a quick 503 or a retried job, never a hang.
const CONNECTION_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ATTEMPTS = 3;

function commonOptions(config: Config) {
  return {
    region: config.region,
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: CONNECTION_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
    ...(config.endpointUrl && {
      endpoint: config.endpointUrl,
      // Emulators accept any key; real AWS uses the default credential chain instead.
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    }),
  };
}

export function createS3Client(config: Config): S3Client {
  return new S3Client({
    ...commonOptions(config),
    // Emulators serve buckets by path, not by virtual host (which needs DNS for <bucket>.localhost).
    forcePathStyle: Boolean(config.endpointUrl),
  });
}

export function createSqsClient(config: Config): SQSClient {
  return new SQSClient(commonOptions(config));
}
