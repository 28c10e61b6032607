// Kernels of native TensorFlow (tfjs-node 4.22.0) that need not run at all, answered in JavaScript.
//
// Every kernel call on native TensorFlow is an eager TensorFlow op, ~10–15 µs however small the
// work; a ViT training step makes ~1,400 of them. tfjs runs many that change nothing: Reshape to
// the shape a tensor already has (every broadcast gradient ends in one, and the optimizer reshapes
// 1-D parameters to 1-D) and Cast to the dtype it already has (the Mul and Div gradients cast their
// other operand). Here both return the input's data with one more reference, as tfjs-node's own
// Identity does; everything else goes to the stock kernel. Only the "tensorflow" backend is touched.
//
// And one gradient: tfjs differentiates Relu as dy · cast(step(x)), and tfjs-node builds Step out
// of five TensorFlow ops (Fill, Greater, Select, IsNan, Select) — seven kernels, 0.6 ms for a
// LeNet-5 first-layer activation. TensorFlow's own ReluGrad op is one kernel (dy where x > 0, else
// 0); on native TensorFlow the Relu gradient runs it (VlmcReluGrad, runtime/ops/relu-grad.ts). The
// one difference: where x is NaN it gives 0, tfjs's form NaN (as PyTorch's and TensorFlow's own
// gradients give 0, this was accepted; the wasm kernel keeps tfjs's NaN).
//
// And GatherV2 (embedding lookups, CLIP's and KOSMOS's token tables): tfjs-node's kernel reads the
// indices back to JavaScript to check their range before running TensorFlow's GatherV2 — a host
// read that waits for the step so far, and that keeps a step from becoming one graph
// (runtime/native-graph/). TensorFlow's CPU kernel checks the range itself and fails with
// "indices[i] = v is not in [0, n)", so the check here is only the shape one. On a GPU build
// (tfjs-node-gpu) TensorFlow's GPU kernel gives zeros for an index out of range instead, so there
// tfjs-node's own kernel stays.
//
// And ExpandDims: tfjs-node sends it without attributes. Eager TensorFlow infers T and Tdim from
// the inputs; a graph does not ("No attr named 'T' in NodeDef"), so here it carries both.
import * as tf from "@tensorflow/tfjs-core";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { castSkippingNoOps, shareInput, wrapKernel, type StockKernel } from "./kernel-wrap.js";
import { provideReluGrad, RELU_GRAD_KERNEL } from "./ops/relu-grad.js";

type Stock = StockKernel;

// The parts of tfjs-node's NodeJSKernelBackend used to run one TensorFlow op by name.
interface TensorFlowOpBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_INT: number; TF_FLOAT: number; TF_INT32: number; TF_BOOL: number; isUsingGpuDevice?: () => boolean };
  executeSingleOutput(name: string, opAttrs: { name: string; type: number; value: unknown }[], inputs: TensorInfo[]): TensorInfo;
}

export function reshapeSkippingNoOps(stock: Stock): Stock {
  return (args) => {
    const x = args.inputs["x"]!;
    const shape = (args.attrs as { shape: number[] }).shape;
    // A -1 in the requested shape is never equal to a real dimension, so it goes to the stock kernel.
    return tf.util.arraysEqual(x.shape, shape) ? shareInput(args, x) : stock(args);
  };
}

/** TF_DataType of a tfjs dtype, by the binding's constants. */
function tfType(be: TensorFlowOpBackend, dtype: string): number | undefined {
  return ({ float32: be.binding.TF_FLOAT, int32: be.binding.TF_INT32, bool: be.binding.TF_BOOL } as Record<string, number>)[dtype];
}

/** tfjs-node's GatherV2 without its host read of the indices (see the note at the top); the stock kernel on a GPU. */
export function gatherWithoutHostRead(stock: Stock): Stock {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const be = backend as unknown as TensorFlowOpBackend;
    if (be.binding.isUsingGpuDevice?.()) return stock(args);
    const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = attrs as { axis: number; batchDims: number };
    tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, axis, batchDims);
    const type = (dtype: string) => tfType(be, dtype);
    const axisTensor = tf.scalar(axis, "int32");
    try {
      return be.executeSingleOutput(
        "GatherV2",
        [
          { name: "batch_dims", type: be.binding.TF_ATTR_INT, value: batchDims },
          { name: "Tparams", type: be.binding.TF_ATTR_TYPE, value: type(x.dtype) },
          { name: "Tindices", type: be.binding.TF_ATTR_TYPE, value: type(indices.dtype) },
          { name: "Taxis", type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_INT32 },
        ],
        [x, indices, axisTensor],
      );
    } finally {
      axisTensor.dispose();
    }
  };
}

/** tfjs-node's ExpandDims with its type attributes (see the note at the top). */
export function expandDimsWithTypes(stock: Stock): Stock {
  return (args) => {
    const be = args.backend as unknown as TensorFlowOpBackend;
    const input = args.inputs["input"]!;
    const T = tfType(be, input.dtype);
    if (T === undefined) return stock(args);
    const dim = tf.scalar((args.attrs as { dim: number }).dim, "int32");
    try {
      return be.executeSingleOutput(
        "ExpandDims",
        [
          { name: "T", type: be.binding.TF_ATTR_TYPE, value: T },
          { name: "Tdim", type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_INT32 },
        ],
        [input, dim],
      );
    } finally {
      dim.dispose();
    }
  };
}

function registerReluGrad(): void {
  if (!tf.getKernel(RELU_GRAD_KERNEL, "tensorflow")) {
    tf.registerKernel({
      kernelName: RELU_GRAD_KERNEL,
      backendName: "tensorflow",
      kernelFunc: ({ inputs, backend }) => {
        const be = backend as unknown as TensorFlowOpBackend;
        const { dy, x } = inputs as { dy: TensorInfo; x: TensorInfo };
        return be.executeSingleOutput("ReluGrad", [{ name: "T", type: be.binding.TF_ATTR_TYPE, value: be.binding.TF_FLOAT }], [dy, x]);
      },
    });
  }
  provideReluGrad("tensorflow", () => true);
}

/** Registers the no-op-skipping Reshape and Cast, GatherV2 without a host read, ExpandDims with its types and the one-op Relu gradient on native TensorFlow. Idempotent. */
export function registerNativeKernels(): void {
  wrapKernel("Reshape", "tensorflow", reshapeSkippingNoOps);
  wrapKernel("Cast", "tensorflow", castSkippingNoOps);
  wrapKernel("GatherV2", "tensorflow", gatherWithoutHostRead);
  wrapKernel("ExpandDims", "tensorflow", expandDimsWithTypes);
  registerReluGrad();
}
