// `vlmc diff <a.vlm> [<b.vlm>] [--model NAME] [--model-b NAME] [--a k=v]... [--b k=v]... [--set k=v]...
//  [--json] [--all] [--report DIR]`: the structural diff of two compiled variants — two files, one
// file with two sets of overrides, or two models of one file. Exit 0 whether or not they differ;
// 1 when a side does not compile (its diagnostics are printed) or the report cannot be written.
import type { Argv } from "yargs";
import { diffPrograms, formatDiff } from "../../compiler/diff/index.js";
import { formatDiagnostics, hasErrors } from "../../compiler/diagnostics.js";
import { compileFile } from "../../compiler/index.js";
import type { IRProgram } from "../../compiler/ir.js";
import { UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

/** What to compile for one side of the diff. */
export interface DiffSide {
  file: string;
  model: string | undefined;
  set: string[];
}

/**
 * The two sides from the flags. B defaults to A's file; --model-b to --model; --set applies to
 * both sides and --a / --b to one side each (after --set, so they win).
 */
export function diffSides(args: Record<string, any>): { a: DiffSide; b: DiffSide } {
  const shared = (args.set as string[] | undefined) ?? [];
  const fileA = args.specA as string;
  const model = args.model as string | undefined;
  return {
    a: { file: fileA, model, set: [...shared, ...((args.a as string[] | undefined) ?? [])] },
    b: { file: (args.specB as string | undefined) ?? fileA, model: (args["model-b"] as string | undefined) ?? model, set: [...shared, ...((args.b as string[] | undefined) ?? [])] },
  };
}

/** "specs/clip.vlm (Clip; connector=Contrastive(init_scale=1.0))": the file, the model, the overrides. */
export function sideLabel(side: DiffSide, program: IRProgram): string {
  return `${side.file} (${[program.model, ...side.set].join("; ")})`;
}

function compileSide(name: "A" | "B", side: DiffSide): IRProgram | null {
  const result = compileFile(side.file, { model: side.model, set: side.set });
  if (result.diagnostics.length > 0) {
    const what = [side.file, ...(side.model ? [`model ${side.model}`] : []), ...side.set].join("; ");
    const verdict = hasErrors(result.diagnostics) ? "does not compile" : "compiles with warnings";
    process.stderr.write(`${name} (${what}) ${verdict}:\n${formatDiagnostics(result.diagnostics, result.sources)}\n`);
  }
  return result.program && !hasErrors(result.diagnostics) ? result.program : null;
}

export const diffCommand: VlmcCommand = {
  command: "diff <specA> [specB]",
  describe: "Compare two model variants structurally: modules, arguments, parameters, FLOPs, visual tokens, weight compatibility",
  builder: (y: Argv) =>
    y
      .positional("specA", { type: "string", describe: "the .vlm spec of A", demandOption: true })
      .positional("specB", { type: "string", describe: "the .vlm spec of B (default: the same file as A)" })
      .option("model", { type: "string", describe: "the model of A (and of B unless --model-b); default: the first model in the file" })
      .option("model-b", { type: "string", describe: "the model of B" })
      .option("set", { type: "string", array: true, default: [] as string[], describe: "an override for both sides: --set dim=128" })
      .option("a", { type: "string", array: true, default: [] as string[], describe: "an override for A only: --a 'connector=Contrastive()'" })
      .option("b", { type: "string", array: true, default: [] as string[], describe: "an override for B only: --b 'image_head=MlpHead(hidden=128)'" })
      .option("json", { type: "boolean", default: false, describe: "print the diff as JSON (schema: docs/diff.md)" })
      .option("all", { type: "boolean", default: false, describe: "list unchanged modules and every weight name too" })
      .option("report", { type: "string", describe: "write report.html, report.md and report.json into this directory" })
      .example("$0 diff specs/clip.vlm --model Clip --model-b ClipMlp", "two models of one file")
      .example("$0 diff specs/clip.vlm --b 'connector=Contrastive(init_scale=1.0)'", "one model, two sets of overrides"),
  handler: async (args) => {
    const sides = diffSides(args);
    const a = compileSide("A", sides.a);
    const b = compileSide("B", sides.b);
    if (!a || !b) return 1;
    const sameInput = sides.a.file === sides.b.file && sides.a.model === sides.b.model && sides.a.set.join("\0") === sides.b.set.join("\0");
    if (sameInput) process.stderr.write("note: A and B are the same file, model and overrides; give a second file, --model-b, or --a/--b overrides\n");

    const diff = diffPrograms(a, b, { all: args.all as boolean, labels: { a: sideLabel(sides.a, a), b: sideLabel(sides.b, b) } });
    process.stdout.write((args.json ? JSON.stringify(diff, null, 2) : formatDiff(diff)) + "\n");

    const dir = args.report as string | undefined;
    if (dir !== undefined) {
      try {
        // Loaded on demand: the charting library takes a few hundred ms to import, and a plain diff needs none of it.
        const { writeReport } = await import("../../runtime/report/index.js");
        const written = await writeReport(dir, { diff });
        process.stderr.write(`wrote ${written.html}, ${written.markdown}, ${written.json}\n`);
      } catch (err) {
        throw new UserError(`cannot write the report: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return 0;
  },
};
