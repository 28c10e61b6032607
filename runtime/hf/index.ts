// Hugging Face checkpoints: config parsing, the name/layout mapping tables, the importer and the
// input/output adapters of `vlmc run`.
export { HfImportError } from "./errors.js";
export { readHfConfig, parseHfConfig, SUPPORTED_ARCHITECTURES, HF_ACTIVATIONS } from "./config.js";
export type { HfArchitecture, HfModelConfig, VitConfig, ClipConfig } from "./config.js";
export { LAYOUTS } from "./layouts.js";
export type { Layout } from "./layouts.js";
export { MAPPING_TABLES, compileRules } from "./mappings.js";
export type { MappingRule, MappingTable } from "./mappings.js";
export { planConversion } from "./check.js";
export type { ConversionStep } from "./check.js";
export { importHf, IMPORTED_SPEC_FILE, IMPORTED_WEIGHTS_FILE } from "./importer.js";
export type { ImportOptions, ImportResult } from "./importer.js";
export { prepareInputs, cropOutput, HF_INPUT_ALIASES, inputsNeededForOutputs } from "./adapters.js";
export { runOnce } from "./run.js";
export {
  HF_PREPROCESSOR_FILE, PREPROCESS_FILE, PREPROCESS_FORMAT, applyPreprocess, describePreprocess, parsePreprocessorConfig,
  preprocessJsonText, readPreprocessFile, readPreprocessorConfig,
} from "./preprocess.js";
export type { ImagePreprocess, Resample } from "./preprocess.js";
