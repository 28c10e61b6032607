// A task is what a model's `train { task = ... }` says it learns: "classify" (image → label),
// "contrastive" (CLIP: images and captions into one embedding space) or "lm" (KOSMOS: answer
// text after an image). The trainer and the evaluator are task-agnostic: a task turns each
// dataset split into the fields the model's inputs name (tokens, targets, target_mask...), and
// adds the metrics that mean something for it (zero-shot accuracy, answer accuracy).
import type { Split } from "../data/types.js";
import type { Model } from "../model.js";
import type { InputPlan } from "../train/inputs.js";
import type { TextSetup } from "./text.js";

export const TASK_NAMES = ["classify", "contrastive", "lm"] as const;
export type TaskName = (typeof TASK_NAMES)[number];

export interface ScoreOptions {
  /** Examples per forward pass. */
  batch: number;
  /** Score only the first `limit` examples of the split. */
  limit?: number;
}

export interface Task {
  readonly name: TaskName;
  /** The tokenizer and text length, for tasks that read text. */
  readonly text?: TextSetup;
  /**
   * The split as the model reads it. For "lm" one example becomes several sequences (one per
   * question–answer pair, plus its caption), so the wrapped split is larger than its base.
   */
  wrap(split: Split): TaskSplit;
  /**
   * The task's own metrics on a split (the loss and classifier accuracy are the evaluator's).
   * Keys are flat metric names (e.g. zero_shot_accuracy, qa_accuracy_colour).
   */
  score?(model: Model, split: TaskSplit, plan: InputPlan, options: ScoreOptions): Record<string, number>;
}

/** A split wrapped by a task: what the trainer iterates, with the examples it came from. */
export interface TaskSplit extends Split {
  readonly base: Split;
  readonly task: Task;
}

export function isTaskSplit(split: Split): split is TaskSplit {
  return "task" in split && "base" in split;
}
