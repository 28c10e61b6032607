// task = "lm" (KOSMOS / Qwen-VL). The decoder reads [image tokens, text tokens] and predicts the
// next text token. Training sequences, per example: one per question–answer pair
// ("<bos> what colour is the shape ? red <eos>", loss on "red <eos>" only) and one for its caption
// ("<bos> a small red circle <eos>", loss on every caption word and <eos>). The captions teach the
// decoder to name colour and shape together, as CLIP's captions do; they are a fifth of the
// sequences of the shapes world and their words are never scored by the QA metrics. A spec turns
// them off with train { captions = false } (a quarter fewer steps per epoch).
//
// Scored by greedy decoding: after "<bos> question", append the arg-max token until <eos> or
// MAX_ANSWER_TOKENS, then compare with the reference answer (exact match, whole answer).
// qa_accuracy over every question; qa_accuracy_<type> per question type.
import * as tf from "@tensorflow/tfjs-core";
import { fitImages } from "../data/fit.js";
import type { BatchField, ExampleMeta, Split } from "../data/types.js";
import { DataError } from "../data/types.js";
import type { Model } from "../model.js";
import type { InputPlan } from "../train/inputs.js";
import { lmSequence, normaliseAnswer, promptIds, type TextSetup } from "./text.js";
import type { ScoreOptions, Task, TaskSplit } from "./types.js";

/** Longest answer greedy decoding produces, in tokens (shapes-world answers are one word). */
export const MAX_ANSWER_TOKENS = 4;

/** The text sequences of one example: its question–answer pairs, then its caption (if any). */
export function exampleSequences(meta: ExampleMeta, captions = true): { prompt: string; answer: string }[] {
  const out = (meta.qa ?? []).map((qa) => ({ prompt: qa.question, answer: qa.answer }));
  if (captions && meta.caption !== undefined) out.push({ prompt: "", answer: meta.caption });
  return out;
}

export function lmTask(text: TextSetup, options: { captions?: boolean } = {}): Task {
  const captions = options.captions ?? true;
  const task: Task = {
    name: "lm",
    text,
    wrap: (split) => sequenceSplit(split, text, task, captions),
    score: (model, split, plan, options) => scoreAnswers(model, split, plan, options, text),
  };
  return task;
}

/**
 * Every example expanded into its sequences: index i is sequence i % K of example ⌊i / K⌋, so the
 * first n indices cover whole examples. K is the first example's count; every example must agree.
 */
function sequenceSplit(base: Split, text: TextSetup, task: Task, captions: boolean): TaskSplit {
  const perExample = base.size > 0 ? exampleSequences(base.meta(0), captions).length : 0;
  if (base.size > 0 && perExample === 0) {
    throw new DataError("the examples have neither captions nor question–answer pairs; a decoder model trains on text about each image");
  }
  return {
    base,
    task,
    size: base.size * perExample,
    imageShape: base.imageShape,
    meta: (i) => base.meta(Math.floor(i / perExample)),
    batch(indices) {
      const examples = indices.map((i) => Math.floor(i / perExample));
      const fields = base.batch(examples);
      const n = indices.length;
      const tokens = new Int32Array(n * text.seqLen);
      const targets = new Int32Array(n * text.seqLen);
      const mask = new Float32Array(n * text.seqLen);
      indices.forEach((index, row) => {
        const sequences = exampleSequences(base.meta(examples[row]!), captions);
        if (sequences.length !== perExample) {
          throw new DataError(`example ${examples[row]} has ${sequences.length} text sequences, the first example ${perExample}; every example needs the same questions`);
        }
        const { prompt, answer } = sequences[index % perExample]!;
        const s = lmSequence(text, prompt, answer);
        tokens.set(s.tokens, row * text.seqLen);
        targets.set(s.targets, row * text.seqLen);
        mask.set(s.mask, row * text.seqLen);
      });
      const shape = [n, text.seqLen];
      return {
        ...fields,
        tokens: { dtype: "int32", shape, data: tokens } satisfies BatchField,
        targets: { dtype: "int32", shape, data: targets } satisfies BatchField,
        target_mask: { dtype: "float32", shape, data: mask } satisfies BatchField,
      };
    },
  };
}

/** One question to answer: the example it is about, its prompt ids and the reference answer. */
interface Item {
  example: number;
  type: string;
  prompt: number[];
  answer: string;
}

function scoreAnswers(model: Model, split: TaskSplit, plan: InputPlan, options: ScoreOptions, text: TextSetup): Record<string, number> {
  const size = Math.min(split.base.size, options.limit ?? split.base.size);
  const items: Item[] = [];
  for (let i = 0; i < size; i++) {
    for (const qa of split.base.meta(i).qa ?? []) items.push({ example: i, type: qa.type, prompt: promptIds(text, qa.question), answer: normaliseAnswer(qa.answer) });
  }
  if (items.length === 0) return {};
  const correct = new Map<string, { right: number; total: number }>();
  for (let start = 0; start < items.length; start += options.batch) {
    const chunk = items.slice(start, start + options.batch);
    const answers = generate(model, fittedImages(plan, split.base, chunk.map((it) => it.example)), chunk.map((it) => it.prompt), text);
    chunk.forEach((item, k) => {
      const tally = correct.get(item.type) ?? { right: 0, total: 0 };
      tally.total++;
      // Normalised as the reference is: a subword tokenizer's decoding may space punctuation differently.
      if (normaliseAnswer(answers[k]!) === item.answer) tally.right++;
      correct.set(item.type, tally);
    });
  }
  let right = 0;
  const out: Record<string, number> = {};
  for (const [type, tally] of [...correct].sort(([a], [b]) => (a < b ? -1 : 1))) {
    out[`qa_accuracy_${type}`] = tally.right / tally.total;
    right += tally.right;
  }
  out["qa_accuracy"] = right / items.length;
  return out;
}

/**
 * Greedy decoding for a batch of (image, prompt) rows; returns each row's decoded answer text.
 * Each step runs the whole decoder (no key/value cache: sequences are a dozen tokens) and reads
 * one arg-max id per row, at the row's last filled position.
 */
export function generate(
  model: Model,
  image: BatchField,
  prompts: readonly number[][],
  text: TextSetup,
  maxTokens = MAX_ANSWER_TOKENS,
): string[] {
  const n = prompts.length;
  const seqLen = text.seqLen;
  const tokens = new Int32Array(n * seqLen);
  const length = prompts.map((p) => p.length);
  prompts.forEach((p, row) => {
    if (p.length >= seqLen) throw new DataError(`the prompt needs ${p.length} tokens and leaves no room for an answer in seq_len ${seqLen}`);
    tokens.set(p, row * seqLen);
  });
  const generated: number[][] = prompts.map(() => []);
  const done = new Array<boolean>(n).fill(false);
  const fixed = fixedInputs(model, image, n);
  try {
    for (let step = 0; step < maxTokens && done.some((d) => !d); step++) {
      const next = tf.tidy(() => {
        const inputs = { ...fixed, tokens: tf.tensor(tokens, [n, seqLen], "int32") };
        const logits = model.forward(inputs, { loss: false }).outputs["logits"];
        if (!logits || logits.rank !== 3) throw new DataError(`a decoder model must have an output 'logits' [B, T, vocab] to generate text`);
        return tf.argMax(logits, -1).dataSync() as Int32Array; // [n, seqLen]
      });
      for (let row = 0; row < n; row++) {
        if (done[row]) continue;
        const id = next[row * seqLen + length[row]! - 1]!;
        if (id === text.tokenizer.eosId) {
          done[row] = true;
          continue;
        }
        generated[row]!.push(id);
        tokens[row * seqLen + length[row]!] = id;
        length[row]!++;
        if (length[row]! >= seqLen) done[row] = true;
      }
    }
  } finally {
    for (const t of Object.values(fixed)) t.dispose();
  }
  return generated.map((ids) => text.tokenizer.decode(ids));
}

/** The images of `examples`, fitted to the model's input as the input plan says. */
function fittedImages(plan: InputPlan, split: Split, examples: readonly number[]): BatchField {
  const image = split.batch(examples).image;
  const fitTo = plan.fields.find((f) => f.name === "image")?.fitTo;
  return fitTo ? fitImages(image, fitTo) : image;
}

/** The inputs that do not change while decoding: the images, and zero targets and mask. */
function fixedInputs(model: Model, image: BatchField, n: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const input of model.module.inputs) {
    if (input.name === "tokens") continue;
    if (input.name === "image") {
      out["image"] = tf.tensor(image.data, image.shape, "float32");
    } else {
      const shape = [n, ...input.shape.slice(1).map((d) => (typeof d === "number" ? d : 1))];
      out[input.name] = tf.zeros(shape, input.dtype);
    }
  }
  return out;
}
