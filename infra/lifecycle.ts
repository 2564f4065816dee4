// Start-up and shutdown for the entry points: one clean message for a start-up failure,
// and one orderly shutdown on SIGINT/SIGTERM whatever else is running.
import { ConfigError } from "./config.ts";
import { MissingResourceError, ResourceConflictError } from "./resources.ts";

/** Runs an entry point; a configuration or resource error prints its message (no stack) and exits 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    const known =
      error instanceof ConfigError || error instanceof ResourceConflictError || error instanceof MissingResourceError;
    console.error(known ? (error as Error).message : error);
    process.exit(1);
  });
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
