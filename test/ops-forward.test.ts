// Each primitive's forward pass against a plain-JS float64 reference (test/ops-reference.ts) on small
// seeded inputs, on both in-process backends.
import { describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { ops } from "../runtime/ops/index.js";
import { sinusoidalTable } from "../runtime/ops/structure.js";
import { evalOn, randomArray, randomInts, relativeError, type Backend } from "./ops-support.js";
import {
  arr, attentionRef, conv2dRef, denseRef, geluRef, geluTanhRef, layerNormRef, map, matmul2d, nllRef, quickGeluRef,
  sigmoidRef, softmaxRows, type Arr,
} from "./ops-reference.js";

const TOL = 2e-5;

function rand(shape: number[], seed: number, scale = 1): Arr {
  return arr(shape, randomArray(shape.reduce((a, b) => a * b, 1), seed, scale));
}
const T = (a: Arr): tf.Tensor => tf.tensor(Float32Array.from(a.data), a.shape);

async function expectClose(backend: Backend, f: () => tf.Tensor, ref: Arr, tol = TOL): Promise<void> {
  const got = await evalOn(backend, f);
  expect(got.shape).toEqual(ref.shape);
  expect(relativeError(got.data, ref.data)).toBeLessThan(tol);
}

describe.each<Backend>(["cpu", "wasm"])("forward on %s", (backend) => {
  const x = rand([2, 3, 8], 1, 3);

  test("activations match their exact formulas", async () => {
    await expectClose(backend, () => ops.gelu(T(x)), map(x, geluRef));
    await expectClose(backend, () => ops.geluTanh(T(x)), map(x, geluTanhRef));
    await expectClose(backend, () => ops.quickGelu(T(x)), map(x, quickGeluRef));
    await expectClose(backend, () => ops.silu(T(x)), map(x, (v) => v * sigmoidRef(v)));
    await expectClose(backend, () => ops.relu(T(x)), map(x, (v) => Math.max(v, 0)));
    await expectClose(backend, () => ops.tanh(T(x)), map(x, Math.tanh));
    await expectClose(backend, () => ops.sigmoid(T(x)), map(x, sigmoidRef));
    await expectClose(backend, () => ops.softmax(T(x)), { shape: x.shape, data: softmaxRows(x.data, 8) });
  });

  test("gelu at hand-computed points", async () => {
    // Φ(1) = 0.841344746..., Φ(-2) = 0.022750131...
    const got = await evalOn(backend, () => ops.gelu(tf.tensor1d([0, 1, -2])));
    expect(got.data[0]).toBe(0);
    expect(got.data[1]).toBeCloseTo(0.8413447, 6);
    expect(got.data[2]).toBeCloseTo(-0.0455003, 6);
  });

  test("elementwise ops broadcast like numpy", async () => {
    const b = rand([8], 2);
    const bcast = (f: (p: number, q: number) => number): Arr =>
      ({ shape: x.shape, data: x.data.map((v, i) => f(v, b.data[i % 8]!)) });
    await expectClose(backend, () => ops.add(T(x), T(b)), bcast((p, q) => p + q));
    await expectClose(backend, () => ops.sub(T(x), T(b)), bcast((p, q) => p - q));
    await expectClose(backend, () => ops.mul(T(x), T(b)), bcast((p, q) => p * q));
    await expectClose(backend, () => ops.div(T(x), ops.add(T(map(b, Math.abs)), ops.constant(0.5))), bcast((p, q) => p / (Math.abs(q) + 0.5)));
    await expectClose(backend, () => ops.neg(T(x)), map(x, (v) => -v));
    await expectClose(backend, () => ops.exp(T(x)), map(x, Math.exp));
  });

  test("dense folds leading axes into one matmul", async () => {
    const k = rand([8, 5], 3), bias = rand([5], 4);
    await expectClose(backend, () => ops.dense(T(x), T(k), T(bias)), denseRef(x, k, bias));
    await expectClose(backend, () => ops.dense(T(x), T(k)), denseRef(x, k));
  });

  test("layer norm uses the biased variance and the given eps", async () => {
    const g = rand([8], 5), be = rand([8], 6);
    await expectClose(backend, () => ops.layerNorm(T(x), T(g), T(be), { eps: 1e-5 }), layerNormRef(x, g, be, 1e-5));
    // A large eps shows whether it is honoured.
    await expectClose(backend, () => ops.layerNorm(T(x), T(g), T(be), { eps: 0.5 }), layerNormRef(x, g, be, 0.5));
  });

  test.each([
    ["self", false, false, false],
    ["self, causal", true, false, true],
    ["self, causal + key padding", true, true, true],
    ["cross with key padding, no q/k/v bias", false, true, false],
  ])("attention: %s", async (_name, causal, masked, qkvBias) => {
    const cross = _name.startsWith("cross");
    const ctx = cross ? rand([2, 5, 6], 10) : undefined;
    const dk = cross ? 6 : 8;
    const w = {
      q: rand([8, 8], 11, 0.5), k: rand([dk, 8], 12, 0.5), v: rand([dk, 8], 13, 0.5), o: rand([8, 8], 14, 0.5),
      ob: rand([8], 18), ...(qkvBias ? { qb: rand([8], 15), kb: rand([8], 16), vb: rand([8], 17) } : {}),
    };
    const nk = cross ? 5 : 3;
    // Row 1 pads its last key; row 0 pads none.
    const mask = masked ? arr([2, nk], Array.from({ length: 2 * nk }, (_, i) => (i === 2 * nk - 1 ? 0 : 1))) : undefined;
    const ref = attentionRef(x, ctx, mask, w, 2, causal);
    await expectClose(backend, () => ops.attention(T(x), ctx && T(ctx), mask && T(mask), {
      qKernel: T(w.q), kKernel: T(w.k), vKernel: T(w.v), oKernel: T(w.o), oBias: T(w.ob),
      qBias: w.qb && T(w.qb), kBias: w.kb && T(w.kb), vBias: w.vb && T(w.vb),
    }, { heads: 2, causal }), ref);
  });

  test.each([[1, "valid"], [1, "same"], [2, "same"], [2, "valid"]] as const)("conv2d stride %d %s", async (stride, padding) => {
    const img = rand([2, 7, 6, 3], 20), k = rand([3, 3, 3, 4], 21), bias = rand([4], 22);
    const ref = conv2dRef(img, k, stride, padding);
    const withBias = { shape: ref.shape, data: ref.data.map((v, i) => v + bias.data[i % 4]!) };
    await expectClose(backend, () => ops.conv2d(T(img), T(k), T(bias), { stride, padding }), withBias);
  });

  test("pooling on a hand-made image", async () => {
    const img = arr([1, 2, 4, 1], [1, 2, 3, 4, 5, 6, 7, 8]);
    await expectClose(backend, () => ops.maxPool(T(img), { size: 2, stride: 2, padding: "valid" }), arr([1, 1, 2, 1], [6, 8]));
    await expectClose(backend, () => ops.avgPool(T(img), { size: 2, stride: 2, padding: "valid" }), arr([1, 1, 2, 1], [3.5, 5.5]));
  });

  test("patchify orders features row, col, channel within row-major patches", async () => {
    const img = rand([2, 4, 6, 3], 30);
    const p = 2, gh = 2, gw = 3;
    const out = new Float64Array(img.data.length);
    let o = 0;
    for (let b = 0; b < 2; b++) for (let gi = 0; gi < gh; gi++) for (let gj = 0; gj < gw; gj++)
      for (let r = 0; r < p; r++) for (let c = 0; c < p; c++) for (let ch = 0; ch < 3; ch++)
        out[o++] = img.data[((b * 4 + gi * p + r) * 6 + gj * p + c) * 3 + ch]!;
    await expectClose(backend, () => ops.patchify(T(img), { patch: 2 }), arr([2, gh * gw, p * p * 3], out));
  });

  test("dense(patchify(x)) equals the stride-p conv with the reshaped kernel", async () => {
    const img = rand([1, 4, 4, 2], 31), k = rand([2, 2, 2, 5], 32);
    const conv = conv2dRef(img, k, 2, "valid");
    await expectClose(backend, () => ops.dense(ops.patchify(T(img), { patch: 2 }), tf.reshape(T(k), [8, 5])),
      { shape: [1, 4, 5], data: conv.data });
  });

  test("embedding, class token, positions and learned tokens", async () => {
    const table = rand([10, 4], 40);
    const ids = [3, 3, 9, 0, 1, 2];
    await expectClose(backend, () => ops.embedding(tf.tensor2d(ids, [2, 3], "int32"), T(table)),
      arr([2, 3, 4], ids.flatMap((i) => Array.from(table.data.slice(i * 4, i * 4 + 4)))));
    const seq = rand([2, 3, 4], 41), tok = rand([4], 42);
    const withCls: number[] = [];
    for (let b = 0; b < 2; b++) withCls.push(...tok.data, ...seq.data.slice(b * 12, b * 12 + 12));
    await expectClose(backend, () => ops.classToken(T(seq), T(tok)), arr([2, 4, 4], withCls));
    const pos = rand([3, 4], 43);
    await expectClose(backend, () => ops.positionEmbedding(T(seq), T(pos)), { shape: seq.shape, data: seq.data.map((v, i) => v + pos.data[i % 12]!) });
    const learned = rand([5, 4], 44);
    await expectClose(backend, () => ops.learnedTokens(T(seq), T(learned)), arr([2, 5, 4], [...learned.data, ...learned.data]));
  });

  test("sinusoidal positions: sin half, cos half, fairseq frequencies", async () => {
    const zeros = arr([1, 5, 6], new Array(30).fill(0));
    const ref: number[] = [];
    for (let p = 0; p < 5; p++) {
      const f = [0, 1, 2].map((i) => Math.exp((-i * Math.log(10000)) / 2));
      ref.push(...f.map((v) => Math.sin(p * v)), ...f.map((v) => Math.cos(p * v)));
    }
    await expectClose(backend, () => ops.sinusoidalPositions(T(zeros)), arr([1, 5, 6], ref));
    expect(Array.from(sinusoidalTable(2, 3))).toEqual([0, 1, 0, Math.fround(Math.sin(1)), Math.fround(Math.cos(1)), 0]);
  });

  test("token selection, slicing, mean, flatten, reshape, concat, transpose, matmul", async () => {
    const s = rand([2, 4, 3], 50);
    const pick = (b: number, n: number) => Array.from(s.data.slice((b * 4 + n) * 3, (b * 4 + n) * 3 + 3));
    await expectClose(backend, () => ops.selectToken(T(s), { index: 2 }), arr([2, 3], [...pick(0, 2), ...pick(1, 2)]));
    await expectClose(backend, () => ops.sliceTokens(T(s), { start: 1, end: 3 }), arr([2, 2, 3], [...pick(0, 1), ...pick(0, 2), ...pick(1, 1), ...pick(1, 2)]));
    const mean = [0, 1].flatMap((b) => [0, 1, 2].map((d) => [0, 1, 2, 3].reduce((acc, n) => acc + pick(b, n)[d]!, 0) / 4));
    await expectClose(backend, () => ops.meanTokens(T(s)), arr([2, 3], mean));
    await expectClose(backend, () => ops.flatten(T(s)), arr([2, 12], s.data));
    await expectClose(backend, () => ops.reshape(T(s), { shape: [3, 4] }), arr([2, 3, 4], s.data));
    await expectClose(backend, () => ops.concat([T(s), T(s)], { axis: 1 }), arr([2, 8, 3], [...s.data.slice(0, 12), ...s.data.slice(0, 12), ...s.data.slice(12), ...s.data.slice(12)]));
    const tr = [0, 1].flatMap((b) => [0, 1, 2].flatMap((d) => [0, 1, 2, 3].map((n) => pick(b, n)[d]!)));
    await expectClose(backend, () => ops.transpose(T(s)), arr([2, 3, 4], tr));
    const m = rand([2, 5, 3], 51);
    const ref = [0, 1].flatMap((b) => Array.from(matmul2d(m.data.slice(b * 15, b * 15 + 15), tr.slice(b * 12, b * 12 + 12), 5, 3, 4)));
    await expectClose(backend, () => ops.matmul(T(m), T(s), { transposeB: true }), arr([2, 5, 4], ref));
    await expectClose(backend, () => ops.matmul(T(m), ops.transpose(T(s)), { transposeB: false }), arr([2, 5, 4], ref));
  });

  test("pool_eot takes the first eot position (0 when there is none)", async () => {
    const s = rand([3, 4, 2], 60);
    const ids = [5, 9, 1, 9, /**/ 9, 2, 9, 3, /**/ 1, 2, 3, 4];
    const at = (b: number, n: number) => Array.from(s.data.slice((b * 4 + n) * 2, (b * 4 + n) * 2 + 2));
    await expectClose(backend, () => ops.poolEot(T(s), tf.tensor2d(ids, [3, 4], "int32"), { eot: 9 }), arr([3, 2], [...at(0, 1), ...at(1, 0), ...at(2, 0)]));
  });

  test("l2 normalize: unit rows, and eps guards a zero row", async () => {
    const v = arr([2, 3], [3, 0, 4, 0, 0, 0]);
    await expectClose(backend, () => ops.l2Normalize(T(v), { eps: 1e-12 }), arr([2, 3], [0.6, 0, 0.8, 0, 0, 0]));
  });

  test("losses equal their definitions", async () => {
    const logits = rand([4, 5], 70, 4);
    const labels = [0, 4, 2, 2];
    const ce = await evalOn(backend, () => ops.crossEntropy(T(logits), tf.tensor1d(labels, "int32")));
    expect(relativeError(ce.data, [nllRef(logits.data, 5, labels)])).toBeLessThan(TOL);

    const sq = rand([3, 3], 71, 5);
    const transposed = [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => sq.data[j * 3 + i]!));
    const clip = (nllRef(sq.data, 3, [0, 1, 2]) + nllRef(Float64Array.from(transposed), 3, [0, 1, 2])) / 2;
    const got = await evalOn(backend, () => ops.contrastiveLoss(T(sq)));
    expect(relativeError(got.data, [clip])).toBeLessThan(TOL);

    const lm = rand([2, 3, 6], 72, 3);
    const targets = [1, 5, 0, 2, 2, 3], mask = [1, 1, 0, 0, 1, 1];
    const lmGot = await evalOn(backend, () => ops.lmLoss(T(lm), tf.tensor2d(targets, [2, 3], "int32"), tf.tensor2d(mask, [2, 3])));
    expect(relativeError(lmGot.data, [nllRef(lm.data, 6, targets, mask)])).toBeLessThan(TOL);
  });

  test("cross-entropy stays finite for huge logits (stable log-softmax)", async () => {
    const got = await evalOn(backend, () => ops.crossEntropy(tf.tensor2d([[1000, 0], [0, -1000]]), tf.tensor1d([1, 1], "int32")));
    expect(relativeError(got.data, [(1000 + 1000) / 2])).toBeLessThan(1e-6);
  });

  test("lm loss is 0, not NaN, when nothing counts", async () => {
    const got = await evalOn(backend, () => ops.lmLoss(tf.zeros([1, 2, 3]), tf.zeros([1, 2], "int32"), tf.zeros([1, 2])));
    expect(got.data[0]).toBe(0);
  });
});

test("randomInts is deterministic", () => {
  expect(Array.from(randomInts(4, 7, 100))).toEqual(Array.from(randomInts(4, 7, 100)));
});
