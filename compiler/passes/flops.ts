// Forward FLOPs per example (batch 1) of one IR node. Conventions (docs/ir.md):
// a multiply-add counts 2; an elementwise op or activation 1 per output element; softmax 3 per
// element (exp, sum, divide); layer_norm 5 per element; l2_normalize 3 per element; pooling one
// per window element; losses 3 per logit; pure data movement (reshape, concat, patchify, slicing,
// embedding lookup, learned tokens) 0. Symbolic dimensions (the batch) count as 1.
import type { IRNode, Shape } from "../ir.js";
import { batchFactor, elementsPerExample } from "../elaborate/shapes.js";

const dimOf = (d: number | string | undefined): number => (typeof d === "number" ? d : 1);

export function nodeFlops(node: IRNode, inputShape: (index: number) => Shape): number {
  const out = elementsPerExample(node.shape);
  const a = node.attrs;
  switch (node.op) {
    case "input":
    case "const":
    case "scalar":
    case "flatten":
    case "reshape":
    case "transpose":
    case "patchify":
    case "concat":
    case "slice_tokens":
    case "select_token":
    case "pool_eot":
    case "embedding":
    case "class_token":
    case "learned_tokens":
    case "place_tokens":
    case "pixel_shuffle":
    case "merge_tiles":
    case "token_mask":
      return 0;
    case "tile_image":
      // Tiles are data movement; the thumbnail is one area average over the whole image.
      return (a.tiles as number) > 1 ? elementsPerExample(inputShape(0)) : 0;
    case "sincos_2d_positions":
      return out;
    case "attend": {
      const q = inputShape(0);
      const rows = typeof q[0] === "string" ? batchFactor(q[0]) : 1;
      const n = dimOf(q[1]);
      const d = dimOf(q[2]);
      const m = dimOf(inputShape(1)[1]);
      return rows * (2 * n * m * d + 3 * (a.heads as number) * n * m + 2 * n * m * d);
    }
    case "partial_lora": {
      const x = inputShape(0);
      const rows = elementsPerExample(x.slice(0, -1));
      const rank = a.rank as number;
      return 2 * rows * dimOf(x[2]) * rank + 2 * rows * rank * (a.units as number) + 2 * out;
    }
    case "add":
    case "sub":
    case "mul":
    case "div":
    case "neg":
    case "exp":
    case "relu":
    case "gelu":
    case "gelu_tanh":
    case "quick_gelu":
    case "silu":
    case "tanh":
    case "sigmoid":
    case "position_embedding":
    case "sinusoidal_positions":
      return out;
    case "softmax":
      return 3 * out;
    case "layer_norm":
      return 5 * out;
    case "l2_normalize":
      return 3 * out;
    case "mean_tokens":
      return elementsPerExample(inputShape(0));
    case "dense": {
      const x = inputShape(0);
      const inDim = dimOf(x[x.length - 1]);
      return 2 * inDim * out + (a.bias ? out : 0);
    }
    case "conv2d": {
      const k = a.kernel as number;
      const cin = dimOf(inputShape(0)[3]);
      return 2 * k * k * cin * out + (a.bias ? out : 0);
    }
    case "max_pool":
    case "avg_pool": {
      const s = a.size as number;
      return s * s * out;
    }
    case "attention": {
      const x = inputShape(0);
      const n = dimOf(x[1]);
      const d = dimOf(x[2]);
      const hasContext = node.inputs.length > 1 && inputShape(1).length === 3;
      const ctx = hasContext ? inputShape(1) : x;
      const m = dimOf(ctx[1]);
      const dk = dimOf(ctx[2]);
      const heads = a.heads as number;
      const bias = a.bias ? 1 : 0;
      const rows = typeof x[0] === "string" ? batchFactor(x[0]) : 1; // T tiles per example

      const projections = 2 * n * d * d * 2 + 2 * m * dk * d * 2; // q and o over queries, k and v over keys
      const biases = (bias * 3 + 1) * n * d; // q/k/v biases when present (k, v counted per query row), o bias always
      const scores = 2 * n * m * d; // q·kᵀ over all heads
      const softmax = 3 * heads * n * m;
      const weighted = 2 * n * m * d; // softmax(…)·v
      return rows * (projections + biases + scores + softmax + weighted);
    }
    case "matmul": {
      const aShape = inputShape(0);
      const k = dimOf(aShape[aShape.length - 1]);
      return 2 * k * out;
    }
    case "cross_entropy":
    case "contrastive_loss":
    case "lm_loss":
      return 3 * elementsPerExample(inputShape(0));
  }
}
