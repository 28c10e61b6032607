// Loads the entry file and, transitively, its imports: reads and parses each file once, detects
// import cycles, and collects every declared block into one namespace. File-level problems (a
// missing file, a directory, a binary file) are diagnostics, never exceptions.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ImportDecl, SourceFile } from "../../grammar/ast.js";
import { parse } from "../../grammar/parse.js";
import type { Diagnostic } from "../diagnostics.js";
import type { Span } from "../ir.js";
import type { BlockRef } from "./values.js";

export interface LoadedSources {
  entry: SourceFile | null;
  /** Display names of the files read, in load order (entry first). */
  files: string[];
  /** Display name → text, for the diagnostic printer and the source hash. */
  sources: Map<string, string>;
  /** Every block declared in any loaded file, by name. */
  blocks: Map<string, BlockRef>;
  diagnostics: Diagnostic[];
}

/** The directory that holds `specs/std/`: this package's root, found from this module's location. */
function findPackageRoot(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, "specs", "std"))) return dir;
    dir = path.dirname(dir);
  }
  return null;
}

const packageRoot = findPackageRoot();

/** Import prefixes that fall back to the bundled specs/ folder. */
const BUNDLED_PREFIXES = ["std/", "hf/"];

/** The bundled standard library directory (specs/std). */
export function stdDirectory(): string | null {
  return packageRoot ? path.join(packageRoot, "specs", "std") : null;
}

/**
 * How a file is named in diagnostics, spans and the hash: relative to the cwd, with '/' separators.
 * A bundled library file seen from outside the package is named as it is imported ("std/layers.vlm")
 * rather than by a long "../../…" path that depends on where vlmc is installed.
 */
export function displayName(absolute: string): string {
  const rel = path.relative(process.cwd(), absolute) || path.basename(absolute);
  if (rel.startsWith("..") && packageRoot) {
    const inSpecs = path.relative(path.join(packageRoot, "specs"), absolute);
    const bundled = inSpecs.split(path.sep).join("/");
    if (BUNDLED_PREFIXES.some((prefix) => bundled.startsWith(prefix))) return bundled;
  }
  return rel.split(path.sep).join("/");
}

/** Reads a spec file as text, or returns the reason it cannot be used. */
export function readSpecFile(absolute: string): { text: string } | { problem: string } {
  let stat;
  try {
    stat = statSync(absolute);
  } catch {
    return { problem: "no such file" };
  }
  if (stat.isDirectory()) return { problem: "is a directory, expected a .vlm file" };
  let buffer: Buffer;
  try {
    buffer = readFileSync(absolute);
  } catch (err) {
    return { problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? "I/O error"})` };
  }
  if (buffer.includes(0)) return { problem: "is a binary file, expected .vlm source text" };
  return { text: buffer.toString("utf8") };
}

function fileSpan(file: string): Span {
  return { file, line: 1, col: 1, endLine: 1, endCol: 1 };
}

export function loadSources(entryPath: string, entryText?: string): LoadedSources {
  const result: LoadedSources = { entry: null, files: [], sources: new Map(), blocks: new Map(), diagnostics: [] };
  const parsed = new Map<string, SourceFile | null>(); // absolute path → AST (null when unusable)
  const stack: string[] = []; // absolute paths being loaded, for cycle detection

  const load = (absolute: string, text: string | undefined, importedAt: ImportDecl | null): SourceFile | null => {
    const name = displayName(absolute);
    const cycleStart = stack.indexOf(absolute);
    if (cycleStart >= 0) {
      const cycle = [...stack.slice(cycleStart), absolute].map(displayName).join(" → ");
      result.diagnostics.push({
        code: "E0202",
        severity: "error",
        message: `import cycle: ${cycle}`,
        span: importedAt?.span,
        hint: "move the shared blocks into a file that both can import",
      });
      return null;
    }
    if (parsed.has(absolute)) return parsed.get(absolute)!;
    if (text === undefined) {
      const read = readSpecFile(absolute);
      if ("problem" in read) {
        result.diagnostics.push({
          code: "E0001",
          severity: "error",
          message: importedAt ? `cannot import "${importedAt.path}": ${name}: ${read.problem}` : `${name}: ${read.problem}`,
          span: importedAt?.span,
        });
        parsed.set(absolute, null);
        return null;
      }
      text = read.text;
    }
    result.files.push(name);
    result.sources.set(name, text);
    const { ast, diagnostics } = parse(text, name);
    result.diagnostics.push(...diagnostics);
    parsed.set(absolute, ast);
    if (!ast) return null;

    stack.push(absolute);
    for (const imp of ast.imports) load(resolveImport(absolute, imp.path), undefined, imp);
    stack.pop();

    for (const decl of ast.blocks) {
      const previous = result.blocks.get(decl.name.name);
      if (previous) {
        result.diagnostics.push({
          code: "E0204",
          severity: "error",
          message: `duplicate block name '${decl.name.name}'`,
          span: decl.name.span,
          notes: [{ message: "first declared here", span: previous.decl.name.span }],
        });
        continue;
      }
      result.blocks.set(decl.name.name, { decl, file: name });
    }
    return ast;
  };

  const absolute = path.resolve(entryPath);
  if (entryText === undefined) {
    const read = readSpecFile(absolute);
    if ("problem" in read) {
      result.diagnostics.push({ code: "E0001", severity: "error", message: `${entryPath}: ${read.problem}` });
      return result;
    }
    entryText = read.text;
  }
  result.entry = load(absolute, entryText, null);
  if (result.entry === null && result.diagnostics.length === 0) {
    result.diagnostics.push({ code: "E0001", severity: "error", message: "could not parse the entry file", span: fileSpan(displayName(absolute)) });
  }
  return result;
}

/**
 * `import "x.vlm"` is relative to the importing file; "std/…" falls back to the bundled library,
 * "hf/…" to the bundled Hugging Face family specs (what `vlmc import hf` writes imports them).
 */
function resolveImport(importingFile: string, importPath: string): string {
  const local = path.resolve(path.dirname(importingFile), importPath);
  if (existsSync(local) || !BUNDLED_PREFIXES.some((prefix) => importPath.startsWith(prefix))) return local;
  return packageRoot ? path.join(packageRoot, "specs", importPath) : local;
}
