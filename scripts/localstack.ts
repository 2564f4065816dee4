// `npm run localstack`: the embedded LocalStack in the foreground until Ctrl-C.
import { loadConfig } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { startLocalStack } from "../infra/localstack.ts";

runMain(async () => {
  const config = loadConfig();
  const localstack = await startLocalStack({ ...config.localstack, log: console.log, echoOutput: true });
  console.log(`LocalStack (${localstack.mode}) ready at ${localstack.endpoint}; Ctrl-C stops it.`);
  console.log(`Use it with: AWS_ENDPOINT_URL=${localstack.endpoint}`);
  onShutdownSignal(() => localstack.stop());
});
