// `npm run localstack`: the embedded LocalStack in the foreground until Ctrl-C.
// `npm run localstack -- --prepare` only creates its venv (CI does this before the tests).
import { parseArgs } from "node:util";
import { loadConfig } from "../infra/config.ts";
import { onShutdownSignal, runMain } from "../infra/lifecycle.ts";
import { ensureVenv, startLocalStack } from "../infra/localstack.ts";

runMain(async () => {
  const config = loadConfig();
  const { values } = parseArgs({ options: { prepare: { type: "boolean", default: false } } });
  if (values.prepare) {
    console.log(`LocalStack venv ready: ${await ensureVenv(config.localstack.python, console.log)}`);
    return;
  }
  const localstack = await startLocalStack({ ...config.localstack, log: console.log, echoOutput: true });
  if (localstack.mode === "reused") {
    console.log(`LocalStack (reused) ready at ${localstack.endpoint}: it was already running; nothing to start.`);
    return;
  }
  console.log(`LocalStack (${localstack.mode}) ready at ${localstack.endpoint}; Ctrl-C stops it.`);
  console.log(`Use it with: AWS_ENDPOINT_URL=${localstack.endpoint}`);
  onShutdownSignal(() => localstack.stop());
});
