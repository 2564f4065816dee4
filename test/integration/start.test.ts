// `npm start` and `npm run localstack` as a newcomer uses them: one command up, Ctrl-C down,
// nothing left running. Each starts its own embedded LocalStack on a port of its own.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { baseChildEnv } from "../../infra/config.ts";
import { damagedDeflatePng, makePng } from "../support/images.ts";
import {
  eventually,
  portIsOpen,
  processesWithEnv,
  processesWithEnvAndArgs,
  startScript,
} from "../support/processes.ts";

describe("npm start", () => {
  it("runs the whole pipeline on an embedded LocalStack and stops all of it on Ctrl-C", async () => {
    const localstackPort = 4577;
    const start = startScript("scripts/start.ts", {
      ...baseChildEnv(),
      PORT: "0",
      LOCALSTACK_PORT: String(localstackPort),
      WORKER_POLL_WAIT_S: "2",
      // A SIGKILLed worker's last long poll stays open in LocalStack for up to the poll wait,
      // and takes a message sent meanwhile (as SQS would): it comes back after this, not 60 s.
      VISIBILITY_TIMEOUT_S: "5",
      WORKER_METRICS_PORT: "0",
    });
    try {
      const [, url] = await start.waitFor(/open (http:\/\/\S+)/);
      expect(await processesWithEnv(`GATEWAY_LISTEN=127.0.0.1:${localstackPort}`)).toHaveLength(1);
      // Catches: a newcomer surprised that a restart empties everything, or lost in a second terminal.
      expect(start.output()).toContain("It keeps everything in memory only");
      expect(start.output()).toContain(`AWS_ENDPOINT_URL=http://127.0.0.1:${localstackPort}`);
      const page = await (await fetch(url)).text();
      expect(page).toContain('data-local-emulator="true"');

      const form = new FormData();
      form.set("image", new File([await makePng(40, 30, (x) => [x * 6])], "ramp.png"));
      const accepted = await fetch(`${url}/api/images`, { method: "POST", body: form });
      expect(accepted.status).toBe(202);
      const { id } = await accepted.json();

      const done = await eventually(async () => {
        const status = await (await fetch(`${url}/api/images/${id}`)).json();
        return status.status === "done";
      }, 30_000);
      expect(done).toBe(true);

      // Catches: a crash of the API (or the worker) taking LocalStack and every image with it.
      for (const part of ["api", "worker"]) {
        const [pid] = await processesWithEnvAndArgs(`LOCALSTACK_PORT=${localstackPort}`, [part]);
        expect(pid).toBeGreaterThan(0);
        process.kill(pid, "SIGKILL");
        const servedAgain = async () => {
          const [restarted] = await processesWithEnvAndArgs(`LOCALSTACK_PORT=${localstackPort}`, [part]);
          // Refused while the part restarts: eventually() asks again, and fails the test if it never answers.
          const status = await fetch(`${url}/api/images/${id}`).catch(() => undefined);
          return restarted !== undefined && restarted !== pid && status?.status === 200;
        };
        expect(await eventually(servedAgain, 20_000)).toBe(true);
      }
      expect(start.output()).toMatch(/api exited unexpectedly; restarting it/);
      const again = new FormData();
      again.set("image", new File([await makePng(20, 20, (x) => [x * 9])], "again.png"));
      const second = await (await fetch(`${url}/api/images`, { method: "POST", body: again })).json();
      const secondDone = async () => (await (await fetch(`${url}/api/images/${second.id}`)).json()).status === "done";
      expect(await eventually(secondDone, 45_000)).toBe(true);
    } finally {
      start.interrupt();
    }
    expect(await start.exited).toBe(0);
    expect(await portIsOpen(localstackPort)).toBe(false);
    expect(await processesWithEnv(`GATEWAY_LISTEN=127.0.0.1:${localstackPort}`)).toEqual([]);
  }, 150_000);
});

describe("npm start with BITONAL_DATA_DIR", () => {
  // Catches: images lost across a restart of the in-memory LocalStack, or deleted ones coming back.
  it("keeps images across a real restart, and forgets the ones deleted", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "bitonal-keep-"));
    const localstackPort = 4580;
    const startOnce = async () => {
      const start = startScript("scripts/start.ts", {
        ...baseChildEnv(),
        PORT: "0",
        LOCALSTACK_PORT: String(localstackPort),
        WORKER_POLL_WAIT_S: "1",
        WORKER_METRICS_PORT: "0",
        BITONAL_DATA_DIR: dataDir,
      });
      const [, url] = await start.waitFor(/open (http:\/\/\S+)/);
      return {
        url,
        output: start.output,
        async stop() {
          start.interrupt();
          expect(await start.exited).toBe(0);
        },
      };
    };
    const upload = async (url: string, name: string) => {
      const form = new FormData();
      form.set("image", new File([await makePng(30, 20, (x) => [x * 8])], name));
      const { id } = await (await fetch(`${url}/api/images`, { method: "POST", body: form })).json();
      expect(
        await eventually(async () => (await (await fetch(`${url}/api/images/${id}`)).json()).status === "done", 30_000),
      ).toBe(true);
      return id as string;
    };
    try {
      const first = await startOnce();
      expect(first.output()).toContain(`Images are kept in ${dataDir}`);
      const kept = await upload(first.url, "kept.png");
      const rendition = await fetch(`${first.url}/api/images/${kept}/renditions`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ method: "sauvola" }),
      });
      expect(rendition.status).toBe(202);
      const renditionDone = async () =>
        (await (await fetch(`${first.url}/api/images/${kept}/renditions/sauvola`)).json()).status === "done";
      expect(await eventually(renditionDone, 30_000)).toBe(true);
      const renditionBefore = await (await fetch(`${first.url}/api/images/${kept}/renditions/sauvola`)).json();
      // Catches: a failed image (only a failure record beside its original) lost across a restart.
      const damaged = new FormData();
      damaged.set("image", new File([await damagedDeflatePng()], "damaged.png"));
      const { id: failed } = await (await fetch(`${first.url}/api/images`, { method: "POST", body: damaged })).json();
      const failedNow = async () =>
        (await (await fetch(`${first.url}/api/images/${failed}`)).json()).status === "failed";
      expect(await eventually(failedNow, 30_000)).toBe(true);
      const deleted = await upload(first.url, "deleted.png");
      expect((await fetch(`${first.url}/api/images/${deleted}`, { method: "DELETE" })).status).toBe(204);
      await first.stop();

      const second = await startOnce();
      try {
        const listed = await (await fetch(`${second.url}/api/images`)).json();
        expect(listed.items.map((i: { id: string; status: string }) => [i.id, i.status]).sort()).toEqual(
          [
            [kept, "done"],
            [failed, "failed"],
          ].sort(),
        );
        expect(await (await fetch(`${second.url}/api/images/${failed}`)).json()).toMatchObject({
          status: "failed",
          error: { code: "undecodable" },
        });
        // The rendition's request record came back too: what it was asked as, and when.
        expect(await (await fetch(`${second.url}/api/images/${kept}/renditions/sauvola`)).json()).toMatchObject({
          status: "done",
          method: "sauvola",
          requestedAt: renditionBefore.requestedAt,
        });
        expect((await fetch(`${second.url}/api/images/${kept}/processed`)).status).toBe(200);
        expect((await fetch(`${second.url}/api/images/${kept}/renditions/sauvola/processed`)).status).toBe(200);
        expect((await fetch(`${second.url}/api/images/${deleted}`)).status).toBe(404);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("npm run localstack", () => {
  it("serves until Ctrl-C, then leaves nothing running", async () => {
    const port = 4578;
    const localstack = startScript("scripts/localstack.ts", { ...baseChildEnv(), LOCALSTACK_PORT: String(port) });
    await localstack.waitFor(/ready at http:\/\/127\.0\.0\.1:4578/);
    const health = await (await fetch(`http://127.0.0.1:${port}/_localstack/health`)).json();
    expect(health.services).toMatchObject({ s3: "running", sqs: "running" });
    localstack.interrupt();
    expect(await localstack.exited).toBe(0);
    expect(await portIsOpen(port)).toBe(false);
  });

  it("takes LocalStack down with it when it is killed outright", async () => {
    const port = 4579;
    const localstack = startScript("scripts/localstack.ts", { ...baseChildEnv(), LOCALSTACK_PORT: String(port) });
    await localstack.waitFor(/ready at/);
    localstack.child.kill("SIGKILL");
    await localstack.exited;
    const gone = async () =>
      !(await portIsOpen(port)) && (await processesWithEnv(`GATEWAY_LISTEN=127.0.0.1:${port}`)).length === 0;
    expect(await eventually(gone, 15_000)).toBe(true);
  });

  it("refuses a port taken by something that is not LocalStack", async () => {
    const { createServer } = await import("node:http");
    const squatter = createServer((_, res) => res.end("hello")).listen(4580, "127.0.0.1");
    try {
      const localstack = startScript("scripts/localstack.ts", { ...baseChildEnv(), LOCALSTACK_PORT: "4580" });
      expect(await localstack.exited).toBe(1);
      expect(localstack.output()).toMatch(/Port 4580 is in use by something that is not a LocalStack/);
    } finally {
      squatter.close();
    }
  });

  it("reuses a LocalStack that already listens on its port, and leaves it running", async () => {
    const port = new URL(inject("awsEndpoint")).port;
    const localstack = startScript("scripts/localstack.ts", { ...baseChildEnv(), LOCALSTACK_PORT: port });
    expect(await localstack.exited).toBe(0);
    expect(localstack.output()).toMatch(/LocalStack \(reused\) ready at .*nothing to start/);
    expect(await portIsOpen(Number(port))).toBe(true);
  });
});
