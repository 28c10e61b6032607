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
