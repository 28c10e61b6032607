// `vlmc diff <a.vlm> [<b.vlm>] [--model NAME] [--model-b NAME] [--a k=v]... [--b k=v]... [--set k=v]...
//  [--json] [--all] [--report DIR]`: the structural diff of two compiled variants — two files, one
// file with two sets of overrides, or two models of one file. Exit 0 whether or not they differ;
// 1 when a side does not compile (its diagnostics are printed) or the report cannot be written.
//
// With `--train` it also trains every variant (A and B, or each of `--variants`) on the same data,
// seeds and budget, and tabulates the results (runtime/sweep). Exit 1 if a run failed, 130 if
// interrupted (running the same command again continues the sweep).
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Argv } from "yargs";
import { diffPrograms, formatDiff } from "../../compiler/diff/index.js";
import { formatDiagnostics, hasErrors } from "../../compiler/diagnostics.js";
import { compileFile } from "../../compiler/index.js";
import type { IRProgram } from "../../compiler/ir.js";
import type { ProgramDiff } from "../../compiler/diff/types.js";
import type { Variant } from "../../runtime/sweep/variants.js";
import { parseVariants, VariantError } from "../../runtime/sweep/variants.js";
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

function compileSide(name: string, side: DiffSide): IRProgram | null {
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
      .option("train", { type: "boolean", default: false, describe: "also train every variant (same data, seeds, budget) and tabulate the results" })
      .option("variants", { type: "string", array: true, describe: "with --train: the variants, each 'override; override', a model name or a .vlm file (instead of A and B)" })
      .option("seeds", { type: "string", describe: "with --train: how many seeds per variant (3 → seeds 0, 1, 2; default 1), or the seeds themselves: 2,3" })
      .option("data", { type: "string", describe: "with --train: the dataset (default: each spec's train { data })" })
      .option("epochs", { type: "number", describe: "with --train: epochs per run (default: each spec's own)" })
      .option("steps", { type: "number", describe: "with --train: steps per run, instead of epochs" })
      .option("limit", { type: "number", describe: "with --train: only the first N examples of each split" })
      .option("backend", { type: "string", describe: "with --train: the tfjs backend of every run" })
      .option("jobs", { type: "number", describe: "with --train: runs at a time (default: the number of cores)" })
      .option("out", { type: "string", describe: "with --train: the sweep folder, one run folder per variant and seed (default: runs/diff-<time>)" })
      .option("fresh", { type: "boolean", default: false, describe: "with --train: retrain runs that already finished in --out" })
      .example("$0 diff specs/clip.vlm --model Clip --model-b ClipMlp", "two models of one file")
      .example("$0 diff specs/clip.vlm --b 'connector=Contrastive(init_scale=1.0)'", "one model, two sets of overrides")
      .example("$0 diff specs/clip.vlm --model Clip --model-b ClipBoW --train --seeds 3 --report out/", "train both, 3 seeds each, and write a report"),
  handler: async (args) => {
    checkSweepFlags(args);
    if (args.train) return trainVariants(args);
    const sides = diffSides(args);
    const a = compileSide("A", sides.a);
    const b = compileSide("B", sides.b);
    if (!a || !b) return 1;
    const sameInput = sides.a.file === sides.b.file && sides.a.model === sides.b.model && sides.a.set.join("\0") === sides.b.set.join("\0");
    if (sameInput) process.stderr.write("note: A and B are the same file, model and overrides; give a second file, --model-b, or --a/--b overrides\n");

    const diff = diffPrograms(a, b, { all: args.all as boolean, labels: { a: sideLabel(sides.a, a), b: sideLabel(sides.b, b) } });
    process.stdout.write((args.json ? JSON.stringify(diff, null, 2) : formatDiff(diff)) + "\n");

    const dir = args.report as string | undefined;
    if (dir !== undefined) await writeReportTo(dir, diff);
    return 0;
  },
};

async function writeReportTo(dir: string, diff: ProgramDiff, results?: import("../../runtime/report/types.js").ResultsInput): Promise<void> {
  try {
    // Loaded on demand: the charting library takes a few hundred ms to import, and a plain diff needs none of it.
    const { writeReport } = await import("../../runtime/report/index.js");
    const written = await writeReport(dir, results ? { diff, results } : { diff });
    process.stderr.write(`wrote ${written.html}, ${written.markdown}, ${written.json}\n`);
  } catch (err) {
    throw new UserError(`cannot write the report: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const SWEEP_ONLY = ["variants", "seeds", "data", "epochs", "steps", "limit", "backend", "jobs", "out"] as const;

/** Usage errors of the sweep flags, before anything is compiled or trained. */
function checkSweepFlags(args: Record<string, any>): void {
  if (!args.train) {
    const given = SWEEP_ONLY.filter((k) => args[k] !== undefined);
    if (given.length > 0) throw new UserError(`--${given[0]} needs --train (it sets up the training sweep)`, 2);
    return;
  }
  if (args.seeds !== undefined) parseSeeds(String(args.seeds));
  for (const k of ["epochs", "steps", "limit", "jobs"] as const) {
    const v = args[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 1)) throw new UserError(`--${k} must be a whole number ≥ 1, got ${String(v)}`, 2);
  }
  if (args.epochs !== undefined && args.steps !== undefined) throw new UserError("give --epochs or --steps, not both", 2);
  if (args.variants !== undefined) {
    if ((args.variants as string[]).length < 2) throw new UserError("--variants needs at least two variants to compare", 2);
    const clash = args.specB !== undefined ? "a second spec" : (args.a as string[]).length > 0 ? "--a" : (args.b as string[]).length > 0 ? "--b" : args["model-b"] !== undefined ? "--model-b" : null;
    if (clash) throw new UserError(`--variants replaces A and B: drop ${clash}, or name that side as one of the variants`, 2);
  }
}

/** `--seeds 3` → [0, 1, 2]; `--seeds 2,3` → [2, 3]. */
function parseSeeds(text: string): number[] {
  if (/^\d+$/.test(text) && Number(text) >= 1) return Array.from({ length: Number(text) }, (_, i) => i);
  if (/^\d+(,\d+)+$/.test(text)) {
    const seeds = text.split(",").map(Number);
    if (new Set(seeds).size === seeds.length) return seeds;
  }
  throw new UserError(`--seeds takes a count (3 → seeds 0, 1, 2) or distinct seeds separated by commas (2,3), got ${JSON.stringify(text)}`, 2);
}

/** The variants of the sweep: `--variants`, or the two sides of the diff (named once compiled). */
function sweepVariants(args: Record<string, any>): Variant[] {
  const sides = diffSides(args);
  if (args.variants === undefined) return [{ name: "A", ...sides.a }, { name: "B", ...sides.b }];
  try {
    return parseVariants(args.variants as string[], { file: sides.a.file, model: sides.a.model, set: (args.set as string[]) ?? [] });
  } catch (err) {
    if (err instanceof VariantError) throw new UserError(err.message, 2);
    throw err;
  }
}

async function trainVariants(args: Record<string, any>): Promise<number> {
  const variants = sweepVariants(args);
  // Every variant must compile before anything trains: a typo should not surface an hour in.
  const sidesAB = args.variants === undefined;
  const programs = variants.map((v, i) => compileSide(sidesAB ? v.name : `variant ${i + 1} (${v.name})`, v));
  if (programs.some((p) => p === null)) return 1;
  // A and B of a plain diff are named by model and overrides ("A: Clip; embed=32"), as in tables.
  const labels = variants.map((v, i) => (sidesAB ? sideLabel(v, programs[i]!) : v.name));
  if (sidesAB) variants.forEach((v, i) => (v.name = `${v.name}: ${[programs[i]!.model, ...v.set].join("; ")}`));
  const diffs = programs.slice(1).map((p, i) => diffPrograms(programs[0]!, p!, { all: args.all as boolean, labels: { a: labels[0]!, b: labels[i + 1]! } }));
  if (!args.json) process.stdout.write(diffs.map(formatDiff).join("\n\n") + "\n\n");

  const { sweep, formatResultsTable } = await import("../../runtime/sweep/index.js");
  const { summarizeResults } = await import("../../runtime/report/results.js");
  const seeds = args.seeds === undefined ? [0] : parseSeeds(String(args.seeds));
  const outDir = (args.out as string | undefined) ?? join("runs", `diff-${new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}`);
  const runs = variants.length * seeds.length;
  const jobs = Math.min((args.jobs as number | undefined) ?? availableParallelism(), runs);
  process.stderr.write(`sweep: ${variants.length} variants × ${seeds.length} seed${seeds.length === 1 ? "" : "s"} = ${runs} runs, ${jobs} at a time → ${outDir}\n`);
  const { outcomes, results } = await sweep({
    variants,
    seeds,
    outDir,
    budget: {
      ...(args.data !== undefined ? { data: args.data as string } : {}),
      ...(args.epochs !== undefined ? { epochs: args.epochs as number } : {}),
      ...(args.steps !== undefined ? { steps: args.steps as number } : {}),
      ...(args.limit !== undefined ? { limit: args.limit as number } : {}),
      ...(args.backend !== undefined ? { backend: args.backend as string } : {}),
    },
    jobs,
    reuse: !(args.fresh as boolean),
  });
  const summary = summarizeResults(results);
  if (args.json) {
    const runList = outcomes.map((o) => ({ variant: o.run.variant.name, seed: o.run.seed, dir: o.run.dir, status: o.status, exit_code: o.exitCode }));
    process.stdout.write(JSON.stringify({ schema: "vlmc.sweep/1", diffs, results: summary, runs: runList }, null, 2) + "\n");
  } else {
    process.stdout.write(formatResultsTable(summary) + "\n");
  }
  if (args.report !== undefined) await writeReportTo(args.report as string, diffs[0]!, results);
  const failed = outcomes.filter((o) => o.status === "failed");
  if (outcomes.some((o) => o.status === "interrupted")) {
    process.stderr.write(`sweep interrupted; run the same command again to continue (finished runs are reused)\n`);
    return 130;
  }
  if (failed.length > 0) {
    process.stderr.write(`${failed.length} of ${outcomes.length} runs failed: ${failed.map((o) => o.logPath).join(", ")}\n`);
    return 1;
  }
  return 0;
}
