// `npm run setup`: creates or verifies the buckets and queues; idempotent; exits 1 on a conflict.
import { createS3Client, createSqsClient } from "../infra/aws-clients.ts";
import { loadConfig } from "../infra/config.ts";
import { runMain } from "../infra/lifecycle.ts";
import { ensureResources } from "../infra/resources.ts";

runMain(async () => {
  const config = loadConfig();
  console.log(`Resources at ${config.endpointUrl ?? `AWS ${config.region}`}:`);
  const { report } = await ensureResources({ s3: createS3Client(config), sqs: createSqsClient(config) }, config);
  for (const { kind, name, action } of report) console.log(`  ${action.padEnd(8)} ${kind.padEnd(9)} ${name}`);
  const created = report.filter((r) => r.action === "created").length;
  const retention = report.filter((r) => r.kind === "retention").length;
  if (created === 0 && retention === 0) console.log("Nothing to change: every resource exists as defined.");
  else
    console.log(
      [created > 0 && `Created ${created}.`, retention > 0 && `Retention changed on ${retention}.`]
        .filter(Boolean)
        .join(" "),
    );
});
