// Turning an example's text into the int fields a model reads. Two layouts:
//  - a caption for a text encoder (CLIP): <bos> words <eos>, padded with <pad>; the
//    TextTransformer pools at the first <eos> (its `eot` parameter is bound to the tokenizer's
//    end id, runtime/train/setup.ts);
//  - a prompt–answer sequence for a decoder (KOSMOS): <bos> prompt words answer words <eos>,
//    fed as tokens = sequence[0 .. n-2] and targets = sequence[1 .. n-1] (the next token at each
//    position), with target_mask = 1 only where the target is an answer word or the final <eos>.
//    So the loss never counts predicting the question (which the image does not determine) or
//    padding, and the decoder learns to stop after the answer.
// <bos>, <eos> and <pad> stand for the tokenizer's own ids (a Hugging Face tokenizer's may be
// <|startoftext|>, <|endoftext|> and so on, at any id).
import type { Dataset, Split } from "../data/types.js";
import { DataError } from "../data/types.js";
import { splitTexts } from "../text/corpus.js";
import { splitWords, WordTokenizer } from "../text/tokenizer.js";
import type { TextTokenizer } from "../text/types.js";

/** The tokenizer and the fixed text length (the model's seq_len) that a task encodes with. */
export interface TextSetup {
  tokenizer: TextTokenizer;
  seqLen: number;
}

/** The vocabulary from the training split's captions, questions and answers. */
export function buildTokenizer(dataset: Dataset): WordTokenizer {
  const train = dataset.splits["train"];
  if (!train) throw new DataError(`dataset ${dataset.name} has no 'train' split to build a tokenizer from`);
  const tokenizer = WordTokenizer.build(splitTexts(train));
  if (tokenizer.size <= 4) {
    throw new DataError(`dataset ${dataset.name} has no text (captions or question–answer pairs) to train a text model on`);
  }
  return tokenizer;
}

/** Ids of `<bos> text <eos>` padded to seqLen; throws DataError when the text does not fit. */
export function captionIds(text: TextSetup, caption: string): number[] {
  return encodeCaption(text, caption).ids;
}

/**
 * captionIds, with the attention mask of a model that masks padding (HF's `attention_mask`): 1 on
 * the text's own ids, <bos> to <eos>, 0 on the padding. The mask is made from the length, not by
 * comparing ids, because the padding id may equal <eos> (CLIP pads with <|endoftext|>).
 */
export function encodeCaption(text: TextSetup, caption: string): { ids: number[]; mask: number[] } {
  const ids = text.tokenizer.encode(caption, { addBos: true, addEos: true });
  if (ids.length > text.seqLen) throw tooLong(caption, ids.length, text.seqLen);
  const mask = Array.from({ length: text.seqLen }, (_, i) => (i < ids.length ? 1 : 0));
  while (ids.length < text.seqLen) ids.push(text.tokenizer.padId);
  return { ids, mask };
}

export interface LmSequence {
  tokens: number[];
  targets: number[];
  mask: number[];
}

/**
 * The decoder's view of `<bos> prompt answer <eos>` (see the file comment): tokens, targets and a
 * mask on the answer and the final <eos>, each seqLen long. An empty prompt makes the whole text
 * (a caption) the answer.
 */
export function lmSequence(text: TextSetup, prompt: string, answer: string): LmSequence {
  const { bosId, eosId, padId } = text.tokenizer;
  const p = text.tokenizer.encode(prompt);
  const a = text.tokenizer.encode(answer);
  const sequence = [bosId, ...p, ...a, eosId];
  const length = sequence.length - 1; // tokens and targets are the sequence shifted against itself
  if (length > text.seqLen) throw tooLong(`${prompt} ${answer}`.trim(), length, text.seqLen);
  const tokens = new Array<number>(text.seqLen).fill(padId);
  const targets = new Array<number>(text.seqLen).fill(padId);
  const mask = new Array<number>(text.seqLen).fill(0);
  for (let t = 0; t < length; t++) {
    tokens[t] = sequence[t]!;
    targets[t] = sequence[t + 1]!;
    // targets[t] = sequence[t + 1] is an answer word or <eos> from index 1 + |prompt| on.
    if (t >= p.length) mask[t] = 1;
  }
  return { tokens, targets, mask };
}

/** The prompt part of a decoder input: `<bos> prompt`, the point where greedy decoding starts. */
export function promptIds(text: TextSetup, prompt: string): number[] {
  return [text.tokenizer.bosId, ...text.tokenizer.encode(prompt)];
}

/**
 * The longest text field (in ids) that `split` needs, to check seq_len before training: captions
 * (contrastive), question–answer pairs and captions (lm), or question–answer pairs alone.
 */
export function longestText(split: Split, layout: "caption" | "lm" | "qa", tokenizer: TextTokenizer): { length: number; text: string } {
  let longest = { length: 0, text: "" };
  // Lengths as captionIds and lmSequence count them (prompt and answer are encoded apart).
  const count = (t: string): number => tokenizer.encode(t).length;
  for (let i = 0; i < split.size; i++) {
    const meta = split.meta(i);
    const qa = (meta.qa ?? []).map((q) => ({ text: `${q.question} ${q.answer}`, ids: count(q.question) + count(q.answer) }));
    const caption = { text: meta.caption ?? "", ids: count(meta.caption ?? "") };
    const texts = layout === "caption" ? [caption] : layout === "qa" ? qa : [caption, ...qa];
    for (const t of texts) {
      // caption: <bos> ids <eos>; lm: the sequence minus one (tokens = sequence[0 .. n-2]).
      const length = t.ids + (layout === "caption" ? 2 : 1);
      if (length > longest.length) longest = { length, text: t.text };
    }
  }
  return longest;
}

function tooLong(text: string, length: number, seqLen: number): DataError {
  return new DataError(
    `the text "${text}" needs ${length} tokens but the model's seq_len is ${seqLen}: ` +
      `train with --set seq_len=${length} (or more)`,
  );
}

/** Normalises text for exact-match comparison: lower-cased words joined by single spaces. */
export function normaliseAnswer(text: string): string {
  return splitWords(text).join(" ");
}

