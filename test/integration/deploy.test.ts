// The production stacks as code (deploy/): synthesized offline with cdk-nag's AWS Solutions
// rules, linted by cfn-lint, asserted against what the code expects, and the data stack
// deployed for real into the test LocalStack through CloudFormation.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { DeleteObjectCommand, HeadBucketCommand, ListBucketsCommand } from "@aws-sdk/client-s3";
import { ListQueuesCommand } from "@aws-sdk/client-sqs";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBitonalApp } from "../../deploy/app.ts";
import { deleteDataStack, deployDataStack, LOCAL_STACK_NAME } from "../../deploy/local.ts";
import { awsClientOptions } from "../../infra/aws-clients.ts";
import { baseChildEnv, loadConfig } from "../../infra/config.ts";
import { listKeys } from "../../infra/inspect.ts";
import { queueDefinitions } from "../../infra/resources.ts";
import { createTestEnvironment, uniqueResourceEnv } from "../support/environment.ts";
import { makePng } from "../support/images.ts";
import { startPipeline } from "../support/pipeline.ts";
import { waitForCompletions } from "../support/queues.ts";

const run = promisify(execFile);
const root = new URL("../../", import.meta.url).pathname;
const CFN_LINT = join(root, ".local/localstack/venv/bin/cfn-lint");
const config = loadConfig({});
const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));

let outdir: string;
let data: Template;
let compute: Template;

beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), "bitonal-cdk-"));
  // Synthesis runs cdk-nag: any finding not acknowledged (with its reason) throws here.
  const stacks = createBitonalApp(new App({ outdir }));
  stacks.app.synth();
  data = Template.fromStack(stacks.data);
  compute = Template.fromStack(stacks.compute);
});

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

describe("the stacks, synthesized", () => {
  it("pass cfn-lint with no finding", async () => {
    const templates = ["BitonalData.template.json", "BitonalCompute.template.json"].map((f) => join(outdir, f));
    const { stdout } = await run(CFN_LINT, templates).catch((error) => ({ stdout: `${error.stdout}${error.stderr}` }));
    expect(stdout).toBe("");
  });

  it("make the queues infra/resources.ts defines, plus high-throughput FIFO, encryption and TLS only", () => {
    const queues = Object.values(data.findResources("AWS::SQS::Queue")).map((q) => q.Properties);
    expect(queues).toHaveLength(3);
    // Each queue, down to which attributes it leaves to SQS's defaults, as its definition says.
    const timings = ["VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds"];
    const shape = (q: Record<string, unknown>) => ({
      ...Object.fromEntries(timings.filter((k) => q[k] !== undefined).map((k) => [k, Number(q[k])])),
      maxReceiveCount: (q.RedrivePolicy as { maxReceiveCount?: number } | undefined)?.maxReceiveCount,
    });
    const wanted = queueDefinitions(config).map((definition) => ({
      ...Object.fromEntries(
        timings.filter((k) => definition.attributes[k] !== undefined).map((k) => [k, Number(definition.attributes[k])]),
      ),
      maxReceiveCount: definition.redriveTo?.maxReceiveCount,
    }));
    expect(queues.map(shape).sort(byJson)).toEqual(wanted.sort(byJson));
    for (const queue of queues) {
      expect(queue).toMatchObject({
        FifoQueue: true,
        ContentBasedDeduplication: false,
        DeduplicationScope: "messageGroup",
        FifoThroughputLimit: "perMessageGroupId",
        SqsManagedSseEnabled: true,
      });
    }
    expect(Object.keys(data.findResources("AWS::SQS::QueuePolicy"))).toHaveLength(3);
  });

  it("grant exactly the statements of infra/iam/*.json, on this stack's resources", async () => {
    for (const [file, policyId] of [
      ["api-policy.json", "ApiPolicy"],
      ["worker-policy.json", "WorkerPolicy"],
      ["operator-policy.json", "OperatorPolicy"],
    ]) {
      const source = JSON.parse(await readFile(join(root, "infra/iam", file), "utf8"));
      const [policy] = Object.entries(data.findResources("AWS::IAM::ManagedPolicy")).filter(([id]) =>
        id.startsWith(policyId),
      );
      const statements = policy[1].Properties.PolicyDocument.Statement;
      expect(statements.map((s: { Sid: string; Action: unknown }) => [s.Sid, s.Action])).toEqual(
        source.Statement.map((s: { Sid: string; Action: string[] }) => [
          s.Sid,
          s.Action.length === 1 ? s.Action[0] : s.Action,
        ]),
      );
      for (const statement of statements) {
        expect(JSON.stringify(statement.Resource)).not.toMatch(/image-input|image-processed|"\*"/);
      }
    }
  });

  it("keep everything private: buckets blocked and TLS only, only the load balancer open, and only on port 80", () => {
    for (const bucket of Object.values(data.findResources("AWS::S3::Bucket"))) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toBeDefined();
    }
    for (const policy of Object.values(data.findResources("AWS::S3::BucketPolicy"))) {
      expect(JSON.stringify(policy.Properties.PolicyDocument)).toMatch(/"aws:SecureTransport":"false"/);
    }
    const open = Object.entries(compute.findResources("AWS::EC2::SecurityGroup")).flatMap(([id, group]) =>
      (group.Properties.SecurityGroupIngress ?? [])
        .filter((rule: { CidrIp?: string }) => rule.CidrIp === "0.0.0.0/0")
        .map((rule: { FromPort: number }) => `${id}:${rule.FromPort}`),
    );
    expect(open).toHaveLength(1);
    expect(open[0]).toMatch(/^ApiLB.*:80$/);
    compute.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", { HealthCheckPath: "/readyz" });
  });

  // Catches: a plain-HTTP edge, a load balancer reachable around it, readiness and metrics on the
  // internet, no rate limit, or the token missing from the API (or handed to the worker).
  it("serve HTTPS through CloudFront only, with private operations paths, a rate limit, and the secrets where they belong", () => {
    compute.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        DefaultCacheBehavior: Match.objectLike({
          ViewerProtocolPolicy: "redirect-to-https",
          AllowedMethods: Match.arrayWith(["POST", "DELETE"]),
        }),
        Origins: [
          Match.objectLike({
            OriginCustomHeaders: [Match.objectLike({ HeaderName: "X-Bitonal-Origin-Verify" })],
          }),
        ],
      }),
    });
    // The load balancer forwards only what carries CloudFront's header; anything else is a 403.
    compute.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      DefaultActions: [
        Match.objectLike({ Type: "fixed-response", FixedResponseConfig: Match.objectLike({ StatusCode: "403" }) }),
      ],
    });
    compute.hasResourceProperties("AWS::ElasticLoadBalancingV2::ListenerRule", {
      Conditions: [
        Match.objectLike({
          Field: "http-header",
          HttpHeaderConfig: Match.objectLike({ HttpHeaderName: "X-Bitonal-Origin-Verify" }),
        }),
      ],
      Actions: [Match.objectLike({ Type: "forward" })],
    });
    const [firewall] = Object.values(compute.findResources("AWS::WAFv2::WebACL"));
    const rules = firewall.Properties.Rules as { Name: string; Action: unknown; Statement: Record<string, unknown> }[];
    const blocked = JSON.stringify(rules.find((r) => r.Name === "OperationsEndpointsArePrivate"));
    expect(blocked).toMatch(/"SearchString":"\/metrics"/);
    expect(blocked).toMatch(/"SearchString":"\/readyz"/);
    expect(rules.find((r) => r.Name === "RatePerClient")?.Statement.RateBasedStatement).toMatchObject({
      AggregateKeyType: "FORWARDED_IP",
    });
    compute.resourceCountIs("AWS::WAFv2::WebACLAssociation", 1);
    const containers = Object.values(compute.findResources("AWS::ECS::TaskDefinition")).map(
      (task) => task.Properties.ContainerDefinitions[0] as { Command: string[]; Secrets?: { Name: string }[] },
    );
    const api = containers.find((c) => c.Command.includes("api/main.ts"));
    const worker = containers.find((c) => c.Command.includes("worker/main.ts"));
    expect(api?.Secrets?.map((secret) => secret.Name).sort()).toEqual(["API_TOKEN", "LINK_SIGNING_KEY"]);
    expect(worker?.Secrets).toBeUndefined();
    // Each task role holds its own part's policy only.
    const roles = Object.values(compute.findResources("AWS::IAM::Role")).map((role) =>
      JSON.stringify(role.Properties.ManagedPolicyArns ?? []),
    );
    expect(roles.filter((arns) => /ApiPolicy/.test(arns) && /WorkerPolicy/.test(arns))).toEqual([]);
    expect(roles.filter((arns) => /WorkerPolicy/.test(arns))).toHaveLength(1);
    expect(roles.filter((arns) => /ApiPolicy/.test(arns))).toHaveLength(1);
  });

  it("give the worker a stop timeout that fits its drain, and scale it on the backlog per task", () => {
    compute.hasResourceProperties("AWS::ECS::TaskDefinition", {
      ContainerDefinitions: [
        Match.objectLike({ Command: ["node", "worker/main.ts"], StopTimeout: config.pollWaitSeconds + 25 + 5 }),
      ],
    });
    compute.hasResourceProperties("AWS::ApplicationAutoScaling::ScalableTarget", {
      MinCapacity: 1,
      MaxCapacity: 10,
      ScalableDimension: "ecs:service:DesiredCount",
    });
    compute.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "TargetTrackingScaling",
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        TargetValue: 20,
        CustomizedMetricSpecification: {
          Metrics: Match.arrayWith([
            Match.objectLike({ Expression: "visible / IF(tasks > 0, tasks, 1)", ReturnData: true }),
          ]),
        },
      }),
    });
  });
});

describe("the data stack, deployed into LocalStack", () => {
  // Catches: a template that synthesizes but does not deploy, outputs that do not name working
  // resources, or a stack that leaves its buckets or queues behind.
  it("runs the pipeline on its outputs, and leaves nothing when deleted", async () => {
    const local = loadConfig(uniqueResourceEnv());
    const cloudFormation = new CloudFormationClient(awsClientOptions(local));
    const stackName = `bitonal-data-${Date.now()}`;
    const settings = await deployDataStack(cloudFormation, stackName, local);
    const pipeline = await startPipeline({ settings });
    const { env, app } = pipeline;
    const form = new FormData();
    form.set("image", new File([await makePng(40, 30, (x, y) => [x * 6, y * 8, 90])], "stack.png"));
    const response = await app.request("/api/images", { method: "POST", body: form });
    expect(response.status).toBe(202);
    const { id } = await response.json();
    const completion = (await waitForCompletions(env.sqs, env.queueUrls.output, [id])).get(id);
    expect(completion).toMatchObject({ status: "done", output: { bucket: settings.OUTPUT_BUCKET } });
    // The worker stops before its queues go with the stack.
    await pipeline.stop();
    // Buckets that hold objects cannot be deleted: empty them as an operator would first.
    for (const bucket of [settings.INPUT_BUCKET, settings.OUTPUT_BUCKET]) {
      for (const key of await listKeys(env.s3, bucket)) {
        await env.s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      }
    }
    await deleteDataStack(cloudFormation, stackName);
    const buckets = (await env.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name) ?? [];
    expect(buckets).not.toContain(settings.INPUT_BUCKET);
    expect(buckets).not.toContain(settings.OUTPUT_BUCKET);
    const queues = (await env.sqs.send(new ListQueuesCommand({}))).QueueUrls ?? [];
    for (const name of [settings.INPUT_QUEUE, settings.OUTPUT_QUEUE, settings.DLQ]) {
      expect(
        queues.some((url) => url.endsWith(`/${name}`)),
        name,
      ).toBe(false);
    }
  }, 120_000);

  // Catches: the command README gives failing where the function works (its defaults, its file).
  it("npm run deploy:local deploys it and writes the settings that point the pipeline at it", async () => {
    const folder = await mkdtemp(join(tmpdir(), "bitonal-deploy-local-"));
    const endpoint = loadConfig(uniqueResourceEnv()).endpointUrl as string;
    try {
      const { stdout } = await run(process.execPath, [join(root, "deploy/local.ts")], {
        cwd: folder,
        env: { ...baseChildEnv(), AWS_ENDPOINT_URL: endpoint },
      });
      expect(stdout).toMatch(new RegExp(`stack ${LOCAL_STACK_NAME} is up in ${endpoint}`));
      const settings = Object.fromEntries(
        (await readFile(join(folder, ".env.stack"), "utf8"))
          .trim()
          .split("\n")
          .map((line) => line.split("=")),
      );
      expect(Object.keys(settings)).toEqual([
        "AWS_ENDPOINT_URL",
        "INPUT_BUCKET",
        "OUTPUT_BUCKET",
        "INPUT_QUEUE",
        "OUTPUT_QUEUE",
        "DLQ",
      ]);
      const env = await createTestEnvironment(settings);
      await env.s3.send(new HeadBucketCommand({ Bucket: settings.INPUT_BUCKET }));
      // Run again: the stack is there, nothing to change, the same settings.
      await run(process.execPath, [join(root, "deploy/local.ts")], {
        cwd: folder,
        env: { ...baseChildEnv(), AWS_ENDPOINT_URL: endpoint },
      });
      expect(await readFile(join(folder, ".env.stack"), "utf8")).toContain(settings.OUTPUT_BUCKET);
      await deleteDataStack(new CloudFormationClient(awsClientOptions(env.config)), LOCAL_STACK_NAME);
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }, 120_000);
});
