// Structured JSON logs for every process of the pipeline.
import { pino } from "pino";
import type { Config } from "./config.ts";

export type { Logger } from "pino";

export function createLogger(config: Pick<Config, "logLevel">, service: string) {
  return pino({
    level: config.logLevel,
    base: { service },
    // Tokens must never reach a log line, even when a request's headers are logged.
    redact: ["req.headers.authorization", "headers.authorization"],
  });
}
