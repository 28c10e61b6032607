// wasm's forward Conv2D on our implicit GEMM (conv2d.c), registered over the stock kernel.
//
// tfjs-backend-wasm 4.22.0 runs Conv2D on XNNPACK at 38–45 GFLOP/s on our shapes; our kernel,
// the register tile of the filter gradient and BatchMatMul, runs faster where it is used (see
// `oursIsFaster`). The conv input gradient on wasm is itself a forward Conv2D (conv2dGradLowered
// in runtime/ops/wasm-gradients.ts), so it takes this path too. Measurements: docs/performance.md.
import * as tf from "@tensorflow/tfjs-core";
import type { Conv2DAttrs, TensorInfo } from "@tensorflow/tfjs-core";
import { heapMemory, heapOffset, wasmSimdKernels, withScratch, type WasmBackendHeap } from "./index.js";
import { wrapKernel, type StockKernel } from "../kernel-wrap.js";
import { conv2dThreaded } from "./threads.js";

let enabled = process.env["VLMC_WASM_CONV"] !== "0";
/** Turns our Conv2D off (the stock XNNPACK kernel runs) or on; for A/B measurements and tests. */
export function setWasmConvEnabled(on: boolean): void {
  enabled = on;
}

// Tests set this to run ours on every shape it covers, whichever is faster.
let everyShape = false;
/** Runs our kernel on every float32 NHWC undilated conv, not only where it is faster; for tests. */
export function setWasmConvEveryShape(on: boolean): void {
  everyShape = on;
}

/**
 * Where ours beats XNNPACK (min of 7 interleaved rounds a shape, docs/performance.md): with at
 * least 8 input and 16 output channels and K·co = kh·kw·ci·co ≥ 2048 multiply-adds a pixel, ×0.75–0.9
 * of XNNPACK's time. Below that, packing each pixel's im2col row costs more than its products
 * save: CLIP's 3-channel first layer ×1.14, LeNet-5's layers ×1.04–1.8, 1×1 convs of 32 → 32 ×1.1.
 */
function oursIsFaster(info: tf.backend_util.Conv2DInfo): boolean {
  if (everyShape) return true;
  const k = info.filterHeight * info.filterWidth * info.inChannels;
  return info.inChannels >= 8 && info.outChannels >= 16 && k * info.outChannels >= 2048;
}

type Stock = StockKernel;

function conv2dFast(stock: Stock): Stock {
  return (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    if (!enabled || x.dtype !== "float32" || filter.dtype !== "float32") return stock(args);
    const a = args.attrs as unknown as Conv2DAttrs;
    if ((a.dataFormat ?? "NHWC") !== "NHWC") return stock(args);
    const be = args.backend as WasmBackendHeap;
    const simd = wasmSimdKernels(be);
    if (!simd) return stock(args);
    const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number], a.strides, a.dilations, a.pad, a.dimRoundingMode);
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return stock(args);
    if (tf.util.sizeFromShape(info.outShape) === 0 || info.inChannels === 0) return stock(args);
    // tf.conv2d checks this; a direct runKernel need not, and the kernel would read past the filter.
    if (filter.shape[2] !== x.shape[3]) return stock(args);
    if (!oursIsFaster(info)) return stock(args);
    const bytes = simd.conv2dScratchBytes(info.filterHeight, info.filterWidth, info.inChannels, info.outChannels);
    return withScratch(be, bytes, "Conv2D", (scratch) => {
      const out = be.makeOutput(info.outShape, "float32");
      const conv = [heapOffset(be, x), heapOffset(be, filter), heapOffset(be, out), scratch, info.batchSize, info.inHeight,
        info.inWidth, info.inChannels, info.outHeight, info.outWidth, info.outChannels, info.filterHeight, info.filterWidth,
        info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left] as const;
      // Large convs of several images are split by batch with a worker thread unless VLMC_WASM_THREADS=0 (threads.ts).
      if (!conv2dThreaded(simd, heapMemory(be), ...conv)) simd.conv2d(...conv);
      return out;
    });
  };
}

/** Registers our Conv2D over the wasm backend's, keeping the stock one as fallback. Idempotent. */
export function registerWasmConv(): void {
  wrapKernel("Conv2D", "wasm", conv2dFast);
}
