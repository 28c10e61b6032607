// Turns raw training results (final metrics and metrics.jsonl records per run) into what the report
// shows: mean ± spread over seeds per variant, and the points of the loss and accuracy curves.
import { readFileSync } from "node:fs";
import type { AccuracyPoint, LossPoint, MetricsLine, ResultsInput, ResultsSummary, SeriesSummary, VariantSummary } from "./types.js";

export function summarizeSeries(values: number[]): SeriesSummary {
  const n = values.length;
  const mean = n === 0 ? NaN : values.reduce((s, v) => s + v, 0) / n;
  // Sample standard deviation: with 2–3 seeds the population formula understates the spread.
  const std = n < 2 ? 0 : Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { n, mean, std, min: Math.min(...values), max: Math.max(...values), values: [...values] };
}

export function summarizeResults(results: ResultsInput): ResultsSummary {
  const metricNames: string[] = [];
  for (const v of results.variants) for (const run of v.runs) for (const name of Object.keys(run.final)) if (!metricNames.includes(name)) metricNames.push(name);
  const variants: VariantSummary[] = results.variants.map((v) => {
    const metrics: Record<string, SeriesSummary> = {};
    for (const name of metricNames) {
      const values = v.runs.map((r) => r.final[name]).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
      if (values.length > 0) metrics[name] = summarizeSeries(values);
    }
    const optional = (pick: (r: (typeof v.runs)[number]) => number | undefined) => {
      const values = v.runs.map(pick).filter((x): x is number => typeof x === "number");
      return values.length > 0 ? summarizeSeries(values) : null;
    };
    return {
      variant: v.variant,
      seeds: v.runs.map((r) => r.seed),
      params: v.params ?? null,
      trainableParams: v.trainableParams ?? null,
      flops: v.flops ?? null,
      visualTokens: v.visualTokens ?? null,
      metrics,
      examplesPerSecond: optional((r) => r.examplesPerSecond),
      msPerStep: optional((r) => r.msPerStep),
      wallSeconds: optional((r) => r.wallSeconds),
    };
  });
  const loss: LossPoint[] = [];
  const accuracy: AccuracyPoint[] = [];
  for (const v of results.variants) {
    for (const run of v.runs) {
      for (const record of run.metrics ?? []) {
        const { step, loss: l, epoch, split, accuracy: acc } = record;
        // Evaluation records carry a loss too (on their split): only training records make the training curve.
        if (record["kind"] !== "eval" && isNumber(step) && isNumber(l)) loss.push({ variant: v.variant, seed: run.seed, step, loss: l });
        if (isNumber(epoch) && typeof split === "string" && isNumber(acc)) accuracy.push({ variant: v.variant, seed: run.seed, epoch, split, accuracy: acc });
      }
    }
  }
  return { note: results.note ?? null, metricNames, variants, curves: { loss, accuracy } };
}

function isNumber(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/** An error in a metrics.jsonl file, naming the file and line. */
export class MetricsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsFileError";
  }
}

/**
 * Reads a run's metrics.jsonl. A last line cut short by a killed run is skipped (the trainer
 * appends line by line); a malformed line anywhere else is an error naming the file and line.
 */
export function readMetricsJsonl(path: string): MetricsLine[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new MetricsFileError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const lines = text.split("\n");
  const out: MetricsLine[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      const value: unknown = JSON.parse(line);
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("not an object");
      out.push(value as MetricsLine);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === "");
      if (!isLast) throw new MetricsFileError(`${path}:${i + 1}: not a JSON object`);
    }
  });
  return out;
}
