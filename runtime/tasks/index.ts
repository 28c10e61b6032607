// The task of a compiled model (its `train { task = ... }`, "classify" when absent) and the
// dataset as that task feeds it. See types.ts for what a task is.
import type { IRProgram } from "../../compiler/ir.js";
import type { Dataset } from "../data/types.js";
import { DataError } from "../data/types.js";
import { classifyTask } from "./classify.js";
import { contrastiveTask } from "./contrastive.js";
import { lmTask } from "./lm.js";
import { longestText, type TextSetup } from "./text.js";
import { TASK_NAMES, type Task, type TaskName } from "./types.js";

export { TASK_NAMES, isTaskSplit, type Task, type TaskName, type TaskSplit, type ScoreOptions } from "./types.js";
export { buildTokenizer, type TextSetup } from "./text.js";

/** A model whose task cannot run: a wrong task name, or inputs the task cannot feed. */
export class TaskError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = "TaskError";
  }
}

export function taskNameOf(program: IRProgram): TaskName {
  const task = program.train["task"] ?? "classify";
  if (typeof task !== "string" || !(TASK_NAMES as readonly string[]).includes(task)) {
    throw new TaskError(`model ${program.model}: unknown train { task = ${JSON.stringify(task)} }: expected one of ${TASK_NAMES.map((t) => `"${t}"`).join(", ")}`);
  }
  return task as TaskName;
}

/** True when the model's task reads text (so it needs a tokenizer). */
export function taskReadsText(name: TaskName): boolean {
  return name !== "classify";
}

/**
 * The task for a compiled program. Text tasks need `tokenizer` and an input `tokens: [B, seq_len]
 * int`; the tokenizer must fit the model's vocab, and the longest text of `dataset`'s training split
 * must fit seq_len (both checked here, so a run never fails half-way through an epoch).
 */
export function createTask(program: IRProgram, text?: Omit<TextSetup, "seqLen">, dataset?: Dataset): Task {
  const name = taskNameOf(program);
  if (!taskReadsText(name)) return classifyTask();
  if (!text) throw new TaskError(`model ${program.model} (task "${name}") reads text, but no tokenizer was given`);
  const tokens = program.inputs.find((i) => i.name === "tokens");
  const seqLen = tokens?.shape[1];
  if (!tokens || tokens.shape.length !== 2 || typeof seqLen !== "number") {
    throw new TaskError(`model ${program.model} (task "${name}") must read its text from an input 'tokens: [B, seq_len] int'`);
  }
  if (name === "lm") {
    for (const input of ["targets", "target_mask"]) {
      if (!program.inputs.some((i) => i.name === input)) throw new TaskError(`model ${program.model} (task "lm") must have an input '${input}: [B, seq_len]'`);
    }
  }
  // lm: train on each example's caption as well as its question–answer pairs (train { captions }).
  const captions = program.train["captions"] ?? true;
  if (typeof captions !== "boolean") throw new TaskError(`model ${program.model}: train { captions = ${JSON.stringify(captions)} } must be true or false`);
  const vocab = vocabOf(program);
  if (vocab !== undefined && vocab < text.tokenizer.size) {
    throw new TaskError(
      `the tokenizer has ${text.tokenizer.size} tokens but model ${program.model} has vocab = ${vocab}: ` +
        `remove --set vocab (it is set from the tokenizer) or give --set vocab=${text.tokenizer.size} or more`,
    );
  }
  // A text encoder pools at the first end-of-text id (pool_eot), so it must be the tokenizer's, and
  // a caption's start must differ from it (a negative eot is the legacy argmax rule: no id to check).
  const { bosId, eosId } = text.tokenizer;
  for (const node of program.nodes) {
    const eot = node.op === "pool_eot" ? Number(node.attrs["eot"]) : -1;
    if (eot < 0) continue;
    if (eot !== eosId) {
      throw new TaskError(`model ${program.model} pools its text at token id ${eot} (eot), but the tokenizer's end-of-text id is ${eosId}: remove the eot override (it is set from the tokenizer) or give eot = ${eosId}`);
    }
    if (bosId === eosId) {
      throw new TaskError(`the tokenizer's start- and end-of-text tokens are one token (id ${eosId}), but model ${program.model} pools each text at its first end-of-text token, which would be the start: use a tokenizer whose start and end tokens differ`);
    }
  }
  const train = dataset?.splits["train"];
  if (train) {
    const longest = longestText(train, name === "lm" ? (captions ? "lm" : "qa") : "caption", text.tokenizer);
    if (longest.length > seqLen) {
      throw new TaskError(`the training text "${longest.text}" needs ${longest.length} tokens but the model's seq_len is ${seqLen}: train with --set seq_len=${longest.length}`);
    }
  }
  const setup: TextSetup = { tokenizer: text.tokenizer, seqLen };
  if (name === "contrastive") return contrastiveTask(setup);
  return lmTask(setup, { captions });
}

/** The model's `vocab` parameter, when it declares one as a number. */
export function vocabOf(program: IRProgram): number | undefined {
  const v = program.modules.find((m) => m.path === "")?.args["vocab"];
  return typeof v === "number" ? v : undefined;
}

/** `dataset` with every split wrapped by `task` (the fields the model reads). */
export function taskDataset(task: Task, dataset: Dataset): Dataset {
  return { ...dataset, splits: Object.fromEntries(Object.entries(dataset.splits).map(([name, split]) => [name, task.wrap(split)])) };
}
