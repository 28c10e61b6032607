// What a text task needs from a tokenizer, whichever kind it is: the word vocabulary built from the
// training text (tokenizer.ts) or a Hugging Face tokenizer.json (hf-tokenizer.ts). The tasks frame
// every text with the tokenizer's own start, end and padding ids, so neither kind needs its special
// tokens at fixed ids.

export interface EncodeOptions {
  /** Truncate (keeping the end token when requested) or pad to this many ids. */
  maxLength?: number;
  addBos?: boolean;
  addEos?: boolean;
  /** Pad with the padding id up to maxLength (requires maxLength). */
  pad?: boolean;
}

export interface TextTokenizer {
  /** "word": built from the training text; "huggingface": loaded from a tokenizer.json. */
  readonly kind: "word" | "huggingface";
  /** Every id is below this; a model's `vocab` is bound to it. */
  readonly size: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  /** The unknown-text id; undefined when every text has ids of its own (byte-level BPE). */
  readonly unkId: number | undefined;
  /** The ids of `text`, framed by the start and end ids when asked. */
  encode(text: string, opts?: EncodeOptions): number[];
  /** The text of `ids`, stopping at the first end id; padding and start ids are skipped. */
  decode(ids: Iterable<number>): string;
  /** The words of `texts` that the tokenizer can only read as its unknown id (for warnings). */
  unknownWords(texts: readonly string[]): string[];
  /** Writes the tokenizer to `path` atomically, in a form `loadTokenizer` reads back. */
  save(path: string): void;
}

/**
 * `body` framed as EncodeOptions say: start and end ids around it, cut to maxLength (the body is cut
 * first, so the end id survives when there is room for it), then padded.
 */
export function frameIds(body: readonly number[], ids: { bos: number; eos: number; pad: number }, opts: EncodeOptions): number[] {
  const { maxLength, addBos = false, addEos = false, pad = false } = opts;
  if (pad && maxLength === undefined) throw new RangeError("encode: pad requires maxLength");
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
    throw new RangeError(`encode: maxLength must be a non-negative integer, got ${maxLength}`);
  }
  let kept = [...body];
  if (maxLength !== undefined) {
    const room = Math.max(0, maxLength - (addBos ? 1 : 0) - (addEos ? 1 : 0));
    kept = kept.slice(0, room);
  }
  let out = [...(addBos ? [ids.bos] : []), ...kept, ...(addEos ? [ids.eos] : [])];
  // When maxLength is smaller than the special tokens themselves, the cut wins.
  if (maxLength !== undefined) out = out.slice(0, maxLength);
  if (pad && maxLength !== undefined) while (out.length < maxLength) out.push(ids.pad);
  return out;
}
