// The data stack: the two buckets, the three FIFO queues, the runtime and operator policies and
// an alarm on the dead-letter queue. Everything here also runs in LocalStack (CloudFormation),
// which is how npm test deploys it for real.
import { readFileSync } from "node:fs";
import {
  BootstraplessSynthesizer,
  CfnOutput,
  Duration,
  type RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
} from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct, IConstruct } from "constructs";
import { RETENTION_RULE_ID } from "../infra/bucket-retention.ts";
import { type Config, loadConfig } from "../infra/config.ts";
import { type QueueUrls, queueDefinitions } from "../infra/resources.ts";

export interface DataStackProps extends StackProps {
  /** The pipeline's settings: queue attributes and retention come from here, as for `npm run setup`. */
  config: Config;
  /** DESTROY for throwaway stacks (LocalStack, tests); RETAIN keeps images when the stack goes. */
  removalPolicy: RemovalPolicy;
}

/** cdk-nag's findings that are decisions, each with its reason, on the constructs they concern. */
export function acknowledge(constructs: IConstruct[], id: string, reason: string): void {
  for (const construct of constructs) Validations.of(construct).acknowledge({ id, reason });
}

/** The uploads' failure records (failed/<id>.json) are small files nobody needs for long. */
const FAILURE_RECORD_DAYS = 30;

export class DataStack extends Stack {
  readonly inputBucket: s3.Bucket;
  readonly outputBucket: s3.Bucket;
  readonly queues: Record<keyof QueueUrls, sqs.Queue>;
  readonly apiPolicy: iam.ManagedPolicy;
  readonly workerPolicy: iam.ManagedPolicy;
  readonly operatorPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: DataStackProps) {
    // No assets, so no bootstrap: the template deploys as it is, into AWS or LocalStack.
    super(scope, id, { synthesizer: new BootstraplessSynthesizer(), ...props });
    const { config, removalPolicy } = props;
    // Names are left to CloudFormation (bucket names are global): the outputs carry them.
    const bucket = (name: string, lifecycleRules: s3.LifecycleRule[]) =>
      new s3.Bucket(this, name, {
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        removalPolicy,
        lifecycleRules: [
          ...lifecycleRules,
          ...(config.retentionDays ? [{ id: RETENTION_RULE_ID, expiration: Duration.days(config.retentionDays) }] : []),
        ],
      });
    this.inputBucket = bucket("InputBucket", []);
    this.outputBucket = bucket("OutputBucket", [
      { id: "failure-records", prefix: "failed/", expiration: Duration.days(FAILURE_RECORD_DAYS) },
    ]);

    // The queues as infra/resources.ts defines them (one source), plus what only AWS needs:
    // high-throughput FIFO (every image is its own message group), encryption, TLS only.
    const queues: Partial<Record<keyof QueueUrls, sqs.Queue>> = {};
    for (const definition of queueDefinitions(config)) {
      const seconds = (attribute: string) => {
        const value = definition.attributes[attribute];
        return value === undefined ? undefined : Duration.seconds(Number(value));
      };
      const redrive = definition.redriveTo;
      queues[definition.role] = new sqs.Queue(this, `${definition.role}Queue`, {
        fifo: definition.attributes.FifoQueue === "true",
        contentBasedDeduplication: definition.attributes.ContentBasedDeduplication === "true",
        visibilityTimeout: seconds("VisibilityTimeout"),
        receiveMessageWaitTime: seconds("ReceiveMessageWaitTimeSeconds"),
        retentionPeriod: seconds("MessageRetentionPeriod"),
        deadLetterQueue: redrive && {
          queue: queues[redrive.role] as sqs.Queue,
          maxReceiveCount: redrive.maxReceiveCount,
        },
        deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
        fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        removalPolicy,
      });
    }
    this.queues = queues as Record<keyof QueueUrls, sqs.Queue>;

    // One policy a part: the worker, which parses untrusted images, gets only what it calls.
    this.apiPolicy = new iam.ManagedPolicy(this, "ApiPolicy", {
      description: "What the bitonal API calls (generated from infra/iam/api-policy.json)",
      document: iam.PolicyDocument.fromJson(this.policyFor("api-policy.json")),
    });
    this.workerPolicy = new iam.ManagedPolicy(this, "WorkerPolicy", {
      description: "What the bitonal worker calls (generated from infra/iam/worker-policy.json)",
      document: iam.PolicyDocument.fromJson(this.policyFor("worker-policy.json")),
    });
    this.operatorPolicy = new iam.ManagedPolicy(this, "OperatorPolicy", {
      description: "What npm run setup and npm run redrive call (generated from infra/iam/operator-policy.json)",
      document: iam.PolicyDocument.fromJson(this.policyFor("operator-policy.json")),
    });
    // cdk-nag v3 wants each wildcard finding acknowledged by name: one per bucket's objects.
    for (const bucket of [this.inputBucket, this.outputBucket]) {
      const logicalId = this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
      acknowledge(
        [this.apiPolicy, this.workerPolicy],
        `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>/*]`,
        "Objects are named by image id: the object actions must cover <bucket>/*, and nothing else is granted on a wildcard.",
      );
    }

    new cloudwatch.Alarm(this, "DeadLetterAlarm", {
      alarmDescription:
        "An image failed MAX_RECEIVE_COUNT times for a transient reason: inspect it, fix, npm run redrive.",
      metric: this.queues.deadLetter.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    acknowledge(
      [this.inputBucket, this.outputBucket],
      "AwsSolutions-S1",
      "Every access goes through the API, whose request log names the image id.",
    );
    acknowledge(
      [this.queues.output],
      "AwsSolutions-SQS3",
      "Completion messages are notifications for consumers; the result itself is stored in S3 and never lost.",
    );

    for (const [name, value] of Object.entries(this.pipelineSettings())) new CfnOutput(this, name, { value });
  }

  /** The settings that point the pipeline at this stack's resources (README's configuration names). */
  pipelineSettings(): Record<string, string> {
    return {
      INPUT_BUCKET: this.inputBucket.bucketName,
      OUTPUT_BUCKET: this.outputBucket.bucketName,
      INPUT_QUEUE: this.queues.input.queueName,
      OUTPUT_QUEUE: this.queues.output.queueName,
      DLQ: this.queues.deadLetter.queueName,
    };
  }

  /**
   * A policy file of infra/iam/ with its default names replaced by this stack's resources: the
   * files stay the one source (npm test checks them against the calls the code makes).
   */
  private policyFor(file: string): Record<string, unknown> {
    // The files name the default resources, whatever this deployment's settings call them.
    const defaults = loadConfig({});
    const document = JSON.parse(readFileSync(new URL(`../infra/iam/${file}`, import.meta.url), "utf8"));
    const buckets: Record<string, s3.Bucket> = {
      [defaults.inputBucket]: this.inputBucket,
      [defaults.outputBucket]: this.outputBucket,
    };
    const queues: Record<string, sqs.Queue> = {
      [defaults.inputQueue]: this.queues.input,
      [defaults.outputQueue]: this.queues.output,
      [defaults.deadLetterQueue]: this.queues.deadLetter,
    };
    const resource = (arn: string): string => {
      const s3Match = /^arn:aws:s3:::([^/]+)(\/\*)?$/.exec(arn);
      if (s3Match && buckets[s3Match[1]]) return `${buckets[s3Match[1]].bucketArn}${s3Match[2] ?? ""}`;
      const sqsMatch = /^arn:aws:sqs:\*:\*:(.+)$/.exec(arn);
      if (sqsMatch && queues[sqsMatch[1]]) return queues[sqsMatch[1]].queueArn;
      throw new Error(`${file}: no resource of this stack matches ${arn}`);
    };
    for (const statement of document.Statement) statement.Resource = statement.Resource.map(resource);
    return document;
  }
}
