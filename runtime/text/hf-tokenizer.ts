// A Hugging Face tokenizer.json (BPE, WordPiece, Unigram… with its normaliser, pre-tokenizer and
// decoder) read by @huggingface/tokenizers, the maintained pure-JavaScript port of the Rust library
// (docs/dependencies.md says why this one). Ids are the tokenizer's own, so a model trained with it
// reads text exactly as the Python library encodes it.
// Which of its tokens start, end and pad a text (and stand for unknown text) is special-tokens.ts's
// question; a tokenizer_config.json beside the file, Hugging Face's place for it, is read when there.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { writeFileAtomic } from "../io/atomic.js";
import { resolveSpecialTokens, type SpecialTokens } from "./special-tokens.js";
import { splitWords, TokenizerError } from "./tokenizer.js";
import { frameIds, type EncodeOptions, type TextTokenizer } from "./types.js";

/** The Hugging Face name of the file beside tokenizer.json that names its special tokens. */
export const HF_CONFIG_FILE = "tokenizer_config.json";

/** Encodings kept per tokenizer: a dataset's captions and questions repeat every epoch. */
const CACHE_LIMIT = 50_000;

export class HfTokenizer implements TextTokenizer {
  readonly kind = "huggingface";
  readonly size: number;
  readonly padId: number;
  readonly bosId: number;
  readonly eosId: number;
  readonly unkId: number | undefined;
  private readonly cache = new Map<string, number[]>();

  private constructor(
    private readonly tokenizer: Tokenizer,
    /** The tokenizer.json text as given, saved unchanged so other tools read it too. */
    private readonly text: string,
    private readonly config: Record<string, unknown>,
    readonly specials: SpecialTokens,
  ) {
    let maxId = -1;
    for (const id of tokenizer.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.size = maxId + 1;
    this.padId = specials.pad.id;
    this.bosId = specials.bos.id;
    this.eosId = specials.eos.id;
    this.unkId = specials.unk?.id;
  }

  /**
   * A tokenizer from the text of a tokenizer.json and, when there is one, its tokenizer_config.json
   * (parsed); `source` names the file in error messages.
   */
  static fromText(text: string, config: unknown, source: string): HfTokenizer {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new TokenizerError(`malformed JSON (${err instanceof Error ? err.message : String(err)})`, source);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new TokenizerError("a tokenizer.json must hold a JSON object", source);
    const model = (json as { model?: unknown }).model;
    if (typeof model !== "object" || model === null || typeof (model as { type?: unknown }).type !== "string") {
      throw new TokenizerError(`not a Hugging Face tokenizer.json: it needs a "model" object with a "type" (BPE, WordPiece, Unigram…)`, source);
    }
    if (config !== undefined && (typeof config !== "object" || config === null || Array.isArray(config))) {
      throw new TokenizerError(`${HF_CONFIG_FILE} must hold a JSON object`, source);
    }
    const cfg = (config ?? {}) as Record<string, unknown>;
    let tokenizer: Tokenizer;
    try {
      // The Rust library reads an absent normalizer, pre-tokenizer, post-processor or decoder as none.
      const parts = { normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null, added_tokens: [] };
      tokenizer = new Tokenizer({ ...parts, ...json }, cfg);
      // Some broken files only fail on first use: find out now, not half-way through an epoch.
      tokenizer.encode("a", { add_special_tokens: false });
    } catch (err) {
      throw new TokenizerError(`not a valid Hugging Face tokenizer.json: ${err instanceof Error ? err.message : String(err)}`, source);
    }
    const specials = resolveSpecialTokens(json as Record<string, unknown>, cfg, (token) => tokenizer.token_to_id(token), source);
    return new HfTokenizer(tokenizer, text, cfg, specials);
  }

  /** Reads `path` (a tokenizer.json) and the tokenizer_config.json beside it, when there is one. */
  static load(path: string): HfTokenizer {
    const text = readText(path);
    const configPath = join(dirname(path), HF_CONFIG_FILE);
    let config: unknown;
    if (existsSync(configPath)) {
      try {
        config = JSON.parse(readText(configPath));
      } catch (err) {
        if (err instanceof TokenizerError) throw err;
        throw new TokenizerError(`malformed JSON (${err instanceof Error ? err.message : String(err)})`, configPath);
      }
    }
    return HfTokenizer.fromText(text, config, path);
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return frameIds(this.body(text), { bos: this.bosId, eos: this.eosId, pad: this.padId }, opts);
  }

  /** The ids of `text` without special tokens (the tasks frame texts themselves). */
  private body(text: string): number[] {
    const cached = this.cache.get(text);
    if (cached !== undefined) return cached;
    const ids = this.tokenizer.encode(text, { add_special_tokens: false }).ids;
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(text, ids);
    return ids;
  }

  decode(ids: Iterable<number>): string {
    const kept: number[] = [];
    for (const id of ids) {
      if (id === this.eosId) break;
      if (id === this.padId || id === this.bosId || id < 0 || id >= this.size) continue;
      kept.push(id);
    }
    // As the Python library decodes by default: special tokens dropped, spacing left as it is.
    return this.tokenizer.decode(kept, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }

  unknownWords(texts: readonly string[]): string[] {
    const unk = this.unkId;
    if (unk === undefined) return [];
    return [...new Set(texts.flatMap((t) => splitWords(t)).filter((w) => this.body(w).includes(unk)))];
  }

  /**
   * Writes the tokenizer.json unchanged and, beside it, a tokenizer_config.json naming the special
   * tokens found (with the given config's other fields), so a reload maps them the same way.
   */
  save(path: string): void {
    writeFileAtomic(path, this.text);
    const configPath = join(dirname(path), HF_CONFIG_FILE);
    const config = {
      ...this.config,
      bos_token: this.specials.bos.token,
      eos_token: this.specials.eos.token,
      pad_token: this.specials.pad.token,
      ...(this.specials.unk ? { unk_token: this.specials.unk.token } : {}),
    };
    writeFileAtomic(configPath, JSON.stringify(config, null, 2) + "\n");
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    throw new TokenizerError("cannot read the tokenizer file", path);
  }
}
