// `vlmc compile <file> [--model NAME] [--set k=v]... --emit ir|dot|ts [-o PATH]`: the checked IR
// as JSON, the module graph as Graphviz DOT, or the generated TensorFlow.js module.
import type { Argv } from "yargs";
import { formatDiagnostics, hasErrors } from "../../compiler/diagnostics.js";
import { emitDot } from "../../compiler/emit/dot.js";
import { compileFile, type CompileResult } from "../../compiler/index.js";
import type { IRProgram } from "../../compiler/ir.js";
import { writeFileAtomic } from "../../runtime/io/atomic.js";
import { UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

/** The --model and --set options shared by check, compile and inspect. */
export function withModelOptions<T>(y: Argv<T>) {
  return y
    .option("model", { type: "string", describe: "the model to use (default: the first model in the file)" })
    .option("set", { type: "string", array: true, default: [] as string[], describe: "override a parameter: --set dim=128, --set vision.depth=2, --set connector='MlpProjector(hidden=128)'" });
}

/** Compiles with the CLI's --model/--set, printing every diagnostic (warnings too) to stderr. */
export function compileForCli(file: string, args: Record<string, any>): CompileResult {
  const result = compileFile(file, { model: args.model as string | undefined, set: (args.set as string[] | undefined) ?? [] });
  if (result.diagnostics.length > 0) process.stderr.write(formatDiagnostics(result.diagnostics, result.sources) + "\n");
  return result;
}

async function emitTypeScript(program: IRProgram): Promise<string> {
  // Loaded on demand: code generation lives in compiler/codegen and is only needed for --emit ts.
  const modulePath = "../../compiler/codegen/index.js";
  const codegen = (await import(modulePath)) as { emitTypeScript: (p: IRProgram) => string };
  return codegen.emitTypeScript(program);
}

export const compileCommand: VlmcCommand = {
  command: "compile <file>",
  describe: "Check a spec and emit its IR (JSON), module graph (DOT) or TensorFlow.js module (TypeScript)",
  builder: (y: Argv) =>
    withModelOptions(y.positional("file", { type: "string", describe: "the .vlm spec", demandOption: true }))
      .option("emit", { choices: ["ir", "dot", "ts"] as const, default: "ir", describe: "what to write" })
      .option("o", { alias: "output", type: "string", describe: "write to this file (atomically) instead of stdout" }),
  handler: async (args) => {
    const result = compileForCli(args.file as string, args);
    if (!result.program || hasErrors(result.diagnostics)) return 1;
    const emit = args.emit as "ir" | "dot" | "ts";
    const text = emit === "ir" ? JSON.stringify(result.program, null, 2) + "\n" : emit === "dot" ? emitDot(result.program) : await emitTypeScript(result.program);
    const out = args.o as string | undefined;
    if (out === undefined) {
      process.stdout.write(text);
      return 0;
    }
    try {
      writeFileAtomic(out, text);
    } catch (err) {
      throw new UserError(err instanceof Error ? err.message : String(err));
    }
    process.stderr.write(`wrote ${out}\n`);
    return 0;
  },
};
