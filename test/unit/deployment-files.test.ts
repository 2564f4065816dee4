// docker-compose.yml and the Dockerfile, checked without a Docker engine (none runs here).
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CONFIG_VARIABLES } from "../../infra/config.ts";
import { importsOf } from "../support/imports.ts";

const root = new URL("../../", import.meta.url);
type Service = {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  container_name?: string;
  stop_grace_period?: string;
};

/** The project's files the given modules import, directly or through each other. */
async function importedFiles(entryPoints: string[]): Promise<string[]> {
  const rootPath = fileURLToPath(root);
  const seen = new Set<string>();
  const pending = [...entryPoints];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    for (const fileName of importsOf(await readFile(join(rootPath, file), "utf8"))) {
      if (fileName.startsWith(".")) pending.push(relative(rootPath, resolve(rootPath, dirname(file), fileName)));
    }
  }
  return [...seen].sort();
}

async function compose(): Promise<{ services: Record<string, Service> }> {
  return parse(await readFile(new URL("docker-compose.yml", root), "utf8"), { merge: true });
}

describe("docker-compose.yml", () => {
  it("pins LocalStack to 4.14.0, overridable, with S3 and SQS, an auth token passed through and a healthcheck", async () => {
    const { localstack } = (await compose()).services;
    // Compose's own ${VAR:-default} interpolation, written as it stands in the file.
    const interpolate = (variable: string, fallback: string) => `\${${variable}:-${fallback}}`;
    expect(localstack.image).toBe(interpolate("LOCALSTACK_IMAGE", "localstack/localstack:4.14.0"));
    expect(localstack.environment).toMatchObject({
      SERVICES: "s3,sqs",
      LOCALSTACK_AUTH_TOKEN: interpolate("LOCALSTACK_AUTH_TOKEN", ""),
    });
    expect(localstack.healthcheck?.test.join(" ")).toMatch(/_localstack\/health.*s3.*running.*sqs.*running/);
  });

  it("creates the resources once, with the setup script, after LocalStack is healthy", async () => {
    const { setup } = (await compose()).services;
    expect(setup.command).toEqual(["node", "scripts/setup-aws-resources.ts"]);
    expect(setup.depends_on).toEqual({ localstack: { condition: "service_healthy" } });
  });

  it.each(["api", "worker"])("starts %s only when LocalStack is healthy and the resources exist", async (name) => {
    const service = (await compose()).services[name];
    expect(service.depends_on).toEqual({
      localstack: { condition: "service_healthy" },
      setup: { condition: "service_completed_successfully" },
    });
    expect(service.healthcheck?.test).toEqual(["CMD", "node", "scripts/healthcheck.ts", name]);
    expect(service.image).toBe("bitonal");
    expect(service.command).toEqual(["node", `${name}/main.ts`]);
  });

  // Catches: a token-less API published on every interface of the host.
  it("serves the API on port 3000 of 127.0.0.1 unless told otherwise, and lets workers scale", async () => {
    const { api, worker } = (await compose()).services;
    // Compose's own ${VAR:-default} syntax, as the file holds it (not a template string).
    const orDefault = (variable: string, fallback = "") => `\${${variable}:-${fallback}}`;
    expect(api.ports).toEqual([`${orDefault("BITONAL_PUBLISH", "127.0.0.1")}:3000:3000`]);
    expect(api.environment?.API_TOKEN).toBe(orDefault("API_TOKEN"));
    expect(worker.ports).toBeUndefined();
    expect(worker.container_name).toBeUndefined();
    // Room for one 20 s long poll and the 25 s shutdown deadline.
    expect(Number.parseInt(worker.stop_grace_period ?? "0", 10)).toBeGreaterThanOrEqual(45);
  });

  it("sets no environment variable the config module does not know", async () => {
    const { services } = await compose();
    for (const name of ["setup", "api", "worker"]) {
      for (const variable of Object.keys(services[name].environment ?? {})) {
        expect(CONFIG_VARIABLES, `${name}: ${variable}`).toContain(variable);
      }
    }
  });
});

describe("Dockerfile", () => {
  it("is multi-stage on node:24-slim, production dependencies only, non-root, with a healthcheck", async () => {
    const dockerfile = await readFile(new URL("Dockerfile", root), "utf8");
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from).toEqual(["node:24-slim", "node:24-slim"]);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*scripts\/healthcheck\.ts/m);
    expect(dockerfile).toMatch(/^CMD \["node", "api\/main\.ts"\]$/m);
    const envNames = [...dockerfile.matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=/gm)].map((m) => m[1]);
    for (const name of envNames.filter((n) => n !== "NODE_ENV" && n !== "MALLOC_ARENA_MAX")) {
      expect(CONFIG_VARIABLES, name).toContain(name);
    }
  });

  // Catches: a path the image needs that is only mentioned (in a comment, a CMD), not copied,
  // or a folder the entry points came to import (as imaging/ did) that the image leaves out.
  it("copies every file the entry points import", async () => {
    const dockerfile = await readFile(new URL("Dockerfile", root), "utf8");
    const copied = dockerfile
      .split("\n")
      .filter((line) => /^COPY\s/.test(line) && !line.includes("--from="))
      .flatMap((line) => line.trim().split(/\s+/).slice(1, -1));
    const entryPoints = [
      "api/main.ts",
      "worker/main.ts",
      "scripts/setup-aws-resources.ts",
      "scripts/healthcheck.ts",
      "scripts/redrive.ts",
    ];
    const needed = await importedFiles(entryPoints);
    expect(needed.length).toBeGreaterThan(entryPoints.length);
    const missing = needed.filter((file) => !copied.some((path) => file === path || file.startsWith(`${path}/`)));
    expect(missing).toEqual([]);
    expect(copied).toContain("templates"); // read from disk by the page, not imported
  });
});
