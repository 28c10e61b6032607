// A word-level tokenizer whose vocabulary is built from the training text (captions, questions,
// answers). The shapes world has a few dozen words, so words are the right unit: every id means
// something a person can read, and the vocabulary is saved beside the weights (tokenizer.json) so
// eval and predict encode text exactly as training did.
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../io/atomic.js";
import { DataError } from "../data/types.js";
import { frameIds, type EncodeOptions, type TextTokenizer } from "./types.js";

export type { EncodeOptions } from "./types.js";

export const PAD = "<pad>";
export const BOS = "<bos>";
export const EOS = "<eos>";
export const UNK = "<unk>";
/** Special tokens and their fixed ids: padding is 0 so zero-filled buffers are padding. */
export const SPECIAL_TOKENS = [PAD, BOS, EOS, UNK] as const;
export const PAD_ID = 0;
export const BOS_ID = 1;
export const EOS_ID = 2;
export const UNK_ID = 3;

const FORMAT = "vlmc-word-tokenizer";
const VERSION = 1;

/**
 * Splits text into words: lower-cased, split on whitespace, and each punctuation mark (such as the
 * "?" ending a question) is a word of its own. Letters, digits, apostrophes and hyphens stay in words.
 */
export function splitWords(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}'-]+|[^\s\p{L}\p{N}'-]/gu) ?? [];
}

export interface BuildOptions {
  /** Words seen fewer times than this map to <unk> (default 1: keep every word). */
  minCount?: number;
  /** Keep at most this many words besides the special tokens (the most frequent ones). */
  maxWords?: number;
}

export interface TokenizerJSON {
  format: typeof FORMAT;
  version: number;
  /** Every token, index = id; starts with the special tokens. */
  vocab: string[];
}

export class WordTokenizer implements TextTokenizer {
  readonly kind = "word";
  readonly padId = PAD_ID;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly unkId = UNK_ID;
  private readonly ids: Map<string, number>;

  private constructor(readonly vocab: readonly string[]) {
    this.ids = new Map(vocab.map((word, id) => [word, id]));
  }

  /**
   * Builds the vocabulary from `texts`. Order is deterministic: the special tokens, then words by
   * descending count, ties broken by code-point order of the word.
   */
  static build(texts: Iterable<string>, opts: BuildOptions = {}): WordTokenizer {
    const counts = new Map<string, number>();
    for (const text of texts) for (const word of splitWords(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
    for (const special of SPECIAL_TOKENS) counts.delete(special);
    const words = [...counts]
      .filter(([, n]) => n >= (opts.minCount ?? 1))
      .sort(([a, na], [b, nb]) => nb - na || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, opts.maxWords ?? Infinity)
      .map(([word]) => word);
    return new WordTokenizer([...SPECIAL_TOKENS, ...words]);
  }

  get size(): number {
    return this.vocab.length;
  }

  idOf(word: string): number {
    return this.ids.get(word) ?? UNK_ID;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return frameIds(splitWords(text).map((w) => this.idOf(w)), { bos: BOS_ID, eos: EOS_ID, pad: PAD_ID }, opts);
  }

  unknownWords(texts: readonly string[]): string[] {
    return [...new Set(texts.flatMap((t) => splitWords(t)).filter((w) => this.idOf(w) === UNK_ID))];
  }

  /**
   * Encodes texts into one int32 [texts.length, maxLength] array padded with <pad>, and the number of
   * non-padding ids of each row.
   */
  encodeBatch(
    texts: readonly string[],
    opts: { maxLength: number; addBos?: boolean; addEos?: boolean },
  ): { ids: Int32Array; shape: [number, number]; lengths: Int32Array } {
    const ids = new Int32Array(texts.length * opts.maxLength);
    const lengths = new Int32Array(texts.length);
    texts.forEach((text, row) => {
      const encoded = this.encode(text, { ...opts, pad: false });
      ids.set(encoded, row * opts.maxLength);
      lengths[row] = encoded.length;
    });
    return { ids, shape: [texts.length, opts.maxLength], lengths };
  }

  /**
   * Words joined by single spaces, stopping at the first <eos>; <pad> and <bos> are skipped, and ids
   * outside the vocabulary decode as <unk>.
   */
  decode(ids: Iterable<number>): string {
    const words: string[] = [];
    for (const id of ids) {
      if (id === EOS_ID) break;
      if (id === PAD_ID || id === BOS_ID) continue;
      words.push(this.vocab[id] ?? UNK);
    }
    return words.join(" ");
  }

  toJSON(): TokenizerJSON {
    return { format: FORMAT, version: VERSION, vocab: [...this.vocab] };
  }

  /** Rebuilds a tokenizer from `toJSON()` output; `source` names the file in error messages. */
  static fromJSON(json: unknown, source = "tokenizer"): WordTokenizer {
    const obj = json as Partial<TokenizerJSON> | null;
    if (typeof obj !== "object" || obj === null || obj.format !== FORMAT) {
      throw new TokenizerError(`not a vlmc word tokenizer (expected "format": "${FORMAT}")`, source);
    }
    if (obj.version !== VERSION) throw new TokenizerError(`unsupported tokenizer version ${String(obj.version)} (expected ${VERSION})`, source);
    const vocab = obj.vocab;
    if (!Array.isArray(vocab) || !vocab.every((w) => typeof w === "string")) {
      throw new TokenizerError(`"vocab" must be an array of strings`, source);
    }
    SPECIAL_TOKENS.forEach((special, id) => {
      if (vocab[id] !== special) throw new TokenizerError(`vocab[${id}] must be ${special}, found ${JSON.stringify(vocab[id])}`, source);
    });
    if (new Set(vocab).size !== vocab.length) throw new TokenizerError("vocab has duplicate words", source);
    return new WordTokenizer(vocab);
  }

  /** Writes the tokenizer as JSON, atomically (temp file + rename). */
  save(path: string): void {
    writeFileAtomic(path, JSON.stringify(this.toJSON()) + "\n");
  }

  static load(path: string): WordTokenizer {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      throw new TokenizerError("cannot read the tokenizer file (it is saved beside the weights by 'vlmc train')", path);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new TokenizerError(`malformed JSON (${err instanceof Error ? err.message : String(err)})`, path);
    }
    return WordTokenizer.fromJSON(json, path);
  }
}

/** A tokenizer file problem; a DataError subclass so the CLI prints it without a stack. */
export class TokenizerError extends DataError {
  constructor(message: string, file?: string) {
    super(message, file);
    this.name = "TokenizerError";
  }
}
