// The CDK app: `npm run deploy` (cdk deploy of both stacks) and the tests synthesize it.
// Settings come from the CDK context (`-c key=value`, cdk.json): the pipeline's own settings
// under their README names (`-c MAX_RECEIVE_COUNT=8`), and `workersMin`, `workersMax`,
// `domainName` with `certificateArn`.
import { App, RemovalPolicy, Validations } from "aws-cdk-lib";
import cdkNag from "cdk-nag";
import { loadConfig } from "../infra/config.ts";
import { ComputeStack } from "./compute-stack.ts";
import { DataStack } from "./data-stack.ts";

export interface BitonalApp {
  app: App;
  data: DataStack;
  compute: ComputeStack;
}

/** Both stacks, with cdk-nag's AWS Solutions rules checked when the app is synthesized. */
export function createBitonalApp(app = new App()): BitonalApp {
  // The compute stack reads the data stack's names by strong references (exports): a data stack
  // in use cannot lose them by accident.
  app.node.setContext("@aws-cdk/core:defaultCrossStackReferences", "strong");
  const setting = (key: string) => app.node.tryGetContext(key) as string | undefined;
  const settingNames = [
    "MAX_UPLOAD_BYTES",
    "MAX_INPUT_PIXELS",
    "MAX_DOCUMENT_BYTES",
    "MAX_PAGES",
    "WORKER_CONCURRENCY",
    "VISIBILITY_TIMEOUT_S",
    "WORKER_POLL_WAIT_S",
    "MAX_RECEIVE_COUNT",
    "RETENTION_DAYS",
    "CORS_ORIGINS",
    "LOG_LEVEL",
  ];
  const config = loadConfig(Object.fromEntries(settingNames.map((name) => [name, setting(name)])));
  const data = new DataStack(app, "BitonalData", {
    config,
    removalPolicy: setting("destroyOnDelete") === "true" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
  });
  const compute = new ComputeStack(app, "BitonalCompute", {
    data,
    config,
    workers: { min: Number(setting("workersMin") ?? 1), max: Number(setting("workersMax") ?? 10) },
    // `-c domainName=api.example.com -c certificateArn=arn:aws:acm:us-east-1:…` for HTTPS on your own name.
    domain:
      setting("domainName") && setting("certificateArn")
        ? { name: setting("domainName") as string, certificateArn: setting("certificateArn") as string }
        : undefined,
  });
  Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app));
  return { app, data, compute };
}

if (import.meta.main) createBitonalApp().app.synth();
