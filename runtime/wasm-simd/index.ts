// vlmc's SIMD WebAssembly kernels (kernels.c, elementwise.c, matmul.c, conv2d.c → kernels.wasm,
// built by scripts/build-wasm-kernels.mjs), run on tfjs-backend-wasm's own memory: the module
// imports the backend's WebAssembly.Memory and takes tensors as byte offsets into it, so no data is
// copied in or out.
//
// The binary is found from the vlmc root (the same file serves the sources under vitest and the
// build in dist/), compiled once and instantiated once per tfjs Memory. Anything that fails (no
// wasm SIMD in this engine, the file missing, a backend that does not expose its memory) makes
// `wasmSimdKernels` return undefined, and callers keep their previous path. VLMC_WASM_SIMD=0 turns
// the kernels off, for A/B measurements.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { vlmcRoot } from "../native/location.js";

/** The kernels' exports. Pointers are byte offsets into tfjs's memory; shapes are NHWC / HWIO. */
export interface WasmSimdKernels {
  /** Scratch bytes conv2dFilterGrad needs for a [kh, kw, ci, co] filter. */
  conv2dFilterGradScratchBytes(kh: number, kw: number, ci: number, co: number): number;
  /** dw [kh, kw, ci, co] = the Conv2D filter gradient of x [n, h, w, ci] and dy [n, ho, wo, co]. */
  conv2dFilterGrad(x: number, dy: number, dw: number, scratch: number, n: number, h: number, w: number, ci: number,
    ho: number, wo: number, co: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
  /** dx [n, h, w, c] = MaxPool's gradient: each dy to the first maximum of its window. */
  maxPoolGrad(x: number, dy: number, dx: number, n: number, h: number, w: number, c: number, ho: number, wo: number,
    kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
  /** y [n] = exact GELU of x (tfjs's erf formula). */
  gelu(x: number, y: number, n: number): void;
  /** dx [n] = dy · GELU'(x). */
  geluGrad(x: number, dy: number, dx: number, n: number): void;
  /** dx [n] = dy · step(x) (Relu's gradient, tfjs's NaN rule). */
  reluGrad(x: number, dy: number, dx: number, n: number): void;
  /** One Adam/AdamW step of n values into new p, m, v (elementwise.c has the formula). */
  adamUpdate(p: number, g: number, m: number, v: number, pOut: number, mOut: number, vOut: number, n: number,
    beta1: number, oneMinusBeta1: number, beta2: number, oneMinusBeta2: number, sqrtCorrection2: number, eps: number,
    stepSize: number, keep: number, decay: number): void;
  /** Scratch bytes batchMatmul needs for one [m, k] · [k, n] product. */
  matmulScratchBytes(m: number, n: number, k: number): number;
  /** c [batch, m, n] = op(a) · op(b) per batch index; a batch-1 operand serves every product (matmul.c). */
  batchMatmul(a: number, b: number, c: number, scratch: number, batch: number, batchA: number, batchB: number,
    m: number, n: number, k: number, transA: number, transB: number): void;
  /** Scratch bytes conv2d needs for a [kh, kw, ci, co] filter. */
  conv2dScratchBytes(kh: number, kw: number, ci: number, co: number): number;
  /** y [n, ho, wo, co] = the undilated Conv2D of x [n, h, w, ci] with filter [kh, kw, ci, co] (conv2d.c). */
  conv2d(x: number, filter: number, y: number, scratch: number, n: number, h: number, w: number, ci: number,
    ho: number, wo: number, co: number, kh: number, kw: number, sh: number, sw: number, padTop: number, padLeft: number): void;
}

/** The parts of tfjs-backend-wasm's BackendWasm (4.22.0) the kernels need. */
export interface WasmBackendHeap {
  wasm: { asm?: { memory?: unknown }; _malloc(bytes: number): number; _free(ptr: number): void };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
}

let enabled = process.env["VLMC_WASM_SIMD"] !== "0";
/** Turns the SIMD kernels off (callers take their previous path) or on; for A/B runs and tests. */
export function setWasmSimdEnabled(on: boolean): void {
  enabled = on;
}

export const KERNELS_WASM = join(vlmcRoot(), "runtime", "wasm-simd", "kernels.wasm");

let compiled: WebAssembly.Module | null | undefined; // null: tried and failed
const instances = new WeakMap<WebAssembly.Memory, WasmSimdKernels | null>();

function compile(): WebAssembly.Module | null {
  try {
    return new WebAssembly.Module(readFileSync(KERNELS_WASM));
  } catch {
    return null; // no SIMD support, or the binary is missing
  }
}

function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): WasmSimdKernels | null {
  try {
    const e = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
    return {
      conv2dFilterGradScratchBytes: e["conv2d_filter_grad_scratch_bytes"]!,
      conv2dFilterGrad: e["conv2d_filter_grad"]!,
      maxPoolGrad: e["max_pool_grad"]!,
      gelu: e["gelu"]!,
      geluGrad: e["gelu_grad"]!,
      reluGrad: e["relu_grad"]!,
      adamUpdate: e["adam_update"]!,
      matmulScratchBytes: e["matmul_scratch_bytes"]!,
      batchMatmul: e["batch_matmul"]!,
      conv2dScratchBytes: e["conv2d_scratch_bytes"]!,
      conv2d: e["conv2d"]!,
    };
  } catch {
    return null;
  }
}

/** The kernels on `backend`'s memory, or undefined when they are off or cannot run there. */
export function wasmSimdKernels(backend: WasmBackendHeap): WasmSimdKernels | undefined {
  if (!enabled) return undefined;
  const memory = backend.wasm?.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  compiled ??= compile();
  if (!compiled) return undefined;
  let kernels = instances.get(memory);
  if (kernels === undefined) {
    kernels = instantiate(compiled, memory);
    instances.set(memory, kernels);
  }
  return kernels ?? undefined;
}

/** tfjs's own WebAssembly.Memory (the one the kernels run on; wasmSimdKernels checked it is there). */
export function heapMemory(backend: WasmBackendHeap): WebAssembly.Memory {
  return backend.wasm.asm!.memory as WebAssembly.Memory;
}

/**
 * fn(scratch) with `bytes` of scratch malloc'd on the wasm heap and freed afterwards. Callers make
 * their output inside fn, after the scratch, so that a failed allocation leaves nothing behind.
 * 0 is malloc's failure, and address 0 holds tfjs's own data: that is an error, never a pointer.
 */
export function withScratch<T>(backend: WasmBackendHeap, bytes: number, what: string, fn: (scratch: number) => T): T {
  const scratch = backend.wasm._malloc(bytes);
  if (scratch === 0) throw new Error(`${what}: out of wasm memory`);
  try {
    return fn(scratch);
  } finally {
    backend.wasm._free(scratch);
  }
}

/** The byte offset of a tensor's data in the backend's memory. */
export function heapOffset(backend: WasmBackendHeap, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error("wasm-simd: tensor data not on the wasm heap");
  return data.memoryOffset;
}
