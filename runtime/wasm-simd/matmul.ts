// wasm's BatchMatMul on our SIMD GEMM (matmul.c), registered over the stock kernel.
//
// tfjs-backend-wasm 4.22.0 runs a product on XNNPACK only for batch 1 without transpose flags
// (25–39 GFLOP/s on our shapes, and XNNPACK repacks the right operand as "weights" for every new
// tensor); any transpose flag or batch is a scalar loop at 1–2 GFLOP/s. So the models worked
// around it: matmul gradients materialised transposes, attention ran as depthwise convolutions.
// Our kernel takes the flags in its packing and a whole batch in one call, and runs every float32
// product whose batch dims are equal or one side's are all 1; anything else (integer inputs, other
// broadcasts, empty products) goes to the stock kernel. Measurements: docs/performance.md.
import * as tf from "@tensorflow/tfjs-core";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { heapMemory, heapOffset, wasmSimdKernels, withScratch, type WasmBackendHeap } from "./index.js";
import { wrapKernel, type StockKernel } from "../kernel-wrap.js";
import { batchMatmulThreaded } from "./threads.js";

let enabled = process.env["VLMC_WASM_GEMM"] !== "0";
/** Turns our GEMM off (the stock BatchMatMul runs) or on; for A/B measurements and tests. */
export function setWasmGemmEnabled(on: boolean): void {
  enabled = on;
}

// Set once our kernel is registered. A flag rather than a look at the registry: bench/profile.ts
// wraps every registered kernel function in a timer, hiding our mark.
let registered = false;

/**
 * True when BatchMatMul on the active backend runs our GEMM, so transpose flags and batches are
 * cheap there: the wasm backend, our kernel registered and on, the SIMD kernels loaded.
 */
export function wasmGemmActive(): boolean {
  if (!enabled || !registered || tf.getBackend() !== "wasm") return false;
  return wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap) !== undefined;
}

type Stock = StockKernel;

function batchMatMulFast(stock: Stock): Stock {
  return (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!enabled || a.dtype !== "float32" || b.dtype !== "float32") return stock(args);
    const be = args.backend as WasmBackendHeap;
    const simd = wasmSimdKernels(be);
    if (!simd) return stock(args);
    const ra = a.shape.length, rb = b.shape.length;
    const m = a.shape[transposeA ? ra - 1 : ra - 2]!, k = a.shape[transposeA ? ra - 2 : ra - 1]!;
    const n = b.shape[transposeB ? rb - 2 : rb - 1]!;
    if (k !== b.shape[transposeB ? rb - 1 : rb - 2]) return stock(args); // the stock kernel reports the mismatch
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = tf.util.sizeFromShape(outer);
    const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2)), batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return stock(args);
    if (m * n * k === 0) return stock(args);
    // A batch of untransposed A against one B is one taller product: B is packed once.
    const fold = batchB === 1 && batchA === batch && !transposeA;
    const [products, rows] = fold ? [1, batch * m] : [batch, m];
    return withScratch(be, simd.matmulScratchBytes(rows, n, k), "BatchMatMul", (scratch) => {
      const out = be.makeOutput([...outer, m, n], "float32");
      const [pa, pb, pc] = [heapOffset(be, a), heapOffset(be, b), heapOffset(be, out)];
      // Large products are split with a worker thread unless VLMC_WASM_THREADS=0 (threads.ts).
      if (!batchMatmulThreaded(simd, heapMemory(be), pa, pb, pc, scratch, products,
        fold ? 1 : batchA, batchB, rows, n, k, transposeA, transposeB)) {
        simd.batchMatmul(pa, pb, pc, scratch, products, fold ? 1 : batchA, batchB, rows, n, k, transposeA ? 1 : 0, transposeB ? 1 : 0);
      }
      return out;
    });
  };
}

/** Registers our BatchMatMul over the wasm backend's, keeping the stock one as fallback. Idempotent. */
export function registerWasmGemm(): void {
  if (wrapKernel("BatchMatMul", "wasm", batchMatMulFast)) registered = true;
}
