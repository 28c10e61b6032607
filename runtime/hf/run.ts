// One forward pass of a compiled spec on named tensors: what `vlmc run` does. Inputs may use the
// Hugging Face names and layouts (adapters.ts); outputs come back under the spec's output names,
// which the HF family specs make the HF ones.
import * as tf from "@tensorflow/tfjs-core";
import type { IRProgram } from "../../compiler/ir.js";
import { loadWeightsInto } from "../io/checkpoint.js";
import type { JsonTensor } from "../io/tensor-json.js";
import { loadModel, type LoadModelOptions } from "../model.js";
import { cropOutput, prepareInputs, type HostTensor } from "./adapters.js";

export interface RunOptions {
  cacheDir?: string;
}

/**
 * Loads `weightsFile` into the model of `program` and runs it once on `inputs` (read from
 * `inputsFile`, named in errors). Runs on whichever tfjs backend is active.
 */
export async function runOnce(
  program: IRProgram,
  weightsFile: string,
  inputs: ReadonlyMap<string, JsonTensor>,
  inputsFile: string,
  options: RunOptions = {},
): Promise<Map<string, JsonTensor>> {
  const prepared = prepareInputs(program, inputs, inputsFile);
  const weights = loadWeightsInto(program.params, weightsFile);
  const loadOptions: LoadModelOptions = options.cacheDir ? { cacheDir: options.cacheDir } : {};
  const model = await loadModel(program, loadOptions);
  try {
    model.setParams(weights);
    // tidy frees the feeds and intermediates; the outputs it returns are freed below.
    const outputs = tf.tidy(() => {
      const feeds: Record<string, tf.Tensor> = {};
      for (const [name, t] of prepared.tensors) feeds[name] = tf.tensor(t.data, t.shape, t.dtype);
      return model.forward(feeds, { loss: false }).outputs;
    });
    const result = new Map<string, JsonTensor>();
    try {
      for (const ref of program.outputs) {
        const tensor = outputs[ref.name];
        if (!tensor) continue;
        const dtype = tensor.dtype === "int32" ? "int32" : "float32";
        const values = tensor.dataSync();
        const data = dtype === "int32" ? Int32Array.from(values) : Float32Array.from(values);
        const host: HostTensor = cropOutput(ref, { shape: [...tensor.shape], dtype, data }, prepared.textCrop);
        result.set(ref.name, host as JsonTensor);
      }
    } finally {
      for (const tensor of Object.values(outputs)) tensor.dispose();
    }
    return result;
  } finally {
    model.dispose();
  }
}
