import { v7 as uuidv7 } from "uuid";
import { describe, expect, it } from "vitest";
import { completionMessageSchema, inputMessageSchema, parseMessage } from "../../infra/messages.ts";

const id = uuidv7();
const input = {
  version: 1,
  id,
  bucket: "image-input",
  key: `${id}.png`,
  contentType: "image/png",
  bytes: 1234,
  width: 10,
  height: 20,
  filename: "scan.png",
  method: "fixed",
  threshold: 127,
  uploadedAt: "2026-11-23T10:00:00.000Z",
};

describe("input message", () => {
  it("round-trips through JSON", () => {
    expect(parseMessage(inputMessageSchema, JSON.stringify(input))).toEqual(input);
  });

  it("allows the threshold to be left out", () => {
    const { threshold: _, ...withoutThreshold } = input;
    expect(parseMessage(inputMessageSchema, JSON.stringify(withoutThreshold)).threshold).toBeUndefined();
  });

  it.each([
    ["an unknown version", { version: 2 }],
    ["an id that is not a UUID", { id: "../../etc/passwd" }],
    ["an unknown method", { method: "magic" }],
    ["a threshold over 255", { threshold: 300 }],
    ["a non-positive width", { width: 0 }],
    ["a timestamp that is not ISO 8601", { uploadedAt: "yesterday" }],
  ])("rejects %s", (_, change) => {
    expect(() => inputMessageSchema.parse({ ...input, ...change })).toThrow();
  });

  it("rejects a body that is not JSON", () => {
    expect(() => parseMessage(inputMessageSchema, "not json")).toThrow(SyntaxError);
  });
});

describe("completion message", () => {
  const ref = { bucket: "b", key: "k" };
  const done = {
    version: 1,
    id,
    status: "done",
    input: ref,
    output: ref,
    width: 10,
    height: 20,
    method: "otsu",
    threshold: 131,
    durationMs: 12,
    completedAt: "2026-11-23T10:00:01.000Z",
  };
  const failed = {
    version: 1,
    id,
    status: "failed",
    input: ref,
    error: { code: "undecodable", message: "bad image" },
    completedAt: "2026-11-23T10:00:01.000Z",
  };

  it("accepts done and failed shapes", () => {
    expect(completionMessageSchema.parse(done)).toEqual(done);
    expect(completionMessageSchema.parse(failed)).toEqual(failed);
  });

  it("accepts a null threshold for Sauvola", () => {
    expect(completionMessageSchema.parse({ ...done, method: "sauvola", threshold: null })).toMatchObject({
      threshold: null,
    });
  });

  it("rejects a done message without its output, and a failed one without its error", () => {
    const { output: _o, ...noOutput } = done;
    const { error: _e, ...noError } = failed;
    expect(() => completionMessageSchema.parse(noOutput)).toThrow();
    expect(() => completionMessageSchema.parse(noError)).toThrow();
    expect(() => completionMessageSchema.parse({ ...done, status: "maybe" })).toThrow();
  });
});
