// The command registry. Each command lives in its own module, loaded only when it runs: the
// modules pull in tfjs, TypeScript, chevrotain and vega, and `vlmc --help` or `vlmc check` should
// not pay for all of them. `command` and `describe` are repeated here so that help can list every
// command without loading it; test/cli-registry.test.ts checks they match the modules.
import type { VlmcCommand } from "./types.js";

export interface CommandEntry {
  /** yargs command string, exactly as the module declares it. */
  command: string;
  describe: string;
  load: () => Promise<VlmcCommand>;
}

export const commandEntries: CommandEntry[] = [
  {
    command: "check <files..>",
    describe: "Check specs: syntax, names, types and shapes (exit 1 on any error)",
    load: async () => (await import("./check.js")).checkCommand,
  },
  {
    command: "fmt <files..>",
    describe: "Format .vlm files in the canonical layout (prints to stdout unless --write or --check)",
    load: async () => (await import("./fmt.js")).fmtCommand,
  },
  {
    command: "inspect <file>",
    describe: "Print a model summary: modules, output shapes, parameters and FLOPs",
    load: async () => (await import("./inspect.js")).inspectCommand,
  },
  {
    command: "compile <file>",
    describe: "Check a spec and emit its IR (JSON), module graph (DOT) or TensorFlow.js module (TypeScript)",
    load: async () => (await import("./compile.js")).compileCommand,
  },
  {
    command: "train <spec>",
    describe: "Train a model from a spec; writes weights, checkpoints, metrics.jsonl and run.json to --out",
    load: async () => (await import("./train.js")).trainCommand,
  },
  {
    command: "eval <spec>",
    describe: "Evaluate trained weights on a dataset split: accuracy and loss",
    load: async () => (await import("./eval.js")).evalCommand,
  },
  {
    command: "predict <spec>",
    describe:
      "Run a trained text model on one image: zero-shot label ranking (contrastive) or an answer to a prompt (decoder)",
    load: async () => (await import("./predict.js")).predictCommand,
  },
  {
    command: "data",
    describe: "Inspect and export datasets (shapes, mnist, or an image folder)",
    load: async () => (await import("./data.js")).dataCommand,
  },
  {
    command: "import <source> <dir>",
    describe:
      "Import a pretrained checkpoint: vlmc import hf <dir> -o <outdir> (Hugging Face ViTModel, ViTForImageClassification, CLIPModel, Kosmos2ForConditionalGeneration)",
    load: async () => (await import("./import.js")).importCommand,
  },
  {
    command: "run <spec>",
    describe: "Run a model once on named input tensors (JSON) and write its named outputs",
    load: async () => (await import("./run.js")).runCommand,
  },
  {
    command: "diff <specA> [specB]",
    describe:
      "Compare two model variants structurally: modules, arguments, parameters, FLOPs, visual tokens, weight compatibility",
    load: async () => (await import("./diff.js")).diffCommand,
  },
  {
    command: "setup <what>",
    describe: "Set up optional parts: `setup native` builds native TensorFlow (--backend tensorflow) from a TensorFlow Python package, no download",
    load: async () => (await import("./setup.js")).setupCommand,
  },
];

/** The command word of an entry ("train" for "train <spec>"). */
export function commandName(entry: { command: string }): string {
  return entry.command.split(" ")[0]!;
}
