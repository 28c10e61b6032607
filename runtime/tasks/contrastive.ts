// task = "contrastive" (CLIP). Each image is paired with its caption (`tokens`); the contrastive
// connector's loss pulls the pair together against the rest of the batch. Scored by:
//  - retrieval_accuracy: image → text within fixed pools of RETRIEVAL_POOL consecutive examples.
//    For each image, the pool's captions are ranked by cosine similarity; the image counts as
//    correct when the top caption's text is its own caption's text (several examples may share a
//    caption such as "a red square", and any of them is then a right answer). Pools of a fixed
//    size make the figure independent of the evaluation batch size.
//  - zero_shot_accuracy: each image against the 30 prompts "a {colour} {shape}" of the shapes
//    world; correct when the top prompt's colour and shape both match the image. Scored when the
//    split's examples carry colour and shape attributes (the shapes world), with
//    zero_shot_chance = 1 / 30 beside it, and zero_shot_colour_accuracy / zero_shot_shape_accuracy:
//    how often the top prompt's colour (shape) alone is right.
import * as tf from "@tensorflow/tfjs-core";
import type { BatchField, Split } from "../data/types.js";
import { DataError } from "../data/types.js";
import { shapesZeroShotPrompts } from "../data/shapes.js";
import type { Model } from "../model.js";
import { sequentialBatches } from "../train/batches.js";
import { batchInputs, disposeInputs, type InputPlan } from "../train/inputs.js";
import { encodeCaption, type TextSetup } from "./text.js";
import type { ScoreOptions, Task, TaskSplit } from "./types.js";

export const RETRIEVAL_POOL = 100;
/** The outputs a contrastive model must name for scoring: one embedding per image and per text. */
export const EMBEDDING_OUTPUTS = ["image_embeds", "text_embeds"] as const;

export function contrastiveTask(text: TextSetup): Task {
  const task: Task = {
    name: "contrastive",
    text,
    wrap: (split) => captionSplit(split, text, task),
    score: (model, split, plan, options) => scoreContrastive(model, split, plan, options, text),
  };
  return task;
}

function captionSplit(base: Split, text: TextSetup, task: Task): TaskSplit {
  return {
    base,
    task,
    size: base.size,
    imageShape: base.imageShape,
    meta: (i) => base.meta(i),
    batch(indices) {
      const fields = base.batch(indices);
      const ids = new Int32Array(indices.length * text.seqLen);
      const mask = new Int32Array(indices.length * text.seqLen);
      indices.forEach((index, row) => {
        const caption = base.meta(index).caption;
        if (caption === undefined) throw new DataError(`example ${index} has no caption; a contrastive model trains on (image, caption) pairs`);
        const encoded = encodeCaption(text, caption);
        ids.set(encoded.ids, row * text.seqLen);
        mask.set(encoded.mask, row * text.seqLen);
      });
      const shape = [indices.length, text.seqLen];
      const tokens: BatchField = { dtype: "int32", shape, data: ids };
      // Read only by a model with an `attention_mask` input (an imported CLIPModel).
      const attention_mask: BatchField = { dtype: "int32", shape, data: mask };
      return { ...fields, tokens, attention_mask };
    },
  };
}

/** Unit-length embeddings [n, E] of the model's images and texts for the examples `indices`. */
function embed(model: Model, inputs: Record<string, tf.Tensor>): { image: Float32Array; text: Float32Array; width: number } {
  return tf.tidy(() => {
    const { outputs } = model.forward(inputs, { loss: false });
    const [image, text] = EMBEDDING_OUTPUTS.map((name) => {
      const t = outputs[name];
      if (!t) throw new DataError(`a contrastive model must have an output '${name}' to be scored (model ${model.program.model} has ${Object.keys(outputs).join(", ")})`);
      return tf.div(t, tf.maximum(tf.norm(t, "euclidean", -1, true), 1e-12));
    });
    return { image: image!.dataSync() as Float32Array, text: text!.dataSync() as Float32Array, width: image!.shape[1]! };
  });
}

/** The 30 zero-shot prompts embedded by the text tower (images are zeros: only text_embeds is read). */
export function embedTexts(model: Model, text: TextSetup, texts: readonly string[]): { data: Float32Array; width: number } {
  const n = texts.length;
  const inputs: Record<string, tf.Tensor> = {};
  for (const input of model.module.inputs) {
    if (input.name === "tokens" || input.name === "attention_mask") {
      const field = new Int32Array(n * text.seqLen);
      texts.forEach((t, row) => {
        const encoded = encodeCaption(text, t);
        field.set(input.name === "tokens" ? encoded.ids : encoded.mask, row * text.seqLen);
      });
      inputs[input.name] = tf.tensor(field, [n, text.seqLen], "int32");
    } else {
      const shape = [n, ...input.shape.slice(1).map((d) => (typeof d === "number" ? d : 1))];
      inputs[input.name] = tf.zeros(shape, input.dtype);
    }
  }
  try {
    const { text: data, width } = embed(model, inputs);
    return { data, width };
  } finally {
    disposeInputs(inputs);
  }
}

function scoreContrastive(model: Model, split: TaskSplit, plan: InputPlan, options: ScoreOptions, text: TextSetup): Record<string, number> {
  const size = Math.min(split.size, options.limit ?? split.size);
  if (size === 0) return {};
  const images: Float32Array[] = [];
  const texts: Float32Array[] = [];
  let width = 0;
  for (const indices of sequentialBatches(size, options.batch)) {
    const inputs = batchInputs(plan, split, indices);
    try {
      const e = embed(model, inputs);
      images.push(e.image);
      texts.push(e.text);
      width = e.width;
    } finally {
      disposeInputs(inputs);
    }
  }
  const imageEmb = concat(images);
  const textEmb = concat(texts);
  const metas = Array.from({ length: size }, (_, i) => split.base.meta(i));

  // Image → text retrieval within fixed pools.
  let retrieved = 0;
  for (let start = 0; start < size; start += RETRIEVAL_POOL) {
    const end = Math.min(size, start + RETRIEVAL_POOL);
    for (let i = start; i < end; i++) {
      const best = argmaxDot(imageEmb, i, textEmb, start, end, width);
      if (metas[best]!.caption === metas[i]!.caption) retrieved++;
    }
  }
  const out: Record<string, number> = { retrieval_accuracy: retrieved / size };

  // Zero-shot over the shapes world's prompts, when the examples say their colour and shape.
  if (metas.every((m) => m.attrs?.["colour"] !== undefined && m.attrs?.["shape"] !== undefined)) {
    const prompts = shapesZeroShotPrompts();
    const promptEmb = embedTexts(model, text, prompts.map((p) => p.prompt)).data;
    let correct = 0;
    let colourRight = 0;
    let shapeRight = 0;
    for (let i = 0; i < size; i++) {
      const best = prompts[argmaxDot(imageEmb, i, promptEmb, 0, prompts.length, width)]!;
      const colourOk = best.colour === metas[i]!.attrs!["colour"];
      const shapeOk = best.shape === metas[i]!.attrs!["shape"];
      if (colourOk && shapeOk) correct++;
      if (colourOk) colourRight++;
      if (shapeOk) shapeRight++;
    }
    out["zero_shot_accuracy"] = correct / size;
    // Which half of the prompt the misses get wrong: on held-out combinations a model that has
    // memorised the training pairs keeps one attribute and swaps the other for a seen partner.
    out["zero_shot_colour_accuracy"] = colourRight / size;
    out["zero_shot_shape_accuracy"] = shapeRight / size;
    out["zero_shot_chance"] = 1 / prompts.length;
  }
  return out;
}

/** The row in [from, to) of `rows` with the largest dot product with row `i` of `query`. */
export function argmaxDot(query: Float32Array, i: number, rows: Float32Array, from: number, to: number, width: number): number {
  let best = from;
  let bestScore = -Infinity;
  for (let r = from; r < to; r++) {
    let s = 0;
    for (let k = 0; k < width; k++) s += query[i * width + k]! * rows[r * width + k]!;
    if (s > bestScore) {
      bestScore = s;
      best = r;
    }
  }
  return best;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
