// The IAM policies in infra/iam/ against the SDK calls the code makes: every call allowed,
// nothing allowed that no code calls.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

// What each SDK command needs. HeadObject is authorised as GetObject and HeadBucket as
// ListBucket (which also turns a missing key into 404 rather than 403).
const ACTION_OF_COMMAND: Record<string, string> = {
  GetObjectCommand: "s3:GetObject",
  HeadObjectCommand: "s3:GetObject",
  PutObjectCommand: "s3:PutObject",
  DeleteObjectCommand: "s3:DeleteObject",
  ListObjectsV2Command: "s3:ListBucket",
  HeadBucketCommand: "s3:ListBucket",
  CreateBucketCommand: "s3:CreateBucket",
  GetBucketLifecycleConfigurationCommand: "s3:GetLifecycleConfiguration",
  PutBucketLifecycleConfigurationCommand: "s3:PutLifecycleConfiguration",
  // S3 authorises removing a lifecycle configuration as putting one.
  DeleteBucketLifecycleCommand: "s3:PutLifecycleConfiguration",
  SendMessageCommand: "sqs:SendMessage",
  ReceiveMessageCommand: "sqs:ReceiveMessage",
  DeleteMessageCommand: "sqs:DeleteMessage",
  ChangeMessageVisibilityCommand: "sqs:ChangeMessageVisibility",
  GetQueueUrlCommand: "sqs:GetQueueUrl",
  GetQueueAttributesCommand: "sqs:GetQueueAttributes",
  CreateQueueCommand: "sqs:CreateQueue",
};

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(root, dir), { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

/** The IAM actions of every `new XCommand(` in these files. */
async function actionsCalledIn(files: string[]): Promise<Set<string>> {
  const actions = new Set<string>();
  for (const file of files) {
    for (const [, command] of (await readFile(file, "utf8")).matchAll(/new (\w+Command)\(/g)) {
      const action = ACTION_OF_COMMAND[command];
      if (!action) throw new Error(`${file} calls ${command}: add it to the map and to a policy`);
      actions.add(action);
    }
  }
  return actions;
}

async function actionsAllowedBy(policy: string): Promise<Set<string>> {
  const document = JSON.parse(await readFile(join(root, "infra/iam", policy), "utf8"));
  return new Set(document.Statement.flatMap((s: { Action: string[] }) => s.Action));
}

// What the API and worker run: their folders and the infra modules they share at run time
// (resources.ts's lookups are runtime, its creations are the operator's).
const runtimeFiles = async () => [
  ...(await sourceFiles("api")),
  ...(await sourceFiles("worker")),
  ...["messages.ts", "stored-results.ts"].map((f) => join(root, "infra", f)),
];
const RUNTIME_LOOKUPS = ["sqs:GetQueueUrl", "sqs:GetQueueAttributes", "s3:ListBucket"];
const operatorFiles = () =>
  [
    "infra/resources.ts",
    "infra/bucket-retention.ts",
    "scripts/setup-aws-resources.ts",
    "scripts/redrive.ts",
    "infra/messages.ts",
  ].map((f) => join(root, f));

describe("IAM policies", () => {
  it("the runtime policy allows every call of the API and the worker, and nothing else", async () => {
    const called = await actionsCalledIn(await runtimeFiles());
    for (const action of RUNTIME_LOOKUPS) called.add(action);
    expect([...(await actionsAllowedBy("runtime-policy.json"))].sort()).toEqual([...called].sort());
  });

  it("the operator policy allows every call of setup and redrive, and nothing else", async () => {
    const called = await actionsCalledIn(operatorFiles());
    const allowed = await actionsAllowedBy("operator-policy.json");
    expect([...allowed].sort()).toEqual([...called].sort());
  });

  it("names only bitonal's own buckets and queues", async () => {
    for (const policy of ["runtime-policy.json", "operator-policy.json"]) {
      const text = await readFile(join(root, "infra/iam", policy), "utf8");
      for (const [, resource] of text.matchAll(/"(arn:aws:[^"]+)"/g)) {
        expect(resource, policy).toMatch(
          /^arn:aws:(s3:::image-(input|processed)(\/\*)?|sqs:\*:\*:new-image-(input|processed|input-dlq)\.fifo)$/,
        );
      }
    }
  });
});
