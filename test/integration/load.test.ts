// The load test, small: 100 uploads at concurrency 32 through an API process to two worker
// processes. It asserts the accounting, never the speed (`npm run bench -- load` measures that).
import { describe, expect, inject, it } from "vitest";
import { runPipeline } from "../../scripts/bench/run-pipeline.ts";
import { makePng } from "../support/images.ts";

describe("load", () => {
  it("100 uploads, concurrency 32, two workers: every 202 has exactly one output and one done message", async () => {
    const images = await Promise.all(
      Array.from({ length: 5 }, (_, n) => makePng(80, 60, (x, y) => [(x * 3 + y * 2 + n * 40) % 256, 90, 160])),
    );
    const report = await runPipeline({
      endpoint: inject("awsEndpoint"),
      images,
      uploads: 100,
      concurrency: 32,
      workers: 2,
    });
    expect(report.statusCounts).toEqual({ "202": 100 });
    expect(report).toMatchObject({
      accepted: 100,
      doneMessages: 100,
      failedMessages: 0,
      duplicateProcessings: 0,
      outputObjects: 100,
      deadLetters: 0,
    });
    expect(Object.keys(report.stagesMs).sort()).toEqual([
      "binarize",
      "completion",
      "enqueue",
      "get",
      "put",
      "queue",
      "s3put",
      "validate",
    ]);
  });
});
