// Evaluation over a whole split: the mean loss per example and, for classifiers, the accuracy of the
// arg-max of the logits. Forward only (no gradients), in batches; one small host read per batch;
// compiled where the backend allows (runtime/step-graph/).
// A split wrapped by a task (runtime/tasks) adds the task's own metrics: zero-shot and retrieval
// accuracy for a contrastive model, answer accuracy for a decoder.
import * as tf from "@tensorflow/tfjs-core";
import type { Dataset, Split } from "../data/types.js";
import { DataError } from "../data/types.js";
import type { Model } from "../model.js";
import { isTaskSplit } from "../tasks/types.js";
import { tracedFunction } from "../step-graph/index.js";
import { sequentialBatches } from "./batches.js";
import { batchInputs, disposeInputs, type InputPlan } from "./inputs.js";

/** Fewest batches for which an evaluation compiles its batch (two recorded batches and a build to repay). */
const COMPILE_MIN_BATCHES = 6;

export interface EvalMetrics {
  /** Mean loss per example (absent when the model declares no loss). */
  loss?: number;
  /** Fraction of examples whose arg-max logit is the label (classifiers only). */
  accuracy?: number;
  examples: number;
  /** Task metrics (runtime/tasks), e.g. zero_shot_accuracy, qa_accuracy, qa_accuracy_colour. */
  [metric: string]: number | undefined;
}

export interface EvalOptions {
  batch: number;
  /** Evaluate only the first `limit` examples. */
  limit?: number;
}

/** The output scored for accuracy: "logits" when the model has it and reads a `label` input. */
export function classifierOutput(model: Model): string | undefined {
  const hasLabel = model.module.inputs.some((i) => i.name === "label" && i.shape.length === 1);
  const logits = model.module.outputs.find((o) => o.name === "logits" && o.shape.length === 2);
  const task = model.module.train["task"];
  return hasLabel && logits && (task === undefined || task === "classify") ? logits.name : undefined;
}

/** Fails clearly when the data has labels the classifier's logits cannot represent. */
export function checkClassCount(model: Model, dataset: Dataset): void {
  const output = classifierOutput(model);
  if (!output) return;
  const width = model.module.outputs.find((o) => o.name === output)!.shape[1];
  if (typeof width === "number" && dataset.classes.length > width) {
    throw new DataError(
      `dataset ${dataset.name} has ${dataset.classes.length} classes but the model's ${output} has ${width}: ` +
        `set the model's class count (e.g. --set classes=${dataset.classes.length})`,
    );
  }
}

export function evaluate(model: Model, split: Split, plan: InputPlan, options: EvalOptions): EvalMetrics {
  const size = Math.min(split.size, options.limit ?? split.size);
  const scored = classifierOutput(model);
  const wantLoss = model.program.loss !== null;
  let lossSum = 0;
  let correct = 0;
  // [mean loss, correct predictions] of one batch.
  const batchStats = (inputs: Readonly<Record<string, tf.Tensor>>): { stats: tf.Tensor } => {
    const { outputs, loss } = model.forward(inputs, { loss: wantLoss });
    const parts: tf.Tensor[] = [loss ?? tf.scalar(0)];
    if (scored) {
      const predicted = tf.argMax(outputs[scored]!, -1);
      parts.push(tf.sum(tf.cast(tf.equal(predicted, tf.cast(inputs["label"]!, "int32")), "float32")));
    } else {
      parts.push(tf.scalar(0));
    }
    return { stats: tf.stack(parts) };
  };
  const batches = [...sequentialBatches(size, options.batch)];
  const compiled = batches.length >= COMPILE_MIN_BATCHES ? tracedFunction(batchStats, { what: "evaluation batch" }) : undefined;
  try {
    for (const indices of batches) {
      const inputs = batchInputs(plan, split, indices);
      const stats = compiled ? compiled.run(inputs)["stats"]! : tf.tidy(() => batchStats(inputs).stats);
      const [batchLoss, batchCorrect] = stats.dataSync();
      stats.dispose();
      disposeInputs(inputs);
      lossSum += batchLoss! * indices.length;
      correct += batchCorrect!;
    }
  } finally {
    compiled?.dispose();
  }
  const metrics: EvalMetrics = { examples: size };
  if (wantLoss) metrics.loss = size > 0 ? lossSum / size : Number.NaN;
  if (scored) metrics.accuracy = size > 0 ? correct / size : Number.NaN;
  if (isTaskSplit(split) && split.task.score) {
    // The task counts examples of the base split (an "lm" split has several sequences per example).
    const baseLimit = options.limit !== undefined ? Math.ceil((options.limit * split.base.size) / Math.max(1, split.size)) : undefined;
    Object.assign(metrics, split.task.score(model, split, plan, { batch: options.batch, ...(baseLimit !== undefined ? { limit: baseLimit } : {}) }));
  }
  return metrics;
}
