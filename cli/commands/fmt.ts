// `vlmc fmt <files..> [--check] [--write]`: the canonical layout of .vlm files (grammar/format.ts).
// By default prints the formatted text; --write rewrites changed files in place (atomically);
// --check only lists the files that would change and exits 1 if there are any.
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Argv } from "yargs";
import { formatDiagnostics, type Diagnostic } from "../../compiler/diagnostics.js";
import { format } from "../../grammar/format.js";
import { UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

export const fmtCommand: VlmcCommand = {
  command: "fmt <files..>",
  describe: "Format .vlm files in the canonical layout (prints to stdout unless --write or --check)",
  builder: (y: Argv) =>
    y
      .positional("files", { type: "string", array: true, describe: ".vlm files to format", demandOption: true })
      .option("check", { type: "boolean", describe: "list the files that are not formatted and exit 1 if any; change nothing" })
      .option("write", { type: "boolean", describe: "rewrite the files that are not formatted, in place" })
      .conflicts("check", "write"),
  handler: async (args: Record<string, any>) => runFmt(args.files as string[], { check: Boolean(args.check), write: Boolean(args.write) }),
};

export interface FmtOptions {
  check: boolean;
  write: boolean;
}

/** Formats each file; returns the exit code (1 on syntax errors or, with --check, unformatted files). */
export function runFmt(files: string[], opts: FmtOptions): number {
  let exit = 0;
  const unformatted: string[] = [];
  for (const file of files) {
    const text = readSpec(file);
    const result = format(text, file);
    if (result.text === null) {
      process.stderr.write(formatDiagnostics(result.diagnostics, new Map([[file, text]])) + "\n");
      exit = 1;
      continue;
    }
    printWarnings(result.diagnostics, file, text);
    const changed = result.text !== text;
    if (opts.check) {
      if (changed) unformatted.push(file);
    } else if (opts.write) {
      if (changed) {
        writeAtomically(file, result.text);
        process.stderr.write(`formatted ${file}\n`);
      }
    } else {
      process.stdout.write(result.text);
    }
  }
  if (unformatted.length > 0) {
    process.stdout.write(unformatted.map((f) => `${f}\n`).join(""));
    process.stderr.write(`${unformatted.length} file${unformatted.length === 1 ? "" : "s"} would be reformatted; run 'vlmc fmt --write' on ${unformatted.length === 1 ? "it" : "them"}\n`);
    exit = 1;
  }
  return exit;
}

function readSpec(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UserError(`${file}: no such file`);
    if (code === "EISDIR") throw new UserError(`${file}: is a directory, expected a .vlm file`);
    throw new UserError(`${file}: cannot read (${code ?? String(err)})`);
  }
}

function printWarnings(diags: Diagnostic[], file: string, text: string): void {
  if (diags.length > 0) process.stderr.write(formatDiagnostics(diags, new Map([[file, text]])) + "\n");
}

/** Write to a temporary file beside the target, then rename: readers never see half a file. */
function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, "utf8");
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // The temporary file was never created.
    }
    throw new UserError(`${file}: cannot write (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}
