// GELU (forward and backward), Relu's gradient and the Adam update on the wasm backend as kernels
// of ours (elementwise.c), registered with tfjs like any kernel so the engine tracks their outputs.
// Each replaces a chain of tfjs kernels — GELU ~5 forward and ~12 backward with a scalar exp and
// erf, Relu's gradient 3 (runtime/ops/relu-grad.ts picks it), Adam ~13 per parameter — by one
// pass over the data. Callers ask the functions below, which
// return undefined where the kernels cannot run (another backend, SIMD kernels off or missing),
// and then keep their tfjs form.
import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap, Tensor, TensorInfo } from "@tensorflow/tfjs-core";
import { heapMemory, heapOffset, wasmSimdKernels, type WasmBackendHeap, type WasmSimdKernels } from "./index.js";
import { provideReluGrad, RELU_GRAD_KERNEL } from "../ops/relu-grad.js";

export const GELU_KERNEL = "VlmcGelu";
export const GELU_GRAD_KERNEL = "VlmcGeluGrad";
export const ADAM_KERNEL = "VlmcAdam";

function kernelsOf(backend: unknown, name: string): { be: WasmBackendHeap; simd: WasmSimdKernels } {
  const be = backend as WasmBackendHeap;
  const simd = wasmSimdKernels(be);
  if (!simd) throw new Error(`${name}: the SIMD kernels are not available`);
  return { be, simd };
}

/** The Adam step's scalars, as float32 values (what tfjs's scalar tensors would hold). */
export interface AdamScalars {
  beta1: number;
  beta2: number;
  /** sqrt(1 − beta2^t): v's bias correction, divided out of sqrt(v). */
  sqrtCorrection2: number;
  eps: number;
  /** lr / (1 − beta1^t). */
  stepSize: number;
  /** AdamW's decoupled decay multiplies the parameter by this first (1 − lr · weight decay); undefined: no decay. */
  keep?: number;
}

const size = (t: TensorInfo): number => tf.util.sizeFromShape(t.shape);

/**
 * Registers a one-output float32 kernel for wasm: `plan` names the input whose shape the output
 * takes and the call that fills the output (its byte offset given).
 */
function registerElementwise(
  kernelName: string,
  plan: (simd: WasmSimdKernels, be: WasmBackendHeap, inputs: Record<string, TensorInfo>) => [TensorInfo, (out: number) => void],
): void {
  tf.registerKernel({
    kernelName,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const { be, simd } = kernelsOf(backend, kernelName);
      const [like, run] = plan(simd, be, inputs as Record<string, TensorInfo>);
      const out = be.makeOutput([...like.shape], "float32");
      run(heapOffset(be, out));
      return out;
    },
  });
}

/** Registers VlmcGelu, VlmcGeluGrad, VlmcReluGrad and VlmcAdam for wasm. Idempotent. */
export function registerElementwiseKernels(): void {
  if (tf.getKernel(GELU_KERNEL, "wasm")) return;
  registerElementwise(GELU_KERNEL, (simd, be, { x }) => [x!, (out) => simd.gelu(heapOffset(be, x!), out, size(x!))]);
  // The gradients take x and dy, same shape; the output has x's shape.
  registerElementwise(GELU_GRAD_KERNEL, (simd, be, { x, dy }) => [x!, (out) => simd.geluGrad(heapOffset(be, x!), heapOffset(be, dy!), out, size(x!))]);
  registerElementwise(RELU_GRAD_KERNEL, (simd, be, { x, dy }) => [x!, (out) => simd.reluGrad(heapOffset(be, x!), heapOffset(be, dy!), out, size(x!))]);
  provideReluGrad("wasm", () => wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap) !== undefined);
  tf.registerKernel({
    kernelName: ADAM_KERNEL,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { be, simd } = kernelsOf(backend, ADAM_KERNEL);
      const { param, grad, m, v, ...perStep } = inputs as { param: TensorInfo; grad: TensorInfo; m: TensorInfo; v: TensorInfo } & Record<string, TensorInfo>;
      // beta1, beta2 and eps come as attributes; the per-step numbers (stepSize, sqrtCorrection2,
      // keep) as float32 scalar tensors, read here straight off the heap.
      const s = { ...(attrs as unknown as AdamScalars) };
      for (const [name, t] of Object.entries(perStep)) (s as unknown as Record<string, number>)[name] = new Float32Array(heapMemory(be).buffer, heapOffset(be, t), 1)[0]!;
      const outs = [be.makeOutput([...param.shape], "float32"), be.makeOutput([...param.shape], "float32"), be.makeOutput([...param.shape], "float32")];
      // 1 − beta is computed in double and rounded once, as tf.mul(g, 1 - beta1) does.
      simd.adamUpdate(heapOffset(be, param), heapOffset(be, grad), heapOffset(be, m), heapOffset(be, v),
        heapOffset(be, outs[0]!), heapOffset(be, outs[1]!), heapOffset(be, outs[2]!), tf.util.sizeFromShape(param.shape),
        s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.sqrtCorrection2, s.eps, s.stepSize, s.keep ?? 1, s.keep === undefined ? 0 : 1);
      return outs;
    },
  });
}

function available(...ts: Tensor[]): boolean {
  if (tf.getBackend() !== "wasm" || ts.some((t) => t.dtype !== "float32")) return false;
  if (!wasmSimdKernels(tf.backend() as unknown as WasmBackendHeap)) return false;
  registerElementwiseKernels();
  return true;
}

const geluCustom = tf.customGrad(((x: Tensor, save: (ts: Tensor[]) => void) => {
  save([x]);
  return {
    value: tf.engine().runKernel(GELU_KERNEL, { x }) as Tensor,
    gradFunc: (dy: Tensor, saved: Tensor[]) => tf.engine().runKernel(GELU_GRAD_KERNEL, { x: saved[0]!, dy }) as Tensor,
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: Tensor) => Tensor;

/** Exact GELU (erf form) and its gradient as our kernels; undefined where they cannot run. */
export function geluSimd(x: Tensor): Tensor | undefined {
  return available(x) ? geluCustom(x) : undefined;
}

/**
 * One parameter's Adam/AdamW step → [param, m, v], bit-identical to the tfjs form; undefined where
 * it cannot run. The per-step numbers come as float32 scalar tensors (what tfjs would make of the
 * numbers anyway), so that a step recorded and compiled (runtime/step-graph/) can feed them in.
 */
export function adamUpdateSimdScalars(
  param: Tensor, grad: Tensor, m: Tensor, v: Tensor,
  constants: Pick<AdamScalars, "beta1" | "beta2" | "eps">,
  perStep: { stepSize: Tensor; sqrtCorrection2: Tensor; keep?: Tensor },
): [Tensor, Tensor, Tensor] | undefined {
  const scalars = Object.values(perStep) as Tensor[];
  if (!available(param, grad, m, v, ...scalars) || scalars.some((t) => t.size !== 1)) return undefined;
  return tf.engine().runKernel(ADAM_KERNEL, { param, grad, m, v, ...perStep }, constants as unknown as NamedAttrMap) as unknown as [Tensor, Tensor, Tensor];
}
