// The buckets and queues bitonal stands on: their names and attributes, and how to create or verify them.
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { ensureRetention } from "./bucket-retention.ts";
import type { Config } from "./config.ts";

const FOURTEEN_DAYS_S = 14 * 24 * 3600;
const LONG_POLL_S = 20;

export interface QueueUrls {
  input: string;
  output: string;
  deadLetter: string;
}

export interface QueueDefinition {
  role: keyof QueueUrls;
  name: string;
  /** Attributes as SQS reports them (all strings); RedrivePolicy is filled in once the DLQ's ARN is known. */
  attributes: Record<string, string>;
  redriveTo?: { role: keyof QueueUrls; maxReceiveCount: number };
}

/** Queues in creation order: the dead-letter queue first, since the input queue's redrive policy names it. */
export function queueDefinitions(config: Config): QueueDefinition[] {
  const fifo = { FifoQueue: "true", ContentBasedDeduplication: "false" };
  return [
    {
      role: "deadLetter",
      name: config.deadLetterQueue,
      // Kept as long as SQS allows, so that a poison image can be inspected and redriven after a fix.
      attributes: { ...fifo, MessageRetentionPeriod: String(FOURTEEN_DAYS_S) },
    },
    {
      role: "input",
      name: config.inputQueue,
      attributes: {
        ...fifo,
        VisibilityTimeout: String(config.visibilityTimeoutSeconds),
        ReceiveMessageWaitTimeSeconds: String(LONG_POLL_S),
        MessageRetentionPeriod: String(FOURTEEN_DAYS_S),
      },
      redriveTo: { role: "deadLetter", maxReceiveCount: config.maxReceiveCount },
    },
    {
      role: "output",
      name: config.outputQueue,
      attributes: { ...fifo, ReceiveMessageWaitTimeSeconds: String(LONG_POLL_S) },
    },
  ];
}

export function bucketNames(config: Config): string[] {
  return [config.inputBucket, config.outputBucket];
}

export interface ResourceReport {
  kind: "bucket" | "queue" | "retention";
  name: string;
  action: "created" | "verified" | "set" | "removed";
}

export class ResourceConflictError extends Error {
  override name = "ResourceConflictError";
  readonly conflicts: string[];
  constructor(conflicts: string[]) {
    super(`Existing resources conflict with bitonal's definitions:\n${conflicts.map((c) => `  ${c}`).join("\n")}`);
    this.conflicts = conflicts;
  }
}

interface Clients {
  s3: S3Client;
  sqs: SQSClient;
}

/**
 * Creates the buckets and queues that are missing and verifies the ones that exist.
 * Idempotent: a second run only verifies. Throws ResourceConflictError naming every
 * attribute of an existing queue that differs from its definition.
 */
export async function ensureResources(
  { s3, sqs }: Clients,
  config: Config,
): Promise<{ report: ResourceReport[]; queueUrls: QueueUrls }> {
  const report: ResourceReport[] = [];
  for (const bucket of bucketNames(config)) {
    report.push({ kind: "bucket", name: bucket, action: await ensureBucket(s3, bucket, config.region) });
    const retention = await ensureRetention(s3, bucket, config.retentionDays);
    if (retention !== "unchanged") report.push({ kind: "retention", name: bucket, action: retention });
  }

  const urls: Partial<QueueUrls> = {};
  const arns: Partial<QueueUrls> = {};
  const conflicts: string[] = [];
  for (const queue of queueDefinitions(config)) {
    const wanted = withRedrivePolicy(queue, arns);
    let url = await findQueueUrl(sqs, queue.name);
    let action: ResourceReport["action"] = "verified";
    if (url === undefined) {
      url = (await sqs.send(new CreateQueueCommand({ QueueName: queue.name, Attributes: wanted }))).QueueUrl;
      if (!url) throw new Error(`CreateQueue for ${queue.name} returned no QueueUrl`);
      action = "created";
    }
    const actual = await queueAttributes(sqs, url);
    if (action === "verified") conflicts.push(...attributeConflicts(queue.name, wanted, actual));
    urls[queue.role] = url;
    arns[queue.role] = actual.QueueArn;
    report.push({ kind: "queue", name: queue.name, action });
  }
  if (conflicts.length > 0) throw new ResourceConflictError(conflicts);
  return { report, queueUrls: urls as QueueUrls };
}

/** Readiness: both buckets and all queues answer. Returns what is wrong, or nothing. */
export async function findUnavailableResources(
  { s3, sqs }: Clients,
  config: Config,
  queueUrls: QueueUrls,
): Promise<string[]> {
  const checks = [
    ...bucketNames(config).map((bucket) => ({
      name: `bucket ${bucket}`,
      check: () => s3.send(new HeadBucketCommand({ Bucket: bucket })),
    })),
    ...Object.values(queueUrls).map((url) => ({
      name: `queue ${url.split("/").pop()}`,
      check: () => sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] })),
    })),
  ];
  const results = await Promise.allSettled(checks.map((c) => c.check()));
  return checks.filter((_, i) => results[i].status === "rejected").map((c) => c.name);
}

export class MissingResourceError extends Error {
  override name = "MissingResourceError";
}

/** Looks up the queue URLs without creating anything; fails if a queue is missing. */
export async function resolveQueueUrls(sqs: SQSClient, config: Config): Promise<QueueUrls> {
  const urls: Partial<QueueUrls> = {};
  for (const queue of queueDefinitions(config)) {
    const url = await findQueueUrl(sqs, queue.name);
    if (url === undefined) {
      throw new MissingResourceError(`Queue ${queue.name} does not exist; run \`npm run setup\` first`);
    }
    urls[queue.role] = url;
  }
  return urls as QueueUrls;
}

/**
 * resolveQueueUrls for a process starting up: while SQS cannot be reached (it may be starting
 * too, or briefly away) it retries with backoff for up to `timeoutMs`, instead of exiting; a
 * queue that does not exist fails at once, since waiting will not create it.
 */
export async function waitForQueueUrls(
  sqs: SQSClient,
  config: Config,
  { timeoutMs = 60_000, onRetry }: { timeoutMs?: number; onRetry?: (error: unknown, inMs: number) => void } = {},
): Promise<QueueUrls> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 500; ; delay = Math.min(delay * 2, 10_000)) {
    try {
      return await resolveQueueUrls(sqs, config);
    } catch (error) {
      if (error instanceof MissingResourceError || Date.now() + delay > deadline) throw error;
      onRetry?.(error, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

async function ensureBucket(s3: S3Client, bucket: string, region: string): Promise<ResourceReport["action"]> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return "verified";
  } catch (error) {
    if ((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) throw error;
  }
  await s3.send(
    new CreateBucketCommand({
      Bucket: bucket,
      // us-east-1 is the one region that refuses an explicit location constraint.
      ...(region !== "us-east-1" && {
        CreateBucketConfiguration: { LocationConstraint: region as never },
      }),
    }),
  );
  return "created";
}

async function findQueueUrl(sqs: SQSClient, name: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (error instanceof QueueDoesNotExist) return undefined;
    throw error;
  }
}

async function queueAttributes(sqs: SQSClient, url: string): Promise<Record<string, string>> {
  const result = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }));
  return result.Attributes ?? {};
}

function withRedrivePolicy(queue: QueueDefinition, arns: Partial<QueueUrls>): Record<string, string> {
  if (!queue.redriveTo) return queue.attributes;
  const targetArn = arns[queue.redriveTo.role];
  if (!targetArn) throw new Error(`Queue ${queue.name} redrives to ${queue.redriveTo.role}, defined after it`);
  return {
    ...queue.attributes,
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: targetArn, maxReceiveCount: queue.redriveTo.maxReceiveCount }),
  };
}

function attributeConflicts(name: string, wanted: Record<string, string>, actual: Record<string, string>): string[] {
  const conflicts: string[] = [];
  for (const [attribute, expected] of Object.entries(wanted)) {
    const found = actual[attribute];
    const same = attribute === "RedrivePolicy" ? sameRedrivePolicy(expected, found) : String(found ?? "") === expected;
    if (!same) conflicts.push(`queue ${name}: ${attribute} is ${found ?? "(unset)"}, expected ${expected}`);
  }
  return conflicts;
}

// SQS may report maxReceiveCount as a string or a number, and with other key order.
function sameRedrivePolicy(expected: string, found: string | undefined): boolean {
  if (!found) return false;
  const a = JSON.parse(expected);
  const b = JSON.parse(found);
  return a.deadLetterTargetArn === b.deadLetterTargetArn && Number(a.maxReceiveCount) === Number(b.maxReceiveCount);
}
