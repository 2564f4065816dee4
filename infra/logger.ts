// Logs for every process of the pipeline: JSON lines for machines (files, pipes, log
// collectors), one coloured line per event for a person at a terminal.
import { pino } from "pino";
import pretty from "pino-pretty";
import type { Config } from "./config.ts";

export type { Logger } from "pino";

export function createLogger(config: Pick<Config, "logLevel" | "logFormat">, service: string) {
  const options = {
    level: config.logLevel,
    base: { service },
    // Tokens must never reach a log line, even when a request's headers are logged.
    redact: ["req.headers.authorization", "headers.authorization"],
  };
  const forPeople = config.logFormat === "pretty" || (config.logFormat === "auto" && process.stdout.isTTY === true);
  if (!forPeople) return pino(options);
  // A stream in this thread, not a worker-thread transport: a terminal reads few lines, and
  // a line must not be lost when Ctrl-C ends the process.
  return pino(
    options,
    pretty({
      colorize: process.stdout.isTTY === true,
      translateTime: "SYS:HH:MM:ss",
      ignore: "pid,hostname",
      sync: true,
    }),
  );
}
