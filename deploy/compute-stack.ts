// The compute stack: the API as a Fargate service behind a load balancer, the worker as a
// Fargate service that scales on the backlog per task. LocalStack's free edition runs none of
// ECS, ELB or Application Auto Scaling, so this stack is synthesized, linted and asserted in
// npm test, and deployed only by `npm run deploy` to real AWS.
import { fileURLToPath } from "node:url";
import { CfnOutput, type CfnResource, Duration, Stack, type StackProps } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as ecsPatterns from "aws-cdk-lib/aws-ecs-patterns";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import type { Config } from "../infra/config.ts";
import { acknowledge, type DataStack } from "./data-stack.ts";

export interface ComputeStackProps extends StackProps {
  data: DataStack;
  config: Config;
  /** Worker tasks: never fewer (a cold queue answers at once), never more (a cost ceiling). */
  workers: { min: number; max: number };
}

const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
const API_PORT = 3000;
/** Images waiting per worker task that scaling aims at: a few minutes of work at 12 MP. */
const BACKLOG_PER_TASK = 20;
// SIGTERM lets in-flight jobs finish for 25 s after the poll in flight ends (README, "The
// worker"); the stop timeout must cover both, and Fargate allows at most 120 s.
const DRAIN_SECONDS = 25;

export class ComputeStack extends Stack {
  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { data, config, workers } = props;

    const vpc = new ec2.Vpc(this, "Vpc", { maxAzs: 2, natGateways: 1 });
    vpc.addFlowLog("FlowLog");
    // Originals and results go to S3 through a gateway endpoint: free, where the NAT gateway
    // would charge for every byte.
    vpc.addGatewayEndpoint("S3", { service: ec2.GatewayVpcEndpointAwsService.S3 });
    const cluster = new ecs.Cluster(this, "Cluster", { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    // The project's own Dockerfile: one image, two commands.
    const image = ecs.ContainerImage.fromAsset(PROJECT_ROOT);
    // Images are private in production: every /api route wants this token.
    const apiToken = new secretsmanager.Secret(this, "ApiToken", {
      description: "bitonal's API_TOKEN",
      generateSecretString: { excludePunctuation: true, passwordLength: 40 },
    });
    // Every setting of README's configuration table that means something in AWS.
    const environment: Record<string, string> = {
      ...data.pipelineSettings(),
      AWS_REGION: this.region,
      MAX_UPLOAD_BYTES: String(config.maxUploadBytes),
      MAX_INPUT_PIXELS: String(config.maxInputPixels),
      WORKER_CONCURRENCY: String(config.workerConcurrency),
      VISIBILITY_TIMEOUT_S: String(config.visibilityTimeoutSeconds),
      WORKER_POLL_WAIT_S: String(config.pollWaitSeconds),
      MAX_RECEIVE_COUNT: String(config.maxReceiveCount),
      CORS_ORIGINS: config.corsOrigins.join(","),
      LOG_LEVEL: config.logLevel,
      LOG_FORMAT: "json",
      ...(config.retentionDays ? { RETENTION_DAYS: String(config.retentionDays) } : {}),
    };
    const secrets = { API_TOKEN: ecs.Secret.fromSecretsManager(apiToken) };
    const logging = (streamPrefix: string) =>
      ecs.LogDrivers.awsLogs({ streamPrefix, logRetention: logs.RetentionDays.ONE_MONTH });

    const api = new ecsPatterns.ApplicationLoadBalancedFargateService(this, "Api", {
      cluster,
      cpu: 1024,
      memoryLimitMiB: 2048,
      desiredCount: 2,
      taskImageOptions: {
        image,
        command: ["node", "api/main.ts"],
        containerPort: API_PORT,
        environment: { ...environment, PORT: String(API_PORT), HOST: "0.0.0.0" },
        secrets,
        logDriver: logging("api"),
      },
      publicLoadBalancer: true,
      // A deployment starts new tasks before it stops old ones: no capacity lost while it runs.
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });
    api.targetGroup.configureHealthCheck({ path: "/readyz", healthyHttpCodes: "200" });
    // cfn-lint W3005: the pattern adds a DependsOn on the listener that a Ref already implies;
    // redundant, harmless, and not ours to change.
    (api.service.node.defaultChild as CfnResource).addMetadata("cfn-lint", { config: { ignore_checks: ["W3005"] } });
    api.taskDefinition.taskRole.addManagedPolicy(data.runtimePolicy);

    const workerTask = new ecs.FargateTaskDefinition(this, "WorkerTask", { cpu: 2048, memoryLimitMiB: 4096 });
    workerTask.addContainer("worker", {
      image,
      command: ["node", "worker/main.ts"],
      environment: { ...environment, MALLOC_ARENA_MAX: "2", WORKER_METRICS_PORT: "9100" },
      secrets,
      logging: logging("worker"),
      stopTimeout: Duration.seconds(Math.min(120, config.pollWaitSeconds + DRAIN_SECONDS + 5)),
    });
    workerTask.taskRole.addManagedPolicy(data.runtimePolicy);
    const worker = new ecs.FargateService(this, "Worker", {
      cluster,
      taskDefinition: workerTask,
      desiredCount: workers.min,
      minHealthyPercent: 100,
      circuitBreaker: { rollback: true },
    });

    // Backlog per task (AWS's recommended measure for queue workers): visible messages ÷ running
    // tasks, tracked at BACKLOG_PER_TASK. By the L1 resource because CDK's target tracking takes
    // one direct metric only, and Application Auto Scaling itself takes this metric math.
    const target = new appscaling.ScalableTarget(this, "WorkerScaling", {
      serviceNamespace: appscaling.ServiceNamespace.ECS,
      resourceId: `service/${cluster.clusterName}/${worker.serviceName}`,
      scalableDimension: "ecs:service:DesiredCount",
      minCapacity: workers.min,
      maxCapacity: workers.max,
    });
    const stat = (id: string, namespace: string, metricName: string, dimensions: Record<string, string>) => ({
      id,
      returnData: false,
      metricStat: {
        stat: "Average",
        metric: {
          namespace,
          metricName,
          dimensions: Object.entries(dimensions).map(([name, value]) => ({ name, value })),
        },
      },
    });
    new appscaling.CfnScalingPolicy(this, "BacklogPerTask", {
      policyName: "backlog-per-task",
      policyType: "TargetTrackingScaling",
      scalingTargetId: target.scalableTargetId,
      targetTrackingScalingPolicyConfiguration: {
        targetValue: BACKLOG_PER_TASK,
        scaleOutCooldown: 60,
        scaleInCooldown: 300,
        customizedMetricSpecification: {
          metrics: [
            stat("visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", {
              QueueName: data.queues.input.queueName,
            }),
            stat("tasks", "ECS/ContainerInsights", "RunningTaskCount", {
              ClusterName: cluster.clusterName,
              ServiceName: worker.serviceName,
            }),
            { id: "backlog", expression: "visible / IF(tasks > 0, tasks, 1)", returnData: true },
          ],
        },
      },
    });

    new CfnOutput(this, "ApiUrl", { value: `http://${api.loadBalancer.loadBalancerDnsName}` });
    new CfnOutput(this, "ApiTokenSecret", { value: apiToken.secretName });

    acknowledge([apiToken], "AwsSolutions-SMG4", "A bearer token shared with clients: rotate it by hand, with them.");
    acknowledge(
      [api.loadBalancer],
      "AwsSolutions-ELB2",
      "Every request is logged by the API itself, with its id; ALB access logs would duplicate them at a cost.",
    );
    acknowledge(
      [api.loadBalancer],
      "AwsSolutions-EC23",
      "A public web API: the load balancer takes requests from anywhere, the tasks only from it.",
    );
    acknowledge(
      [api.taskDefinition.executionRole, workerTask.executionRole].filter((role) => role !== undefined),
      "AwsSolutions-IAM5[Resource::*]",
      "The execution roles pull the image: ecr:GetAuthorizationToken has no resource to name.",
    );
    acknowledge(
      [api.taskDefinition, workerTask],
      "AwsSolutions-ECS2",
      "Only non-secret settings are environment variables; API_TOKEN comes from Secrets Manager.",
    );
  }
}
