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

/**
 * x [B, N, D] + the sinusoidal table [N, D] (not learned). With int `ids` [B, N] the positions are
 * padding-aware (fairseq, Kosmos-2): p = pad + the running count of non-pad ids, and a pad id gets
 * the zero row, so a text's positions do not depend on the padding around it.
 */
export function sinusoidalPositions(x: Tensor, ids?: Tensor, o?: { pad: number }): Tensor {
  return tf.tidy(() => {
    const [, n, d] = x.shape as [number, number, number];
    if (!ids || !o) return tf.add(x, tf.tensor2d(sinusoidalTable(n, d), [n, d]));
    // Row 0 is the pads' zero row, row k the position pad + k: the table has N + 1 rows whatever
    // the pad id is (a pad id of 50,000 must not make a 50,000-row table).
    const table = paddedSinusoidalTable(o.pad, n, d);
    const real = tf.cast(tf.notEqual(tf.cast(ids, "int32"), o.pad), "float32"); // [B, N]
    const index = tf.cast(tf.mul(runningCount(real), real), "int32");
    return tf.add(x, tf.gather(tf.tensor2d(table, [n + 1, d]), index));
  });
}

/**
 * The rows of positions pad + 1 .. pad + n after a zero row, in float32 steps as PyTorch computes
 * the table (frequencies, then position × frequency, each rounded to float32), so the values agree
 * with Hugging Face's to the last bit or so even at large positions.
 */
export function paddedSinusoidalTable(pad: number, n: number, d: number): Float32Array {
  const half = Math.floor(d / 2);
  const step = Math.fround(-(half > 1 ? Math.log(10000) / (half - 1) : 0));
  const freq = Array.from({ length: half }, (_, i) => Math.fround(Math.exp(Math.fround(i * step))));
  const table = new Float32Array((n + 1) * d);
  for (let k = 1; k <= n; k++) {
    const p = Math.fround(pad + k);
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * freq[i]!);
      table[k * d + i] = Math.sin(angle);
      table[k * d + half + i] = Math.cos(angle);
    }
  }
  return table;
}

/** The running count along the tokens of a 0/1 float mask [B, N] (exact: counts stay far below 2^24). */
const runningCount = (m: Tensor): Tensor => tf.cumsum(m, 1);

/**
 * x [B, T, D], tokens [B, L, D], int mask [B, T] → [B, T, D]: the k-th marked position of row b
 * takes tokens[b, k] (k < L), every other position keeps x. Written as a one-hot selection
 * [B, T, L] times tokens, so the gradient reaches both x and tokens with ordinary kernels; each
 * output row sums one term, so the values are exact copies.
 */
export function placeTokens(x: Tensor, tokens: Tensor, mask: Tensor): Tensor {
  return tf.tidy(() => {
    const l = tokens.shape[1]!;
    const marked = tf.cast(tf.notEqual(tf.cast(mask, "int32"), 0), "float32"); // [B, T]
    const k = tf.mul(runningCount(marked), marked); // 1-based rank of each marked position, 0 elsewhere
    const slots = tf.reshape(tf.range(1, l + 1, 1, "float32"), [1, 1, l]);
    const select = tf.cast(tf.equal(tf.expandDims(k, 2), slots), "float32"); // [B, T, L]
    const keep = tf.sub(1, tf.sum(select, 2, true)); // [B, T, 1]: 0 where a token was placed
    return tf.add(tf.mul(x, keep), tf.matMul(select, tokens));
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
