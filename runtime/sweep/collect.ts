// Reads the finished runs of a sweep back (run.json for the final metrics and throughput,
// metrics.jsonl for the curves) into the report's results input.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readMetricsJsonl } from "../report/results.js";
import type { MetricsLine, ResultsInput, VariantResults, VariantRun } from "../report/types.js";
import type { RunOutcome } from "./runner.js";
import type { Variant } from "./variants.js";

/** What the compiler says of a variant (as trained: data-bound parameters set from the data). */
export interface VariantCost {
  /** The spec's source hash as trained (run.json's spec_hash). */
  specHash: string;
  params: number;
  trainableParams: number;
  flops: number;
  visualTokens: number | null;
}

/**
 * The final metrics a sweep tabulates: the losses, and each split's headline accuracy (plain,
 * zero-shot, retrieval, question answering). Per-question-type breakdowns and chance levels stay in
 * each run's run.json.
 */
export function headlineMetrics(metrics: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) {
    if (/_loss$/.test(name) || /_(accuracy|zero_shot_accuracy|retrieval_accuracy|qa_accuracy)$/.test(name)) out[name] = value;
  }
  return out;
}

/** The accuracy an eval record's curve follows: the task's headline metric. */
const CURVE_METRICS = ["accuracy", "zero_shot_accuracy", "qa_accuracy"];

/**
 * metrics.jsonl records as the report's curves read them: training records keep step and loss;
 * evaluation records get `accuracy` set to their task's headline metric.
 */
export function curveRecords(records: MetricsLine[]): MetricsLine[] {
  return records.map((r) => {
    if (r["kind"] !== "eval") return r;
    const metric = CURVE_METRICS.find((m) => typeof r[m] === "number");
    return metric ? { ...r, accuracy: r[metric] } : r;
  });
}

interface RunJson {
  metrics?: Record<string, number>;
  examples_per_s?: number;
  ms_per_step?: number;
  wall_time_s?: number;
}

export function readRun(outcome: RunOutcome): VariantRun | null {
  if (outcome.status !== "done" && outcome.status !== "reused") return null;
  let info: RunJson;
  try {
    info = JSON.parse(readFileSync(join(outcome.run.dir, "run.json"), "utf8")) as RunJson;
  } catch {
    return null;
  }
  let metrics: MetricsLine[] = [];
  try {
    metrics = curveRecords(readMetricsJsonl(join(outcome.run.dir, "metrics.jsonl")));
  } catch {
    // Curves are optional: a missing or damaged metrics.jsonl leaves the final figures standing.
  }
  return {
    seed: outcome.run.seed,
    final: headlineMetrics(info.metrics ?? {}),
    metrics,
    ...(typeof info.examples_per_s === "number" ? { examplesPerSecond: info.examples_per_s } : {}),
    ...(typeof info.ms_per_step === "number" ? { msPerStep: info.ms_per_step } : {}),
    ...(typeof info.wall_time_s === "number" ? { wallSeconds: info.wall_time_s } : {}),
  };
}

export function collectResults(variants: Variant[], costs: (VariantCost | null)[], outcomes: RunOutcome[], note: string): ResultsInput {
  const results: VariantResults[] = variants.map((variant, i) => {
    const cost = costs[i];
    const runs = outcomes
      .filter((o) => o.run.variantIndex === i)
      .map(readRun)
      .filter((r): r is VariantRun => r !== null);
    return {
      variant: variant.name,
      ...(cost ? { params: cost.params, trainableParams: cost.trainableParams, flops: cost.flops, visualTokens: cost.visualTokens } : {}),
      runs,
    };
  });
  return { variants: results, note };
}
