// A sweep's runs: every variant × every seed, each a `vlmc train` command line with its own run
// folder. Every run gets the same data, data seed and budget, so differences in the results come
// from the variant and the seed alone.
import { join } from "node:path";
import type { Variant } from "./variants.js";

/** What every run of the sweep shares. Unset fields fall back to each spec's own train { } defaults. */
export interface SweepBudget {
  data?: string;
  epochs?: number;
  steps?: number;
  limit?: number;
  backend?: string;
}

export interface SweepRun {
  /** 0-based position in the sweep. */
  index: number;
  variant: Variant;
  /** Position of the variant in the sweep (0-based): A is 0. */
  variantIndex: number;
  seed: number;
  /** The run folder (--out of `vlmc train`). */
  dir: string;
  /** Arguments after `vlmc`: `train <spec> …`. */
  args: string[];
  /**
   * The source hash of the variant's spec as it will train (its run.json's spec_hash), when known:
   * a finished or interrupted run of an older version of the spec is not reused or resumed.
   */
  specHash?: string;
}

export function planSweep(variants: Variant[], seeds: number[], outDir: string, budget: SweepBudget): SweepRun[] {
  const runs: SweepRun[] = [];
  variants.forEach((variant, variantIndex) => {
    const folder = `${variantIndex + 1}-${slug(variant.name)}`;
    for (const seed of seeds) {
      const dir = join(outDir, folder, `seed-${seed}`);
      runs.push({ index: runs.length, variant, variantIndex, seed, dir, args: trainArgs(variant, seed, dir, budget) });
    }
  });
  return runs;
}

function trainArgs(variant: Variant, seed: number, dir: string, budget: SweepBudget): string[] {
  const args = ["train", variant.file];
  if (variant.model) args.push("--model", variant.model);
  for (const s of variant.set) args.push("--set", s);
  if (budget.data !== undefined) args.push("--data", budget.data);
  if (budget.epochs !== undefined) args.push("--epochs", String(budget.epochs));
  if (budget.steps !== undefined) args.push("--steps", String(budget.steps));
  if (budget.limit !== undefined) args.push("--limit", String(budget.limit));
  if (budget.backend !== undefined) args.push("--backend", budget.backend);
  args.push("--seed", String(seed), "--out", dir);
  return args;
}

/** A folder name from a variant name: "connector=Resampler(queries = 8)" → "connector-resampler-queries-8". */
export function slug(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48)
    .replace(/-+$/, "");
  return s === "" ? "variant" : s;
}

/** `--seeds 3` → [0, 1, 2]. */
export function seedList(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}
