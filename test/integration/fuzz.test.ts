// The OpenAPI document is the contract: schemathesis (from the project's Python venv) fuzzes a
// running API and worker on the test LocalStack from it for about a minute, with every check
// on. Catches: a 5xx, a crash, an answer the document does not describe, a request it
// describes as wrong that is accepted, or one it describes as right that is refused.
import { spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import { usePipeline } from "../support/pipeline.ts";

const SCHEMATHESIS = join(import.meta.dirname, "../../.local/localstack/venv/bin/schemathesis");
const FUZZ_SECONDS = 50;

const stack = usePipeline({ serve: true });

// schemathesis keeps a cache of what it found in its working directory: there, not in the repository.
const ARTIFACTS = join(import.meta.dirname, "../../test-artifacts/fuzz");

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ARTIFACTS,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...baseChildEnv(), NO_COLOR: "1" },
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, output }));
  });
}

describe("fuzzing the API from its OpenAPI document", () => {
  it(
    "every check passes, the server stays up, and no answer is a 5xx",
    async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      const { code, output } = await run(SCHEMATHESIS, [
        "--config-file",
        join(import.meta.dirname, "../fuzz/schemathesis.toml"),
        "run",
        `${stack.url}/openapi.json`,
        "--checks",
        "all",
        "--max-time",
        String(FUZZ_SECONDS),
        "--workers",
        "2",
        "--seed",
        "1",
        "--report",
        "junit",
        "--report-dir",
        ARTIFACTS,
      ]);
      // The summary (operations, cases generated, checks passed) goes into the test log.
      console.log(output.split("\n").slice(-40).join("\n"));
      expect(code, output).toBe(0);
      // The closing line: no issues, or only warnings (such as "missing test data": ids the
      // generator made up find no image); a failure ends "N failures" and a non-zero exit.
      expect(output).toMatch(/(No issues found|\d+ warnings?) in \d/);
      expect(output).not.toMatch(/\d+ failures? in \d/);
      expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    },
    (FUZZ_SECONDS + 60) * 1000,
  );
});
