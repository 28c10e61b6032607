// Multi-head attention (self or cross), with optional key-padding and causal masks.
// Semantics of Hugging Face ViT/CLIP/KOSMOS-2 (eager): q/k/v projections, heads as contiguous
// feature blocks (head h = features h·d .. (h+1)·d - 1, d = D/H), scores scaled by d^-0.5, additive
// large-negative masks, softmax over keys, heads concatenated back in order, output projection.
import * as tf from "@tensorflow/tfjs-core";
import type { Tensor } from "@tensorflow/tfjs-core";
import type { AttentionWeights } from "./types.js";
import { dense } from "./layers.js";
import { loweringsActive } from "./wasm-gradients.js";
import { wasmGemmActive } from "../wasm-simd/matmul.js";

/** Added to masked scores. Finite (an infinite one would turn a fully masked row into NaNs). */
export const MASKED_SCORE = -1e9;

export interface AttentionOptions {
  heads: number;
  causal: boolean;
}

/** [B, N, H·d] → [B·H, N, d]. */
function splitHeads(t: Tensor, heads: number): Tensor {
  const [b, n, dim] = t.shape as [number, number, number];
  const d = dim / heads;
  return tf.reshape(tf.transpose(tf.reshape(t, [b, n, heads, d]), [0, 2, 1, 3]), [b * heads, n, d]);
}

/** [B·H, N, d] → [B, N, H·d]. */
function mergeHeads(t: Tensor, batch: number, heads: number): Tensor {
  const [, n, d] = t.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(t, [batch, heads, n, d]), [0, 2, 1, 3]), [batch, n, heads * d]);
}

/**
 * The additive mask [B or 1, 1, Nq, Nk] (0 where attended, MASKED_SCORE where not), or undefined.
 * Causal: query i sees keys j ≤ i + (Nk - Nq), i.e. the usual lower triangle when Nq = Nk.
 */
export function attentionBias(batch: number, nq: number, nk: number, keyMask: Tensor | undefined, causal: boolean): Tensor | undefined {
  let bias: Tensor | undefined;
  if (causal) {
    const table = new Float32Array(nq * nk);
    const offset = nk - nq;
    for (let i = 0; i < nq; i++) for (let j = i + offset + 1; j < nk; j++) table[i * nk + j] = MASKED_SCORE;
    bias = tf.tensor4d(table, [1, 1, nq, nk]);
  }
  if (keyMask) {
    const padding = tf.mul(tf.sub(1, tf.cast(tf.reshape(keyMask, [batch, 1, 1, nk]), "float32")), MASKED_SCORE);
    bias = bias ? tf.add(bias, padding) : padding;
  }
  return bias;
}

let groupedOnWasm = process.env["VLMC_WASM_GROUPED_ATTENTION"] !== "0";
/** Turns the depthwise-convolution form of attention on wasm off or on (A/B measurements, tests). */
export function setGroupedAttention(on: boolean): void {
  groupedOnWasm = on;
}

/**
 * Whether attention takes the depthwise form: only on wasm with the stock BatchMatMul. Our GEMM
 * (runtime/wasm-simd/matmul.ts) runs the batched products 2.6–4× faster than the depthwise
 * convolutions (ViT's 256 products of 17×16·16×17: 0.10 vs 0.27 ms; docs/performance.md).
 */
function groupedHere(): boolean {
  return groupedOnWasm && loweringsActive() && !wasmGemmActive();
}

/**
 * Many small matrix products at once, as one depthwise convolution:
 * x [M, K, G], f [K, G, N] → out [M, G, N], out[i, g, j] = Σ_k x[i, k, g] · f[k, g, j].
 * x is read as M images of 1×K pixels with G channels, f as a 1×K filter with channel multiplier
 * N. On wasm this is XNNPACK's grouped convolution, ~2× faster than the stock BatchMatMul, whose
 * batched form is a scalar loop (ViT attention, 256 products of 17×16·16×17: 1.1 → 0.5 ms). Its
 * gradients are the same form again (wasm has no depthwise backprop kernels).
 */
export const groupMatMul = tf.customGrad(((x: Tensor, f: Tensor, save: (ts: Tensor[]) => void) => {
  const [m, k, g] = x.shape as [number, number, number];
  const n = f.shape[2]!;
  save([x, f]);
  const y = tf.depthwiseConv2d(tf.reshape(x, [m, 1, k, g]) as tf.Tensor4D, tf.reshape(f, [1, k, g, n]) as tf.Tensor4D, 1, "valid");
  return {
    value: tf.reshape(y, [m, g, n]),
    gradFunc: (dy: Tensor, saved: Tensor[]) => {
      const [xs, fs] = saved as [Tensor, Tensor];
      // dx[i, k, g] = Σ_j dy[i, g, j] · f[k, g, j]; df[k, g, j] = Σ_i x[i, k, g] · dy[i, g, j].
      const dx = tf.transpose(groupMatMul(tf.transpose(dy, [0, 2, 1]), tf.transpose(fs, [2, 1, 0])), [0, 2, 1]);
      const df = groupMatMul(tf.transpose(xs, [1, 0, 2]), dy);
      return [dx, df];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: Tensor, f: Tensor) => Tensor;

/**
 * Attention with the per-(example, head) products as grouped products (groupMatMul), in layouts
 * chosen so the head splits and merges are the only transposes, as many as the BatchMatMul form.
 */
function attentionGrouped(q: Tensor, k: Tensor, v: Tensor, bias: Tensor | undefined, heads: number): Tensor {
  const [b, nq, dim] = q.shape as [number, number, number];
  const nk = k.shape[1]!;
  const d = dim / heads;
  const g = b * heads;
  const qx = tf.reshape(tf.transpose(tf.reshape(q, [b, nq, heads, d]), [1, 3, 0, 2]), [nq, d, g]);
  const kf = tf.reshape(tf.transpose(tf.reshape(k, [b, nk, heads, d]), [3, 0, 2, 1]), [d, g, nk]);
  let scores = groupMatMul(qx, kf); // [Nq, B·H, Nk]
  if (bias) scores = tf.reshape(tf.add(tf.reshape(scores, [nq, b, heads, nk]), tf.transpose(bias, [2, 0, 1, 3])), [nq, g, nk]);
  const probs = tf.softmax(scores, -1);
  const vf = tf.reshape(tf.transpose(tf.reshape(v, [b, nk, heads, d]), [1, 0, 2, 3]), [nk, g, d]);
  const out = groupMatMul(tf.transpose(probs, [0, 2, 1]), vf); // [Nq, B·H, d]
  return tf.reshape(tf.transpose(tf.reshape(out, [nq, b, heads, d]), [1, 0, 2, 3]), [b, nq, dim]);
}

/**
 * q · kᵀ over [B·H, N, d]. With kᵀ materialised where wasm's stock BatchMatMul runs (it takes a
 * transpose flag in a scalar loop); elsewhere with the flag, which TensorFlow, cpu and our wasm
 * GEMM handle inside the product, one transpose fewer forward and backward.
 */
function productWithKeys(q: Tensor, k: Tensor): Tensor {
  return loweringsActive() && !wasmGemmActive() ? tf.matMul(q, tf.transpose(k, [0, 2, 1])) : tf.matMul(q, k, false, true);
}

export function attention(
  x: Tensor, context: Tensor | undefined, mask: Tensor | undefined, w: AttentionWeights, o: AttentionOptions,
): Tensor {
  return tf.tidy(() => {
    const [b, nq, dim] = x.shape as [number, number, number];
    const source = context ?? x;
    const nk = source.shape[1]!;
    const heads = o.heads;
    if (dim % heads !== 0) throw new Error(`attention: dim ${dim} is not divisible by heads ${heads}`);
    const scale = 1 / Math.sqrt(dim / heads);

    // Scaling q before the product costs Nq·D multiplies instead of Nq·Nk per head. The three
    // projections stay separate matmuls: a fused [D, 3D] projection split by a 5-D transpose and
    // unstack measured ~1.9× slower on wasm (interleaved A/B at ViT size: 270 vs 144 ms fwd+bwd).
    if (groupedHere()) {
      const q = tf.mul(dense(x, w.qKernel, w.qBias), scale);
      const out = attentionGrouped(q, dense(source, w.kKernel, w.kBias), dense(source, w.vKernel, w.vBias), attentionBias(b, nq, nk, mask, o.causal), heads);
      return dense(out, w.oKernel, w.oBias);
    }
    const q = splitHeads(tf.mul(dense(x, w.qKernel, w.qBias), scale), heads);
    const k = splitHeads(dense(source, w.kKernel, w.kBias), heads);
    const v = splitHeads(dense(source, w.vKernel, w.vBias), heads);

    let scores = productWithKeys(q, k); // [B·H, Nq, Nk]
    const bias = attentionBias(b, nq, nk, mask, o.causal);
    if (bias) scores = tf.reshape(tf.add(tf.reshape(scores, [b, heads, nq, nk]), bias), [b * heads, nq, nk]);
    const probs = tf.softmax(scores, -1);
    const out = mergeHeads(tf.matMul(probs, v), b, heads);
    return dense(out, w.oKernel, w.oBias);
  });
}

/**
 * Multi-head scaled dot-product attention of given q [B, N, D], k and v [B, M, D], without
 * projections (`attend`): the same head split, scaling and masks as `attention`, for blocks that
 * compute their own projections (XComposer2's Partial LoRA on q, k, v and o).
 */
export function attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, o: AttentionOptions): Tensor {
  return tf.tidy(() => {
    const [b, nq, dim] = q.shape as [number, number, number];
    const nk = k.shape[1]!;
    const heads = o.heads;
    const scaled = tf.mul(q, 1 / Math.sqrt(dim / heads));
    const bias = attentionBias(b, nq, nk, mask, o.causal);
    if (groupedHere()) return attentionGrouped(scaled, k, v, bias, heads);
    let scores = productWithKeys(splitHeads(scaled, heads), splitHeads(k, heads));
    if (bias) scores = tf.reshape(tf.add(tf.reshape(scores, [b, heads, nq, nk]), bias), [b * heads, nq, nk]);
    return mergeHeads(tf.matMul(tf.softmax(scores, -1), splitHeads(v, heads)), b, heads);
  });
}
