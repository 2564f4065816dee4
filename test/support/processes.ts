// Child processes as a user starts them, and checks that nothing of them is left behind.
export { portIsOpen } from "../../infra/localstack.ts";
export { freePort } from "../../scripts/bench/run-pipeline.ts";

import { type ChildProcess, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";

/** Starts `node <script> [args…]` in its own process group, as a terminal would start `npm start`. */
export function startScript(script: string | string[], env: Record<string, string | undefined>) {
  return startCommand(process.execPath, Array.isArray(script) ? script : [script], env);
}

/** Starts any command in its own process group, with its output collected. */
export function startCommand(command: string, args: string[], env: Record<string, string | undefined>) {
  const child = spawn(command, args, {
    env: env as NodeJS.ProcessEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => output,
    /** Resolves with the first match of `pattern` in the output, or fails with the output so far. */
    async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<RegExpMatchArray> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const match = output.match(pattern);
        if (match) return match;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`never printed ${pattern}; output was:\n${output}`);
    },
    /** Ctrl-C: SIGINT to the whole process group; nothing when it has gone already. */
    interrupt: () => {
      try {
        process.kill(-(child.pid as number), "SIGINT");
      } catch (error) {
        // Gone: a `finally` that interrupts must not hide why the test failed.
        if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
      }
    },
  };
}

/** Pids of live processes whose environment holds `entry` (e.g. the GATEWAY_LISTEN of one LocalStack). */
export async function processesWithEnv(entry: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const environ = await readFile(`/proc/${name}/environ`, "utf8").catch(() => "");
    if (environ.split("\0").includes(entry)) pids.push(Number(name));
  }
  return pids;
}

/** Pids of live processes whose environment holds `entry` and whose command line ends with `lastArgs`. */
export async function processesWithEnvAndArgs(entry: string, lastArgs: string[]): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await processesWithEnv(entry)) {
    // A process that exited meanwhile has no command line: it is not a match.
    const args = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).split("\0").filter(Boolean);
    if (lastArgs.every((arg, n) => args.at(n - lastArgs.length) === arg)) pids.push(pid);
  }
  return pids;
}

export async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return check();
}

export type Script = ReturnType<typeof startScript>;
export type { ChildProcess };
