// The two ops KOSMOS-2 added: place_tokens (image embeddings into the text at masked positions) and
// the padding-aware form of sinusoidal_positions (ids + pad). Forward against plain-loop references
// on cpu and wasm, gradients on wasm against cpu, and the compile-time checks of their arguments.
import { describe, expect, test } from "vitest";
import * as tf from "@tensorflow/tfjs-core";
import { compileSource } from "../compiler/index.js";
import { ops } from "../runtime/ops/index.js";
import { paddedSinusoidalTable } from "../runtime/ops/structure.js";
import { evalOn, lossAndGrads, randomArray, relativeError, type Backend } from "./ops-support.js";

const [B, T, L, D] = [3, 7, 2, 4];
const x = randomArray(B * T * D, 1);
const tokens = randomArray(B * L * D, 2);
// Row 0: marks at 1 and 2. Row 1: marks at 0, 4 and 6 (more marks than tokens: the third keeps x).
// Row 2: no marks.
const mask = Int32Array.from([0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);

function placeTokensRef(): Float32Array {
  const out = Float32Array.from(x);
  for (let b = 0; b < B; b++) {
    let k = 0;
    for (let t = 0; t < T; t++) {
      if (mask[b * T + t] === 0) continue;
      if (k < L) for (let d = 0; d < D; d++) out[(b * T + t) * D + d] = tokens[(b * L + k) * D + d]!;
      k++;
    }
  }
  return out;
}

// Ids with pad 5: row 0 right-padded, row 1 with a pad inside, row 2 left-padded.
const PAD = 5;
const ids = Int32Array.from([9, 3, 7, 5, 5, 5, 5, 9, 5, 3, 3, 1, 0, 2, 5, 5, 4, 4, 4, 4, 4]);

function positionsRef(): Float32Array {
  const out = Float32Array.from(x);
  const half = D / 2;
  for (let b = 0; b < B; b++) {
    let count = 0;
    for (let t = 0; t < T; t++) {
      if (ids[b * T + t] === PAD) continue; // the pad row is zero
      count++;
      const p = PAD + count;
      for (let i = 0; i < half; i++) {
        const angle = p * Math.exp((-i * Math.log(10000)) / (half - 1));
        out[(b * T + t) * D + i]! += Math.sin(angle);
        out[(b * T + t) * D + half + i]! += Math.cos(angle);
      }
    }
  }
  return out;
}

const backends: Backend[] = ["cpu", "wasm"];

describe.each(backends)("forward on %s", (backend) => {
  test("place_tokens: the k-th marked position takes token k; unmarked and surplus positions keep x", async () => {
    const out = await evalOn(backend, () => ops.placeTokens(tf.tensor3d(x, [B, T, D]), tf.tensor3d(tokens, [B, L, D]), tf.tensor2d(mask, [B, T], "int32")));
    expect(out.shape).toEqual([B, T, D]);
    // Exact copies: one term per output.
    expect(Array.from(out.data)).toEqual(Array.from(placeTokensRef()));
  });

  test("sinusoidal_positions with ids: pad + running count of real ids, the zero row for pads", async () => {
    const out = await evalOn(backend, () => ops.sinusoidalPositions(tf.tensor3d(x, [B, T, D]), tf.tensor2d(ids, [B, T], "int32"), { pad: PAD }));
    expect(relativeError(out.data, positionsRef())).toBeLessThan(1e-6);
  });
});

describe("the padded table", () => {
  test("row 0 is zero, row k is position pad + k, whatever the pad id", () => {
    const table = paddedSinusoidalTable(50_000, 2, 4);
    expect(table.length).toBe(3 * 4);
    expect(Array.from(table.slice(0, 4))).toEqual([0, 0, 0, 0]);
    expect(table[4]).toBeCloseTo(Math.sin(50_001), 2); // float32 angles: HF's arithmetic, not float64's
    expect(table[5]).toBeCloseTo(Math.sin(50_001 / 10000), 5);
  });
});

describe("gradients", () => {
  test("place_tokens passes gradients to x and to the tokens; wasm equals cpu", async () => {
    const params = { x: { shape: [B, T, D], data: x }, tokens: { shape: [B, L, D], data: tokens } };
    const probe = randomArray(B * T * D, 3);
    const loss = (v: Record<string, tf.Variable>) =>
      tf.sum(tf.mul(ops.placeTokens(v.x!, v.tokens!, tf.tensor2d(mask, [B, T], "int32")), tf.tensor3d(probe, [B, T, D]))) as tf.Scalar;
    const cpu = await lossAndGrads("cpu", params, loss);
    const wasm = await lossAndGrads("wasm", params, loss);
    // d/dx is the probe where x is kept and 0 where a token was placed; d/dtokens is the probe at its position.
    const kept = placeTokensRef().map((v, i) => (v === x[i] ? 1 : 0));
    expect(Array.from(cpu.grads.x!, (g) => g + 0)).toEqual( // + 0: -0 and 0 are the same gradient
Array.from(probe).map((p, i) => (kept[i] ? p : 0)));
    expect(cpu.grads.tokens![0]).toBe(probe[(0 * T + 1) * D]);
    expect(relativeError(wasm.grads.x!, cpu.grads.x!)).toBeLessThan(1e-6);
    expect(relativeError(wasm.grads.tokens!, cpu.grads.tokens!)).toBeLessThan(1e-6);
  });

  test("sinusoidal_positions with ids passes the gradient of x through unchanged", async () => {
    const probe = randomArray(B * T * D, 4);
    const loss = (v: Record<string, tf.Variable>) =>
      tf.sum(tf.mul(ops.sinusoidalPositions(v.x!, tf.tensor2d(ids, [B, T], "int32"), { pad: PAD }), tf.tensor3d(probe, [B, T, D]))) as tf.Scalar;
    for (const backend of backends) {
      const { grads } = await lossAndGrads(backend, { x: { shape: [B, T, D], data: x } }, loss);
      expect(relativeError(grads.x!, probe)).toBeLessThan(1e-7);
    }
  });
});

describe("compile-time checks", () => {
  const compile = (body: string) => {
    const r = compileSource(`model M() {\n  in x: [B, 6, 8]\n  in ids: [B, 6] int\n  in img: [B, 2, 8]\n${body}\n}\n`, "m.vlm");
    return r.diagnostics.map((d) => `${d.code} ${d.message}`);
  };

  test("the ops compile, with their IR attributes", () => {
    const r = compileSource("model M() {\n  in x: [B, 6, 8]\n  in ids: [B, 6] int\n  in img: [B, 2, 8]\n  out sinusoidal_positions(place_tokens(x, img, ids), ids = ids, pad = 1) + sinusoidal_positions(x)\n}\n", "m.vlm");
    expect(r.diagnostics).toEqual([]);
    const nodes = r.program!.nodes.filter((n) => n.op === "sinusoidal_positions" || n.op === "place_tokens");
    expect(nodes.map((n) => [n.op, n.inputs.length, n.attrs])).toEqual([
      ["place_tokens", 3, {}],
      ["sinusoidal_positions", 2, { pad: 1 }],
      ["sinusoidal_positions", 1, {}],
    ]);
  });

  test("wrong shapes and dtypes are diagnostics naming both shapes", () => {
    expect(compile("  out place_tokens(x, img, ids)")).toEqual([]);
    expect(compile("  out place_tokens(x, dense(img, 4), ids)")[0]).toMatch(/^E0401 place_tokens: tokens must be \[B, L, 8\] to go into \[B, 6, 8\], found \[B, 2, 4\]/);
    expect(compile("  out place_tokens(x, img, slice_tokens(x, 0, 2))")[0]).toMatch(/^E0305 argument 'mask' of place_tokens expects an int tensor/);
    expect(compile("  out sinusoidal_positions(x, ids = x)")[0]).toMatch(/^E0305 argument 'ids' of sinusoidal_positions expects an int tensor/);
    expect(compile("  out sinusoidal_positions(x, pad = 2)")[0]).toMatch(/^E0302 sinusoidal_positions: 'pad' applies to padding-aware positions, which need 'ids'/);
    expect(compile("  out sinusoidal_positions(x, ids = ids, pad = -1)")[0]).toMatch(/^E0407 sinusoidal_positions: 'pad' must be a token id/);
  });
});
