// The shape of bench/results.json (issue 7): written by bench/harness.ts, read by the README's
// table and by whoever compares runs. Every figure is a number, or null where it was not measured
// (no PyTorch, a backend that is not installed, no hand-written twin, a failed parity check):
// a missing figure is never written as 0.
import type { ModelKey } from "./models.js";

export type BackendName = "wasm" | "tensorflow" | "cpu";
export const BACKEND_NAMES: readonly BackendName[] = ["wasm", "tensorflow", "cpu"];

export interface BackendFigures {
  /** Median ms of one training step (forward, loss, backward, optimizer update, loss read). */
  train_step_ms: number | null;
  /** Median ms of one forward pass over a batch (no loss, no gradients). */
  infer_ms: number | null;
  /** Peak tfjs tensor memory during one training step, MiB (tf.profile peakBytes: params and optimizer state included). */
  peak_mb: number | null;
  /** train_step_ms ÷ PyTorch's; null without PyTorch or when the parameter counts differ. */
  vs_pytorch: number | null;
}

export interface ModelFigures {
  /** Parameter count of the compiled IR (totals.params). */
  params: number;
  pytorch: { train_step_ms: number | null };
  backends: Partial<Record<BackendName, BackendFigures>>;
  /**
   * The same architecture written by hand in plain tfjs, timed interleaved with the generated model
   * on the same backend (machine.run.handwritten_backend). vs_generated = generated ÷ hand-written
   * (the target is ≤ 1.05). null for models without a hand-written twin.
   */
  handwritten_tfjs: { train_step_ms: number | null; vs_generated: number | null } | null;
}

export interface BenchResults {
  /** Free-form: the hardware, versions, load and the run's settings. */
  machine: Record<string, unknown>;
  compile: { bundled_ms: number | null; lines10k_ms: number | null };
  models: Partial<Record<ModelKey, ModelFigures>>;
}

const MODEL_KEY_SET = new Set(["lenet5", "vit", "clip", "kosmos"]);

/** Problems with `value` as a results.json object; empty when it has exactly the schema above. */
export function validateResults(value: unknown): string[] {
  const errors: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const numberOrNull = (v: unknown, at: string, positive = true): void => {
    if (v === null) return;
    if (typeof v !== "number" || !Number.isFinite(v) || (positive && v < 0)) errors.push(`${at}: expected a non-negative number or null, got ${JSON.stringify(v)}`);
  };
  const exactKeys = (o: Record<string, unknown>, keys: string[], at: string): void => {
    const have = Object.keys(o).sort().join(",");
    const want = [...keys].sort().join(",");
    if (have !== want) errors.push(`${at}: expected keys {${want}}, got {${have}}`);
  };

  if (!isObject(value)) return ["results: expected an object"];
  exactKeys(value, ["machine", "compile", "models"], "results");
  if (!isObject(value["machine"])) errors.push("machine: expected an object");
  const compile = value["compile"];
  if (!isObject(compile)) errors.push("compile: expected an object");
  else {
    exactKeys(compile, ["bundled_ms", "lines10k_ms"], "compile");
    numberOrNull(compile["bundled_ms"], "compile.bundled_ms");
    numberOrNull(compile["lines10k_ms"], "compile.lines10k_ms");
  }
  const models = value["models"];
  if (!isObject(models)) return [...errors, "models: expected an object"];
  for (const [key, m] of Object.entries(models)) {
    const at = `models.${key}`;
    if (!MODEL_KEY_SET.has(key)) errors.push(`${at}: unknown model key`);
    if (!isObject(m)) {
      errors.push(`${at}: expected an object`);
      continue;
    }
    exactKeys(m, ["params", "pytorch", "backends", "handwritten_tfjs"], at);
    if (typeof m["params"] !== "number" || !Number.isInteger(m["params"]) || m["params"] <= 0) errors.push(`${at}.params: expected a positive integer`);
    const torch = m["pytorch"];
    if (!isObject(torch)) errors.push(`${at}.pytorch: expected an object`);
    else {
      exactKeys(torch, ["train_step_ms"], `${at}.pytorch`);
      numberOrNull(torch["train_step_ms"], `${at}.pytorch.train_step_ms`);
    }
    const backends = m["backends"];
    if (!isObject(backends)) errors.push(`${at}.backends: expected an object`);
    else {
      for (const [name, b] of Object.entries(backends)) {
        const bat = `${at}.backends.${name}`;
        if (!(BACKEND_NAMES as readonly string[]).includes(name)) errors.push(`${bat}: unknown backend`);
        if (!isObject(b)) {
          errors.push(`${bat}: expected an object`);
          continue;
        }
        exactKeys(b, ["train_step_ms", "infer_ms", "peak_mb", "vs_pytorch"], bat);
        for (const k of ["train_step_ms", "infer_ms", "peak_mb", "vs_pytorch"]) numberOrNull(b[k], `${bat}.${k}`);
      }
    }
    const hw = m["handwritten_tfjs"];
    if (hw !== null) {
      if (!isObject(hw)) errors.push(`${at}.handwritten_tfjs: expected an object or null`);
      else {
        exactKeys(hw, ["train_step_ms", "vs_generated"], `${at}.handwritten_tfjs`);
        numberOrNull(hw["train_step_ms"], `${at}.handwritten_tfjs.train_step_ms`);
        numberOrNull(hw["vs_generated"], `${at}.handwritten_tfjs.vs_generated`);
      }
    }
  }
  return errors;
}
