// The ops that own parameters: dense, conv2d, layer norm, embedding, and learned tokens/positions.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";

/**
 * y = x · kernel + bias over the last axis. Any leading axes are folded into one, so the product is
 * a single 2-D matmul: the only form wasm runs on XNNPACK (a batched matmul takes a scalar loop).
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
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: { eps: number }): Tensor {
  return tf.tidy(() => {
    const centered = tf.sub(x, tf.mean(x, -1, true));
    const variance = tf.mean(tf.mul(centered, centered), -1, true);
    const normed = tf.div(centered, tf.sqrt(tf.add(variance, o.eps)));
    return tf.add(tf.mul(normed, gamma), beta);
  });
}

/** int ids [...] → [..., dim]: rows of `table` [vocab, dim]. Its gradient is lowered for wasm (scatterND). */
export function embedding(ids: Tensor, table: Tensor): Tensor {
  return tf.gather(table, tf.cast(ids, "int32"), 0);
}

/** [B, N, D] → [B, N + 1, D] with `token` [D] prepended to every sequence. */
export function classToken(x: Tensor, token: Tensor): Tensor {
  return tf.tidy(() => {
    const [b, , d] = x.shape as [number, number, number];
    const tiled = tf.broadcastTo(tf.reshape(token, [1, 1, d]), [b, 1, d]);
    return tf.concat([tiled, x], 1);
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
    return tf.broadcastTo(tf.reshape(tokens, [1, count, dim]), [like.shape[0]!, count, dim]);
  });
}
