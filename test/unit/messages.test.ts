import { v7 as uuidv7 } from "uuid";
import { describe, expect, it } from "vitest";
import {
  completionMessageSchema,
  inputMessageSchema,
  parseMessage,
  renditionName,
  renditionNameSchema,
} from "../../infra/messages.ts";

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
    ["an unknown version", { version: 3 }],
    ["version 2 without a rendition", { version: 2 }],
    ["a rendition in a version-1 message", { rendition: "fixed-127", requestedAt: "2026-11-23T10:00:00.000Z" }],
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

  describe("version 2: a rendition of a stored original", () => {
    const rendition = { ...input, version: 2, rendition: "fixed-127", requestedAt: "2026-11-24T09:00:00.000Z" };

    it("round-trips, naming the rendition and when it was asked for", () => {
      expect(parseMessage(inputMessageSchema, JSON.stringify(rendition))).toEqual(rendition);
    });

    it.each([
      ["a name that does not match the method", { rendition: "sauvola" }],
      ["a name that does not match the threshold", { rendition: "fixed-128" }],
      ["a name that could be a path", { rendition: "../x" }],
      ["no request time", { requestedAt: undefined }],
    ])("rejects %s", (_, change) => {
      expect(() => inputMessageSchema.parse({ ...rendition, ...change })).toThrow();
    });
  });
});

describe("renditionName", () => {
  it.each([
    ["sauvola", undefined, "sauvola"],
    ["auto", undefined, "auto"],
    ["fixed", 140, "fixed-140"],
    ["fixed", undefined, "fixed-127"],
    ["fixed", 0, "fixed-0"],
  ] as const)("%s with threshold %s is %s", (method, threshold, name) => {
    expect(renditionName(method, threshold)).toBe(name);
    expect(renditionNameSchema.parse(name)).toBe(name);
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
