// The compute stack: the API as a Fargate service behind a load balancer, the worker as a
// Fargate service that scales on the backlog per task. LocalStack's free edition runs none of
// ECS, ELB or Application Auto Scaling, so this stack is synthesized, linted and asserted in
// npm test, and deployed only by `npm run deploy` to real AWS.
import { fileURLToPath } from "node:url";
import { CfnOutput, type CfnResource, Duration, Stack, type StackProps } from "aws-cdk-lib";
import * as appscaling from "aws-cdk-lib/aws-applicationautoscaling";
import * as acm from "aws-cdk-lib/aws-certificatemanager";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as ecsPatterns from "aws-cdk-lib/aws-ecs-patterns";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as logs from "aws-cdk-lib/aws-logs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import type { Construct } from "constructs";
import type { Config } from "../infra/config.ts";
import { acknowledge, type DataStack } from "./data-stack.ts";

export interface ComputeStackProps extends StackProps {
  data: DataStack;
  config: Config;
  /** Worker tasks: never fewer (a cold queue answers at once), never more (a cost ceiling). */
  workers: { min: number; max: number };
  /** A domain of your own for the API, with its ACM certificate (in us-east-1, as CloudFront requires). */
  domain?: { name: string; certificateArn: string };
}

const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));
const API_PORT = 3000;
/** Images waiting per worker task that scaling aims at: a few minutes of work at 12 MP. */
const BACKLOG_PER_TASK = 20;
// SIGTERM lets in-flight jobs finish for 25 s after the poll in flight ends (README, "The
// worker"); the stop timeout must cover both, and Fargate allows at most 120 s.
const DRAIN_SECONDS = 25;
// The header CloudFront adds to every request it sends the load balancer, which forwards only
// those: the load balancer cannot be reached around CloudFront (its HTTPS, its WAF).
const ORIGIN_HEADER = "X-Bitonal-Origin-Verify";
// Requests one client address may make in 5 minutes (WAF's window) before it is refused for a while.
const RATE_LIMIT_PER_5_MIN = 3_000;

export class ComputeStack extends Stack {
  constructor(scope: Construct, id: string, props: ComputeStackProps) {
    super(scope, id, props);
    const { data, config, workers, domain } = props;

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
    // Image links are signed with a key of their own, shared by every API task; to rotate it,
    // set the secret to "new,old" for a link lifetime, then to "new".
    const linkSigningKey = new secretsmanager.Secret(this, "LinkSigningKey", {
      description: "bitonal's LINK_SIGNING_KEY",
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    const originSecret = new secretsmanager.Secret(this, "OriginVerify", {
      description: "The header value CloudFront sends the load balancer, which refuses requests without it",
      generateSecretString: { excludePunctuation: true, passwordLength: 32 },
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
    // The API's alone: the worker, which parses untrusted images, holds no token and no key.
    const apiSecrets = {
      API_TOKEN: ecs.Secret.fromSecretsManager(apiToken),
      LINK_SIGNING_KEY: ecs.Secret.fromSecretsManager(linkSigningKey),
    };
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
        secrets: apiSecrets,
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
    api.taskDefinition.taskRole.addManagedPolicy(data.apiPolicy);

    const workerTask = new ecs.FargateTaskDefinition(this, "WorkerTask", { cpu: 2048, memoryLimitMiB: 4096 });
    workerTask.addContainer("worker", {
      image,
      command: ["node", "worker/main.ts"],
      environment: { ...environment, MALLOC_ARENA_MAX: "2", WORKER_METRICS_PORT: "9100" },
      logging: logging("worker"),
      stopTimeout: Duration.seconds(Math.min(120, config.pollWaitSeconds + DRAIN_SECONDS + 5)),
    });
    workerTask.taskRole.addManagedPolicy(data.workerPolicy);
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

    // The edge. HTTPS without a domain of one's own: CloudFront with its default certificate
    // (or yours, with a domain), HTTP redirected, nothing cached (every answer is per image or
    // private), every header, query and method passed on.
    const originVerify = originSecret.secretValue.unsafeUnwrap();
    const distribution = new cloudfront.Distribution(this, "Edge", {
      comment: "bitonal API",
      defaultBehavior: {
        origin: new origins.HttpOrigin(api.loadBalancer.loadBalancerDnsName, {
          // Without a domain the load balancer has no certificate: CloudFront reaches it over HTTP.
          protocolPolicy: cloudfront.OriginProtocolPolicy.HTTP_ONLY,
          customHeaders: { [ORIGIN_HEADER]: originVerify },
          readTimeout: Duration.seconds(60),
        }),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER,
      },
      ...(domain && {
        domainNames: [domain.name],
        certificate: acm.Certificate.fromCertificateArn(this, "Certificate", domain.certificateArn),
        minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      }),
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    });
    // The load balancer answers only what comes through CloudFront.
    (api.listener.node.defaultChild as elbv2.CfnListener).defaultActions = [
      {
        type: "fixed-response",
        fixedResponseConfig: {
          statusCode: "403",
          contentType: "text/plain",
          messageBody: "Use the API's HTTPS address.",
        },
      },
    ];
    api.listener.addAction("FromEdge", {
      priority: 1,
      conditions: [elbv2.ListenerCondition.httpHeader(ORIGIN_HEADER, [originVerify])],
      action: elbv2.ListenerAction.forward([api.targetGroup]),
    });
    // A WAF on the load balancer (a regional one, so the stack deploys in any region): readiness
    // and metrics are for the load balancer and the operator inside the VPC, never the internet,
    // and each client address (CloudFront passes it in X-Forwarded-For) is rate limited.
    const visibility = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName: name,
      sampledRequestsEnabled: true,
    });
    const pathIs = (path: string, constraint: "EXACTLY" | "STARTS_WITH") => ({
      byteMatchStatement: {
        fieldToMatch: { uriPath: {} },
        positionalConstraint: constraint,
        searchString: path,
        textTransformations: [{ priority: 0, type: "NONE" }],
      },
    });
    const firewall = new wafv2.CfnWebACL(this, "Firewall", {
      scope: "REGIONAL",
      defaultAction: { allow: {} },
      visibilityConfig: visibility("bitonal"),
      rules: [
        {
          name: "OperationsEndpointsArePrivate",
          priority: 0,
          action: { block: {} },
          statement: { orStatement: { statements: [pathIs("/metrics", "STARTS_WITH"), pathIs("/readyz", "EXACTLY")] } },
          visibilityConfig: visibility("private-paths"),
        },
        {
          name: "RatePerClient",
          priority: 1,
          action: { block: {} },
          statement: {
            rateBasedStatement: {
              limit: RATE_LIMIT_PER_5_MIN,
              aggregateKeyType: "FORWARDED_IP",
              forwardedIpConfig: { headerName: "X-Forwarded-For", fallbackBehavior: "MATCH" },
            },
          },
          visibilityConfig: visibility("rate-per-client"),
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, "FirewallOnLoadBalancer", {
      resourceArn: api.loadBalancer.loadBalancerArn,
      webAclArn: firewall.attrArn,
    });

    new CfnOutput(this, "ApiUrl", { value: `https://${domain?.name ?? distribution.distributionDomainName}` });
    new CfnOutput(this, "LinkSigningKeySecret", { value: linkSigningKey.secretName });
    new CfnOutput(this, "ApiTokenSecret", { value: apiToken.secretName });

    acknowledge([apiToken], "AwsSolutions-SMG4", "A bearer token shared with clients: rotate it by hand, with them.");
    acknowledge(
      [linkSigningKey],
      "AwsSolutions-SMG4",
      "Rotated by hand in two steps (new,old then new), so that links already given out keep working.",
    );
    acknowledge(
      [originSecret],
      "AwsSolutions-SMG4",
      "Known to CloudFront and the load balancer only, both from the template: rotating means redeploying.",
    );
    acknowledge([distribution], "AwsSolutions-CFR1", "A public API for users anywhere; no country is to be refused.");
    acknowledge(
      [distribution],
      "AwsSolutions-CFR2",
      "The WAF is on the load balancer (regional, so the stack deploys in any region), which takes only CloudFront's requests.",
    );
    acknowledge(
      [distribution],
      "AwsSolutions-CFR3",
      "Every request is logged by the API itself, with its id; CloudFront access logs would duplicate them at a cost.",
    );
    acknowledge(
      [distribution],
      "AwsSolutions-CFR4",
      "Without a domain, CloudFront's default certificate allows no minimum TLS version; with one, TLS 1.2 is the minimum.",
    );
    acknowledge(
      [distribution],
      "AwsSolutions-CFR5",
      "Without a domain the load balancer has no certificate; CloudFront reaches it over HTTP (DEPLOY.md: use a domain to close this).",
    );
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
      "Only non-secret settings are environment variables; API_TOKEN and LINK_SIGNING_KEY come from Secrets Manager.",
    );
  }
}
