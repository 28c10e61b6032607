// The text a tokenizer vocabulary is built from: every caption, question and answer of a split.
import type { Split } from "../data/types.js";

/** Yields the caption and each question and answer of every example of `split`, in order. */
export function* splitTexts(split: Split): Generator<string> {
  for (let i = 0; i < split.size; i++) {
    const meta = split.meta(i);
    if (meta.caption !== undefined) yield meta.caption;
    for (const { question, answer } of meta.qa ?? []) {
      yield question;
      yield answer;
    }
  }
}
