// `vlmc eval <spec> --weights FILE`: compile the spec exactly as training did (data-bound
// parameters from the same dataset, the tokenizer saved beside the weights), load the weights,
// and report loss and accuracy on a split. Text models (train { task = "contrastive" | "lm" })
// report their task's figures — zero-shot and retrieval accuracy, or answer accuracy per question
// type — on the split and on the dataset's heldout split when it has one (runtime/tasks/report.ts).
import type { Argv } from "yargs";
import { formatDiagnostics } from "../../compiler/diagnostics.js";
import { BACKEND_CHOICES, type BackendRequest } from "../../runtime/backend.js";
import { loadDataset } from "../../runtime/data/index.js";
import { transformImages } from "../../runtime/data/normalise.js";
import { DataError } from "../../runtime/data/types.js";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describePixelSteps, pixelTransformOf, PREPROCESS_FILE, readPreprocessIn } from "../../runtime/hf/preprocess.js";
import { loadWeightsInto, WeightsMismatchError } from "../../runtime/io/checkpoint.js";
import { loadModel } from "../../runtime/model.js";
import { taskNameOf, taskReadsText } from "../../runtime/tasks/index.js";
import { taskReport } from "../../runtime/tasks/report.js";
import { BESIDE_WEIGHTS, loadTokenizer } from "../../runtime/text/load.js";
import { checkClassCount, evaluate } from "../../runtime/train/evaluate.js";
import { planInputs } from "../../runtime/train/inputs.js";
import { compileForData } from "../../runtime/train/setup.js";
import { formatMetrics, TOKENIZER_FILE } from "../../runtime/train/trainer.js";
import { CliExit, UserError } from "../errors.js";
import { startBackend } from "./train.js";
import type { VlmcCommand } from "./types.js";

export const evalCommand: VlmcCommand = {
  command: "eval <spec>",
  describe: "Evaluate trained weights on a dataset split: accuracy and loss",
  builder: (y: Argv) =>
    y
      .positional("spec", { type: "string", describe: "the .vlm spec file the weights were trained from", demandOption: true })
      .option("weights", { alias: "w", type: "string", demandOption: true, describe: "weights.safetensors of a run" })
      .option("model", { type: "string", describe: "which model of the spec (default: the first)" })
      .option("data", { type: "string", describe: "mnist, shapes, or a folder (default: the spec's train { data })" })
      .option("split", { type: "string", default: "test", describe: "which split to evaluate" })
      .option("set", { type: "string", array: true, default: [], describe: "the same --set overrides as in training" })
      .option("tokenizer", { type: "string", describe: "text models: the tokenizer (default: the tokenizer.json training saved beside the weights)" })
      .option("batch", { type: "number", default: 256, describe: "examples per forward pass" })
      .option("limit", { type: "number", describe: "evaluate only the first N examples" })
      .option("data-seed", { type: "number", default: 0, describe: "seed of a generated dataset or a folder's split (as in training)" })
      .option("backend", { type: "string", choices: BACKEND_CHOICES as string[], describe: "tfjs backend (default: auto, or $VLMC_BACKEND)" })
      .option("json", { type: "boolean", default: false, describe: "print one JSON object with flat keys" }),
  handler: async (args: Record<string, any>) => {
    const spec = args.spec as string;
    for (const flag of ["batch", "limit"] as const) {
      const v = args[flag] as number | undefined;
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new UserError(`--${flag} must be a positive integer, got ${v}`, 2);
    }
    const firstPass = compileForData(spec, { model: args.model, set: args.set as string[] }, undefined);
    if (!firstPass.program) throw new CliExit(1, formatDiagnostics(firstPass.diagnostics, firstPass.sources));
    const dataName = (args.data as string | undefined) ?? (firstPass.program.train.data as string | undefined);
    if (!dataName) throw new UserError(`no dataset: give --data (mnist, shapes or a folder), or add data = "..." to the spec's train { }`, 2);
    // An imported model's pixel normalisation, saved beside its weights (see `vlmc train --init`).
    const preprocess = readPreprocessIn(dirname(args.weights as string));
    const loaded = loadDataset(dataName, { seed: args.dataSeed as number });
    const dataset = preprocess ? transformImages(loaded, pixelTransformOf(preprocess)) : loaded;
    if (preprocess) process.stderr.write(`preprocessing (${PREPROCESS_FILE} beside the weights): ${describePixelSteps(preprocess)}\n`);
    const splitName = args.split as string;
    const split = dataset.splits[splitName];
    if (!split) throw new DataError(`dataset ${dataset.name} has no '${splitName}' split (it has ${Object.keys(dataset.splits).join(", ")})`);

    // A text model encodes with the tokenizer it was trained with, saved beside its weights.
    if (!existsSync(args.weights as string)) throw new DataError("no such weights file (a run writes weights.safetensors in its --out directory)", args.weights as string);
    const task = taskNameOf(firstPass.program);
    const tokenizer = taskReadsText(task) ? (args.tokenizer !== undefined ? loadTokenizer(args.tokenizer as string) : loadTokenizer(join(dirname(args.weights as string), TOKENIZER_FILE), BESIDE_WEIGHTS)) : undefined;
    const compiled = compileForData(spec, { model: args.model, set: args.set as string[], ...(tokenizer ? { tokenizer } : {}) }, dataset);
    if (!compiled.program) throw new CliExit(1, formatDiagnostics(compiled.diagnostics, compiled.sources));
    if (compiled.bound.length > 0) process.stderr.write(`data: set ${compiled.bound.join(", ")} from ${dataset.name}\n`);

    const backend = await startBackend(args.backend as BackendRequest | undefined);
    process.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);

    const model = await loadModel(compiled.program, { initialize: false });
    try {
      model.setParams(loadWeights(compiled.program.params, args.weights as string));
      const fed = compiled.dataset ?? dataset;
      const plan = planInputs(model.module.inputs, fed.splits[splitName]!, fed);
      for (const note of plan.notes) process.stderr.write(`data: ${note}\n`);
      checkClassCount(model, dataset);
      const options = { batch: args.batch as number, ...(args.limit ? { limit: args.limit as number } : {}) };
      const metrics = evaluate(model, fed.splits[splitName]!, plan, options);
      const header = { examples: metrics.examples, split: splitName, model: compiled.program.model, data: dataset.name, backend: backend.name };
      if (task === "classify") {
        if (args.json) {
          const flat: Record<string, unknown> = {};
          if (metrics.accuracy !== undefined) flat["accuracy"] = metrics.accuracy;
          if (metrics.loss !== undefined) flat["loss"] = metrics.loss;
          process.stdout.write(JSON.stringify({ ...flat, ...header }) + "\n");
        } else {
          process.stdout.write(`${compiled.program.model} on ${dataset.name} ${splitName}: ${formatMetrics(metrics)}\n`);
        }
      } else {
        // The unseen colour–shape combinations are what zero-shot and QA generalisation are about.
        const heldoutName = splitName !== "heldout" && fed.splits["heldout"] ? "heldout" : undefined;
        const heldout = heldoutName ? { split: heldoutName, metrics: evaluate(model, fed.splits[heldoutName]!, plan, options) } : undefined;
        const report = taskReport(task, { split: splitName, metrics }, heldout);
        if (args.json) {
          process.stdout.write(JSON.stringify({ ...report.json, ...header }) + "\n");
        } else {
          process.stdout.write(`${compiled.program.model} on ${dataset.name}:\n${report.lines.map((l) => `  ${l}`).join("\n")}\n`);
        }
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};

/**
 * Reads the weights, and when they do not fit, says which --set overrides the run that wrote them
 * used (from the run.json beside them): the usual cause is evaluating without those overrides.
 */
function loadWeights(expected: { name: string; shape: number[] }[], file: string): Map<string, Float32Array> {
  try {
    return loadWeightsInto(expected, file);
  } catch (err) {
    if (!(err instanceof WeightsMismatchError)) throw err;
    const runFile = join(dirname(file), "run.json");
    if (!existsSync(runFile)) throw err;
    let sets: unknown;
    try {
      sets = (JSON.parse(readFileSync(runFile, "utf8")) as { arguments?: { set?: unknown } }).arguments?.set;
    } catch {
      throw err; // an unreadable run.json adds nothing to the mismatch itself
    }
    const given = Array.isArray(sets) && sets.length > 0 ? sets.map((s) => `--set ${String(s)}`).join(" ") : "no --set";
    throw new UserError(`${err.message}
hint: the run in ${dirname(file)} was trained with ${given} (see ${runFile}); evaluate with the same overrides and data`);
  }
}
