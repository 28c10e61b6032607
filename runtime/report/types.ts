// The report's input and its JSON form (report.json). The structural diff is always present; the
// results section (a training sweep's metrics and curves) is optional, so the page can be written
// from `vlmc diff --report` alone today and from the sweep later. docs/diff.md documents the schema.
import type { ProgramDiff } from "../../compiler/diff/types.js";

export const REPORT_SCHEMA = "vlmc.report/1";

/**
 * A line of a run's metrics.jsonl, loosely typed: the curves use `{step, loss}` records (training
 * steps) and `{epoch, split, accuracy}` records (evaluations); other fields are ignored.
 */
export type MetricsLine = Record<string, unknown>;

/** One training run of a variant (one seed). */
export interface VariantRun {
  seed: number;
  /** Final metrics by name ("loss", "test_accuracy", "heldout_accuracy"…). */
  final: Record<string, number>;
  /** The run's metrics.jsonl records, for the curves. */
  metrics?: MetricsLine[];
  examplesPerSecond?: number;
  /** Training time per step (run.json's ms_per_step: training time / steps). */
  msPerStep?: number;
  wallSeconds?: number;
}

/** Every run of one variant (same spec and overrides, different seeds). */
export interface VariantResults {
  /** The variant's name as the table and the charts show it ("A: Clip", "connector=Resampler()"). */
  variant: string;
  params?: number;
  /** Parameters the optimizer updates (params minus the frozen ones). */
  trainableParams?: number;
  flops?: number;
  /** Visual tokens handed to the connector (null: the model has none or the count is symbolic). */
  visualTokens?: number | null;
  runs: VariantRun[];
}

export interface ResultsInput {
  variants: VariantResults[];
  /** A sentence shown above the table: data, epochs, machine. */
  note?: string;
}

export interface ReportInput {
  title?: string;
  diff: ProgramDiff;
  results?: ResultsInput;
}

/** n values summarised; `std` is the sample standard deviation (0 for a single value). */
export interface SeriesSummary {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  values: number[];
}

export interface VariantSummary {
  variant: string;
  seeds: number[];
  params: number | null;
  trainableParams: number | null;
  flops: number | null;
  visualTokens: number | null;
  /** Metric name → summary over seeds, in the order metrics first appear. */
  metrics: Record<string, SeriesSummary>;
  examplesPerSecond: SeriesSummary | null;
  msPerStep: SeriesSummary | null;
  wallSeconds: SeriesSummary | null;
}

export interface LossPoint {
  variant: string;
  seed: number;
  step: number;
  loss: number;
}

export interface AccuracyPoint {
  variant: string;
  seed: number;
  epoch: number;
  split: string;
  accuracy: number;
}

/** Per top-level module and side: the data of the parameters/FLOPs bar charts. */
export interface ModuleCost {
  module: string;
  /** "A" or "B". */
  side: string;
  params: number;
  flops: number;
}

export interface ResultsSummary {
  note: string | null;
  /** Names of every metric in any variant, in first-seen order: the table's columns. */
  metricNames: string[];
  variants: VariantSummary[];
  curves: { loss: LossPoint[]; accuracy: AccuracyPoint[] };
}

/** A chart the HTML page carries as inline SVG. */
export interface ChartInfo {
  id: string;
  title: string;
}

/** report.json. */
export interface ReportJson {
  schema: typeof REPORT_SCHEMA;
  title: string;
  diff: ProgramDiff;
  moduleCosts: ModuleCost[];
  results: ResultsSummary | null;
  charts: ChartInfo[];
}
