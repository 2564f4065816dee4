// `npm start` runs the API and the worker as child processes it restarts when they crash, so a
// crash of either never takes the embedded LocalStack (and every image held in its memory) down
// with it. Each child runs in its own process group: a Ctrl-C reaches this process only, which
// then asks each child once to stop, and a child whose parent dies stops by itself (its IPC
// channel closes).
import { type ChildProcess, fork } from "node:child_process";
import type { Logger } from "../infra/logger.ts";

/** What a child reports once it serves (the API's URL, or just that the worker polls). */
export interface ReadyMessage {
  ready: true;
  url?: string;
}

export interface SupervisedChild {
  /** The first ready message, or the reason the first start failed. */
  ready: Promise<ReadyMessage>;
  /** Asks the child to stop (SIGTERM: it drains), and resolves when it has exited. */
  stop(): Promise<void>;
}

// A child that dies again and again is restarted ever more slowly, up to this; one that ran
// this long before it died starts over at the first delay.
const FIRST_RESTART_DELAY_MS = 250;
const MAX_RESTART_DELAY_MS = 10_000;
const STABLE_AFTER_MS = 30_000;

/**
 * Runs `node <script> <name>` and keeps it running: an exit that nobody asked for is logged and
 * followed by a new start. `envForStart` is asked again before each start, so that a restarted
 * API can keep the port the first one took.
 */
export function superviseChild(
  name: string,
  script: string,
  envForStart: () => Record<string, string | undefined>,
  logger: Logger,
): SupervisedChild {
  let child: ChildProcess | undefined;
  let stopping = false;
  let restartDelay = FIRST_RESTART_DELAY_MS;
  let restartTimer: NodeJS.Timeout | undefined;
  let everReady = false;
  let settleFirst: { resolve: (m: ReadyMessage) => void; reject: (e: Error) => void } | undefined;
  const ready = new Promise<ReadyMessage>((resolve, reject) => {
    settleFirst = { resolve, reject };
  });
  let exited = Promise.resolve();

  const start = () => {
    const startedAt = Date.now();
    const current = fork(script, [name], {
      env: envForStart() as NodeJS.ProcessEnv,
      detached: true,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child = current;
    current.on("message", (message: ReadyMessage) => {
      if (!message?.ready) return;
      everReady = true;
      settleFirst?.resolve(message);
    });
    exited = new Promise((resolve) => {
      current.once("exit", (code, signal) => {
        resolve();
        if (stopping) return;
        if (!everReady) {
          // It never got as far as serving: a configuration or start-up error that a restart
          // would only repeat. It has printed why.
          settleFirst?.reject(new Error(`${name} exited before it was ready (${signal ?? `code ${code}`})`));
          return;
        }
        if (Date.now() - startedAt > STABLE_AFTER_MS) restartDelay = FIRST_RESTART_DELAY_MS;
        logger.error(
          { part: name, code, signal, restartInMs: restartDelay },
          `${name} exited unexpectedly; restarting it (LocalStack and the images stay up)`,
        );
        restartTimer = setTimeout(start, restartDelay);
        restartDelay = Math.min(restartDelay * 2, MAX_RESTART_DELAY_MS);
      });
    });
  };
  start();

  return {
    ready,
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
