// Relu's gradient as one kernel where a backend has one. tfjs differentiates Relu as
// dy · cast(step(x)): three kernels, each a pass over the activation (on native TensorFlow Step
// alone is five TensorFlow ops). A backend that registers VlmcReluGrad (dy where x > 0, else 0:
// native TensorFlow's ReluGrad op, runtime/native-kernels.ts, which gives 0 where x is NaN; a SIMD
// kernel on wasm, runtime/wasm-simd/elementwise.ts, bit-identical to tfjs's form, NaN included)
// and says it can run it now gets that one kernel instead; every other backend keeps tfjs's
// gradient. tfjs has one gradient registry for all backends, so the choice is made when the
// gradient runs.
import * as tf from "@tensorflow/tfjs-core";

export const RELU_GRAD_KERNEL = "VlmcReluGrad";

const WRAPPED = Symbol.for("vlmc.reluGradWrapper");
const runnable = new Map<string, () => boolean>();

/** Declares that `backend` has VlmcReluGrad registered, runnable whenever `canRun()` says so. Idempotent. */
export function provideReluGrad(backend: string, canRun: () => boolean): void {
  runnable.set(backend, canRun);
  const stock = tf.getGradient("Relu");
  if (!stock || (stock.gradFunc as unknown as Record<symbol, boolean>)[WRAPPED]) return;
  const gradFunc: typeof stock.gradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    const ours = !Array.isArray(dy) && x!.dtype === "float32" && dy.dtype === "float32" && (runnable.get(tf.getBackend())?.() ?? false);
    if (!ours) return stock.gradFunc(dy, saved, attrs);
    return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: x! }) as tf.Tensor };
  };
  (gradFunc as unknown as Record<symbol, boolean>)[WRAPPED] = true;
  tf.unregisterGradient("Relu");
  tf.registerGradient({ ...stock, gradFunc });
}
