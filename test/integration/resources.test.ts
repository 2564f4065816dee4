// ensureResources and `npm run setup` against the real LocalStack.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { describe, expect, it } from "vitest";
import { createS3Client, createSqsClient } from "../../infra/aws-clients.ts";
import { RETENTION_RULE_ID } from "../../infra/bucket-retention.ts";
import { baseChildEnv, loadConfig } from "../../infra/config.ts";
import { ensureResources, ResourceConflictError } from "../../infra/resources.ts";
import { uniqueResourceEnv } from "../support/environment.ts";

const run = promisify(execFile);

function clientsFor(env: Record<string, string>) {
  const config = loadConfig(env);
  return { config, s3: createS3Client(config), sqs: createSqsClient(config) };
}

describe("ensureResources", () => {
  it("creates everything once, then only verifies", async () => {
    const { config, s3, sqs } = clientsFor(uniqueResourceEnv({ MAX_RECEIVE_COUNT: "4" }));
    const first = await ensureResources({ s3, sqs }, config);
    expect(first.report.map((r) => r.action)).toEqual(Array(5).fill("created"));
    const second = await ensureResources({ s3, sqs }, config);
    expect(second.report.map((r) => r.action)).toEqual(Array(5).fill("verified"));
    expect(second.queueUrls).toEqual(first.queueUrls);

    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: first.queueUrls.input, AttributeNames: ["All"] }),
    );
    expect(Attributes.FifoQueue).toBe("true");
    expect(Attributes.VisibilityTimeout).toBe(String(config.visibilityTimeoutSeconds));
    const redrive = JSON.parse(Attributes.RedrivePolicy ?? "{}");
    expect(Number(redrive.maxReceiveCount)).toBe(4);
    expect(redrive.deadLetterTargetArn).toMatch(new RegExp(`:${config.deadLetterQueue}$`));
  });

  it("names the attribute of an existing queue that conflicts", async () => {
    const env = uniqueResourceEnv();
    const { config, s3, sqs } = clientsFor(env);
    await sqs.send(
      new CreateQueueCommand({
        QueueName: config.outputQueue,
        Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
      }),
    );
    const error = await ensureResources({ s3, sqs }, config).catch((e) => e);
    expect(error).toBeInstanceOf(ResourceConflictError);
    expect(error.message).toContain(`queue ${config.outputQueue}: ContentBasedDeduplication is true, expected false`);
  });
});

describe("npm run setup", () => {
  const setup = (env: Record<string, string>) =>
    run(process.execPath, ["scripts/setup-aws-resources.ts"], { env: { ...baseChildEnv(), ...env } });

  it("creates, then says there is nothing to change", async () => {
    const env = uniqueResourceEnv();
    const first = await setup(env);
    expect(first.stdout).toMatch(/Created 5\./);
    const second = await setup(env);
    expect(second.stdout).toContain("Nothing to change");
    expect(second.stdout).not.toContain("created");
  });

  // Catches: RETENTION_DAYS that never reaches the buckets, or a rule that cannot be taken back.
  it("RETENTION_DAYS becomes an expiry rule on both buckets; a change updates it, unset removes it", async () => {
    const env = uniqueResourceEnv();
    const config = loadConfig(env);
    const s3 = createS3Client(config);
    // Only "no configuration" counts as no rules; any other error fails the test.
    const rules = async (bucket: string) =>
      (
        await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket })).catch((error: Error) => {
          if (error.name !== "NoSuchLifecycleConfiguration") throw error;
          return { Rules: [] };
        })
      ).Rules ?? [];
    const set = await setup({ ...env, RETENTION_DAYS: "30" });
    expect(set.stdout).toContain("Retention changed on 2.");
    for (const bucket of [config.inputBucket, config.outputBucket]) {
      expect(await rules(bucket)).toMatchObject([
        { ID: RETENTION_RULE_ID, Status: "Enabled", Expiration: { Days: 30 } },
      ]);
    }
    expect((await setup({ ...env, RETENTION_DAYS: "30" })).stdout).toContain("Nothing to change");
    await setup({ ...env, RETENTION_DAYS: "7" });
    expect((await rules(config.inputBucket))[0].Expiration?.Days).toBe(7);
    await setup(env);
    expect(await rules(config.inputBucket)).toEqual([]);
    expect(await rules(config.outputBucket)).toEqual([]);
  });

  // Catches: setup replacing the bucket's whole lifecycle configuration, and with it rules
  // that another owner (a team, a compliance tool) put on the bucket.
  it("keeps the lifecycle rules of other owners when it sets, changes or removes its own", async () => {
    const env = uniqueResourceEnv();
    const config = loadConfig(env);
    const s3 = createS3Client(config);
    await setup(env);
    const foreign = {
      ID: "someone-elses-rule",
      Status: "Enabled" as const,
      Filter: { Prefix: "archive/" },
      Expiration: { Days: 400 },
    };
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: config.inputBucket,
        LifecycleConfiguration: { Rules: [foreign] },
      }),
    );
    const ids = async () =>
      ((await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: config.inputBucket }))).Rules ?? [])
        .map((rule) => rule.ID)
        .sort();
    await setup({ ...env, RETENTION_DAYS: "30" });
    expect(await ids()).toEqual([RETENTION_RULE_ID, "someone-elses-rule"].sort());
    await setup({ ...env, RETENTION_DAYS: "9" });
    expect(await ids()).toEqual([RETENTION_RULE_ID, "someone-elses-rule"].sort());
    await setup(env);
    expect(await ids()).toEqual(["someone-elses-rule"]);
  });

  it("exits non-zero naming the differing attribute", async () => {
    const env = uniqueResourceEnv({ VISIBILITY_TIMEOUT_S: "60" });
    await setup(env);
    const error = await setup({ ...env, VISIBILITY_TIMEOUT_S: "90" }).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toContain(`queue ${env.INPUT_QUEUE}: VisibilityTimeout is 60, expected 90`);
  });

  // Catches: a raw stack trace (or a hang) for a newcomer who ran a command without the endpoint.
  it("an endpoint that does not answer, or none and no AWS credentials: one sentence that says what to do", async () => {
    const refused = await setup({ ...uniqueResourceEnv(), AWS_ENDPOINT_URL: "http://127.0.0.1:9" }).catch((e) => e);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      "S3 and SQS at http://127.0.0.1:9 cannot be reached (ECONNREFUSED); start them (`npm start` or `npm run localstack`) or set AWS_ENDPOINT_URL to where they listen.",
    );
    // Real AWS, as a newcomer's second terminal would try it: no credentials here (and no
    // instance metadata service asked: nothing leaves this machine).
    const { AWS_ENDPOINT_URL: _, ...noEndpoint } = uniqueResourceEnv();
    const aws = await setup({ ...noEndpoint, AWS_EC2_METADATA_DISABLED: "true", HOME: "/nonexistent" }).catch((e) => e);
    expect(aws.code).toBe(1);
    expect(aws.stderr).toContain("set AWS_ENDPOINT_URL=http://127.0.0.1:4566");
    expect(aws.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exits non-zero naming a bad variable", async () => {
    const error = await setup({ ...uniqueResourceEnv(), MAX_RECEIVE_COUNT: "many" }).catch((e) => e);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/MAX_RECEIVE_COUNT:/);
  });
});
