// Conv2D's filter gradient on the wasm backend as one kernel of ours (kernels.c: a packed,
// register-tiled SIMD GEMM), registered with tfjs as VlmcConv2DFilterGrad so the engine tracks its
// output like any kernel's. It replaces a forward XNNPACK convolution with batch as channels,
// which repacks the large per-step dy as its "filter" on every call (measurements:
// docs/performance.md).
import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap, Tensor, TensorInfo } from "@tensorflow/tfjs-core";
import { heapMemory, heapOffset, wasmSimdKernels, withScratch, type WasmBackendHeap } from "./index.js";
import { conv2dFilterGradThreaded } from "./threads.js";

export const CONV2D_FILTER_GRAD_KERNEL = "VlmcConv2DFilterGrad";

interface FilterGradAttrs {
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** Registers VlmcConv2DFilterGrad for wasm. Idempotent. */
export function registerConv2DFilterGradKernel(): void {
  if (tf.getKernel(CONV2D_FILTER_GRAD_KERNEL, "wasm")) return;
  tf.registerKernel({
    kernelName: CONV2D_FILTER_GRAD_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WasmBackendHeap;
      const simd = wasmSimdKernels(be);
      if (!simd) throw new Error(`${CONV2D_FILTER_GRAD_KERNEL}: the SIMD kernels are not available`);
      const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
      const a = attrs as unknown as FilterGradAttrs;
      const [n, h, w, ci] = x.shape as [number, number, number, number];
      const [, ho, wo, co] = dy.shape as [number, number, number, number];
      const bytes = simd.conv2dFilterGradScratchBytes(a.filterHeight, a.filterWidth, ci, co);
      return withScratch(be, bytes, CONV2D_FILTER_GRAD_KERNEL, (scratch) => {
        const out = be.makeOutput([a.filterHeight, a.filterWidth, ci, co], "float32");
        const grad = [heapOffset(be, x), heapOffset(be, dy), heapOffset(be, out), scratch, n, h, w, ci, ho, wo, co,
          a.filterHeight, a.filterWidth, a.strideHeight, a.strideWidth, a.padTop, a.padLeft] as const;
        // Large gradients of several images are split by batch with a worker thread unless VLMC_WASM_THREADS=0 (threads.ts).
        if (!conv2dFilterGradThreaded(simd, heapMemory(be), ...grad)) simd.conv2dFilterGrad(...grad);
        return out;
      });
    },
  });
}

/**
 * dW [kh, kw, ci, co] of an NHWC, HWIO, undilated Conv2D with input x, output gradient dy, the
 * given strides and explicit top/left padding (bottom/right follow from the shapes); undefined
 * when the kernel cannot run (not the wasm backend, not float32, SIMD kernels off or unavailable).
 */
export function conv2dFilterGradSimd(x: Tensor, dy: Tensor, filterSize: [number, number], strides: [number, number], padTop: number, padLeft: number): Tensor | undefined {
  if (tf.getBackend() !== "wasm" || x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  if (!wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap)) return undefined;
  registerConv2DFilterGradKernel();
  const attrs: FilterGradAttrs = {
    filterHeight: filterSize[0], filterWidth: filterSize[1], strideHeight: strides[0], strideWidth: strides[1], padTop, padLeft,
  };
  return tf.engine().runKernel(CONV2D_FILTER_GRAD_KERNEL, { x, dy }, attrs as unknown as NamedAttrMap) as Tensor;
}
