// `vlmc check <files..> [--model NAME] [--set k=v]...`: parse, elaborate and shape-check specs.
// Every model declared in each file is checked (or only --model). A file that declares no model
// (a library such as specs/std/layers.vlm) is checked for syntax, names and imports.
// Exit 0 when clean (warnings are printed but do not fail), 1 on any error.
import type { Argv } from "yargs";
import { formatDiagnostics, hasErrors } from "../../compiler/diagnostics.js";
import { listModels } from "../../compiler/index.js";
import { compileForCli, withModelOptions } from "./compile.js";
import type { VlmcCommand } from "./types.js";

function checkFile(file: string, args: Record<string, any>): boolean {
  const listed = listModels(file);
  const requested = args.model as string | undefined;
  if (hasErrors(listed.diagnostics) || (listed.models.length === 0 && requested === undefined)) {
    if (listed.diagnostics.length > 0) process.stderr.write(formatDiagnostics(listed.diagnostics, listed.sources) + "\n");
    if (hasErrors(listed.diagnostics)) return false;
    process.stdout.write(`${file}: ok (library: ${listed.blocks.length} blocks, no model)\n`);
    return true;
  }
  const summaries: string[] = [];
  let ok = true;
  for (const model of requested !== undefined ? [requested] : listed.models) {
    const result = compileForCli(file, { ...args, model });
    if (!result.program) {
      ok = false;
      continue;
    }
    summaries.push(`model ${result.program.model}, ${(result.program.totals.params / 1e6).toFixed(2)} M params`);
  }
  if (ok) process.stdout.write(`${file}: ok (${summaries.join("; ")})\n`);
  return ok;
}

export const checkCommand: VlmcCommand = {
  command: "check <files..>",
  describe: "Check specs: syntax, names, types and shapes (exit 1 on any error)",
  builder: (y: Argv) => withModelOptions(y.positional("files", { type: "string", array: true, describe: ".vlm files to check", demandOption: true })),
  handler: async (args) => {
    let ok = true;
    for (const file of args.files as string[]) ok = checkFile(file, args) && ok;
    return ok ? 0 : 1;
  },
};
