// The files a training run leaves in its directory, besides weights and checkpoints:
//   metrics.jsonl  one JSON object per logged step ({"kind":"train",...}) or evaluation ({"kind":"eval",...})
//   run.json       what ran (spec, hash, arguments, backend, seed, sizes) and how it went (wall time,
//                  throughput, final metrics named <split>_<metric>)
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";

export const METRICS_FILE = "metrics.jsonl";
export const RUN_FILE = "run.json";

export type MetricsRecord =
  | { kind: "train"; step: number; epoch: number; loss: number; lr: number; examples_per_s: number }
  | { kind: "eval"; step: number; epoch: number; split: string; [metric: string]: number | string };

export class MetricsLog {
  readonly path: string;

  constructor(dir: string) {
    this.path = join(dir, METRICS_FILE);
  }

  /** Starts a fresh log (a new run). */
  reset(): void {
    writeFileAtomic(this.path, "");
  }

  /**
   * Keeps only the records up to `step` (a run resumed from a checkpoint at `step` re-logs the
   * steps after it, which must not appear twice).
   */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return this.reset();
    const kept = readFileSync(this.path, "utf8")
      .split("\n")
      .filter((line) => {
        if (line.trim() === "") return false;
        try {
          return (JSON.parse(line) as { step?: number }).step! <= step;
        } catch {
          return false; // a line cut short by the kill
        }
      });
    writeFileAtomic(this.path, kept.map((l) => l + "\n").join(""));
  }

  append(record: MetricsRecord): void {
    appendFileSync(this.path, JSON.stringify(record) + "\n");
  }

  read(): MetricsRecord[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as MetricsRecord);
  }
}

export interface RunInfo {
  spec: string;
  model: string;
  spec_hash: string;
  arguments: Record<string, unknown>;
  backend: string;
  backend_reason: string;
  seed: number;
  params: number;
  trainable_params: number;
  data: string;
  steps: number;
  epochs: number;
  batch: number;
  /** Seconds from start to finish of this process's part of the run (all parts when resumed). */
  wall_time_s: number;
  /** Seconds spent in training steps only (no evaluation or checkpoints). */
  train_time_s: number;
  examples_per_s: number;
  ms_per_step: number;
  interrupted: boolean;
  metrics: Record<string, number>;
}

export function writeRunInfo(dir: string, info: RunInfo): void {
  writeFileAtomic(join(dir, RUN_FILE), JSON.stringify(info, null, 2) + "\n");
}
