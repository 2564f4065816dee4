// The imaging room stays pure: bytes or pixels in and out, nothing of AWS, config or the
// environment. Checked from each module's imports, as TypeScript itself reads them.
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const room = fileURLToPath(new URL("../../imaging/", import.meta.url));

async function roomModules(): Promise<string[]> {
  const entries = await readdir(room, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith(".ts")).map((e) => join(e.parentPath, e.name));
}

function importsOf(source: string): string[] {
  const { importedFiles } = ts.preProcessFile(source, true, true);
  return importedFiles.map((f) => f.fileName);
}

describe("the imaging room", () => {
  it("imports nothing from outside itself but sharp and Node's standard library", async () => {
    const modules = await roomModules();
    expect(modules.length).toBeGreaterThan(10);
    const outside: string[] = [];
    for (const file of modules) {
      for (const specifier of importsOf(await readFile(file, "utf8"))) {
        if (specifier === "sharp" || specifier.startsWith("node:")) continue;
        const target = specifier.startsWith(".") ? resolve(dirname(file), specifier) : undefined;
        if (target && !relative(room, target).startsWith("..")) continue;
        outside.push(`${relative(room, file)} imports ${specifier}`);
      }
    }
    expect(outside).toEqual([]);
  });

  it("reads no environment and no configuration", async () => {
    for (const file of await roomModules()) {
      expect(await readFile(file, "utf8"), relative(room, file)).not.toMatch(/process\.env|process\.argv|config\.ts/);
    }
  });

  // Catches a check that passes because it reads nothing: the same parse sees a stray import.
  it("would see an import from outside", () => {
    expect(
      importsOf('import { loadConfig } from "../infra/config.ts";\nconst x = await import("@aws-sdk/client-s3");'),
    ).toEqual(["../infra/config.ts", "@aws-sdk/client-s3"]);
  });
});
