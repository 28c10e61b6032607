// Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): when the norm over all
// gradients exceeds `maxNorm`, every gradient is scaled by maxNorm / (norm + 1e-6). Computed on the
// device, with no host read, so it costs nothing in the step loop beyond a few small ops.
import * as tf from "@tensorflow/tfjs-core";

/** Clipped gradients and the global norm before clipping. Call inside tf.tidy. */
export function clipByGlobalNorm(
  grads: ReadonlyMap<string, tf.Tensor>,
  maxNorm: number,
): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const squares = [...grads.values()].map((g) => tf.sum(tf.mul(g, g)));
  const norm = tf.sqrt(tf.addN(squares)) as tf.Scalar;
  const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, 1e-6)));
  const clipped = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) clipped.set(name, tf.mul(g, scale));
  return { grads: clipped, norm };
}
