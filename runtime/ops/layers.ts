// The ops that own parameters: dense, conv2d, layer norm, embedding, and learned tokens/positions.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";

/**
 * y = x · kernel + bias over the last axis. Any leading axes are folded into one, so the product is
 * a single 2-D matmul: one call however many leading axes (and on stock tfjs wasm the only form on
 * XNNPACK; vlmc's own GEMM, runtime/wasm-simd/matmul.ts, runs batched products fast too).
 */
export function dense(x: Tensor, kernel: Tensor, bias?: Tensor): Tensor {
  return tf.tidy(() => {
    const inDim = x.shape[x.rank - 1]!;
    const units = kernel.shape[1]!;
    const rows = x.size / inDim;
    let y: Tensor = tf.matMul(tf.reshape(x, [rows, inDim]), kernel);
    if (bias) y = tf.add(y, bias);
    return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), units]);
  });
}

/** NHWC input, HWIO kernel. */
export function conv2d(
  x: Tensor, kernel: Tensor, bias: Tensor | undefined, o: { stride: number; padding: "valid" | "same" },
): Tensor {
  return tf.tidy(() => {
    const y = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, o.stride, o.padding);
    return bias ? tf.add(y, bias) : y;
  });
}

/**
 * (x - mean) / sqrt(var + eps) · gamma + beta over the last axis, biased variance (PyTorch). Written
 * with sqrt and div, not rsqrt: rsqrt's stock gradient goes through a slow pow on wasm.
 *
 * The backward pass is the closed form (x̂ = normalised x, g = dy · gamma, σ⁻¹ = 1 / sqrt(var + eps)):
 *   dx = σ⁻¹ · (g − mean(g) − x̂ · mean(g · x̂)),  dgamma = Σ dy · x̂,  dbeta = Σ dy
 * 11 kernels, where tfjs's autodiff of the forward ops ran ~30 (broadcast divides, negations, casts,
 * reshapes) and saved ~12 tensors: kernel calls are what a small model's step pays for on both
 * backends (~10–15 µs each on native TensorFlow).
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: { eps: number }): Tensor {
  return layerNormWithEps(o.eps)(x, gamma, beta);
}

type LayerNormFn = (x: Tensor, gamma: Tensor, beta: Tensor) => Tensor;
const layerNormByEps = new Map<number, LayerNormFn>();

/** tf.customGrad takes tensors only, so eps is bound in one function per value (models use one or two). */
function layerNormWithEps(eps: number): LayerNormFn {
  let fn = layerNormByEps.get(eps);
  if (fn) return fn;
  fn = tf.customGrad(((x: Tensor, gamma: Tensor, beta: Tensor, save: (ts: Tensor[]) => void) => {
    const centered = tf.sub(x, tf.mean(x, -1, true));
    const invStd = tf.div(1, tf.sqrt(tf.add(tf.mean(tf.mul(centered, centered), -1, true), eps)));
    const normed = tf.mul(centered, invStd);
    save([normed, invStd, gamma]);
    return {
      value: tf.add(tf.mul(normed, gamma), beta),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [xHat, inv, g0] = saved as [Tensor, Tensor, Tensor];
        const leading = Array.from({ length: dy.rank - 1 }, (_, i) => i);
        const g = tf.mul(dy, g0);
        const dx = tf.mul(tf.sub(tf.sub(g, tf.mean(g, -1, true)), tf.mul(xHat, tf.mean(tf.mul(g, xHat), -1, true))), inv);
        return [dx, tf.sum(tf.mul(dy, xHat), leading), tf.sum(dy, leading)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as LayerNormFn;
  layerNormByEps.set(eps, fn);
  return fn;
}

/** int ids [...] → [..., dim]: rows of `table` [vocab, dim]. Its gradient is lowered for wasm (scatterND). */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  return tf.gather(table, tf.cast(ids, "int32"), 0);
}

/** [B, N, D] → [B, N + 1, D] with `token` [D] prepended to every sequence. */
export function classToken(x: Tensor, token: Tensor): Tensor {
  return tf.tidy(() => {
    const [b, , d] = x.shape as [number, number, number];
    return tf.concat([tileOverBatch(tf.reshape(token, [1, 1, d]), b), x], 1);
  });
}

/** [B, N, D] + table [N, D]. */
export function positionEmbedding(x: Tensor, table: Tensor): Tensor {
  return tf.add(x, table);
}

/** tokens [count, dim] tiled over the batch of `like` → [B, count, dim]. */
export function learnedTokens(like: Tensor, tokens: Tensor): Tensor {
  return tf.tidy(() => {
    const [count, dim] = tokens.shape as [number, number];
    return tileOverBatch(tf.reshape(tokens, [1, count, dim]), like.shape[0]!);
  });
}

/**
 * t [1, ...] repeated `batch` times along axis 0, as a broadcasting add to zeros: its gradient is one
 * Sum over the batch. (tf.broadcastTo is a Tile, whose gradient is a Slice and an Add per copy: 128
 * kernels a step for a ViT's class token at batch 64.)
 */
function tileOverBatch(t: Tensor, batch: number): Tensor {
  return tf.add(tf.zeros([batch, ...t.shape.slice(1)]), t);
}
