// Starts a real LocalStack for development and tests: reused if one already listens on the
// port, in a container where a Docker engine answers, otherwise on the host from a
// project-local Python venv. Whatever it starts, it stops, also when its parent dies.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, existsSync, openSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { baseChildEnv, type LocalStackSettings } from "./config.ts";

const run = promisify(execFile);
const PROJECT_ROOT = resolve(import.meta.dirname, "..");
const WORK_DIR = join(PROJECT_ROOT, ".local", "localstack");
const VENV_DIR = join(WORK_DIR, "venv");
const REQUIREMENTS_FILE = join(PROJECT_ROOT, "infra", "localstack-requirements.txt");
const READY_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 10_000;
// LocalStack 4.14 uses Python 3.12 syntax (PEP 695 generics); 3.11 fails on import.
const MIN_PYTHON = [3, 12] as const;

export interface LocalStack {
  endpoint: string;
  mode: "reused" | "host" | "container";
  /** The host-mode process, for benchmarks that measure its CPU time. */
  pid?: number;
  /** Stops what this call started; a reused LocalStack is left running. */
  stop(): Promise<void>;
}

export interface LaunchOptions extends LocalStackSettings {
  /** Progress messages ("creating venv…"); LocalStack's own output goes to its log file. */
  log?: (message: string) => void;
  /** LocalStack's own output on this terminal (for `npm run localstack`) instead of its log file. */
  echoOutput?: boolean;
}

export async function startLocalStack(options: LaunchOptions): Promise<LocalStack> {
  const log = options.log ?? (() => {});
  const endpoint = `http://127.0.0.1:${options.port}`;

  if (await portIsOpen(options.port)) {
    if (!(await isReadyLocalStack(endpoint))) {
      throw new Error(
        `Port ${options.port} is in use by something that is not a LocalStack serving S3 and SQS. ` +
          "Stop it, or choose another port with LOCALSTACK_PORT.",
      );
    }
    log(`reusing the LocalStack already at ${endpoint}`);
    return { endpoint, mode: "reused", stop: async () => {} };
  }

  if (await dockerEngineAnswers()) return startInContainer(options, log);
  return startOnHost(options, endpoint, log);
}

// S3 and SQS for the pipeline; CloudFormation and what the data stack holds (IAM policies, a
// CloudWatch alarm) for `npm run deploy:local` and its test.
const SERVICES = "s3,sqs,cloudformation,iam,sts,cloudwatch";

async function startInContainer(options: LaunchOptions, log: (m: string) => void): Promise<LocalStack> {
  const { LocalstackContainer } = await import("@testcontainers/localstack");
  log(`starting ${options.image} with testcontainers`);
  const container = await new LocalstackContainer(options.image)
    .withEnvironment({
      SERVICES,
      EAGER_SERVICE_LOADING: "1",
      ...(options.authToken && { LOCALSTACK_AUTH_TOKEN: options.authToken }),
    })
    .start();
  return { endpoint: container.getConnectionUri(), mode: "container", stop: async () => void (await container.stop()) };
}

async function startOnHost(options: LaunchOptions, endpoint: string, log: (m: string) => void): Promise<LocalStack> {
  const python = await ensureVenv(options.python, log);
  const dataDir = join(WORK_DIR, `port-${options.port}`);
  await rm(join(dataDir, "tmp"), { recursive: true, force: true });
  await mkdir(join(dataDir, "tmp"), { recursive: true });
  await mkdir(join(dataDir, "volume"), { recursive: true });
  const logFile = join(dataDir, "localstack.log");
  const output = options.echoOutput ? "inherit" : openSync(logFile, "w");

  log(`starting LocalStack 4.14 on ${endpoint}${options.echoOutput ? "" : ` (log: ${logFile})`}`);
  const child = spawn(python, ["-c", BOOTSTRAP, String(process.pid)], {
    env: {
      ...baseChildEnv(),
      GATEWAY_LISTEN: `127.0.0.1:${options.port}`,
      SERVICES,
      EAGER_SERVICE_LOADING: "1",
      DNS_ADDRESS: "0",
      SKIP_SSL_CERT_DOWNLOAD: "1",
      DISABLE_EVENTS: "1",
      LOCALSTACK_VOLUME_DIR: join(dataDir, "volume"),
      TMPDIR: join(dataDir, "tmp"),
      ...(options.authToken && { LOCALSTACK_AUTH_TOKEN: options.authToken }),
    },
    // Its own process group: a Ctrl-C in the terminal reaches only us, and we stop it last,
    // after the API and worker have drained.
    detached: true,
    // Written straight to a file or the terminal, never through a pipe of ours: if we die,
    // a broken pipe would stall LocalStack's own shutdown.
    stdio: ["ignore", output, output],
  });
  if (typeof output === "number") closeSync(output); // the child holds its own copy
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  try {
    await waitUntilReady(endpoint, child);
  } catch (error) {
    await stopChild(child);
    const tail = (await readFile(options.echoOutput ? "/dev/null" : logFile, "utf8").catch(() => ""))
      .split("\n")
      .slice(-20)
      .join("\n");
    throw new Error(`${(error as Error).message}\n--- last lines of ${logFile} ---\n${tail}`);
  }
  return {
    endpoint,
    mode: "host",
    pid: child.pid,
    stop: async () => {
      process.off("exit", killOnExit);
      await stopChild(child);
    },
  };
}

/**
 * Runs LocalStack's own runtime entry point, after asking the kernel to SIGTERM it when its
 * parent dies (PR_SET_PDEATHSIG): no LocalStack outlives a crashed or SIGKILLed parent.
 */
const BOOTSTRAP = `
import ctypes, os, runpy, signal, sys
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit("parent exited before LocalStack started")
sys.argv = ["localstack"]
runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
`;

async function waitUntilReady(endpoint: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `LocalStack exited during start-up (${signal ?? `code ${code}`})`;
  });
  while (Date.now() < deadline) {
    if (exited) throw new Error(exited);
    if (await isReadyLocalStack(endpoint)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`LocalStack was not ready at ${endpoint} within ${READY_TIMEOUT_MS / 1000} s`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

/** True when LocalStack's health endpoint reports both S3 and SQS up. */
async function isReadyLocalStack(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(1000) });
    if (!response.ok) return false;
    const { services } = (await response.json()) as { services?: Record<string, string> };
    return ["s3", "sqs"].every((s) => services?.[s] === "running" || services?.[s] === "available");
  } catch {
    return false;
  }
}

/** True when something accepts connections on 127.0.0.1:port. */
export function portIsOpen(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolvePort(true);
    });
    socket.once("error", () => resolvePort(false));
  });
}

async function dockerEngineAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

/** Creates or updates the host-mode venv when the pinned requirements changed; returns its python. */
export async function ensureVenv(pythonOverride: string | undefined, log: (m: string) => void): Promise<string> {
  const venvPython = join(VENV_DIR, "bin", "python");
  const stamp = join(VENV_DIR, ".bitonal-requirements");
  const requirements = await readFile(REQUIREMENTS_FILE, "utf8");
  if (existsSync(venvPython) && (await readFile(stamp, "utf8").catch(() => "")) === requirements) return venvPython;

  const python = await findPython(pythonOverride);
  log(`creating the LocalStack venv in ${VENV_DIR} with ${python} (once; about a minute)`);
  await rm(VENV_DIR, { recursive: true, force: true });
  await run(python, ["-m", "venv", VENV_DIR]);
  await pipInstall(venvPython, log);
  await writeFile(stamp, requirements);
  return venvPython;
}

/**
 * pip install of the pinned requirements, saying every few seconds how far it is (packages
 * collected, then installing), so that a first start's half minute is not a silent one.
 */
async function pipInstall(venvPython: string, log: (m: string) => void): Promise<void> {
  const child = spawn(
    venvPython,
    ["-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check", "-r", REQUIREMENTS_FILE],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let collected = 0;
  let stage = "collecting packages";
  let output = "";
  const started = Date.now();
  const onLine = (line: string) => {
    output = `${output}${line}\n`.slice(-20_000);
    if (line.startsWith("Collecting ")) collected++;
    if (line.startsWith("Installing collected packages")) stage = "installing";
  };
  let pending = "";
  const onData = (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const progress = setInterval(() => {
    const seconds = Math.round((Date.now() - started) / 1000);
    log(`LocalStack venv: ${stage}, ${collected} packages collected, ${seconds} s`);
  }, 5_000);
  const [code] = await once(child, "exit").finally(() => clearInterval(progress));
  if (code !== 0) throw new Error(`pip install of the LocalStack venv failed (exit ${code}):\n${output}`);
  log(`LocalStack venv ready: ${collected} packages in ${Math.round((Date.now() - started) / 1000)} s`);
}

export async function findPython(override: string | undefined): Promise<string> {
  const candidates = override ? [override] : ["python3.13", "python3.12", "python3", ...(await pyenvPythons())];
  for (const candidate of candidates) {
    try {
      const { stdout } = await run(candidate, ["-c", "import sys; print(*sys.version_info[:2])"]);
      const [major, minor] = stdout.trim().split(" ").map(Number);
      if (major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1])) return candidate;
    } catch {
      // not installed or not runnable: try the next one
    }
  }
  throw new Error(
    `The embedded LocalStack needs Python >= ${MIN_PYTHON.join(".")}; tried ${candidates.join(", ")}. ` +
      "Install one, set LOCALSTACK_PYTHON to it, or run LocalStack yourself and set AWS_ENDPOINT_URL.",
  );
}

/** Pythons installed with pyenv, newest first (a common way to have a newer Python than the OS's). */
async function pyenvPythons(): Promise<string[]> {
  const root = await run("pyenv", ["root"]).then(
    ({ stdout }) => stdout.trim(),
    () => join(homedir(), ".pyenv"),
  );
  const versions = await readdir(join(root, "versions")).catch(() => [] as string[]);
  return versions
    .filter((v) => /^3\.\d+\.\d+$/.test(v))
    .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
    .map((v) => join(root, "versions", v, "bin", "python3"));
}
