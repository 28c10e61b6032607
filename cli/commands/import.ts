// `vlmc import hf <dir> -o <outdir>`: a Hugging Face model folder (config.json + model.safetensors)
// → <outdir>/model.vlm (the bundled family spec instantiated with the config's values) and
// <outdir>/weights.safetensors (in that spec's parameter names). The work is runtime/hf's.
import type { Argv } from "yargs";
import { importHf } from "../../runtime/hf/importer.js";
import { UserError } from "../errors.js";
import type { VlmcCommand } from "./types.js";

export const importCommand: VlmcCommand = {
  command: "import <source> <dir>",
  describe: "Import a pretrained checkpoint: vlmc import hf <dir> -o <outdir> (Hugging Face ViTModel, ViTForImageClassification, CLIPModel, Kosmos2ForConditionalGeneration)",
  builder: (y: Argv) =>
    y
      .positional("source", { type: "string", choices: ["hf"], describe: "where the checkpoint comes from (hf: a Hugging Face model folder)" })
      .positional("dir", { type: "string", describe: "the model folder: config.json + model.safetensors", demandOption: true })
      .option("out", { alias: "o", type: "string", demandOption: true, describe: "output folder for model.vlm and weights.safetensors" })
      .option("text-length", { type: "number", describe: "CLIP, KOSMOS-2: compile the text for this many tokens (default: max_position_embeddings)" })
      .option("name", { type: "string", describe: "the model's name in model.vlm (default: Imported<Architecture>)" }),
  handler: async (args: Record<string, any>) => {
    const textLength = args["textLength"] as number | undefined;
    if (textLength !== undefined && (!Number.isInteger(textLength) || textLength < 1)) {
      throw new UserError(`--text-length must be a positive integer, got ${textLength}`, 2);
    }
    const result = importHf(args.dir as string, args.out as string, {
      ...(textLength !== undefined ? { textLength } : {}),
      ...(args.name ? { modelName: args.name as string } : {}),
    });
    const { program } = result;
    process.stdout.write(
      `imported ${result.config.architecture} from ${args.dir}: ${result.steps.length} tensors → model ${program.model} ` +
        `(${program.params.length} parameters, ${result.values.toLocaleString("en-US")} values)\n` +
        `wrote ${[result.specFile, result.weightsFile, ...result.tokenizerFiles, ...(result.preprocessFile ? [result.preprocessFile] : [])].join(", ")}\n`,
    );
    for (const note of result.notes) process.stderr.write(`note: ${note}\n`);
    // A CLIP without its tokenizer runs with `vlmc run` (ids given), but predict --labels needs one.
    if (result.config.family === "clip" && result.tokenizerFiles.length === 0) {
      process.stderr.write(`note: ${args.dir} has no tokenizer.json; give 'vlmc predict' the model's tokenizer with --tokenizer\n`);
    }
    return 0;
  },
};
