// Gradients: (1) each wasm gradient lowering against tfjs's stock gradient, both run on cpu (the
// lowering forced with withGradientsOf); (2) every op's gradient on wasm against cpu autodiff;
// (3) central finite differences of the float64 references for the composite ops.
import { beforeAll, describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { ops } from "../runtime/ops/index.js";
import { withGradientsOf } from "../runtime/ops/wasm-gradients.js";
import { lossAndGrads, randomArray, randomParams, relativeError, useBackend, type ParamData } from "./ops-support.js";
import { arr, attentionRef, layerNormRef, type Arr } from "./ops-reference.js";

const GRAD_TOL = 1e-4;

/** Gradients of sum(f(inputs) · probe) w.r.t. each input, stock vs lowered, on cpu. */
async function stockVsLowered(inputs: tf.Tensor[], f: (...xs: tf.Tensor[]) => tf.Tensor): Promise<number[]> {
  await useBackend("cpu");
  const probeShape = tf.tidy(() => f(...inputs).shape);
  const probe = tf.tensor(randomArray(probeShape.reduce((a, b) => a * b, 1), 99), probeShape);
  const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe));
  const stock = tf.grads(loss)(inputs);
  const lowered = withGradientsOf("wasm", () => tf.grads(loss)(inputs));
  const errors: number[] = [];
  for (let i = 0; i < inputs.length; i++) errors.push(relativeError(await lowered[i]!.data(), await stock[i]!.data()));
  tf.dispose([...stock, ...lowered, probe]);
  return errors;
}

const rnd = (shape: number[], seed: number) => tf.tensor(randomArray(shape.reduce((a, b) => a * b, 1), seed), shape);

describe("wasm gradient lowerings equal the stock gradients (on cpu)", () => {
  beforeAll(() => useBackend("cpu"));

  test.each([
    [[2, 7, 7, 3], [3, 3, 3, 4], 1, "valid"],
    [[2, 7, 7, 3], [3, 3, 3, 4], 1, "same"],
    [[2, 7, 6, 3], [3, 3, 3, 4], 2, "same"],
    [[2, 8, 7, 2], [3, 2, 2, 5], 2, "valid"],
    [[1, 9, 9, 2], [5, 5, 2, 3], 3, "same"],
    [[3, 8, 8, 2], [4, 4, 2, 6], 4, "valid"],
    [[3, 9, 8, 1], [5, 5, 1, 4], 1, "same"], // one input channel (a grey image's first layer)
    [[2, 9, 8, 1], [3, 2, 1, 3], 1, "valid"],
    [[2, 9, 8, 1], [3, 3, 1, 3], 2, "same"],
  ] as const)("conv2d x %j kernel %j stride %d %s", async (xs, ks, stride, padding) => {
    const errors = await stockVsLowered([rnd([...xs], 1), rnd([...ks], 2)], (x, k) =>
      tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, stride, padding));
    for (const e of errors) expect(e).toBeLessThan(1e-5);
  });

  test.each([[false, false], [false, true], [true, false], [true, true]])("matmul transposeA=%s transposeB=%s", async (ta, tb) => {
    const a2 = rnd(ta ? [4, 3] : [3, 4], 3), b2 = rnd(tb ? [5, 4] : [4, 5], 4);
    for (const e of await stockVsLowered([a2, b2], (a, b) => tf.matMul(a, b, ta, tb))) expect(e).toBeLessThan(1e-5);
    const a3 = rnd(ta ? [2, 4, 3] : [2, 3, 4], 5), b3 = rnd(tb ? [2, 5, 4] : [2, 4, 5], 6);
    for (const e of await stockVsLowered([a3, b3], (a, b) => tf.matMul(a, b, ta, tb))) expect(e).toBeLessThan(1e-5);
  });

  test("gather sums the gradient rows of repeated ids", async () => {
    const ids = tf.tensor2d([[1, 1, 4], [0, 1, 4]], [2, 3], "int32");
    const [e] = await stockVsLowered([rnd([6, 3], 7)], (table) => tf.gather(table, ids, 0));
    expect(e).toBeLessThan(1e-6);
  });

  test("rsqrt without pow", async () => {
    const [e] = await stockVsLowered([tf.add(tf.abs(rnd([10], 8)), 0.1)], (x) => tf.rsqrt(x));
    expect(e).toBeLessThan(1e-5);
  });
});

/** Compares loss and every gradient of `loss` on wasm against cpu. */
async function expectWasmMatchesCpu(params: ParamData, loss: (v: Record<string, tf.Variable>) => tf.Scalar): Promise<void> {
  const cpu = await lossAndGrads("cpu", params, loss);
  const wasm = await lossAndGrads("wasm", params, loss);
  expect(relativeError([wasm.loss], [cpu.loss])).toBeLessThan(GRAD_TOL);
  // Relative to the largest gradient of the model: some gradients are exactly zero in exact
  // arithmetic (a key bias shifts every score of a query equally) and float noise there is no error.
  const scale = Math.max(...Object.values(cpu.grads).map((g) => g.reduce((m, v) => Math.max(m, Math.abs(v)), 0)));
  for (const name of Object.keys(params)) {
    const own = cpu.grads[name]!.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const error = relativeError(wasm.grads[name]!, cpu.grads[name]!) * Math.max(own, 1e-12) / Math.max(own, 1e-3 * scale);
    expect(error, name).toBeLessThan(GRAD_TOL);
  }
}

/** A fixed random weighting turns any tensor into a scalar whose gradient reaches every element. */
function probeSum(t: tf.Tensor, seed: number): tf.Scalar {
  return tf.sum(tf.mul(t, tf.tensor(randomArray(t.size, seed), t.shape))) as tf.Scalar;
}

test("max pool routes the gradient to each window's maximum on wasm, negative windows included", async () => {
  // wasm's own MaxPoolGrad kernel sends this window's gradient to -3 instead of -1.
  await useBackend("wasm");
  const x = tf.tensor4d([-3, -1, -2, -4, 5, 0, 1, 2], [2, 2, 2, 1]);
  const g = tf.grad((t: tf.Tensor) => tf.sum(ops.maxPool(t, { size: 2, stride: 2, padding: "valid" })))(x);
  expect(Array.from(await g.data())).toEqual([0, 1, 0, 0, 1, 0, 0, 0]);
});

describe("every op's gradient on wasm equals cpu's", () => {
  const unary: Array<[string, (x: tf.Tensor) => tf.Tensor]> = [
    ["relu", ops.relu], ["gelu", ops.gelu], ["geluTanh", ops.geluTanh], ["quickGelu", ops.quickGelu], ["silu", ops.silu],
    ["tanh", ops.tanh], ["sigmoid", ops.sigmoid], ["softmax", ops.softmax], ["exp", ops.exp], ["neg", ops.neg],
    ["flatten", ops.flatten], ["meanTokens", ops.meanTokens], ["transpose", ops.transpose],
    ["reshape", (x) => ops.reshape(x, { shape: [4, 3] })],
    ["sliceTokens", (x) => ops.sliceTokens(x, { start: 1, end: 3 })],
    ["selectToken", (x) => ops.selectToken(x, { index: 2 })],
    ["sinusoidalPositions", ops.sinusoidalPositions],
    ["l2Normalize", (x) => ops.l2Normalize(x, { eps: 1e-12 })],
    ["patchify", (x) => ops.patchify(tf.reshape(x, [2, 2, 2, 3]), { patch: 2 })],
    ["maxPool", (x) => ops.maxPool(tf.reshape(x, [2, 2, 2, 3]), { size: 2, stride: 2, padding: "valid" })],
    ["avgPool", (x) => ops.avgPool(tf.reshape(x, [2, 2, 2, 3]), { size: 2, stride: 1, padding: "same" })],
  ];
  test.each(unary)("%s", async (_name, f) => {
    await expectWasmMatchesCpu(randomParams({ x: [2, 4, 3] }, 1, 2), (v) => probeSum(f(v.x!), 2));
  });

  test("binary elementwise ops, concat and matmul", async () => {
    const p = randomParams({ a: [2, 3, 4], b: [4], c: [2, 3, 4], m: [2, 4, 5] }, 3);
    const { m: _m, ...pNoM } = p;
    await expectWasmMatchesCpu(p, (v) => {
      const e = ops.div(ops.sub(ops.mul(ops.add(v.a!, v.b!), v.c!), v.b!), ops.add(ops.exp(v.b!), ops.constant(1)));
      return tf.add(probeSum(ops.concat([e, v.c!], { axis: 1 }), 4), probeSum(ops.matmul(e, v.m!, { transposeB: false }), 5)) as tf.Scalar;
    });
    await expectWasmMatchesCpu({ a: pNoM.a!, c: pNoM.c! }, (v) => probeSum(ops.matmul(v.a!, v.c!, { transposeB: true }), 6));
    await expectWasmMatchesCpu({ a: pNoM.a!, k: { shape: [5, 4], data: randomArray(20, 7) } }, (v) => probeSum(ops.matmul(v.a!, v.k!, { transposeB: true }), 6));
  });

  test("dense, layer norm, class token, position embedding, learned tokens", async () => {
    const p = randomParams({ x: [2, 3, 4], k: [4, 6], b: [6], g: [6], be: [6], tok: [6], pos: [4, 6], lt: [2, 6] }, 7);
    await expectWasmMatchesCpu(p, (v) => {
      const h = ops.layerNorm(ops.dense(v.x!, v.k!, v.b), v.g!, v.be!, { eps: 1e-5 });
      const seq = ops.positionEmbedding(ops.classToken(h, v.tok!), v.pos!);
      return probeSum(ops.concat([ops.learnedTokens(seq, v.lt!), seq], { axis: 1 }), 8);
    });
  });

  test("embedding and pool_eot (the gather gradient, missing on stock wasm)", async () => {
    const ids = tf.tensor2d([[1, 3, 3, 0], [2, 3, 1, 1]], [2, 4], "int32");
    await expectWasmMatchesCpu(randomParams({ table: [5, 6] }, 9), (v) =>
      probeSum(ops.poolEot(ops.embedding(ids, v.table!), ids, { eot: 3 }), 10));
  });

  test("losses", async () => {
    const labels = tf.tensor1d([0, 2, 1], "int32");
    await expectWasmMatchesCpu(randomParams({ l: [3, 3] }, 11, 3), (v) =>
      tf.add(ops.crossEntropy(v.l!, labels), ops.contrastiveLoss(v.l!)) as tf.Scalar);
    const targets = tf.tensor2d([[1, 4, 0], [2, 2, 3]], [2, 3], "int32");
    const mask = tf.tensor2d([[0, 1, 1], [1, 1, 0]]);
    await expectWasmMatchesCpu(randomParams({ l: [2, 3, 5] }, 12, 3), (v) => ops.lmLoss(v.l!, targets, mask));
  });
});

// --- small end-to-end blocks -----------------------------------------------------------------

function attnShapes(prefix: string, dim: number, ctxDim = dim): Record<string, number[]> {
  return {
    [`${prefix}q`]: [dim, dim], [`${prefix}qb`]: [dim], [`${prefix}k`]: [ctxDim, dim], [`${prefix}kb`]: [dim],
    [`${prefix}v`]: [ctxDim, dim], [`${prefix}vb`]: [dim], [`${prefix}o`]: [dim, dim], [`${prefix}ob`]: [dim],
  };
}
function attnWeights(v: Record<string, tf.Variable>, prefix: string) {
  return {
    qKernel: v[`${prefix}q`]!, qBias: v[`${prefix}qb`], kKernel: v[`${prefix}k`]!, kBias: v[`${prefix}kb`],
    vKernel: v[`${prefix}v`]!, vBias: v[`${prefix}vb`], oKernel: v[`${prefix}o`]!, oBias: v[`${prefix}ob`]!,
  };
}
function blockShapes(prefix: string, dim: number): Record<string, number[]> {
  return {
    ...attnShapes(`${prefix}a`, dim), [`${prefix}g1`]: [dim], [`${prefix}b1`]: [dim], [`${prefix}g2`]: [dim], [`${prefix}b2`]: [dim],
    [`${prefix}f1`]: [dim, 2 * dim], [`${prefix}f1b`]: [2 * dim], [`${prefix}f2`]: [2 * dim, dim], [`${prefix}f2b`]: [dim],
  };
}
/** A pre-LN transformer block, as specs/std writes it. */
function block(v: Record<string, tf.Variable>, prefix: string, x: tf.Tensor, mask: tf.Tensor | undefined, causal: boolean): tf.Tensor {
  const ln1 = ops.layerNorm(x, v[`${prefix}g1`]!, v[`${prefix}b1`]!, { eps: 1e-5 });
  x = ops.add(x, ops.attention(ln1, undefined, mask, attnWeights(v, `${prefix}a`), { heads: 2, causal }));
  const ln2 = ops.layerNorm(x, v[`${prefix}g2`]!, v[`${prefix}b2`]!, { eps: 1e-5 });
  const hidden = ops.gelu(ops.dense(ln2, v[`${prefix}f1`]!, v[`${prefix}f1b`]));
  return ops.add(x, ops.dense(hidden, v[`${prefix}f2`]!, v[`${prefix}f2b`]));
}

describe("bundled model shapes train on wasm with cpu's gradients", () => {
  test("LeNet-5-style conv net", async () => {
    const p = randomParams({ x: [2, 12, 12, 1], c1: [5, 5, 1, 4], c1b: [4], c2: [3, 3, 4, 6], c2b: [6], w: [24, 10], wb: [10] }, 20);
    const labels = tf.tensor1d([3, 7], "int32");
    await expectWasmMatchesCpu(p, (v) => {
      let h = ops.relu(ops.conv2d(v.x!, v.c1!, v.c1b, { stride: 1, padding: "same" }));
      h = ops.maxPool(h, { size: 2, stride: 2, padding: "valid" });
      h = ops.relu(ops.conv2d(h, v.c2!, v.c2b, { stride: 2, padding: "valid" }));
      h = ops.avgPool(h, { size: 1, stride: 1, padding: "valid" });
      return ops.crossEntropy(ops.dense(ops.flatten(h), v.w!, v.wb), labels);
    });
  });

  test("ViT: patchify, class token, positions, transformer block, classifier", async () => {
    const p = randomParams({ img: [2, 4, 4, 3], pe: [12, 8], peb: [8], cls: [8], pos: [5, 8], ...blockShapes("l0", 8), head: [8, 3] }, 21);
    const labels = tf.tensor1d([2, 0], "int32");
    await expectWasmMatchesCpu(p, (v) => {
      let x = ops.dense(ops.patchify(v.img!, { patch: 2 }), v.pe!, v.peb);
      x = ops.positionEmbedding(ops.classToken(x, v.cls!), v.pos!);
      x = block(v, "l0", x, undefined, false);
      return ops.crossEntropy(ops.dense(ops.selectToken(x, { index: 0 }), v.head!), labels);
    });
  });

  test("CLIP: text transformer with embeddings, causal + padding mask, eot pooling, contrastive loss", async () => {
    const ids = tf.tensor2d([[5, 1, 2, 6, 6], [5, 3, 6, 6, 6], [5, 2, 2, 4, 6]], [3, 5], "int32");
    const mask = tf.tensor2d([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]);
    const p = randomParams({
      img: [3, 4, 4, 3], ipe: [12, 8], tok: [7, 8], tpos: [5, 8], ...blockShapes("t0", 8), ...blockShapes("i0", 8),
      ip: [8, 4], tp: [8, 4], scale: [1],
    }, 22);
    await expectWasmMatchesCpu(p, (v) => {
      const image = ops.meanTokens(block(v, "i0", ops.dense(ops.patchify(v.img!, { patch: 2 }), v.ipe!), undefined, false));
      const text = ops.poolEot(block(v, "t0", ops.positionEmbedding(ops.embedding(ids, v.tok!), v.tpos!), mask, true), ids, { eot: 6 });
      const ie = ops.l2Normalize(ops.dense(image, v.ip!), { eps: 1e-12 });
      const te = ops.l2Normalize(ops.dense(text, v.tp!), { eps: 1e-12 });
      const logits = ops.mul(ops.matmul(ie, te, { transposeB: true }), ops.exp(v.scale!));
      return ops.contrastiveLoss(logits);
    });
  });

  test("KOSMOS-style causal decoder LM over image tokens + text, with cross-attention resampler", async () => {
    const ids = tf.tensor2d([[1, 4, 2, 3], [1, 2, 0, 0]], [2, 4], "int32");
    const targets = tf.tensor2d([[4, 2, 3, 0], [2, 0, 0, 0]], [2, 4], "int32");
    const lossMask = tf.tensor2d([[0, 1, 1, 0], [1, 0, 0, 0]]);
    const p = randomParams({
      img: [2, 4, 4, 3], ipe: [12, 8], lat: [2, 8], ...attnShapes("x", 8), emb: [5, 8], ...blockShapes("d0", 8), ...blockShapes("d1", 8),
      gf: [8], bf: [8],
    }, 23);
    await expectWasmMatchesCpu(p, (v) => {
      const feats = ops.dense(ops.patchify(v.img!, { patch: 2 }), v.ipe!);
      const latents = ops.learnedTokens(feats, v.lat!);
      const imageTokens = ops.attention(latents, ops.concat([feats, latents], { axis: 1 }), undefined, attnWeights(v, "x"), { heads: 2, causal: false });
      let h = ops.sinusoidalPositions(ops.concat([imageTokens, ops.embedding(ids, v.emb!)], { axis: 1 }));
      const keyMask = tf.concat([tf.ones([2, 2]), tf.cast(tf.notEqual(ids, 0), "float32")], 1);
      h = block(v, "d1", block(v, "d0", h, keyMask, true), keyMask, true);
      h = ops.layerNorm(ops.sliceTokens(h, { start: 2, end: 6 }), v.gf!, v.bf!, { eps: 1e-5 });
      return ops.lmLoss(ops.matmul(h, v.emb!, { transposeB: true }), targets, lossMask);
    });
  });
});

// --- finite differences in float64 --------------------------------------------------------------

/** Central differences of a scalar float64 function over each entry of `p`. */
function numericGrad(f: () => number, p: Float64Array, h = 1e-6): Float64Array {
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const keep = p[i]!;
    p[i] = keep + h; const up = f();
    p[i] = keep - h; const down = f();
    p[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

function weightedSum(a: Arr, weights: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * weights[i]!;
  return s;
}

describe("cpu autodiff equals finite differences of the float64 references", () => {
  test("layer norm", async () => {
    const p = randomParams({ x: [2, 5], g: [5], b: [5] }, 30, 1);
    const w = randomArray(10, 31);
    const x = arr([2, 5], p.x!.data), g = arr([5], p.g!.data), b = arr([5], p.b!.data);
    const f = () => weightedSum(layerNormRef(x, g, b, 1e-5), w);
    const got = await lossAndGrads("cpu", p, (v) => tf.sum(tf.mul(ops.layerNorm(v.x!, v.g!, v.b!, { eps: 1e-5 }), tf.tensor(w, [2, 5]))) as tf.Scalar);
    expect(relativeError(got.grads.x!, numericGrad(f, x.data))).toBeLessThan(1e-3);
    expect(relativeError(got.grads.g!, numericGrad(f, g.data))).toBeLessThan(1e-4);
  });

  test("attention with causal and padding masks", async () => {
    const shapes = { x: [2, 3, 4], ...attnShapes("", 4) };
    const p = randomParams(shapes, 32, 0.7);
    const w = randomArray(24, 33);
    const a = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, arr(v.shape, v.data)]));
    const mask = arr([2, 3], [1, 1, 1, 1, 1, 0]);
    const f = () => weightedSum(attentionRef(a.x!, undefined, mask, { q: a.q!, qb: a.qb, k: a.k!, kb: a.kb, v: a.v!, vb: a.vb, o: a.o!, ob: a.ob! }, 2, true), w);
    const got = await lossAndGrads("cpu", p, (v) =>
      tf.sum(tf.mul(ops.attention(v.x!, undefined, tf.tensor2d(Array.from(mask.data), [2, 3]), attnWeights(v, ""), { heads: 2, causal: true }), tf.tensor(w, [2, 3, 4]))) as tf.Scalar);
    for (const name of ["x", "q", "k", "v", "o", "qb", "vb", "ob"]) {
      expect(relativeError(got.grads[name]!, numericGrad(f, a[name]!.data)), name).toBeLessThan(1e-3);
    }
  });
});
