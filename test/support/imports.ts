// What a module imports, as TypeScript itself reads it (static imports, re-exports, dynamic
// imports with a literal), for the tests that check which files and rooms depend on which.
import ts from "typescript";

export function importsOf(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}
