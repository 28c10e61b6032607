// Feeding a model from a dataset: each model input (`in image: [B, H, W, C]`, `in label: [B] int`)
// is read from the batch field of the same name. The plan is made once, before training, so a
// model that needs a field the data does not have, or images that cannot be fitted, fails with
// one clear message instead of in the middle of a run.
import * as tf from "@tensorflow/tfjs-core";
import { fitImages, formatShape, planImageFit, type ImageShape } from "../data/fit.js";
import type { BatchField, Dataset, Split } from "../data/types.js";
import { DataError } from "../data/types.js";
import type { GeneratedModule } from "../model.js";

/** Inputs that runtime/tasks builds from text (see contrastive.ts, lm.ts). */
const TEXT_FIELDS = ["tokens", "targets", "target_mask"];

export interface InputPlan {
  /** Model input name → how to make it from a batch. */
  fields: { name: string; dtype: "float32" | "int32"; fitTo?: ImageShape }[];
  /** Human-readable notes ("images 28×28×1 → 28×28×3: grey → RGB"), to print once. */
  notes: string[];
}

/** Plans how `split` feeds `inputs`; throws DataError naming what is missing or incompatible. */
export function planInputs(inputs: GeneratedModule["inputs"], split: Split, dataset: Dataset): InputPlan {
  const probe = split.batch(split.size > 0 ? [0] : []);
  const available = probe as unknown as Record<string, BatchField | undefined>;
  const fields: InputPlan["fields"] = [];
  const notes: string[] = [];
  for (const input of inputs) {
    const field = available[input.name];
    if (!field) {
      // Text fields are not in any dataset: the model's task (runtime/tasks) makes them from captions and QA pairs.
      const hint = TEXT_FIELDS.includes(input.name)
        ? `; text inputs are made by the model's task: add task = "contrastive" (tokens) or task = "lm" (tokens, targets, target_mask) to its train { }`
        : "";
      throw new DataError(
        `the model reads an input '${input.name}' that dataset ${dataset.name} does not provide ` +
          `(it provides ${Object.keys(available).join(", ")})${hint}`,
      );
    }
    if (field.dtype !== input.dtype) {
      throw new DataError(`the model's input '${input.name}' is ${input.dtype}, but dataset ${dataset.name} gives ${field.dtype}`);
    }
    let fitTo: ImageShape | undefined;
    if (input.name === "image" && input.shape.length === 4) {
      const want = input.shape.slice(1) as number[];
      const have = split.imageShape;
      if (want.some((d, i) => d !== have[i])) {
        const target = want as unknown as ImageShape;
        const plan = planImageFit(have, target);
        if (!plan.ok) {
          throw new DataError(
            `dataset ${dataset.name} has ${formatShape(have)} images but the model expects ${formatShape(target)}: ${plan.reason}`,
          );
        }
        fitTo = target;
        notes.push(`images ${formatShape(have)} → ${formatShape(target)}: ${plan.steps.join(", ")}`);
      }
    } else {
      const want = input.shape.slice(1);
      const have = field.shape.slice(1);
      if (want.length !== have.length || want.some((d, i) => typeof d === "number" && d !== have[i])) {
        throw new DataError(
          `the model's input '${input.name}' has shape [${input.shape.join(", ")}] but dataset ${dataset.name} gives [B, ${have.join(", ")}]`,
        );
      }
    }
    fields.push({ name: input.name, dtype: input.dtype, ...(fitTo ? { fitTo } : {}) });
  }
  return { fields, notes };
}

/** The model inputs for the examples `indices` of `split`, as tensors (the caller disposes them). */
export function batchInputs(plan: InputPlan, split: Split, indices: readonly number[]): Record<string, tf.Tensor> {
  const batch = split.batch(indices) as unknown as Record<string, BatchField>;
  const out: Record<string, tf.Tensor> = {};
  for (const { name, dtype, fitTo } of plan.fields) {
    const field = fitTo ? fitImages(batch[name]!, fitTo) : batch[name]!;
    out[name] = tf.tensor(field.data, field.shape, dtype);
  }
  return out;
}

/** Disposes every tensor of an input record. */
export function disposeInputs(inputs: Record<string, tf.Tensor>): void {
  for (const t of Object.values(inputs)) t.dispose();
}
