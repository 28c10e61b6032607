// The runtime primitives generated code calls (the Ops contract in ./types.ts), assembled from the
// topic modules. Every op is a pure tfjs-core function: it runs on whichever backend is active
// (runtime/backend.ts picks it) and is differentiable with tf.variableGrads.
import type { Ops } from "./types.js";
import * as elementwise from "./elementwise.js";
import * as activations from "./activations.js";
import * as layers from "./layers.js";
import { attention, attend } from "./attention.js";
import * as lineage from "./lineage.js";
import * as structure from "./structure.js";
import * as losses from "./losses.js";
import { ensureTfjsGradients } from "./tfjs-gradients.js";
import { registerWasmGradients } from "./wasm-gradients.js";

// Importing the ops makes them differentiable, whoever imports them and whether or not
// runtime/backend.ts ran: tfjs-core alone registers no gradients. Both calls are idempotent.
await ensureTfjsGradients();
registerWasmGradients();

export type { Ops, AttentionWeights } from "./types.js";

export function createOps(): Ops {
  return {
    ...elementwise,
    relu: activations.relu,
    gelu: activations.gelu,
    geluTanh: activations.geluTanh,
    quickGelu: activations.quickGelu,
    silu: activations.silu,
    tanh: activations.tanh,
    sigmoid: activations.sigmoid,
    softmax: activations.softmax,
    dense: layers.dense,
    conv2d: layers.conv2d,
    layerNorm: layers.layerNorm,
    attention,
    embedding: layers.embedding,
    classToken: layers.classToken,
    positionEmbedding: layers.positionEmbedding,
    learnedTokens: layers.learnedTokens,
    maxPool: structure.maxPool,
    avgPool: structure.avgPool,
    flatten: structure.flatten,
    reshape: structure.reshape,
    patchify: structure.patchify,
    concat: structure.concat,
    sliceTokens: structure.sliceTokens,
    selectToken: structure.selectToken,
    meanTokens: structure.meanTokens,
    poolEot: structure.poolEot,
    sinusoidalPositions: structure.sinusoidalPositions,
    placeTokens: structure.placeTokens,
    l2Normalize: structure.l2Normalize,
    matmul: structure.matmul,
    transpose: structure.transpose,
    sincos2dPositions: lineage.sincos2dPositions,
    pixelShuffle: lineage.pixelShuffle,
    tileImage: lineage.tileImage,
    mergeTiles: lineage.mergeTiles,
    tokenMask: lineage.tokenMask,
    attend,
    partialLora: lineage.partialLora,
    crossEntropy: losses.crossEntropy,
    contrastiveLoss: losses.contrastiveLoss,
    lmLoss: losses.lmLoss,
  };
}

/** The shared instance generated modules import. */
export const ops: Ops = createOps();
