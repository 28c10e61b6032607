// The weights of a Hugging Face model folder: one `model.safetensors`, or a sharded checkpoint
// (`model.safetensors.index.json` naming, for each tensor, the shard file that holds it, as
// `save_pretrained` writes for large models). Either way the importer sees one table of names →
// header entries, checked from the headers alone, and reads the data only after the check passed.
import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { SafetensorsHeaderEntry } from "../io/safetensors-header.js";
import { readSafetensors, readSafetensorsHeader, type SafetensorsTensor } from "../io/safetensors.js";
import { HfImportError } from "./errors.js";

export const SINGLE_FILE = "model.safetensors";
export const SHARD_INDEX_FILE = "model.safetensors.index.json";

export interface HfCheckpoint {
  /** What error messages name: model.safetensors, or the index of a sharded checkpoint. */
  label: string;
  /** Every tensor's dtype, shape and offsets (in its own file), from the headers alone. */
  tensors: Map<string, SafetensorsHeaderEntry>;
  /** The tensors' data (F16 and BF16 widened to float32). */
  read(): Map<string, SafetensorsTensor>;
}

/** The checkpoint of the model folder `dir`; throws HfImportError when there is none or it is inconsistent. */
export function openHfCheckpoint(dir: string): HfCheckpoint {
  const single = join(dir, SINGLE_FILE);
  if (existsSync(single)) {
    return { label: single, tensors: readSafetensorsHeader(single).tensors, read: () => readSafetensors(single).tensors };
  }
  const index = join(dir, SHARD_INDEX_FILE);
  if (existsSync(index)) return openSharded(dir, index);
  const hint = existsSync(join(dir, "pytorch_model.bin")) || existsSync(join(dir, "pytorch_model.bin.index.json"))
    ? " (found PyTorch pickle weights: save the model with safe_serialization=True)"
    : "";
  throw new HfImportError(`no ${SINGLE_FILE} (or ${SHARD_INDEX_FILE}) here${hint}`, dir);
}

function openSharded(dir: string, index: string): HfCheckpoint {
  const weightMap = readWeightMap(index);
  // Shard file → the names the index assigns to it.
  const byShard = new Map<string, string[]>();
  for (const [name, shard] of weightMap) {
    const names = byShard.get(shard);
    if (names) names.push(name);
    else byShard.set(shard, [name]);
  }

  const tensors = new Map<string, SafetensorsHeaderEntry>();
  const problems: string[] = [];
  for (const [shard, names] of byShard) {
    const file = join(dir, shard);
    if (!existsSync(file)) {
      problems.push(`${shard}: missing (the index puts ${names.length} tensor${names.length === 1 ? "" : "s"} in it, e.g. "${names[0]}")`);
      continue;
    }
    const header = readSafetensorsHeader(file).tensors;
    for (const name of names) {
      const entry = header.get(name);
      if (entry) tensors.set(name, entry);
      else problems.push(`"${name}": the index puts it in ${shard}, which does not hold it`);
    }
  }
  if (problems.length > 0) {
    throw new HfImportError(`the sharded checkpoint does not match its index (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  ${p}`).join("\n")}`, index);
  }
  return {
    label: index,
    tensors,
    read() {
      const out = new Map<string, SafetensorsTensor>();
      for (const [shard, names] of byShard) {
        const data = readSafetensors(join(dir, shard)).tensors;
        for (const name of names) out.set(name, data.get(name)!);
      }
      return out;
    },
  };
}

/** The index's weight_map: tensor name → shard file name (a plain name inside the folder). */
function readWeightMap(index: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(index, "utf8"));
  } catch (err) {
    const why = err instanceof SyntaxError ? `not valid JSON (${err.message})` : `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    throw new HfImportError(why, index);
  }
  const map = typeof json === "object" && json !== null && !Array.isArray(json) ? (json as Record<string, unknown>)["weight_map"] : undefined;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new HfImportError(`expected {"weight_map": {tensor name: shard file, ...}}, as save_pretrained writes it`, index);
  }
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map)) {
    // A shard is a file in the folder: no paths, so an index cannot point outside it.
    if (typeof shard !== "string" || shard !== basename(shard) || !shard.endsWith(".safetensors") || shard.startsWith(".")) {
      throw new HfImportError(`weight_map["${name}"] must name a .safetensors file in this folder, found ${JSON.stringify(shard)}`, index);
    }
    out.set(name, shard);
  }
  if (out.size === 0) throw new HfImportError("weight_map is empty", index);
  return out;
}
