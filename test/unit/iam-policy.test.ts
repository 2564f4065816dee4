// The IAM policies in infra/iam/ against the SDK calls the code makes: every call allowed,
// nothing allowed that no code calls.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = new URL("../../", import.meta.url).pathname;

// What each SDK command needs. HeadObject is authorised as GetObject, and answers a missing
// key with 404 rather than 403 only with ListBucket, which code that reads a 404 as "gone"
// needs; HeadBucket is authorised as ListBucket.
const ACTION_OF_COMMAND: Record<string, string | string[]> = {
  GetObjectCommand: "s3:GetObject",
  HeadObjectCommand: ["s3:GetObject", "s3:ListBucket"],
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
  SendMessageBatchCommand: "sqs:SendMessage",
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
      for (const one of [action].flat()) actions.add(one);
    }
  }
  return actions;
}

async function actionsAllowedBy(policy: string): Promise<Set<string>> {
  const document = JSON.parse(await readFile(join(root, "infra/iam", policy), "utf8"));
  return new Set(document.Statement.flatMap((s: { Action: string[] }) => s.Action));
}

// What each part runs: its folder and the infra modules it uses at run time.
const sharedFiles = ["messages.ts", "stored-results.ts", "aws-clients.ts"].map((f) => join(root, "infra", f));
const apiFiles = async () => [...(await sourceFiles("api")), ...sharedFiles];
const workerFiles = async () => [...(await sourceFiles("worker")), ...sharedFiles];

/**
 * resources.ts serves both roles: setup creates with it, the API and worker look up with it.
 * The runtime's share is derived, not listed: the functions runtime files import from it, the
 * functions of that file those call in turn, and the commands in all of them.
 */
async function actionsOfResourceLookups(files: string[]): Promise<Set<string>> {
  const source = await readFile(join(root, "infra/resources.ts"), "utf8");
  const bodies = new Map<string, string>();
  for (const [body, name] of source.matchAll(/^(?:export )?(?:async )?function (\w+)[\s\S]*?^}$/gm)) {
    bodies.set(name, body);
  }
  const wanted: string[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8");
    for (const [, names] of text.matchAll(/import \{([^}]*)\} from "[./]*(?:infra\/)?resources\.ts"/g)) {
      wanted.push(
        ...names
          .split(",")
          .map((n) => n.replace(/^\s*type\s+/, "").trim())
          .filter((n) => bodies.has(n)),
      );
    }
  }
  const seen = new Set<string>();
  const actions = new Set<string>();
  while (wanted.length > 0) {
    const name = wanted.pop() as string;
    if (seen.has(name)) continue;
    seen.add(name);
    const body = bodies.get(name) as string;
    for (const [, command] of body.matchAll(/new (\w+Command)\(/g)) {
      for (const one of [ACTION_OF_COMMAND[command]].flat()) actions.add(one);
    }
    for (const [, called] of body.matchAll(/\b(\w+)\(/g))
      if (bodies.has(called) && called !== name) wanted.push(called);
  }
  return actions;
}
const operatorFiles = () =>
  [
    "infra/resources.ts",
    "infra/bucket-retention.ts",
    "scripts/setup-aws-resources.ts",
    "scripts/redrive.ts",
    "infra/messages.ts",
  ].map((f) => join(root, f));

describe("IAM policies", () => {
  // Catches: the worker (the part that parses untrusted images) holding the API's rights, or
  // either part allowed a call it never makes.
  it.each([
    ["api-policy.json", apiFiles],
    ["worker-policy.json", workerFiles],
  ])("%s allows every call of its part, and nothing else", async (policy, files) => {
    const called = await actionsCalledIn(await files());
    for (const action of await actionsOfResourceLookups(await files())) called.add(action);
    expect([...(await actionsAllowedBy(policy))].sort()).toEqual([...called].sort());
  });

  it("the worker may not send jobs, nor store or delete originals", async () => {
    const document = JSON.parse(await readFile(join(root, "infra/iam/worker-policy.json"), "utf8"));
    const statements = document.Statement as { Action: string[]; Resource: string[] }[];
    const onInputQueue = statements.filter((s) => s.Resource.some((r) => r.endsWith(":new-image-input.fifo")));
    const onOriginals = statements.filter((s) => s.Resource.includes("arn:aws:s3:::image-input/*"));
    expect(onInputQueue.length).toBeGreaterThan(0);
    expect(onInputQueue.flatMap((s) => s.Action)).not.toContain("sqs:SendMessage");
    expect(onOriginals.flatMap((s) => s.Action)).toEqual(["s3:GetObject"]);
  });

  it("the operator policy allows every call of setup and redrive, and nothing else", async () => {
    const called = await actionsCalledIn(operatorFiles());
    const allowed = await actionsAllowedBy("operator-policy.json");
    expect([...allowed].sort()).toEqual([...called].sort());
  });

  // Catches: "Resource": "*" (or any resource that is not one of ours) in any statement.
  it("names only bitonal's own buckets and queues, in every statement", async () => {
    for (const policy of ["api-policy.json", "worker-policy.json", "operator-policy.json"]) {
      const document = JSON.parse(await readFile(join(root, "infra/iam", policy), "utf8"));
      for (const statement of document.Statement as { Sid: string; Resource: unknown }[]) {
        expect(Array.isArray(statement.Resource), `${policy} ${statement.Sid}`).toBe(true);
        expect((statement.Resource as string[]).length, `${policy} ${statement.Sid}`).toBeGreaterThan(0);
        for (const resource of statement.Resource as string[]) {
          expect(resource, `${policy} ${statement.Sid}`).toMatch(
            /^arn:aws:(s3:::image-(input|processed)(\/\*)?|sqs:\*:\*:new-image-(input|processed|input-dlq)\.fifo)$/,
          );
        }
      }
    }
  });
});
