// `vlmc train <spec>`: compile the spec (data-bound parameters set from the dataset), load the
// generated module, and run the trainer. Spec `train { }` values are the defaults; flags override.
// Ctrl-C stops after the current step with a checkpoint; `--resume --out DIR` continues the run.
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { Argv } from "yargs";
import { formatDiagnostics } from "../../compiler/diagnostics.js";
import { BACKEND_CHOICES, BackendError, initBackend, type BackendRequest } from "../../runtime/backend.js";
import { loadDataset } from "../../runtime/data/index.js";
import { transformImages } from "../../runtime/data/normalise.js";
import { describePixelSteps, pixelTransformOf, PREPROCESS_FILE, preprocessJsonText, readPreprocessIn } from "../../runtime/hf/preprocess.js";
import { writeFileAtomic } from "../../runtime/io/atomic.js";
import { loadWeightsInto } from "../../runtime/io/checkpoint.js";
import { loadModel } from "../../runtime/model.js";
import { taskNameOf, taskReadsText } from "../../runtime/tasks/index.js";
import { loadTokenizer, TOKENIZER_JSON } from "../../runtime/text/load.js";
import { OPTIMIZER_NAMES } from "../../runtime/train/optimizers.js";
import { createProgress } from "../../runtime/train/progress.js";
import { SCHEDULE_KINDS } from "../../runtime/train/schedule.js";
import { compileForData, resolveSettings } from "../../runtime/train/setup.js";
import { CHECKPOINT_DIR, TrainError, train } from "../../runtime/train/trainer.js";
import { CliExit, UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

export const trainCommand: VlmcCommand = {
  command: "train <spec>",
  describe: "Train a model from a spec; writes weights, checkpoints, metrics.jsonl and run.json to --out",
  builder: (y: Argv) =>
    y
      .positional("spec", { type: "string", describe: "the .vlm spec file", demandOption: true })
      .option("model", { type: "string", describe: "which model of the spec (default: the first)" })
      .option("data", { type: "string", describe: "mnist, shapes, or a folder of images with labels.jsonl (default: the spec's train { data })" })
      .option("epochs", { type: "number", describe: "passes over the training split" })
      .option("steps", { type: "number", describe: "optimisation steps (instead of --epochs)" })
      .option("batch", { type: "number", describe: "examples per step" })
      .option("lr", { type: "number", describe: "peak learning rate" })
      .option("optimizer", { type: "string", choices: OPTIMIZER_NAMES as string[], describe: "optimizer" })
      .option("schedule", { type: "string", choices: SCHEDULE_KINDS as string[], describe: "learning-rate schedule after warmup" })
      .option("warmup", { type: "number", describe: "steps of linear learning-rate warmup" })
      .option("clip", { type: "number", describe: "clip gradients to this global norm" })
      .option("weight-decay", { type: "number", describe: "weight decay (kernels only)" })
      .option("seed", { type: "number", default: 0, describe: "seed of initialisation and data order" })
      .option("data-seed", { type: "number", default: 0, describe: "seed of a generated dataset (shapes) or a folder's train/test split" })
      .option("backend", { type: "string", choices: BACKEND_CHOICES as string[], describe: "tfjs backend (default: auto, or $VLMC_BACKEND)" })
      .option("out", { alias: "o", type: "string", describe: "run directory (default: runs/<model>-<time>)" })
      .option("resume", { type: "boolean", default: false, describe: "continue the run in --out from its last checkpoint" })
      .option("init", { type: "string", describe: "start from these weights (a safetensors file in the model's parameter names, e.g. the weights.safetensors of `vlmc import hf`) instead of a random initialisation; a tokenizer.json and preprocess.json beside it are used too" })
      .option("set", { type: "string", array: true, default: [], describe: "override a model parameter: --set name=value (repeatable)" })
      .option("tokenizer", { type: "string", describe: "text models: a Hugging Face tokenizer.json (or a folder holding one) instead of a word vocabulary built from the training text" })
      .option("limit", { type: "number", describe: "use only the first N examples of each split (quick runs)" })
      .option("eval-every", { type: "number", describe: "also evaluate every N steps (default: every epoch)" })
      .option("log-every", { type: "number", describe: "log the training loss every N steps (default 50)" }),
  handler: async (args: Record<string, any>) => {
    const spec = args.spec as string;
    if (args.resume && !args.out) throw new UserError("--resume needs --out DIR: the run directory to continue", 2);

    // Only the data name is needed before compiling; the spec names a default, so peek at it first.
    const firstPass = compileForData(spec, { model: args.model, set: args.set as string[] }, undefined);
    if (!firstPass.program) return printDiagnostics(firstPass);
    const dataName = (args.data as string | undefined) ?? (firstPass.program.train.data as string | undefined);
    if (!dataName) throw new UserError(`no dataset: give --data (mnist, shapes or a folder), or add data = "..." to the spec's train { }`, 2);
    // The data's own seed stays fixed across training seeds, so runs with different --seed see the same data.
    const loaded = loadDataset(dataName, { seed: args.dataSeed as number });

    // An imported model (`vlmc import hf`) keeps its tokenizer.json and preprocess.json beside its
    // weights: fine-tuning from them (--init) reads its text with that tokenizer and its images
    // with the model's pixel normalisation, as `vlmc predict` does. A resumed run has its own copies.
    const initFile = args.init as string | undefined;
    const preprocess = (args.resume ? readPreprocessIn(args.out as string) : undefined) ?? (initFile !== undefined ? readPreprocessIn(dirname(initFile)) : undefined);
    const dataset = preprocess ? transformImages(loaded, pixelTransformOf(preprocess)) : loaded;

    // A given tokenizer replaces the word vocabulary built from the training text; it is saved beside the weights.
    // On --resume the run's own saved tokenizer reads the text (a word vocabulary or a Hugging Face
    // tokenizer.json), so a run started with --tokenizer continues without the flag.
    const readsText = taskReadsText(taskNameOf(firstPass.program));
    const savedTokenizer =
      args.tokenizer !== undefined ? undefined
      : args.resume && existsSync(join(args.out as string, TOKENIZER_JSON)) ? (args.out as string)
      : readsText && initFile !== undefined && existsSync(join(dirname(initFile), TOKENIZER_JSON)) ? join(dirname(initFile), TOKENIZER_JSON)
      : undefined;
    if (savedTokenizer !== undefined && !args.resume) process.stderr.write(`tokenizer: ${savedTokenizer} (beside the --init weights)\n`);
    const tokenizerSource = (args.tokenizer as string | undefined) ?? savedTokenizer;
    const tokenizer = tokenizerSource !== undefined ? loadTokenizer(tokenizerSource) : undefined;
    if (tokenizer && !readsText) {
      process.stderr.write(`note: model ${firstPass.program.model} reads no text; --tokenizer is not used\n`);
    }
    const compiled = compileForData(spec, { model: args.model, set: args.set as string[], ...(tokenizer ? { tokenizer } : {}) }, dataset);
    if (!compiled.program) return printDiagnostics(compiled);
    const program = compiled.program;
    if (compiled.diagnostics.length > 0) process.stderr.write(formatDiagnostics(compiled.diagnostics, compiled.sources) + "\n");
    if (compiled.bound.length > 0) process.stderr.write(`data: set ${compiled.bound.join(", ")} from ${dataset.name}\n`);

    let settings;
    try {
      settings = resolveSettings(program.train, {
        epochs: args.epochs, steps: args.steps, batch: args.batch, lr: args.lr, optimizer: args.optimizer,
        schedule: args.schedule, warmup: args.warmup, clip: args.clip, weightDecay: args.weightDecay,
        seed: args.seed, evalEvery: args.evalEvery, logEvery: args.logEvery, limit: args.limit,
      });
    } catch (err) {
      if (err instanceof TrainError) throw new UserError(err.message, 2);
      throw err;
    }

    // The initial weights are checked (every name and shape, all problems listed) before anything starts.
    const initial = initFile !== undefined ? loadWeightsInto(program.params, initFile) : undefined;

    const backend = await startBackend(args.backend as BackendRequest | undefined);
    process.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);

    const outDir = (args.out as string | undefined) ?? join("runs", `${program.model}-${timestamp()}`);
    if (preprocess) {
      process.stderr.write(`preprocessing (${PREPROCESS_FILE}): ${describePixelSteps(preprocess)}\n`);
      // Beside the run's weights, so that eval and predict of the fine-tuned model normalise alike.
      mkdirSync(outDir, { recursive: true });
      writeFileAtomic(join(outDir, PREPROCESS_FILE), preprocessJsonText(preprocess));
    }
    const model = await loadModel(program, { seed: settings.seed });
    if (initial) {
      // A resumed run's checkpoint, when there is one, replaces these again.
      model.setParams(initial);
      process.stderr.write(`init: ${initial.size} tensors from ${initFile}\n`);
    }
    process.stderr.write(
      `training ${program.model} from ${spec}: ${model.paramCount.toLocaleString("en-US")} parameters, ` +
        `${settings.optimizer.name} lr ${settings.lr} (${settings.schedule}, warmup ${settings.warmup}), batch ${settings.batch}, ` +
        `${settings.steps !== undefined ? plural(settings.steps, "step") : plural(settings.epochs, "epoch")}, seed ${settings.seed} → ${outDir}\n`,
    );

    // First Ctrl-C: finish the step, checkpoint, exit. Second: leave at once.
    let stopRequested = false;
    const onSigint = (): void => {
      if (stopRequested) process.exit(130);
      stopRequested = true;
      process.stderr.write("\nstopping after this step (saving a checkpoint); press Ctrl-C again to quit now\n");
    };
    process.on("SIGINT", onSigint);
    let result;
    try {
      result = await train({
        ...settings,
        model,
        // The dataset as the model's task feeds it (captions → tokens, QA pairs → sequences).
        dataset: compiled.dataset ?? dataset,
        ...(compiled.tokenizer ? { tokenizer: compiled.tokenizer } : {}),
        // Every other split once at the end (the shapes world's heldout: zero-shot, QA on unseen
        // combinations); the trainer skips the evaluation split, which it scores anyway.
        finalEvalSplits: Object.keys(dataset.splits).filter((name) => name !== "train"),
        outDir,
        resume: args.resume as boolean,
        backend,
        checkKernels: true,
        progress: createProgress(),
        shouldStop: () => stopRequested,
        spec,
        data: dataName,
        arguments: commandArguments(args),
      });
    } catch (err) {
      if (err instanceof TrainError) throw new UserError(err.message);
      throw err;
    } finally {
      process.off("SIGINT", onSigint);
      model.dispose();
    }

    if (result.interrupted) {
      process.stderr.write(
        `interrupted at step ${result.step}; checkpoint in ${join(outDir, CHECKPOINT_DIR)}\n` +
          `continue with: vlmc train ${process.argv.slice(3).filter((a) => a !== "--resume").join(" ")} --resume${args.out ? "" : ` --out ${outDir}`}\n`,
      );
      return 130;
    }
    const figures = Object.entries(result.metrics).map(([k, v]) => `${k} ${k.includes("accuracy") || k.endsWith("chance") ? `${(v * 100).toFixed(2)}%` : v.toFixed(4)}`);
    process.stdout.write(
      `done: ${result.step} steps in ${result.run.wall_time_s.toFixed(1)} s (${result.run.ms_per_step} ms/step, ` +
        `${Math.round(result.run.examples_per_s)} examples/s); ${figures.join(", ")}\n` +
        `wrote ${join(outDir, "weights.safetensors")}, ${join(outDir, "run.json")}, ${join(outDir, "metrics.jsonl")}\n`,
    );
    return 0;
  },
};

/** Starts the backend; a backend that cannot start is a user error, not a crash. */
export async function startBackend(request: BackendRequest | undefined): Promise<{ name: string; reason: string }> {
  // tfjs prints a banner on first use of its cpu backend unless in production mode; PROD also skips debug checks.
  tf.env().set("PROD", true);
  try {
    return await initBackend(request);
  } catch (err) {
    if (err instanceof BackendError) throw new UserError(err.message, 1);
    throw err;
  }
}

function printDiagnostics(result: { diagnostics: Parameters<typeof formatDiagnostics>[0]; sources: Parameters<typeof formatDiagnostics>[1] }): never {
  throw new CliExit(1, formatDiagnostics(result.diagnostics, result.sources));
}

/** The flags as given, for run.json (yargs' aliases and internals removed). */
function commandArguments(args: Record<string, any>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (k === "_" || k === "$0" || k.includes("-") || k.length === 1 || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
