// The `train { … }` block: training defaults, checked for the keys the trainer understands.
import type { Span, TrainConfig } from "../ir.js";
import { INITIALIZERS } from "../passes/initializer.js";
import { fail } from "./errors.js";
import type { Value } from "./values.js";
import { describeValue } from "./values.js";

const CHOICES: Record<string, readonly string[]> = {
  task: ["classify", "contrastive", "lm"],
  optimizer: ["sgd", "adam", "adamw"],
  schedule: ["constant", "cosine"],
  initializer: INITIALIZERS,
  decay: ["kernels", "all"],
};
const COUNTS = new Set(["epochs", "steps", "batch", "warmup"]);
const RATES = new Set(["lr", "momentum", "weight_decay", "clip"]);

/** Checks one train entry and returns its JSON value. Unknown keys are kept for the trainer. */
export function trainValue(key: string, value: Value, span: Span): TrainConfig[string] {
  const found = describeValue(value);
  if (key in CHOICES) {
    const choices = CHOICES[key]!;
    if (value.kind !== "string" || !choices.includes(value.value)) {
      fail("E0306", `train.${key} must be one of ${choices.map((c) => `"${c}"`).join(", ")}, found ${found}`, span);
    }
    return value.value;
  }
  if (COUNTS.has(key)) {
    if (value.kind !== "int" || value.value < 0) fail("E0306", `train.${key} must be a non-negative int, found ${found}`, span);
    return value.value;
  }
  if (RATES.has(key)) {
    if ((value.kind !== "int" && value.kind !== "float") || value.value < 0) fail("E0306", `train.${key} must be a non-negative number, found ${found}`, span);
    return value.value;
  }
  if (value.kind === "int" || value.kind === "float" || value.kind === "string" || value.kind === "bool") return value.value;
  fail("E0306", `train.${key} must be a number, string or bool, found ${found}`, span);
}
