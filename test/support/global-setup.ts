// Starts one real LocalStack for the test run (reusing one already on the test port) and
// hands its endpoint to the tests. Its own port keeps tests away from a developer's `npm start`.
import type { TestProject } from "vitest/node";
import { loadConfig } from "../../infra/config.ts";
import { type LocalStack, startLocalStack } from "../../infra/localstack.ts";

export const TEST_LOCALSTACK_PORT = 4576;

let localstack: LocalStack | undefined;

export async function setup(project: TestProject): Promise<void> {
  const settings = loadConfig({ LOCALSTACK_PORT: String(TEST_LOCALSTACK_PORT) }).localstack;
  localstack = await startLocalStack({ ...settings, log: (m) => console.log(`[localstack] ${m}`) });
  project.provide("awsEndpoint", localstack.endpoint);
}

export async function teardown(): Promise<void> {
  await localstack?.stop();
}

declare module "vitest" {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}
