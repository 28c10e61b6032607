// task = "classify" (ConvNet, ViT): the model reads `image` and `label` as the dataset gives them,
// and the evaluator scores the arg-max of `logits` (runtime/train/evaluate.ts). The split is only
// tagged as this task's, so every task is handled the same way by the trainer.
import type { Task } from "./types.js";

export function classifyTask(): Task {
  const task: Task = {
    name: "classify",
    wrap: (base) => ({
      base,
      task,
      size: base.size,
      imageShape: base.imageShape,
      meta: (i) => base.meta(i),
      batch: (indices) => base.batch(indices),
    }),
  };
  return task;
}
