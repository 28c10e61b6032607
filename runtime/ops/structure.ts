// Ops without parameters that move, select, pool or combine tensors.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";

type PoolOptions = { size: number; stride: number; padding: "valid" | "same" };

export const maxPool = (x: Tensor, o: PoolOptions): Tensor =>
  tf.maxPool(x as tf.Tensor4D, o.size, o.stride, o.padding);
export const avgPool = (x: Tensor, o: PoolOptions): Tensor =>
  tf.avgPool(x as tf.Tensor4D, o.size, o.stride, o.padding);

/** [B, d1, d2, ...] → [B, d1·d2·...]. */
export const flatten = (x: Tensor): Tensor => tf.reshape(x, [x.shape[0]!, x.size / x.shape[0]!]);

/** Keeps the batch axis; `shape` is the rest. */
export const reshape = (x: Tensor, o: { shape: number[] }): Tensor => tf.reshape(x, [x.shape[0]!, ...o.shape]);

/**
 * [B, H, W, C] → [B, (H/p)·(W/p), p·p·C]: patches row-major over the grid, features ordered (row,
 * col, channel) inside a patch. Reshape → transpose → reshape: no strided slices, cheap everywhere,
 * and dense() over it equals a stride-p conv whose HWIO kernel is reshaped to [p·p·C, D].
 */
export function patchify(x: Tensor, o: { patch: number }): Tensor {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape as [number, number, number, number];
    const p = o.patch;
    if (h % p !== 0 || w % p !== 0) {
      throw new Error(`patchify: image ${h}×${w} is not divisible by the patch size ${p}`);
    }
    const gh = h / p, gw = w / p;
    const grid = tf.reshape(x, [b, gh, p, gw, p, c]);
    return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [b, gh * gw, p * p * c]);
  });
}

export const concat = (xs: Tensor[], o: { axis: number }): Tensor => tf.concat(xs, o.axis);

/** [B, N, D] → [B, end - start, D]. */
export const sliceTokens = (x: Tensor, o: { start: number; end: number }): Tensor =>
  tf.slice(x, [0, o.start, 0], [-1, o.end - o.start, -1]);

/** [B, N, D] → [B, D] at token `index`. */
export const selectToken = (x: Tensor, o: { index: number }): Tensor =>
  tf.tidy(() => tf.reshape(tf.slice(x, [0, o.index, 0], [-1, 1, -1]), [x.shape[0]!, x.shape[2]!]));

/** [B, N, D] → [B, D]. */
export const meanTokens = (x: Tensor): Tensor => tf.mean(x, 1);

/**
 * x [B, T, D], int ids [B, T] → [B, D] at the first position where ids == eot (position 0 when a row
 * has none, as in Hugging Face's argmax). A negative eot selects the legacy CLIP rule instead: the
 * first position of the row's highest id (Hugging Face configs whose eos_token_id is 2 pool at
 * argmax(input_ids), <|endoftext|> being the highest id). A gather over [B·T, D] with computed row
 * indices, so the gradient reaches x (lowered to scatterND on wasm).
 */
export function poolEot(x: Tensor, ids: Tensor, o: { eot: number }): Tensor {
  return tf.tidy(() => {
    const [b, t, d] = x.shape as [number, number, number];
    const intIds = tf.cast(ids, "int32");
    const isEot = o.eot < 0 ? intIds : tf.cast(tf.equal(intIds, o.eot), "int32");
    const first = tf.cast(tf.argMax(isEot, 1), "int32"); // argMax returns the first maximum
    const rowStarts = tf.tensor1d(Array.from({ length: b }, (_, i) => i * t), "int32");
    const rows = tf.add(first, rowStarts);
    return tf.gather(tf.reshape(x, [b * t, d]), rows, 0);
  });
}

/**
 * The fixed table for positions 0..N-1: row p = [sin(p·f_0..f_{h-1}), cos(p·f_0..f_{h-1})] with
 * h = D/2 and f_i = exp(-i · ln(10000) / (h - 1)) (the fairseq / KOSMOS-2 form); an odd D gets a
 * trailing zero column.
 */
export function sinusoidalTable(n: number, d: number): Float32Array {
  const half = Math.floor(d / 2);
  const step = half > 1 ? Math.log(10000) / (half - 1) : 0;
  const table = new Float32Array(n * d);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = p * Math.exp(-i * step);
      table[p * d + i] = Math.sin(angle);
      table[p * d + half + i] = Math.cos(angle);
    }
  }
  return table;
}

/** x [B, N, D] + the sinusoidal table [N, D] (not learned). */
export function sinusoidalPositions(x: Tensor): Tensor {
  return tf.tidy(() => {
    const [, n, d] = x.shape as [number, number, number];
    return tf.add(x, tf.tensor2d(sinusoidalTable(n, d), [n, d]));
  });
}

/** x / max(‖x‖₂, eps) over the last axis (PyTorch F.normalize). */
export function l2Normalize(x: Tensor, o: { eps: number }): Tensor {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.sum(tf.mul(x, x), -1, true));
    return tf.div(x, tf.maximum(norm, o.eps));
  });
}

/** Swaps the last two axes. */
export function transpose(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = x.rank;
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return tf.transpose(x, perm);
}

/**
 * Batched matmul over the last two axes. A transposed b is materialised rather than passed as a
 * flag: wasm runs flagged matmuls in a scalar loop.
 */
export function matmul(a: Tensor, b: Tensor, o: { transposeB: boolean }): Tensor {
  return tf.tidy(() => {
    const right = o.transposeB ? transpose(b) : b;
    if (right.rank === 2 && a.rank > 2) {
      // A shared right operand (tied output embedding, say): one 2-D matmul over the folded rows,
      // which is XNNPACK's fast path and avoids tfjs's broadcast-matmul gradient (it fails).
      const [k, n] = right.shape as [number, number];
      const rows = tf.matMul(tf.reshape(a, [a.size / k, k]), right);
      return tf.reshape(rows, [...a.shape.slice(0, -1), n]);
    }
    if (right.rank !== a.rank) {
      // Broadcast the batch axes explicitly: BroadcastTo has a gradient, a broadcast matmul has not.
      const batch = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), right.shape.slice(0, -2));
      return tf.matMul(tf.broadcastTo(a, [...batch, ...a.shape.slice(-2)]), tf.broadcastTo(right, [...batch, ...right.shape.slice(-2)]));
    }
    return tf.matMul(a, right);
  });
}
