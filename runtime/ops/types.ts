// The runtime primitives that generated code calls: one method per IR op (compiler/ir.ts OP_TABLE),
// camelCase, with parameters passed as tensors in the op's declared role order and attributes as a
// trailing options object. This interface is the contract between compiler/codegen and runtime/ops.
//
// All methods are pure functions of their arguments (no hidden state) and are differentiable with
// tf.variableGrads on every supported backend. Shapes follow docs/ir.md.
import type { Tensor, Scalar } from "@tensorflow/tfjs-core";

export type { Tensor, Scalar };

export interface AttentionWeights {
  qKernel: Tensor; qBias?: Tensor;
  kKernel: Tensor; kBias?: Tensor;
  vKernel: Tensor; vBias?: Tensor;
  oKernel: Tensor; oBias: Tensor;
}

export interface Ops {
  // elementwise, numpy broadcasting
  add(a: Tensor, b: Tensor): Tensor;
  sub(a: Tensor, b: Tensor): Tensor;
  mul(a: Tensor, b: Tensor): Tensor;
  div(a: Tensor, b: Tensor): Tensor;
  neg(x: Tensor): Tensor;
  exp(x: Tensor): Tensor;
  /** A float32 scalar constant. */
  constant(value: number): Tensor;

  relu(x: Tensor): Tensor;
  gelu(x: Tensor): Tensor;
  geluTanh(x: Tensor): Tensor;
  quickGelu(x: Tensor): Tensor;
  silu(x: Tensor): Tensor;
  tanh(x: Tensor): Tensor;
  sigmoid(x: Tensor): Tensor;
  softmax(x: Tensor): Tensor;

  dense(x: Tensor, kernel: Tensor, bias?: Tensor): Tensor;
  conv2d(x: Tensor, kernel: Tensor, bias: Tensor | undefined, o: { stride: number; padding: "valid" | "same" }): Tensor;
  layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, o: { eps: number }): Tensor;
  attention(
    x: Tensor,
    context: Tensor | undefined,
    mask: Tensor | undefined,
    w: AttentionWeights,
    o: { heads: number; causal: boolean },
  ): Tensor;
  embedding(ids: Tensor, table: Tensor): Tensor;
  classToken(x: Tensor, token: Tensor): Tensor;
  positionEmbedding(x: Tensor, table: Tensor): Tensor;
  learnedTokens(like: Tensor, tokens: Tensor): Tensor;

  maxPool(x: Tensor, o: { size: number; stride: number; padding: "valid" | "same" }): Tensor;
  avgPool(x: Tensor, o: { size: number; stride: number; padding: "valid" | "same" }): Tensor;
  flatten(x: Tensor): Tensor;
  /** `shape` excludes the batch axis, which is kept. */
  reshape(x: Tensor, o: { shape: number[] }): Tensor;
  patchify(x: Tensor, o: { patch: number }): Tensor;
  concat(xs: Tensor[], o: { axis: number }): Tensor;
  sliceTokens(x: Tensor, o: { start: number; end: number }): Tensor;
  selectToken(x: Tensor, o: { index: number }): Tensor;
  meanTokens(x: Tensor): Tensor;
  poolEot(x: Tensor, ids: Tensor, o: { eot: number }): Tensor;
  /** With int ids [B, N]: padding-aware positions (pad + running count of non-pad ids; pads → 0). */
  sinusoidalPositions(x: Tensor, ids?: Tensor, o?: { pad: number }): Tensor;
  placeTokens(x: Tensor, tokens: Tensor, mask: Tensor): Tensor;
  l2Normalize(x: Tensor, o: { eps: number }): Tensor;
  matmul(a: Tensor, b: Tensor, o: { transposeB: boolean }): Tensor;
  transpose(x: Tensor): Tensor;

  sincos2dPositions(x: Tensor): Tensor;
  pixelShuffle(x: Tensor, o: { factor: number }): Tensor;
  tileImage(x: Tensor, o: { tile: number; tiles: number }): Tensor;
  mergeTiles(x: Tensor, o: { tiles: number }): Tensor;
  tokenMask(x: Tensor, o: { start: number; end: number }): Tensor;
  attend(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | undefined, o: { heads: number; causal: boolean }): Tensor;
  partialLora(x: Tensor, mask: Tensor, a: Tensor, b: Tensor, o: { scale: number }): Tensor;

  crossEntropy(logits: Tensor, labels: Tensor): Scalar;
  contrastiveLoss(logits: Tensor): Scalar;
  lmLoss(logits: Tensor, targets: Tensor, mask: Tensor): Scalar;
}
