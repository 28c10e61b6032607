// The training loop. Given a loaded model (runtime/model.ts) and a dataset, it runs optimisation
// steps over a seeded, per-epoch shuffled order; evaluates every epoch (or every N steps) on the
// evaluation split; logs to metrics.jsonl; checkpoints every epoch, at the end and when asked to
// stop; and writes weights.safetensors and run.json.
//
// Reproducibility: everything a step depends on — parameters, optimizer state, step number, the
// epoch's example order (a pure function of seed and epoch), the learning rate (a pure function of
// the step) and the partial loss window — is in the checkpoint, so a run interrupted and resumed
// ends with the same weights and metrics as one that was not (same seed, same backend).
//
// The step loop stays lean: one tf.tidy per step, no host reads except the mean loss every
// `logEvery` steps.
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset, Split } from "../data/types.js";
import { DataError } from "../data/types.js";
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, WEIGHTS_FILE } from "../io/checkpoint.js";
import { writeSafetensors } from "../io/safetensors.js";
import { checkModelKernels, describeMissingKernels } from "../kernels.js";
import type { Model } from "../model.js";
import { batchAt, epochOrder, stepsPerEpoch } from "./batches.js";
import { checkClassCount, evaluate, type EvalMetrics } from "./evaluate.js";
import { batchInputs, disposeInputs, planInputs, type InputPlan } from "./inputs.js";
import { LossWindow, type LossWindowState } from "./loss-window.js";
import { createOptimizer, type OptimizerConfig } from "./optimizers.js";
import { silentProgress, type Progress } from "./progress.js";
import { createTrainStep } from "./step.js";
import { MetricsLog, writeRunInfo, type RunInfo } from "./run-files.js";
import { learningRate, type ScheduleKind } from "./schedule.js";
import type { TextTokenizer } from "../text/types.js";

/** The tokenizer of a text model, saved beside the weights so eval and predict encode alike. */
export const TOKENIZER_FILE = "tokenizer.json";

/** A problem with the run's settings (not the data, not a bug): printed to the user as is. */
export class TrainError extends Error {
  override name = "TrainError";
}

/** The resolved settings of a run (spec defaults merged with command-line flags). */
export interface TrainSettings {
  /** Total optimisation steps; when absent, `epochs` full passes over the training split. */
  steps?: number;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: OptimizerConfig;
  schedule: ScheduleKind;
  warmup: number;
  /** Clip gradients to this global norm (absent: no clipping). */
  clip?: number;
  seed: number;
  /** Evaluate every N steps as well as at the end (default: every epoch). */
  evalEvery?: number;
  /** Log the mean training loss every N steps (default 50). */
  logEvery?: number;
  /** Use only the first N examples of each split. */
  limit?: number;
  trainSplit?: string;
  evalSplit?: string;
  evalBatch?: number;
  /** Splits evaluated once more at the end (e.g. the shapes world's heldout), as <split>_<metric>. */
  finalEvalSplits?: string[];
}

export interface TrainOptions extends TrainSettings {
  model: Model;
  dataset: Dataset;
  /** The run directory (weights, checkpoint/, metrics.jsonl, run.json). */
  outDir: string;
  /** Continue from the checkpoint in outDir. */
  resume?: boolean;
  backend: { name: string; reason: string };
  /** Run the kernel availability check before the first step (the CLI does; it costs a few forward passes). */
  checkKernels?: boolean;
  progress?: Progress;
  /** A text model's tokenizer: written to outDir/tokenizer.json before the first step. */
  tokenizer?: TextTokenizer;
  /** Polled after every step; true ends the run early with a checkpoint (SIGINT). */
  shouldStop?: () => boolean;
  /** For run.json: the spec path, the data name and the arguments as given. */
  spec: string;
  data: string;
  arguments: Record<string, unknown>;
}

export interface TrainResult {
  step: number;
  interrupted: boolean;
  /** Final figures named <split>_<metric>, e.g. test_accuracy. */
  metrics: Record<string, number>;
  run: RunInfo;
}

export const CHECKPOINT_DIR = "checkpoint";

/** The settings a checkpoint must share with the resuming run for the result to mean anything. */
const RESUME_KEYS = ["spec_hash", "seed", "batch", "total_steps", "optimizer", "lr", "schedule", "warmup", "clip", "limit", "data"] as const;

export async function train(options: TrainOptions): Promise<TrainResult> {
  const startedAt = performance.now();
  const { model, dataset, outDir } = options;
  const progress = options.progress ?? silentProgress;
  const trainSplit = split(dataset, options.trainSplit ?? "train");
  const evalSplitName = options.evalSplit ?? "test";
  const evalSplit = split(dataset, evalSplitName);
  if (model.program.loss === null) throw new TrainError(`model ${model.program.model} declares no loss, so it cannot be trained (add 'loss ...' to the model)`);
  if (model.trainable.size === 0) throw new TrainError(`model ${model.program.model} has no trainable parameters`);

  const plan = planInputs(model.module.inputs, trainSplit, dataset);
  for (const note of plan.notes) progress.line(`data: ${note}`);
  checkClassCount(model, dataset);

  const trainSize = Math.min(trainSplit.size, options.limit ?? trainSplit.size);
  if (trainSize === 0) throw new DataError(`the ${options.trainSplit ?? "train"} split of ${dataset.name} is empty`);
  const batch = Math.min(options.batch, trainSize);
  const perEpoch = stepsPerEpoch(trainSize, batch);
  const totalSteps = options.steps ?? options.epochs * perEpoch;
  const epochs = Math.ceil(totalSteps / perEpoch);
  const logEvery = Math.max(1, options.logEvery ?? 50);
  const evalOptions = { batch: options.evalBatch ?? Math.max(batch, 256), ...(options.limit !== undefined ? { limit: options.limit } : {}) };
  const schedule = { kind: options.schedule, lr: options.lr, warmup: options.warmup, totalSteps };
  /** The 1-based epoch that step number `s` (counting from 1) belongs to, as printed and logged. */
  const epochOf = (s: number): number => Math.floor((s - 1) / perEpoch) + 1;

  if (options.checkKernels) await checkBackendKernels(model, trainSplit, plan, options.backend.name);

  const optimizer = createOptimizer(options.optimizer, model.trainable);
  const metricsLog = new MetricsLog(outDir);
  const checkpointDir = join(outDir, CHECKPOINT_DIR);
  const settingsMeta = {
    spec_hash: model.program.source.hash,
    seed: options.seed,
    batch,
    total_steps: totalSteps,
    optimizer: optimizer.config,
    lr: options.lr,
    schedule: options.schedule,
    warmup: options.warmup,
    clip: options.clip ?? null,
    limit: options.limit ?? null,
    data: options.data,
  };

  let step = 0;
  const lossWindow = new LossWindow();
  let previousWallS = 0;
  let trainTimeMs = 0;
  let lastEval: { step: number; split: string; metrics: EvalMetrics } | undefined;
  let lastTrainLoss: number | undefined;

  if (options.resume && hasCheckpoint(checkpointDir)) {
    const checkpoint = loadCheckpoint(checkpointDir);
    const meta = checkpoint.meta as Record<string, unknown>;
    const differences = RESUME_KEYS.filter((k) => JSON.stringify(meta[k]) !== JSON.stringify(settingsMeta[k]));
    if (differences.length > 0) {
      throw new TrainError(
        `cannot resume ${checkpointDir}: it was saved with different settings (` +
          differences.map((k) => `${k}: ${JSON.stringify(meta[k])} then, ${JSON.stringify(settingsMeta[k])} now`).join("; ") +
          `). Run with the same arguments, or start a new run without --resume.`,
      );
    }
    model.setParams(new Map([...checkpoint.params].map(([name, t]) => [name, t.data])));
    optimizer.loadState(checkpoint.optimizerState ?? new Map(), Number(meta["optimizer_steps"]));
    step = Number(meta["step"]);
    lossWindow.restore(meta["loss_window"] as LossWindowState);
    previousWallS = Number(meta["wall_time_s"] ?? 0);
    trainTimeMs = Number(meta["train_time_s"] ?? 0) * 1000;
    // Saved as null when absent (JSON has no undefined).
    lastTrainLoss = (meta["last_train_loss"] as number | null) ?? undefined;
    lastEval = (meta["last_eval"] as typeof lastEval | null) ?? undefined;
    metricsLog.truncateAfter(step);
    progress.line(`resuming from ${checkpointDir} at step ${step}/${totalSteps}`);
  } else if (options.resume) {
    throw new TrainError(`--resume: no checkpoint in ${checkpointDir} (a run writes one at the end of every epoch)`);
  } else {
    metricsLog.reset();
  }
  options.tokenizer?.save(join(outDir, TOKENIZER_FILE));

  const saveState = (interrupted: boolean): void => {
    saveCheckpoint(checkpointDir, {
      params: new Map(model.readParams()),
      optimizerState: optimizer.saveState(),
      meta: {
        ...settingsMeta,
        model: model.program.model,
        step,
        optimizer_steps: optimizer.steps,
        loss_window: lossWindow.save(),
        last_train_loss: lastTrainLoss ?? null,
        last_eval: lastEval ?? null,
        wall_time_s: previousWallS + (performance.now() - startedAt) / 1000,
        train_time_s: trainTimeMs / 1000,
        interrupted,
      },
    });
  };

  const runEval = (): void => {
    const metrics = evaluate(model, evalSplit, plan, evalOptions);
    lastEval = { step, split: evalSplitName, metrics };
    const epoch = epochOf(step);
    metricsLog.append({ kind: "eval", step, epoch, split: evalSplitName, ...definedNumbers(metrics) });
    progress.line(`eval ${evalSplitName} @ step ${step} (epoch ${epoch}): ${formatMetrics(metrics)}`);
  };

  const trainStep = createTrainStep({
    params: model.trainable,
    loss: (inputs) => model.forward(inputs).loss!,
    optimizer,
    ...(options.clip !== undefined ? { clip: options.clip } : {}),
    onMode: (line) => progress.line(line),
  });

  progress.start(totalSteps, step);
  let order: number[] = [];
  let orderEpoch = -1;
  let interrupted = false;
  const finalEvals: [string, EvalMetrics][] = [];
  let speedMark = { time: performance.now(), step };
  let examplesPerSecond = 0;
  try {
    while (step < totalSteps) {
      const epoch = Math.floor(step / perEpoch);
      if (epoch !== orderEpoch) {
        order = epochOrder(options.seed, epoch, trainSize);
        orderEpoch = epoch;
      }
      const lr = learningRate(schedule, step);
      const t0 = performance.now();
      const inputs = batchInputs(plan, trainSplit, batchAt(order, step % perEpoch, batch));
      lossWindow.push(trainStep.run(inputs, lr));
      disposeInputs(inputs);
      step++;

      // The only host read of the loop: the mean loss since the last log.
      const loss = step % logEvery === 0 || step === totalSteps ? lossWindow.takeMean() : undefined;
      if (loss !== undefined) lastTrainLoss = loss;
      trainTimeMs += performance.now() - t0;
      if (loss !== undefined) {
        const now = performance.now();
        examplesPerSecond = ((step - speedMark.step) * batch) / Math.max(1e-9, (now - speedMark.time) / 1000);
        speedMark = { time: now, step };
        metricsLog.append({ kind: "train", step, epoch: epochOf(step), loss, lr, examples_per_s: round(examplesPerSecond, 1) });
        if (!Number.isFinite(loss)) {
          progress.line(`warning: the training loss is ${loss} at step ${step}; lower the learning rate (--lr) or add clipping`);
        }
      }
      progress.step({ step, totalSteps, epoch: epochOf(step), lr, examplesPerSecond, ...(loss !== undefined ? { loss } : {}) });

      const epochEnded = step % perEpoch === 0;
      const evalDue = options.evalEvery ? step % options.evalEvery === 0 : epochEnded;
      if (evalDue || step === totalSteps) runEval();
      if (epochEnded && step !== totalSteps) saveState(false);
      // Let the event loop run: a Ctrl-C handler and the progress bar's redraw timer only get
      // their turn between steps (costs microseconds against a step of milliseconds).
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (step < totalSteps && options.shouldStop?.()) {
        interrupted = true;
        break;
      }
      // The evaluation and checkpoint above must not count against the step throughput.
      if (evalDue || epochEnded) speedMark = { time: performance.now(), step };
    }
    if (!interrupted) {
      for (const name of options.finalEvalSplits ?? []) {
        if (name === evalSplitName || !dataset.splits[name]) continue;
        const extra = evaluate(model, dataset.splits[name]!, plan, evalOptions);
        finalEvals.push([name, extra]);
        metricsLog.append({ kind: "eval", step, epoch: epochOf(step), split: name, ...definedNumbers(extra) });
        progress.line(`eval ${name} @ step ${step}: ${formatMetrics(extra)}`);
      }
    }
    saveState(interrupted);
  } finally {
    lossWindow.dispose();
    trainStep.dispose();
    optimizer.dispose();
    progress.stop();
  }

  if (!interrupted) {
    const weights = new Map<string, { dtype: "F32"; shape: number[]; data: Float32Array }>();
    for (const [name, t] of model.readParams()) weights.set(name, { dtype: "F32", ...t });
    writeSafetensors(join(outDir, WEIGHTS_FILE), weights, { producer: "vlmc", model: model.program.model, spec_hash: model.program.source.hash });
  }

  const metrics: Record<string, number> = {};
  if (lastTrainLoss !== undefined) metrics["train_loss"] = lastTrainLoss;
  if (lastEval) for (const [k, v] of Object.entries(definedNumbers(lastEval.metrics))) if (k !== "examples") metrics[`${lastEval.split}_${k}`] = v;
  for (const [name, extra] of finalEvals) for (const [k, v] of Object.entries(definedNumbers(extra))) if (k !== "examples") metrics[`${name}_${k}`] = v;
  const stepsDone = step;
  const run: RunInfo = {
    spec: options.spec,
    model: model.program.model,
    spec_hash: model.program.source.hash,
    arguments: options.arguments,
    backend: options.backend.name,
    backend_reason: options.backend.reason,
    seed: options.seed,
    params: model.paramCount,
    trainable_params: [...model.trainable.values()].reduce((n, v) => n + v.size, 0),
    data: options.data,
    steps: stepsDone,
    epochs,
    batch,
    wall_time_s: round(previousWallS + (performance.now() - startedAt) / 1000, 3),
    train_time_s: round(trainTimeMs / 1000, 3),
    examples_per_s: round(trainTimeMs > 0 ? (stepsDone * batch) / (trainTimeMs / 1000) : 0, 1),
    ms_per_step: round(stepsDone > 0 ? trainTimeMs / stepsDone : 0, 2),
    interrupted,
    metrics,
  };
  writeRunInfo(outDir, run);
  return { step, interrupted, metrics, run };
}

function split(dataset: Dataset, name: string): Split {
  const s = dataset.splits[name];
  if (!s) throw new DataError(`dataset ${dataset.name} has no '${name}' split (it has ${Object.keys(dataset.splits).join(", ")})`);
  return s;
}

/** Runs the kernel check on two examples and fails with the kernels' names when any is missing. */
async function checkBackendKernels(model: Model, trainSplit: Split, plan: InputPlan, backend: string): Promise<void> {
  const inputs = batchInputs(plan, trainSplit, [0, Math.min(1, trainSplit.size - 1)]);
  try {
    const check = await checkModelKernels(() => model.forward(inputs).loss!, backend, [...model.trainable.values()]);
    const message = describeMissingKernels(backend, check);
    if (message) throw new TrainError(message);
  } finally {
    disposeInputs(inputs);
  }
}

function definedNumbers(metrics: EvalMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(metrics)) if (typeof v === "number") out[k] = v;
  return out;
}

export function formatMetrics(metrics: EvalMetrics): string {
  const parts: string[] = [];
  if (metrics.accuracy !== undefined) parts.push(`accuracy ${(metrics.accuracy * 100).toFixed(2)}%`);
  // Task metrics (runtime/tasks): the headline ones; per-type QA figures stay in the logs.
  for (const key of ["retrieval_accuracy", "zero_shot_accuracy", "qa_accuracy"]) {
    const v = metrics[key];
    if (v !== undefined) parts.push(`${key.replace(/_/g, " ")} ${(v * 100).toFixed(2)}%`);
  }
  if (metrics["zero_shot_chance"] !== undefined) parts.push(`(zero-shot chance ${(metrics["zero_shot_chance"] * 100).toFixed(2)}%)`);
  if (metrics.loss !== undefined) parts.push(`loss ${metrics.loss.toFixed(4)}`);
  parts.push(`${metrics.examples} examples`);
  return parts.join(", ");
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
