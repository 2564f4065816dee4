// The rooms keep their promises (docs/ARCHITECTURE.md), checked from each module's imports as
// TypeScript itself reads them: imaging/ is pure (its decoders sharp and PDFium, node:* and
// itself), infra/ stands on
// no room above it, and api/ and worker/ never import each other.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importsOf } from "../support/imports.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));

async function modulesOf(room: string): Promise<string[]> {
  const entries = await readdir(join(root, room), { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

/** Each import of the room's modules: the package name, or the room (top folder) a relative one reaches. */
async function reachOf(room: string): Promise<{ from: string; to: string }[]> {
  const found: { from: string; to: string }[] = [];
  for (const file of await modulesOf(room)) {
    for (const specifier of importsOf(await readFile(file, "utf8"))) {
      const to = specifier.startsWith(".")
        ? relative(root, resolve(dirname(file), specifier)).split("/")[0]
        : specifier;
      found.push({ from: relative(root, file), to });
    }
  }
  return found;
}

describe("the rooms", () => {
  it("imaging/ imports nothing from outside itself but its decoders and Node's standard library", async () => {
    const reach = await reachOf("imaging");
    expect(reach.length).toBeGreaterThan(10);
    const decoders = ["sharp", "@embedpdf/pdfium"];
    const outside = reach.filter(({ to }) => to !== "imaging" && !decoders.includes(to) && !to.startsWith("node:"));
    expect(outside).toEqual([]);
  });

  it("imaging/ reads no environment, arguments or configuration", async () => {
    for (const file of await modulesOf("imaging")) {
      expect(await readFile(file, "utf8"), relative(root, file)).not.toMatch(/process\.env|process\.argv|config\.ts/);
    }
  });

  it("infra/ imports neither api/ nor worker/; api/ and worker/ never import each other", async () => {
    const crossing = [
      ...(await reachOf("infra")).filter(({ to }) => to === "api" || to === "worker"),
      ...(await reachOf("api")).filter(({ to }) => to === "worker"),
      ...(await reachOf("worker")).filter(({ to }) => to === "api"),
    ];
    expect(crossing).toEqual([]);
  });

  // Catches a check that passes because it reads nothing: the same parse sees a stray import.
  it("would see an import from outside", () => {
    expect(
      importsOf('import { loadConfig } from "../infra/config.ts";\nconst x = await import("@aws-sdk/client-s3");'),
    ).toEqual(["../infra/config.ts", "@aws-sdk/client-s3"]);
  });
});
