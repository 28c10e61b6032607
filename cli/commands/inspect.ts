// `vlmc inspect <file> [--model NAME] [--set k=v]... [--json]`: a model summary — every module's
// path, kind, output shape, parameter count and forward FLOPs per example, with totals.
import type { Argv } from "yargs";
import { formatSummaryTable, summarize } from "../../compiler/summary.js";
import { compileForCli, withModelOptions } from "./compile.js";
import type { VlmcCommand } from "./types.js";

export const inspectCommand: VlmcCommand = {
  command: "inspect <file>",
  describe: "Print a model summary: modules, output shapes, parameters and FLOPs",
  builder: (y: Argv) =>
    withModelOptions(y.positional("file", { type: "string", describe: "the .vlm spec", demandOption: true }))
      .option("json", { type: "boolean", default: false, describe: "print the summary as JSON" }),
  handler: async (args) => {
    const result = compileForCli(args.file as string, args);
    if (!result.program) return 1;
    const text = args.json ? JSON.stringify(summarize(result.program), null, 2) : formatSummaryTable(result.program);
    process.stdout.write(text + "\n");
    return 0;
  },
};
