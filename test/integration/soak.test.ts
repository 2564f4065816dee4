// The hostile-client soak, short: 10 s of HEAD storms, abandoned downloads, trickled, malformed
// and oversize bodies beside normal traffic. Catches: any leak that leaves S3 sockets checked
// out (the HEAD outage), any 5xx a client can cause, and an accepted image that never completes.
import { describe, expect, inject, it } from "vitest";
import { printSoak, runSoak } from "../../scripts/bench/soak.ts";

describe("soak", () => {
  it("10 s of hostile clients and 200 slow readers: no crash, no 5xx, uploads fast, readyz 200 throughout, every 202 done", async () => {
    const report = await runSoak({ endpoint: inject("awsEndpoint"), seconds: 10 });
    printSoak(report);
    expect(report.serverErrors).toBe(0);
    // An action that threw on our side (a reset connection, a body that is not JSON) is
    // counted, not hidden: none may happen.
    expect(report.requests["client-side error"] ?? 0).toBe(0);
    expect(report.notDone).toEqual([]);
    expect(report.accepted).toBeGreaterThan(20);
    expect(report.requests["HEAD storm"]).toBeGreaterThan(5);
    expect(report.readyzAfter).toBe(200);
    // Slow readers and malformed bodies throughout: nothing dies, readiness holds, uploads stay fast.
    expect(report.crashes).toBe(0);
    expect(report.requests["malformed multipart"]).toBeGreaterThan(5);
    expect(report.readyzPolls).toBeGreaterThan(10);
    expect(report.readyzNotReadyDuring).toBe(0);
    // The bench (120 s by default) is the measure of speed, p99 under 1 s there (191 ms
    // measured). Here, about 30 uploads in an 8 s phase beside other test files on two cores
    // (a median of 612 ms was seen once): these bounds only catch starvation, which made every
    // upload wait out the 30 s request timeout.
    expect(report.uploadMs.p50).toBeLessThan(3_000);
    expect(report.uploadMs.p99).toBeLessThan(10_000);
    expect(report.sockets.after).toMatchObject({ inUse: 0, waiting: 0 });
    // Descriptors: what the soak left open beyond the baseline is at most the pools' idle
    // keep-alive sockets (kept for reuse) and a few of the runtime's own.
    const extraIdle = Math.max(0, report.sockets.after.idle - report.sockets.before.idle);
    expect(report.fds.after).toBeLessThanOrEqual(report.fds.before + extraIdle + 5);
    expect(report.uploadMs.after).toBeLessThan(Math.max(1_000, report.uploadMs.before * 5));
    expect(report.rssMiB.peak).toBeLessThan(1_024);
  }, 240_000);
});
