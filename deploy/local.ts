// `npm run deploy:local`: the data stack into a running LocalStack through its CloudFormation
// API (the one `npm start` runs, or AWS_ENDPOINT_URL), then the settings that point the
// pipeline at the stack's buckets and queues, written to .env.stack. The compute stack needs
// ECS and a load balancer, which LocalStack's free edition does not run: `npm run deploy` only.
import { writeFile } from "node:fs/promises";
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
  type Stack,
  UpdateStackCommand,
} from "@aws-sdk/client-cloudformation";
import { App, RemovalPolicy } from "aws-cdk-lib";
import { awsClientOptions } from "../infra/aws-clients.ts";
import { type Config, loadConfig } from "../infra/config.ts";
import { runMain } from "../infra/lifecycle.ts";
import { DataStack } from "./data-stack.ts";

export const LOCAL_STACK_NAME = "bitonal-data";

/**
 * The data stack alone, for the pipeline's own settings (queue attributes, retention), and
 * throwaway: its buckets go with it. The compute stack is not built: it is not deployed here,
 * and building it would stage the whole project as its image asset.
 */
function dataStackTemplate(config: Config): string {
  const app = new App();
  const data = new DataStack(app, "BitonalData", { config, removalPolicy: RemovalPolicy.DESTROY });
  return JSON.stringify(app.synth().getStackByName(data.stackName).template);
}

/** Creates the stack, or updates it when it exists; returns the pipeline settings from its outputs. */
export async function deployDataStack(cloudFormation: CloudFormationClient, stackName: string, config: Config) {
  const request = {
    StackName: stackName,
    TemplateBody: dataStackTemplate(config),
    Capabilities: ["CAPABILITY_IAM"] as const,
  };
  const existing = await describe(cloudFormation, stackName);
  if (existing && !existing.StackStatus?.startsWith("DELETE")) {
    await cloudFormation
      .send(new UpdateStackCommand({ ...request, Capabilities: [...request.Capabilities] }))
      .catch((error) => {
        if (!/No updates are to be performed/.test(String(error))) throw error;
      });
  } else {
    await cloudFormation.send(new CreateStackCommand({ ...request, Capabilities: [...request.Capabilities] }));
  }
  const stack = await settled(cloudFormation, stackName);
  if (!/^(CREATE|UPDATE)_COMPLETE$/.test(stack?.StackStatus ?? "")) {
    throw new Error(`stack ${stackName} ended ${stack?.StackStatus}: ${stack?.StackStatusReason ?? "no reason given"}`);
  }
  // CloudFormation output keys cannot hold "_": INPUTBUCKET is INPUT_BUCKET.
  const settings: Record<string, string> = {};
  for (const name of ["INPUT_BUCKET", "OUTPUT_BUCKET", "INPUT_QUEUE", "OUTPUT_QUEUE", "DLQ"]) {
    const value = stack?.Outputs?.find((o) => o.OutputKey === name.replaceAll("_", ""))?.OutputValue;
    if (!value) throw new Error(`stack ${stackName} has no output for ${name}`);
    settings[name] = value;
  }
  return settings;
}

export async function deleteDataStack(cloudFormation: CloudFormationClient, stackName: string): Promise<void> {
  await cloudFormation.send(new DeleteStackCommand({ StackName: stackName }));
  const stack = await settled(cloudFormation, stackName);
  if (stack && stack.StackStatus !== "DELETE_COMPLETE") {
    throw new Error(`stack ${stackName} ended ${stack.StackStatus}: ${stack.StackStatusReason ?? ""}`);
  }
}

async function describe(cloudFormation: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  try {
    return (await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
  } catch (error) {
    if (/does not exist/.test(String(error))) return undefined;
    throw error;
  }
}

async function settled(cloudFormation: CloudFormationClient, stackName: string): Promise<Stack | undefined> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const stack = await describe(cloudFormation, stackName);
    if (!stack?.StackStatus?.endsWith("_IN_PROGRESS")) return stack;
    if (Date.now() > deadline) throw new Error(`stack ${stackName} still ${stack.StackStatus} after 2 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

if (import.meta.main) {
  runMain(async () => {
    const base = loadConfig();
    // Without AWS_ENDPOINT_URL: the LocalStack that `npm start` or `npm run localstack` runs.
    const endpointUrl = base.endpointUrl ?? `http://127.0.0.1:${base.localstack.port}`;
    const cloudFormation = new CloudFormationClient(awsClientOptions({ ...base, endpointUrl }));
    const settings = await deployDataStack(cloudFormation, LOCAL_STACK_NAME, base);
    const lines = [`AWS_ENDPOINT_URL=${endpointUrl}`, ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)];
    await writeFile(".env.stack", `${lines.join("\n")}\n`);
    console.log(`stack ${LOCAL_STACK_NAME} is up in ${endpointUrl}; its settings, written to .env.stack:`);
    console.log(`  ${lines.join("\n  ")}`);
    console.log("run the pipeline on it: cp .env.stack .env && npm start (LocalStack kept up by npm run localstack)");
  });
}
