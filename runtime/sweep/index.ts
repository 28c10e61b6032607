// The variant sweep behind `vlmc diff --train`: train every variant with the same data, seeds and
// budget (variants.ts → plan.ts → runner.ts), then read the runs back into the report's results
// (collect.ts) and a terminal table (table.ts).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { visualTokens } from "../../compiler/diff/tokens.js";
import { loadDataset } from "../data/index.js";
import type { Dataset } from "../data/types.js";
import type { ResultsInput } from "../report/types.js";
import { compileForData } from "../train/setup.js";
import { collectResults, type VariantCost } from "./collect.js";
import type { SweepBudget } from "./plan.js";
import { planSweep } from "./plan.js";
import { createSweepProgress } from "./progress.js";
import { runSweep, type RunOutcome } from "./runner.js";
import type { Variant } from "./variants.js";

export { parseVariant, parseVariants, splitTopLevel, VariantError, type Variant } from "./variants.js";
export { planSweep, seedList, slug, type SweepBudget, type SweepRun } from "./plan.js";
export { runSweep, type RunOutcome, type SweepEvent } from "./runner.js";
export { formatResultsTable } from "./table.js";
export { collectResults, curveRecords, headlineMetrics } from "./collect.js";

export interface SweepOptions {
  variants: Variant[];
  seeds: number[];
  outDir: string;
  budget: SweepBudget;
  jobs: number;
  reuse: boolean;
  /** Default: this installation's bin/vlmc.js under the running Node. */
  launcher?: string[];
  /** Default: progress on stderr (bars on a terminal). */
  quiet?: boolean;
}

export interface SweepResult {
  outcomes: RunOutcome[];
  results: ResultsInput;
}

export async function sweep(options: SweepOptions): Promise<SweepResult> {
  const costs = variantCosts(options.variants, options.budget.data);
  const runs = planSweep(options.variants, options.seeds, options.outDir, options.budget).map((run) => {
    const specHash = costs[run.variantIndex]?.specHash;
    return specHash !== undefined ? { ...run, specHash } : run;
  });
  const progress = options.quiet ? undefined : createSweepProgress(runs.length);
  let outcomes: RunOutcome[];
  try {
    outcomes = await runSweep(runs, {
      jobs: options.jobs,
      launcher: options.launcher ?? defaultLauncher(),
      reuse: options.reuse,
      ...(progress ? { onEvent: (e) => progress.onEvent(e) } : {}),
    });
  } finally {
    progress?.stop();
  }
  const budget = [
    options.budget.data ? `data ${options.budget.data}` : "each spec's data",
    options.budget.steps !== undefined ? `${options.budget.steps} steps` : options.budget.epochs !== undefined ? `${options.budget.epochs} epochs` : "each spec's own training budget",
    ...(options.budget.limit !== undefined ? [`first ${options.budget.limit} examples per split`] : []),
  ].join(", ");
  const note = `${options.variants.length} variants × ${options.seeds.length} seed${options.seeds.length === 1 ? "" : "s"} (${options.seeds.join(", ")}); ${budget}; up to ${options.jobs} runs at a time (throughput is per run, with the others sharing the machine).`;
  return { outcomes, results: collectResults(options.variants, costs, outcomes, note) };
}

/**
 * Parameters, FLOPs and visual tokens of each variant as it is trained (data-bound parameters
 * such as vocab set from the data). null for a variant that does not compile or has no data.
 */
export function variantCosts(variants: Variant[], data: string | undefined): (VariantCost | null)[] {
  const datasets = new Map<string, Dataset>();
  return variants.map((v) => {
    try {
      const plain = compileForData(v.file, { model: v.model, set: v.set }, undefined);
      const dataName = data ?? (plain.program?.train.data as string | undefined);
      if (!plain.program || !dataName) return null;
      if (!datasets.has(dataName)) datasets.set(dataName, loadDataset(dataName, { seed: 0 }));
      const program = compileForData(v.file, { model: v.model, set: v.set }, datasets.get(dataName)).program;
      if (!program) return null;
      return { specHash: program.source.hash, params: program.totals.params, trainableParams: program.totals.trainableParams, flops: program.totals.flops, visualTokens: visualTokens(program).tokens };
    } catch {
      return null;
    }
  });
}

/** [node, …/bin/vlmc.js]: the launcher next to this module, whether run from dist/ or from source. */
export function defaultLauncher(): string[] {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "bin", "vlmc.js");
    if (existsSync(candidate)) return [process.execPath, candidate];
    dir = dirname(dir);
  }
  throw new Error("cannot find bin/vlmc.js above the sweep module");
}
