// Start-up and shutdown for the entry points: one clean message for a start-up failure,
// and one orderly shutdown on SIGINT/SIGTERM whatever else is running.
import { ConfigError, loadConfig } from "./config.ts";
import { MissingResourceError, ResourceConflictError } from "./resources.ts";

/**
 * Runs an entry point. A configuration or resource error, or an S3/SQS endpoint that cannot be
 * reached, prints one message that says what to do (no stack trace) and exits 1.
 */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const known =
      error instanceof ConfigError || error instanceof ResourceConflictError || error instanceof MissingResourceError;
    console.error(known ? (error as Error).message : (unreachableEndpointMessage(error) ?? error));
    process.exit(1);
  });
}

const UNREACHABLE_CODES = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
]);

/** One sentence for an S3/SQS endpoint that does not answer (or no credentials for real AWS). */
export function unreachableEndpointMessage(error: unknown): string | undefined {
  const { code, name } = (error ?? {}) as { code?: string; name?: string };
  const unreachable = (code && UNREACHABLE_CODES.has(code)) || name === "TimeoutError";
  const noCredentials = name === "CredentialsProviderError";
  if (!unreachable && !noCredentials) return undefined;
  let endpoint: string | undefined;
  let region = "us-east-1";
  try {
    ({ endpointUrl: endpoint, region } = loadConfig());
  } catch {
    // A bad configuration was reported before any call could be made; keep the defaults.
  }
  const localstack =
    "for the embedded LocalStack that `npm start` runs, set AWS_ENDPOINT_URL=http://127.0.0.1:4566 (in .env or the environment)";
  if (endpoint) {
    return `S3 and SQS at ${endpoint} cannot be reached (${code ?? name}); start them (\`npm start\` or \`npm run localstack\`) or set AWS_ENDPOINT_URL to where they listen.`;
  }
  return noCredentials
    ? `No AWS credentials were found for real AWS (AWS_ENDPOINT_URL is not set); ${localstack}.`
    : `S3 and SQS of real AWS (${region}) cannot be reached (${code ?? name}); ${localstack}.`;
}

/**
 * Calls `shutdown` once on the first SIGINT or SIGTERM and exits 0 when it resolves.
 * A second signal while shutting down exits at once, for the impatient Ctrl-C.
 */
export function onShutdownSignal(shutdown: (signal: string) => Promise<void>): void {
  let shuttingDown = false;
  const handle = (signal: NodeJS.Signals) => {
    if (shuttingDown) process.exit(130);
    shuttingDown = true;
    shutdown(signal).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("shutdown failed:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handle);
  process.on("SIGTERM", handle);
}
