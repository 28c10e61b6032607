// Reading a tokenizer file of either kind: the word vocabulary vlmc builds and saves, or a Hugging
// Face tokenizer.json. `vlmc train --tokenizer`, and eval and predict reading the tokenizer saved
// beside the weights, all come through here, so a file means the same thing everywhere.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { HfTokenizer } from "./hf-tokenizer.js";
import { TokenizerError, WordTokenizer } from "./tokenizer.js";
import type { TextTokenizer } from "./types.js";

/** Where a run's tokenizer comes from, for the message when it is missing. */
export const BESIDE_WEIGHTS = "it is saved beside the weights by 'vlmc train'";

/** The file a tokenizer folder holds (Hugging Face's name; vlmc saves its own under it too). */
export const TOKENIZER_JSON = "tokenizer.json";

/**
 * `path` is a tokenizer file, or a folder holding a tokenizer.json (as a Hugging Face model's does).
 * `missingHint` says, when the file is not there, where it should have come from.
 */
export function loadTokenizer(path: string, missingHint?: string): TextTokenizer {
  if (!existsSync(path)) throw new TokenizerError(missingHint ? `cannot read the tokenizer file (${missingHint})` : "no such tokenizer file or folder", path);
  let file = path;
  if (statSync(path).isDirectory()) {
    file = join(path, TOKENIZER_JSON);
    if (!existsSync(file)) throw new TokenizerError(`the folder has no ${TOKENIZER_JSON}`, path);
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    throw new TokenizerError("cannot read the tokenizer file", file);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TokenizerError(`malformed JSON (${err instanceof Error ? err.message : String(err)})`, file);
  }
  if (typeof json === "object" && json !== null && "format" in json) return WordTokenizer.fromJSON(json, file);
  if (typeof json === "object" && json !== null && "model" in json) return HfTokenizer.load(file);
  throw new TokenizerError(
    `neither a Hugging Face tokenizer.json (it has no "model") nor a vocabulary saved by vlmc train (it has no "format")`,
    file,
  );
}
