import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../infra/config.ts";

describe("loadConfig", () => {
  it("gives DESIGN.md's defaults for an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      endpointUrl: undefined,
      region: "us-east-1",
      inputBucket: "image-input",
      outputBucket: "image-processed",
      inputQueue: "new-image-input.fifo",
      outputQueue: "new-image-processed.fifo",
      deadLetterQueue: "new-image-input-dlq.fifo",
      port: 3000,
      maxUploadBytes: 20 * 1024 * 1024,
      maxInputPixels: 50_000_000,
      apiToken: undefined,
      logLevel: "info",
      localstack: { port: 4566, image: "localstack/localstack:4.14.0" },
    });
    expect(config.workerConcurrency).toBeGreaterThanOrEqual(1);
  });

  it("reads and converts the variables it is given", () => {
    const config = loadConfig({
      AWS_ENDPOINT_URL: "http://127.0.0.1:4566",
      PORT: "8080",
      MAX_RECEIVE_COUNT: "3",
      VISIBILITY_TIMEOUT_S: "120",
      API_TOKEN: "s3cret-0123456789abcdef0123456789ab",
    });
    expect(config).toMatchObject({
      endpointUrl: "http://127.0.0.1:4566",
      port: 8080,
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 120,
      apiToken: "s3cret-0123456789abcdef0123456789ab",
    });
  });

  it("treats an empty value as unset", () => {
    expect(loadConfig({ PORT: "", AWS_ENDPOINT_URL: "" })).toMatchObject({ port: 3000, endpointUrl: undefined });
  });

  it.each([
    ["PORT", "eighty"],
    ["PORT", "70000"],
    ["AWS_ENDPOINT_URL", "not a url"],
    ["INPUT_QUEUE", "plain-queue"],
    ["INPUT_BUCKET", "Upper_Case"],
    ["MAX_UPLOAD_BYTES", "-1"],
    ["WORKER_CONCURRENCY", "0"],
    ["LOG_LEVEL", "loud"],
  ])("refuses %s=%s with a message naming the variable", (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(new RegExp(`^\\s*${name}:`, "m"));
  });

  // Catches: a guessable token, or one no client can send as a bearer token (nobody gets in).
  it.each([
    ["API_TOKEN", "x", /at least 32 characters; make one with/],
    ["API_TOKEN", "change-me", /at least 32 characters/],
    ["API_TOKEN", "a token with spaces in it, long enough to pass", /may hold only/],
    ["LINK_SIGNING_KEY", "short", /at least 32 characters/],
    ["LINK_SIGNING_KEY", `${"a".repeat(32)},${"b".repeat(32)},${"c".repeat(32)}`, /at most two keys/],
    ["PUBLIC_HOSTS", "https://bitonal.example.com", /host name/],
  ])("refuses %s=%s, saying how to make a good one", (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrow(message);
  });

  it("reads two link-signing keys (a rotation) and public host names", () => {
    const config = loadConfig({
      LINK_SIGNING_KEY: `${"n".repeat(32)}, ${"o".repeat(40)}`,
      PUBLIC_HOSTS: "Bitonal.example.com, 10.0.0.5:3000",
    });
    expect(config.linkSigningKeys).toEqual(["n".repeat(32), "o".repeat(40)]);
    expect(config.publicHosts).toEqual(["bitonal.example.com", "10.0.0.5:3000"]);
  });

  it("reports every bad variable at once", () => {
    let message = "";
    try {
      loadConfig({ PORT: "x", DLQ: "not-fifo" });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/PORT:/);
    expect(message).toMatch(/DLQ:/);
  });
});
