// Which tokens of a Hugging Face tokenizer play the four parts the tasks need: start of text (bos),
// end of text (eos: captions end with it, a text encoder pools at it, decoding stops at it),
// padding and unknown. A tokenizer.json does not say so in one place, so each is looked for where
// Hugging Face's own tools put it, most explicit first:
//   1. tokenizer_config.json: bos_token, eos_token, pad_token, unk_token;
//   2. tokenizer.json: the post-processor's template (the token before the text is the start, the one
//      after it the end; Bert/Roberta processors' cls and sep), padding.pad_token, model.unk_token;
//   3. an added token with one of the usual names (NAMES below).
// Start and end must be found; padding falls back to the end token, as CLIP and GPT-2 pad; the
// unknown token is optional (a byte-level BPE reads every text).
import { TokenizerError } from "./tokenizer.js";

export type SpecialRole = "bos" | "eos" | "pad" | "unk";

export interface SpecialToken {
  token: string;
  id: number;
  /** Where it was found, for messages. */
  from: string;
}

export interface SpecialTokens {
  bos: SpecialToken;
  eos: SpecialToken;
  pad: SpecialToken;
  unk?: SpecialToken;
}

/** The usual names of each special token in released tokenizers, in order of preference. */
export const SPECIAL_TOKEN_NAMES: Readonly<Record<SpecialRole, readonly string[]>> = {
  bos: ["<|startoftext|>", "<s>", "<bos>", "[CLS]", "<|begin_of_text|>", "<|bos|>", "[BOS]"],
  eos: ["<|endoftext|>", "</s>", "<eos>", "[SEP]", "<|end_of_text|>", "<|eos|>", "[EOS]"],
  pad: ["<pad>", "[PAD]", "<|pad|>", "<|padding|>"],
  unk: ["<unk>", "[UNK]", "<|unk|>"],
};

const DESCRIPTION: Record<SpecialRole, string> = {
  bos: "start-of-text",
  eos: "end-of-text",
  pad: "padding",
  unk: "unknown",
};

/** A token written as a string or, as in tokenizer_config.json, as an object with "content". */
function tokenText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && typeof (value as { content?: unknown }).content === "string") {
    return (value as { content: string }).content;
  }
  return undefined;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** The start (bos) or end (eos) token a post-processor puts around a single text. */
function templateToken(processor: unknown, role: "bos" | "eos"): string | undefined {
  const pp = asObject(processor);
  if (!pp) return undefined;
  if (pp["type"] === "Sequence" && Array.isArray(pp["processors"])) {
    for (const inner of pp["processors"]) {
      const found = templateToken(inner, role);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (pp["type"] === "BertProcessing" || pp["type"] === "RobertaProcessing") {
    const pair = pp[role === "bos" ? "cls" : "sep"];
    return Array.isArray(pair) ? tokenText(pair[0]) : undefined;
  }
  if (pp["type"] !== "TemplateProcessing" || !Array.isArray(pp["single"])) return undefined;
  const single = pp["single"] as unknown[];
  const at = single.findIndex((piece) => asObject(piece)?.["Sequence"] !== undefined);
  if (at < 0) return undefined;
  const neighbour = asObject(single[role === "bos" ? at - 1 : at + 1]);
  const name = tokenText(asObject(neighbour?.["SpecialToken"])?.["id"]);
  if (name === undefined) return undefined;
  // The template names a special-token entry, whose tokens are what is inserted.
  const tokens = asObject(asObject(pp["special_tokens"])?.[name])?.["tokens"];
  return Array.isArray(tokens) && tokens.length === 1 ? tokenText(tokens[0]) ?? name : name;
}

/**
 * The special tokens of a tokenizer (see the file comment); `idOf` is the tokenizer's token → id,
 * `source` names the file in error messages.
 */
export function resolveSpecialTokens(
  json: Json,
  config: Json,
  idOf: (token: string) => number | undefined,
  source: string,
): SpecialTokens {
  const added = Array.isArray(json["added_tokens"])
    ? (json["added_tokens"] as unknown[]).map((t) => tokenText(t)).filter((t): t is string => t !== undefined)
    : [];
  const find = (role: SpecialRole): SpecialToken | undefined => {
    const named = tokenText(config[`${role}_token`]);
    if (named !== undefined) {
      const id = idOf(named);
      if (id === undefined) throw new TokenizerError(`tokenizer_config.json names ${role}_token ${JSON.stringify(named)}, which the tokenizer does not have`, source);
      return { token: named, id, from: `tokenizer_config.json ${role}_token` };
    }
    const inJson =
      role === "bos" || role === "eos"
        ? { token: templateToken(json["post_processor"], role), from: "the post-processor's template" }
        : role === "pad"
          ? { token: tokenText(asObject(json["padding"])?.["pad_token"]), from: "padding.pad_token" }
          : { token: tokenText(asObject(json["model"])?.["unk_token"]), from: "model.unk_token" };
    if (inJson.token !== undefined) {
      const id = idOf(inJson.token);
      if (id !== undefined) return { token: inJson.token, id, from: inJson.from };
    }
    for (const name of SPECIAL_TOKEN_NAMES[role]) {
      const id = added.includes(name) ? idOf(name) : undefined;
      if (id !== undefined) return { token: name, id, from: "added_tokens" };
    }
    return undefined;
  };
  const required = (role: "bos" | "eos"): SpecialToken => {
    const found = find(role);
    if (found) return found;
    throw new TokenizerError(
      `the tokenizer has no ${DESCRIPTION[role]} token, which the text tasks need: its post-processor adds none ` +
        `${role === "bos" ? "before" : "after"} the text, no tokenizer_config.json beside it names a ${role}_token, ` +
        `and none of its added tokens is ${SPECIAL_TOKEN_NAMES[role].join(", ")}; ` +
        `add one to its "added_tokens", or name one as "${role}_token" in a tokenizer_config.json beside it`,
      source,
    );
  };
  const bos = required("bos");
  const eos = required("eos");
  const pad = find("pad") ?? { ...eos, from: `${eos.from} (no padding token: padding with the end-of-text token)` };
  const unk = find("unk");
  return { bos, eos, pad, ...(unk ? { unk } : {}) };
}
