// `npm run setup`: creates or verifies the buckets and queues; idempotent; exits 1 on a conflict.
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { runMain } from "../infra/lifecycle.ts";
import { ensureResources } from "../infra/resources.ts";

runMain(async () => {
  const config = loadConfig();
  console.log(`Resources at ${config.endpointUrl ?? `AWS ${config.region}`}:`);
  const { report } = await ensureResources({ s3: createS3Client(config), sqs: createSqsClient(config) }, config);
  for (const { kind, name, action } of report) console.log(`  ${action.padEnd(8)} ${kind.padEnd(6)} ${name}`);
  const created = report.filter((r) => r.action === "created").length;
  console.log(created === 0 ? "Nothing to change: every resource exists as defined." : `Created ${created}.`);
});
