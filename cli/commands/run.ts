// `vlmc run <spec> --weights FILE --inputs in.json -o out.json`: one forward pass on named input
// tensors, writing the named outputs. Inputs may use Hugging Face names and layouts
// (pixel_values NCHW, input_ids, attention_mask); see runtime/hf/adapters.ts.
import type { Argv } from "yargs";
import { compileFile } from "../../compiler/index.js";
import { formatDiagnostics } from "../../compiler/diagnostics.js";
import { BACKEND_CHOICES, type BackendRequest } from "../../runtime/backend.js";
import { prepareInputs } from "../../runtime/hf/adapters.js";
import { runOnce } from "../../runtime/hf/run.js";
import { readTensorJson, writeTensorJson } from "../../runtime/io/tensor-json.js";
import { CliExit } from "../errors.js";
import { startBackend } from "./train.js";
import type { VlmcCommand } from "./types.js";

export const runCommand: VlmcCommand = {
  command: "run <spec>",
  describe: "Run a model once on named input tensors (JSON) and write its named outputs",
  builder: (y: Argv) =>
    y
      .positional("spec", { type: "string", describe: "the .vlm spec (e.g. the model.vlm of `vlmc import hf`)", demandOption: true })
      .option("weights", { alias: "w", type: "string", demandOption: true, describe: "weights.safetensors in the spec's parameter names" })
      .option("inputs", { alias: "i", type: "string", demandOption: true, describe: 'input tensors: {"tensors": {name: {shape, dtype, data}}}' })
      .option("out", { alias: "o", type: "string", demandOption: true, describe: "where to write the output tensors (JSON)" })
      .option("model", { type: "string", describe: "which model of the spec (default: the first)" })
      .option("set", { type: "string", array: true, default: [], describe: "parameter overrides, name=value" })
      .option("backend", { type: "string", choices: BACKEND_CHOICES as string[], describe: "tfjs backend (default: auto, or $VLMC_BACKEND)" }),
  handler: async (args: Record<string, any>) => {
    const compiled = compileFile(args.spec as string, { ...(args.model ? { model: args.model as string } : {}), set: args.set as string[] });
    if (!compiled.program) throw new CliExit(1, formatDiagnostics(compiled.diagnostics, compiled.sources));
    const inputsFile = args.inputs as string;
    const inputs = readTensorJson(inputsFile);
    prepareInputs(compiled.program, inputs, inputsFile); // fails fast, before a backend starts, on a bad input
    const backend = await startBackend(args.backend as BackendRequest | undefined);
    process.stderr.write(`backend: ${backend.name} (${backend.reason})\n`);
    const outputs = await runOnce(compiled.program, args.weights as string, inputs, inputsFile);
    writeTensorJson(args.out as string, outputs, { model: compiled.program.model, spec: args.spec, backend: backend.name });
    const listed = [...outputs].map(([name, t]) => `${name} [${t.shape.join(", ")}]`).join(", ");
    process.stdout.write(`wrote ${args.out}: ${listed}\n`);
    return 0;
  },
};
