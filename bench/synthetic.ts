// Random inputs for a compiled model, derived from its IR alone: the bench measures the cost of a
// step, not learning, so any values of the right shape, dtype and range will do. Values are drawn
// in JavaScript from a seeded generator and then uploaded, so every backend sees the same batch.
import * as tf from "@tensorflow/tfjs-core";
import type { IRProgram } from "../compiler/ir.js";
import { createRng } from "../runtime/data/rng.js";

/** One batch for every model input: images in [0, 1), ids below their vocabulary or class count. */
export function syntheticInputs(program: IRProgram, batch: number, seed = 1): Record<string, tf.Tensor> {
  const rng = createRng(seed);
  const out: Record<string, tf.Tensor> = {};
  for (const input of program.inputs) {
    const shape = input.shape.map((d) => (typeof d === "number" ? d : batch));
    const size = shape.reduce((a, b) => a * b, 1);
    if (input.dtype === "int32") {
      const below = idRange(program, input.node);
      const data = new Int32Array(size);
      for (let i = 0; i < size; i++) data[i] = rng.int(below);
      out[input.name] = tf.tensor(data, shape, "int32");
    } else {
      const binary = isLossMask(program, input.node);
      const data = new Float32Array(size);
      for (let i = 0; i < size; i++) data[i] = binary ? (rng.next() < 0.5 ? 1 : 0) : rng.next();
      out[input.name] = tf.tensor(data, shape, "float32");
    }
  }
  return out;
}

/**
 * How many distinct ids an int input may hold, from the nodes that read it: an embedding's vocab,
 * or the class count (last logits dimension) of the loss that takes it as labels or targets.
 */
export function idRange(program: IRProgram, nodeId: string): number {
  const byId = new Map(program.nodes.map((n) => [n.id, n]));
  for (const node of program.nodes) {
    const at = node.inputs.indexOf(nodeId);
    if (at < 0) continue;
    if (node.op === "embedding") return Number(node.attrs["vocab"]);
    if ((node.op === "cross_entropy" || node.op === "lm_loss") && at === 1) {
      const logits = byId.get(node.inputs[0]!)!;
      const classes = logits.shape[logits.shape.length - 1];
      if (typeof classes === "number") return classes;
    }
  }
  throw new Error(`${program.model}: cannot tell the range of the int input node ${nodeId} from the IR`);
}

/** Whether a float input is the mask of an lm_loss (0/1 values). */
function isLossMask(program: IRProgram, nodeId: string): boolean {
  return program.nodes.some((n) => n.op === "lm_loss" && n.inputs[2] === nodeId);
}
