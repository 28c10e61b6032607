// Getting from "a spec, some flags, a dataset" to "a program and settings to train": compile with
// the data-bound parameters filled in from the dataset, and merge the spec's `train { }` defaults
// with the command-line flags. Shared by `vlmc train` and `vlmc eval` so that evaluation compiles
// exactly the model that training produced.
import { compileFile, type CompileResult } from "../../compiler/index.js";
import type { IRProgram, TrainConfig } from "../../compiler/ir.js";
import { DataError, type Dataset } from "../data/types.js";
import { buildTokenizer, createTask, taskDataset, taskNameOf, taskReadsText, type Task } from "../tasks/index.js";
import type { TextTokenizer } from "../text/types.js";
import { DECAY_SCOPES, OPTIMIZER_NAMES, type DecayScope, type OptimizerConfig, type OptimizerName } from "./optimizers.js";
import { SCHEDULE_KINDS, type ScheduleKind } from "./schedule.js";
import { TrainError, type TrainSettings } from "./trainer.js";

/**
 * Model parameters the trainer may set from the data, unless the user set them with --set. `vocab`
 * comes from the tokenizer (built from the training text, or loaded from beside the weights).
 * seq_len is not bound: it is checked against the longest training text instead, so that
 * `vlmc predict`, which has no dataset, compiles the same model from the spec and the tokenizer.
 */
export const DATA_BOUND_PARAMS = ["image_size", "channels", "classes", "vocab"] as const;

export interface DataBoundCompile extends CompileResult {
  /** `name=value` for each data-bound parameter that was set from the dataset. */
  bound: string[];
  /** The model's task (when a dataset was given); text tasks carry their tokenizer. */
  task?: Task;
  /** The dataset as the task feeds the model (each split wrapped by the task). */
  dataset?: Dataset;
  /** The tokenizer of a text task: `opts.tokenizer`, or one built from the training split. */
  tokenizer?: TextTokenizer;
}

/**
 * Compiles `spec` with the user's `--set` overrides; when the model declares a data-bound
 * parameter the user did not set and its value differs from the dataset's, compiles again with it
 * set from the data (square images only for image_size). For a text task (train { task =
 * "contrastive" | "lm" }) the tokenizer is `opts.tokenizer` (evaluation: the one saved beside the
 * weights) or built from the training split, and `vocab` is bound to its size.
 */
export function compileForData(
  spec: string,
  opts: { model?: string; set: string[]; tokenizer?: TextTokenizer },
  dataset: Dataset | undefined,
): DataBoundCompile {
  const first = compileFile(spec, { ...(opts.model ? { model: opts.model } : {}), set: opts.set });
  if (!first.program || !dataset) return { ...first, bound: [] };
  const tokenizer = taskReadsText(taskNameOf(first.program)) ? (opts.tokenizer ?? buildTokenizer(dataset)) : undefined;
  const bound = dataBoundOverrides(first.program, dataset, tokenizer);
  const result = bound.length === 0 ? first : compileFile(spec, { ...(opts.model ? { model: opts.model } : {}), set: [...opts.set, ...bound] });
  if (!result.program) return { ...result, bound };
  const task = createTask(result.program, tokenizer ? { tokenizer } : undefined, dataset);
  return { ...result, bound, task, dataset: taskDataset(task, dataset), ...(tokenizer ? { tokenizer } : {}) };
}

function dataBoundOverrides(program: IRProgram, dataset: Dataset, tokenizer: TextTokenizer | undefined): string[] {
  const top = program.modules.find((m) => m.path === "");
  if (!top) return [];
  const trainSplit = dataset.splits["train"] ?? Object.values(dataset.splits)[0];
  if (!trainSplit) return [];
  const [h, w, c] = trainSplit.imageShape;
  const fromData: Record<(typeof DATA_BOUND_PARAMS)[number], number | undefined> = {
    image_size: h === w ? h : undefined,
    channels: c,
    classes: dataset.classes.length > 0 ? dataset.classes.length : undefined,
    vocab: tokenizer?.size,
  };
  const out: string[] = [];
  const pinned: string[] = [];
  for (const name of DATA_BOUND_PARAMS) {
    const declared = top.args[name];
    const value = fromData[name];
    if (typeof declared !== "number" || value === undefined) continue;
    if (top.argSources[name] === "set") continue;
    // A derived model that gives the value (`model M extends Base(image_size = 16)`, as `vlmc import
    // hf` writes) pins it: its weights have those shapes, so the data must agree, not rebind it.
    // A pinned vocab may be larger than the tokenizer (hub configs often round it up).
    const fits = name === "vocab" ? value <= declared : value === declared;
    if (top.argSources[name] === "extends") {
      if (!fits) pinned.push(`  ${name} = ${declared} in the spec, ${describeData(name, value)}`);
    } else if (declared !== value) out.push(`${name}=${value}`);
  }
  if (pinned.length > 0) {
    throw new DataError(
      `the dataset "${dataset.name}" does not fit model ${program.model}, whose \`extends\` fixes ${pinned.length === 1 ? "this parameter" : "these parameters"}:\n${pinned.join("\n")}\n` +
        "use data that matches the model (an imported model keeps its checkpoint's sizes), or --set the parameter to change the model (weights of the old size then no longer load)",
      program.source.file,
    );
  }
  return tokenizer ? [...out, ...eotBindings(program, tokenizer)] : out;
}

function describeData(name: (typeof DATA_BOUND_PARAMS)[number], value: number): string {
  if (name === "image_size") return `the data has ${value}×${value} images`;
  if (name === "channels") return `the data has ${value}-channel images`;
  if (name === "classes") return `the data has ${value} classes`;
  return `the tokenizer has ${value} tokens, more than the model's table (an imported text model needs its own tokenizer: --tokenizer)`;
}

/**
 * `vocab` and every `eot` (where a text encoder pools) set from a tokenizer, for `vlmc predict`,
 * which compiles without a dataset; the same overrides as compileForData's.
 */
export function tokenizerBindings(program: IRProgram, tokenizer: TextTokenizer): string[] {
  const top = program.modules.find((m) => m.path === "");
  const vocab = top?.args["vocab"];
  // A vocab set by the user or fixed by a derived model's extends (an imported model) is kept.
  const kept = top?.argSources["vocab"] === "set" || top?.argSources["vocab"] === "extends";
  const out = typeof vocab === "number" && !kept && vocab !== tokenizer.size ? [`vocab=${tokenizer.size}`] : [];
  return [...out, ...eotBindings(program, tokenizer)];
}

/**
 * `<block>.eot=<end id>` for each block whose `eot` parameter (the id its text is pooled at) was left
 * at its default and differs from the tokenizer's end-of-text id: the word vocabulary's is 2, the
 * default, while a Hugging Face tokenizer's may be any id. A negative eot (the legacy argmax rule
 * of imported CLIP checkpoints) is left alone.
 */
function eotBindings(program: IRProgram, tokenizer: TextTokenizer): string[] {
  return program.modules
    .filter((m) => m.path !== "" && typeof m.args["eot"] === "number" && m.argSources["eot"] === "default")
    .filter((m) => (m.args["eot"] as number) >= 0 && m.args["eot"] !== tokenizer.eosId)
    .map((m) => `${m.path}.eot=${tokenizer.eosId}`);
}

/** Command-line flags that override the spec's training defaults (undefined = not given). */
export interface TrainFlags {
  epochs?: number;
  steps?: number;
  batch?: number;
  lr?: number;
  optimizer?: string;
  schedule?: string;
  warmup?: number;
  clip?: number;
  weightDecay?: number;
  seed?: number;
  evalEvery?: number;
  logEvery?: number;
  limit?: number;
}

/** Spec defaults (`train { }`) overridden by flags; validated, with a clear message per bad value. */
export function resolveSettings(train: TrainConfig, flags: TrainFlags): TrainSettings {
  const num = (flag: number | undefined, key: string, fallback: number | undefined): number | undefined => {
    if (flag !== undefined) return flag;
    const v = train[key];
    if (v === undefined) return fallback;
    if (typeof v !== "number") throw new TrainError(`the spec's train { ${key} = ${JSON.stringify(v)} } must be a number`);
    return v;
  };
  const str = (flag: string | undefined, key: string, fallback: string): string => {
    const v = flag ?? train[key] ?? fallback;
    if (typeof v !== "string") throw new TrainError(`the spec's train { ${key} = ${JSON.stringify(v)} } must be a string`);
    return v;
  };

  // --epochs on the command line wins over a `steps` in the spec, and --steps over `epochs`.
  const steps = flags.steps ?? (flags.epochs === undefined ? num(undefined, "steps", undefined) : undefined);
  const epochs = num(flags.epochs, "epochs", 10)!;
  const optimizerName = str(flags.optimizer, "optimizer", "adam");
  if (!(OPTIMIZER_NAMES as readonly string[]).includes(optimizerName)) {
    throw new TrainError(`unknown optimizer '${optimizerName}': expected one of ${OPTIMIZER_NAMES.join(", ")}`);
  }
  const schedule = str(flags.schedule, "schedule", "constant");
  if (!(SCHEDULE_KINDS as readonly string[]).includes(schedule)) {
    throw new TrainError(`unknown schedule '${schedule}': expected one of ${SCHEDULE_KINDS.join(", ")}`);
  }
  const optimizer: OptimizerConfig = { name: optimizerName as OptimizerName };
  const momentum = num(undefined, "momentum", undefined);
  if (momentum !== undefined) optimizer.momentum = momentum;
  const weightDecay = num(flags.weightDecay, "weight_decay", undefined);
  if (weightDecay !== undefined) optimizer.weightDecay = weightDecay;
  const decay = str(undefined, "decay", "kernels");
  if (!(DECAY_SCOPES as readonly string[]).includes(decay)) throw new TrainError(`unknown decay '${decay}': expected one of ${DECAY_SCOPES.join(", ")}`);
  optimizer.decay = decay as DecayScope;

  const settings: TrainSettings = {
    epochs,
    batch: num(flags.batch, "batch", 32)!,
    lr: num(flags.lr, "lr", 1e-3)!,
    optimizer,
    schedule: schedule as ScheduleKind,
    warmup: num(flags.warmup, "warmup", 0)!,
    seed: flags.seed ?? 0,
  };
  if (steps !== undefined) settings.steps = steps;
  const clip = num(flags.clip, "clip", undefined);
  if (clip !== undefined && clip > 0) settings.clip = clip;
  if (flags.evalEvery !== undefined) settings.evalEvery = flags.evalEvery;
  if (flags.logEvery !== undefined) settings.logEvery = flags.logEvery;
  if (flags.limit !== undefined) settings.limit = flags.limit;

  const positiveInts: [string, number | undefined][] = [
    ["epochs", settings.epochs], ["steps", settings.steps], ["batch", settings.batch], ["eval-every", settings.evalEvery],
    ["log-every", settings.logEvery], ["limit", settings.limit],
  ];
  for (const [name, v] of positiveInts) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new TrainError(`${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(settings.warmup) || settings.warmup < 0) throw new TrainError(`warmup must be a whole number of steps, got ${settings.warmup}`);
  if (!(settings.lr > 0) || !Number.isFinite(settings.lr)) throw new TrainError(`lr must be a positive number, got ${settings.lr}`);
  if (!Number.isInteger(settings.seed)) throw new TrainError(`seed must be an integer, got ${settings.seed}`);
  return settings;
}
