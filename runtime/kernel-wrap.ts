// Replacing a registered tfjs kernel by a wrapper around it: how vlmc's faster kernels
// (wasm-kernels.ts, native-kernels.ts, wasm-simd/) take over a backend's kernel while keeping the
// stock one for every case they pass on.
import * as tf from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";

/** A kernel function as the engine calls it (single-output kernels). */
export type StockKernel = (args: { inputs: Record<string, TensorInfo>; backend: unknown; attrs?: Record<string, unknown> }) => TensorInfo;

const WRAPPED = Symbol.for("vlmc.kernelWrapper");

/**
 * Registers make(stock) in place of `backendName`'s kernel `kernelName`. Idempotent, also across
 * module reloads: a wrapper is marked and never wrapped again. Returns false when the backend has
 * no such kernel (it is not loaded).
 */
export function wrapKernel(kernelName: string, backendName: string, make: (stock: StockKernel) => StockKernel): boolean {
  const config = tf.getKernel(kernelName, backendName) as KernelConfig | undefined;
  if (!config) return false;
  if ((config.kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED]) return true;
  const kernelFunc = make(config.kernelFunc as unknown as StockKernel) as unknown as KernelFunc;
  (kernelFunc as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  tf.unregisterKernel(kernelName, backendName);
  tf.registerKernel({ ...config, kernelFunc });
  return true;
}

interface RefCountingBackend {
  incRef(dataId: object): void;
}

/**
 * The output of a kernel that would only copy its input x: x's data itself, with one more
 * reference (as wasm's Reshape and tfjs-node's Identity do). tfjs never writes into a tensor's data
 * after it is made (a variable's assign swaps in new data), so sharing is safe.
 */
export function shareInput(args: Parameters<StockKernel>[0], x: TensorInfo): TensorInfo {
  (args.backend as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/**
 * Cast that shares the data when the dtype does not change (the Mul and Div gradients cast their
 * other operand to the dtype it has; a ReLU gradient casts its float mask); the stock kernel
 * otherwise, or whenever `active()` says no.
 */
export function castSkippingNoOps(stock: StockKernel, active: () => boolean = () => true): StockKernel {
  return (args) => {
    const x = args.inputs["x"]!;
    return active() && (args.attrs as { dtype: string }).dtype === x.dtype ? shareInput(args, x) : stock(args);
  };
}
