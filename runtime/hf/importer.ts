// `vlmc import hf`: a Hugging Face model folder (config.json + model.safetensors, or shards) in; a spec that
// instantiates the bundled family (model.vlm) and the weights in that spec's parameter names
// (weights.safetensors, F32) out. The spec is compiled before anything is written, and the
// checkpoint's names and shapes are checked against it from the header alone.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { compileSource } from "../../compiler/index.js";
import { formatDiagnostics } from "../../compiler/diagnostics.js";
import type { IRProgram } from "../../compiler/ir.js";
import { writeFileAtomic } from "../io/atomic.js";
import { writeSafetensors, type SafetensorsTensor } from "../io/safetensors.js";
import { planConversion, type ConversionStep } from "./check.js";
import { openHfCheckpoint } from "./checkpoint-files.js";
import { readHfConfig, type HfModelConfig } from "./config.js";
import { HfImportError } from "./errors.js";
import { LAYOUTS } from "./layouts.js";
import { HF_PREPROCESSOR_FILE, PREPROCESS_FILE, preprocessJsonText, readPreprocessorConfig, type ImagePreprocess } from "./preprocess.js";
import { mappingTableFor } from "./mappings.js";
import { importedSpecText, type SpecChoices } from "./spec-text.js";

export const IMPORTED_SPEC_FILE = "model.vlm";
export const IMPORTED_WEIGHTS_FILE = "weights.safetensors";
/**
 * The tokenizer files of a hub folder, copied beside the weights when present: there `vlmc predict`
 * (and eval) look for the tokenizer of a model, as they do for one `vlmc train` saved.
 */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"] as const;

export interface ImportOptions {
  /** CLIP, KOSMOS-2: compile the text for this many tokens (default: max_position_embeddings). */
  textLength?: number;
  /** The model's name in model.vlm (default: "Imported" + the architecture). */
  modelName?: string;
}

export interface ImportResult {
  config: HfModelConfig;
  specFile: string;
  weightsFile: string;
  program: IRProgram;
  steps: ConversionStep[];
  /** Parameter values written. */
  values: number;
  /** The tokenizer files copied from the model folder (none when it has no tokenizer.json). */
  tokenizerFiles: string[];
  /** preprocess.json, written when the model folder has a preprocessor_config.json. */
  preprocessFile?: string;
  preprocess?: ImagePreprocess;
  /** Lines for the user (e.g. that the folder has no preprocessor_config.json), without "note: ". */
  notes: string[];
}

/** Imports the HF model folder `dir` into `outDir` (created if needed). */
export function importHf(dir: string, outDir: string, options: ImportOptions = {}): ImportResult {
  const configFile = join(dir, "config.json");
  if (!existsSync(configFile)) {
    throw new HfImportError("no config.json here: a Hugging Face model folder holds config.json and model.safetensors (or a sharded checkpoint)", dir);
  }
  const checkpoint = openHfCheckpoint(dir);
  const config = readHfConfig(configFile);
  // Validated before anything is written, like the rest.
  const preprocess = readPreprocessorConfig(dir, config);

  const choices = specChoices(config, checkpoint.tensors, options, configFile);
  const modelName = options.modelName ?? `Imported${config.architecture}`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(modelName)) throw new HfImportError(`model name "${modelName}" is not an identifier`, dir);
  const specFile = join(outDir, IMPORTED_SPEC_FILE);
  const specText = importedSpecText(config, choices, basename(dir) || dir, modelName);
  const compiled = compileSource(specText, specFile);
  if (!compiled.program) {
    throw new HfImportError(`the spec made from this config does not compile:\n${formatDiagnostics(compiled.diagnostics, compiled.sources)}`, configFile);
  }
  const program = compiled.program;

  const steps = planConversion(checkpoint.tensors, program.params, mappingTableFor(config), checkpoint.label);
  const tensors = checkpoint.read();
  const converted = new Map<string, SafetensorsTensor>();
  let values = 0;
  for (const step of steps) {
    const tensor = tensors.get(step.hf);
    if (!tensor || !(tensor.data instanceof Float32Array)) throw new HfImportError(`tensor "${step.hf}" changed while the file was being read`, checkpoint.label);
    const data = LAYOUTS[step.layout].convert(tensor.data, step.hfShape, step.shape);
    converted.set(step.ours, { dtype: "F32", shape: step.shape, data });
    values += data.length;
  }
  const weightsFile = join(outDir, IMPORTED_WEIGHTS_FILE);
  writeSafetensors(weightsFile, converted, { format: "vlmc.hf-import/1", architecture: config.architecture, model: modelName });
  const tokenizerFiles: string[] = [];
  if (existsSync(join(dir, TOKENIZER_FILES[0]))) {
    for (const name of TOKENIZER_FILES) {
      const from = join(dir, name);
      if (!existsSync(from)) continue;
      let bytes: Buffer;
      try {
        bytes = readFileSync(from);
      } catch (err) {
        throw new HfImportError(`cannot read the tokenizer file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, from);
      }
      writeFileAtomic(join(outDir, name), bytes);
      tokenizerFiles.push(join(outDir, name));
    }
  }
  const notes: string[] = [];
  const preprocessFile = join(outDir, PREPROCESS_FILE);
  if (preprocess) {
    writeFileAtomic(preprocessFile, preprocessJsonText(preprocess));
  } else {
    // A preprocess.json of an earlier import into this folder would no longer describe the model.
    const stale = existsSync(preprocessFile);
    if (stale) rmSync(preprocessFile, { force: true });
    notes.push(
      `${dir} has no ${HF_PREPROCESSOR_FILE}; 'vlmc predict' feeds images as pixel values / 255${stale ? ` (removed the ${PREPROCESS_FILE} of an earlier import)` : ""}`,
    );
  }
  // The spec last: a folder with a model.vlm always has its weights.
  writeFileAtomic(specFile, specText);
  return { config, specFile, weightsFile, program, steps, values, tokenizerFiles, notes, ...(preprocess ? { preprocess, preprocessFile } : {}) };
}

function specChoices(
  config: HfModelConfig,
  tensors: ReadonlyMap<string, unknown>,
  options: ImportOptions,
  configFile: string,
): SpecChoices {
  let textLength = 0;
  if (config.family === "clip" || config.family === "kosmos2") {
    textLength = options.textLength ?? config.text.maxPositions;
    if (!Number.isSafeInteger(textLength) || textLength < 1 || textLength > config.text.maxPositions) {
      throw new HfImportError(
        `text length ${textLength} must be between 1 and text_config.max_position_embeddings = ${config.text.maxPositions}`,
        configFile,
      );
    }
  } else if (options.textLength !== undefined) {
    throw new HfImportError(`a text length applies to CLIP and KOSMOS-2 models only, this is ${config.architecture}`, configFile);
  }
  // ViTModel may be saved without its pooler (add_pooling_layer = False): the spec follows the file.
  const vitPooler = config.architecture === "ViTModel" && tensors.has("pooler.dense.weight");
  return { vitPooler, textLength };
}
