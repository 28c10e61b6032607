// `vlmc predict <spec> --weights FILE --image FILE`: one image through a trained text model.
// A contrastive model (CLIP) ranks candidate labels written as text (--labels, default the 30
// "a {colour} {shape}" prompts of the shapes world): zero-shot classification. A decoder model
// (KOSMOS) answers --prompt by greedy decoding. The tokenizer is the one training saved beside the
// weights; `vocab` is set from it, as training set it from the data.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import type { Argv } from "yargs";
import { compileFile } from "../../compiler/index.js";
import { formatDiagnostics } from "../../compiler/diagnostics.js";
import { BACKEND_CHOICES, type BackendRequest } from "../../runtime/backend.js";
import { fitImages, formatShape, planImageFit, type ImageShape } from "../../runtime/data/fit.js";
import { decodeImage } from "../../runtime/data/images.js";
import { shapesZeroShotPrompts } from "../../runtime/data/shapes.js";
import { DataError, type BatchField } from "../../runtime/data/types.js";
import { applyPreprocess, describePreprocess, PREPROCESS_FILE, readPreprocessIn, type ImagePreprocess } from "../../runtime/hf/preprocess.js";
import { loadWeightsInto } from "../../runtime/io/checkpoint.js";
import { loadModel, type Model } from "../../runtime/model.js";
import { embedTexts, EMBEDDING_OUTPUTS } from "../../runtime/tasks/contrastive.js";
import { createTask, taskNameOf } from "../../runtime/tasks/index.js";
import { generate } from "../../runtime/tasks/lm.js";
import { promptIds, type TextSetup } from "../../runtime/tasks/text.js";
import { BESIDE_WEIGHTS, loadTokenizer } from "../../runtime/text/load.js";
import { UNK } from "../../runtime/text/tokenizer.js";
import type { TextTokenizer } from "../../runtime/text/types.js";
import { tokenizerBindings } from "../../runtime/train/setup.js";
import { TOKENIZER_FILE } from "../../runtime/train/trainer.js";
import { CliExit, UserError } from "../errors.js";
import { startBackend } from "./train.js";
import type { VlmcCommand } from "./types.js";

export const predictCommand: VlmcCommand = {
  command: "predict <spec>",
  describe: "Run a trained text model on one image: zero-shot label ranking (contrastive) or an answer to a prompt (decoder)",
  builder: (y: Argv) =>
    y
      .positional("spec", { type: "string", describe: "the .vlm spec file the weights were trained from", demandOption: true })
      .option("weights", { alias: "w", type: "string", demandOption: true, describe: "weights.safetensors of a run (tokenizer.json beside it)" })
      .option("image", { type: "string", demandOption: true, describe: "a PNG or JPEG image" })
      .option("labels", { type: "string", describe: 'contrastive models: comma-separated candidate labels (default: the 30 "a {colour} {shape}" prompts)' })
      .option("prompt", { type: "string", describe: 'decoder models: the question, e.g. "what colour is the shape ?"' })
      .option("max-tokens", { type: "number", default: 8, describe: "decoder models: longest answer, in tokens" })
      .option("model", { type: "string", describe: "which model of the spec (default: the first)" })
      .option("set", { type: "string", array: true, default: [], describe: "the same --set overrides as in training" })
      .option("tokenizer", { type: "string", describe: "the tokenizer (default: the tokenizer.json training saved beside the weights)" })
      .option("backend", { type: "string", choices: BACKEND_CHOICES as string[], describe: "tfjs backend (default: auto, or $VLMC_BACKEND)" })
      .option("json", { type: "boolean", default: false, describe: "print one JSON object" }),
  handler: async (args: Record<string, any>) => {
    const spec = args.spec as string;
    const weights = args.weights as string;
    const set = args.set as string[];
    const maxTokens = args.maxTokens as number;
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new UserError(`--max-tokens must be a positive integer, got ${maxTokens}`, 2);
    const modelOpt = args.model ? { model: args.model as string } : {};

    const first = compileFile(spec, { ...modelOpt, set });
    if (!first.program) throw new CliExit(1, formatDiagnostics(first.diagnostics, first.sources));
    const taskName = taskNameOf(first.program);
    if (taskName === "classify") {
      throw new UserError(`model ${first.program.model} is a classifier (train { task = "classify" }): predict runs text models; use 'vlmc eval' for classifiers`);
    }
    const tokenizer = args.tokenizer !== undefined ? loadTokenizer(args.tokenizer as string) : loadTokenizer(join(dirname(weights), TOKENIZER_FILE), BESIDE_WEIGHTS);
    // vocab (and a text encoder's eot) are bound to the tokenizer as training bound them, unless the user set them.
    const bindings = tokenizerBindings(first.program, tokenizer);
    const compiled = bindings.length > 0 ? compileFile(spec, { ...modelOpt, set: [...set, ...bindings] }) : first;
    if (!compiled.program) throw new CliExit(1, formatDiagnostics(compiled.diagnostics, compiled.sources));
    const task = createTask(compiled.program, { tokenizer });
    const text = task.text!;

    const imageInput = compiled.program.inputs.find((i) => i.name === "image");
    if (!imageInput || imageInput.shape.length !== 4) throw new UserError(`model ${compiled.program.model} has no input 'image: [B, H, W, C]'`);
    // An imported model's image processor (preprocess.json beside the weights), when it has one.
    const preprocess = readPreprocessIn(dirname(weights));
    const image = readImage(args.image as string, imageInput.shape.slice(1) as unknown as ImageShape, preprocess);

    const backend = await startBackend(args.backend as BackendRequest | undefined);
    if (!args.json) process.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);
    if (!args.json && preprocess) process.stderr.write(`preprocessing (${PREPROCESS_FILE}): ${describePreprocess(preprocess)}\n`);
    const model = await loadModel(compiled.program, { initialize: false });
    try {
      model.setParams(loadWeightsInto(compiled.program.params, weights));
      if (taskName === "contrastive") {
        const labels = args.labels !== undefined ? parseLabels(args.labels as string) : shapesZeroShotPrompts().map((p) => p.prompt);
        warnUnknownWords(tokenizer, labels, Boolean(args.json));
        const ranking = rankLabels(model, text, image, labels);
        if (args.json) {
          process.stdout.write(JSON.stringify({ model: compiled.program.model, image: args.image, best: ranking[0]!.label, scores: ranking }) + "\n");
        } else {
          const width = Math.max(...ranking.map((r) => r.label.length));
          for (const r of ranking) {
            process.stdout.write(`${r.label.padEnd(width)}  cosine ${r.cosine.toFixed(4)}${r.probability !== undefined ? `  p ${(r.probability * 100).toFixed(2)}%` : ""}\n`);
          }
        }
      } else {
        const prompt = args.prompt as string | undefined;
        if (prompt === undefined || prompt.trim() === "") throw new UserError(`a decoder model answers a question: give --prompt, e.g. --prompt "what colour is the shape ?"`, 2);
        warnUnknownWords(tokenizer, [prompt], Boolean(args.json));
        const ids = promptIds(text, prompt);
        if (ids.length >= text.seqLen) throw new UserError(`the prompt is ${ids.length} tokens with <bos>; the model reads ${text.seqLen} (seq_len), leaving no room for an answer`);
        const [answer] = generate(model, image, [ids], text, Math.min(maxTokens, text.seqLen - ids.length));
        if (args.json) process.stdout.write(JSON.stringify({ model: compiled.program.model, image: args.image, prompt, answer }) + "\n");
        else process.stdout.write(answer ? `${answer}\n` : `(no answer: the model ended the text at once)\n`);
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};

/**
 * The image file as a batch of one, fitted to `target`: values in [0, 1] as in the datasets, or
 * preprocessed as `preprocess` (an imported model's image processor) says.
 */
function readImage(file: string, target: ImageShape, preprocess?: ImagePreprocess): BatchField {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new DataError("cannot read the image file", file);
  }
  const decoded = decodeImage(bytes, file);
  const field: BatchField = preprocess
    ? applyPreprocess(decoded, preprocess)
    : { dtype: "float32", shape: [1, decoded.height, decoded.width, 3], data: Float32Array.from(decoded.rgb, (v) => v / 255) };
  const from: ImageShape = [field.shape[1]!, field.shape[2]!, 3];
  if (from.every((d, i) => d === target[i])) return field;
  const plan = planImageFit(from, target);
  if (!plan.ok) throw new DataError(`the image is ${formatShape(from)} but the model expects ${formatShape(target)}: ${plan.reason}`, file);
  return fitImages(field, target);
}

function parseLabels(text: string): string[] {
  const labels = text.split(",").map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length === 0) throw new UserError(`--labels needs at least one label, e.g. --labels "a red circle,a blue square"`, 2);
  return labels;
}

/** Says which words the tokenizer does not know: they are read as its unknown token, which the model never learned to mean anything. */
function warnUnknownWords(tokenizer: TextTokenizer, texts: readonly string[], quiet: boolean): void {
  const unknown = tokenizer.unknownWords(texts);
  if (unknown.length > 0 && !quiet) {
    const where = tokenizer.kind === "word" ? "the training vocabulary" : "the tokenizer's vocabulary";
    const unk = tokenizer.kind === "word" ? UNK : "its unknown token";
    process.stderr.write(`warning: ${unknown.map((w) => `'${w}'`).join(", ")} ${unknown.length === 1 ? "is" : "are"} not in ${where} and map${unknown.length === 1 ? "s" : ""} to ${unk}\n`);
  }
}

interface Ranked {
  label: string;
  cosine: number;
  /** Softmax over the labels of the cosines times the model's learned logit scale. */
  probability?: number;
}

function rankLabels(model: Model, text: TextSetup, image: BatchField, labels: string[]): Ranked[] {
  const textEmb = embedTexts(model, text, labels);
  const imageEmb = tf.tidy(() => {
    const inputs: Record<string, tf.Tensor> = {};
    for (const input of model.module.inputs) {
      inputs[input.name] =
        input.name === "image"
          ? tf.tensor(image.data, image.shape, "float32")
          : tf.zeros([1, ...input.shape.slice(1).map((d) => (typeof d === "number" ? d : 1))], input.dtype);
    }
    const e = model.forward(inputs, { loss: false }).outputs[EMBEDDING_OUTPUTS[0]]!;
    return tf.div(e, tf.maximum(tf.norm(e, "euclidean", -1, true), 1e-12)).dataSync() as Float32Array;
  });
  const width = textEmb.width;
  const cosines = labels.map((_, r) => {
    let s = 0;
    for (let k = 0; k < width; k++) s += imageEmb[k]! * textEmb.data[r * width + k]!;
    return s;
  });
  // The connector's learned temperature, when the model has one (Contrastive stores it as a log).
  const scaleParam = [...model.params].find(([n, v]) => n.split(".").includes("logit_scale") && v.size === 1)?.[0];
  const scale = scaleParam ? Math.exp(model.params.get(scaleParam)!.dataSync()[0]!) : undefined;
  let probabilities: number[] | undefined;
  if (scale !== undefined) {
    const logits = cosines.map((c) => c * scale);
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    probabilities = exps.map((e) => e / sum);
  }
  return labels
    .map((label, i) => ({ label, cosine: cosines[i]!, ...(probabilities ? { probability: probabilities[i]! } : {}) }))
    .sort((a, b) => b.cosine - a.cosine);
}
