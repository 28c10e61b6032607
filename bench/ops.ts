// Per-op and per-model training-step timings of runtime/ops on wasm and cpu, at the model sizes of
// ../shared/notes/tfjs-backends.md. Medians over a few steps after warm-up; Adam steps.
//
//   npx tsc -p tsconfig.json && node dist/bench/ops.js [--backends wasm,cpu] [--only lenet,vit] [--steps 5] [--all]
//
// The cpu backend is 12–400× slower than wasm: a case whose first cpu step exceeds --cpu-budget-ms
// (default 4000) reports that single step and skips the rest.
import * as tf from "@tensorflow/tfjs-core";
import { performance } from "node:perf_hooks";
import { initBackend, type BackendRequest } from "../runtime/backend.js";
import { ops } from "../runtime/ops/index.js";
import type { AttentionWeights } from "../runtime/ops/types.js";

interface Case {
  name: string;
  /** Many seconds per step on cpu (../shared/notes: ViT 18 s, decoder LM 6.5 s; conv 16 s): skipped there unless --all. */
  cpuHeavy?: boolean;
  /** Builds variables and returns the loss; called once per backend. */
  setup: () => { loss: () => tf.Scalar; vars: tf.Variable[]; inputs: tf.Tensor[] };
}

function rnd(shape: number[], scale = 0.1): tf.Tensor {
  return tf.mul(tf.randomUniform(shape, -1, 1, "float32", 1), scale);
}
function param(shape: number[], scale = 0.1): tf.Variable {
  return tf.variable(rnd(shape, scale));
}
function intsBelow(shape: number[], max: number): tf.Tensor {
  return tf.cast(tf.floor(tf.randomUniform(shape, 0, max, "float32", 2)), "int32");
}

function attnParams(dim: number): AttentionWeights & Record<string, tf.Variable> {
  return {
    qKernel: param([dim, dim]), qBias: param([dim]), kKernel: param([dim, dim]), kBias: param([dim]),
    vKernel: param([dim, dim]), vBias: param([dim]), oKernel: param([dim, dim]), oBias: param([dim]),
  } as AttentionWeights & Record<string, tf.Variable>;
}

type Attn = typeof ops.attention;

/**
 * The alternative form of attention measured against ops.attention: one 2-D (batch-1, untransposed,
 * so XNNPACK) matmul per (example, head), with kᵀ materialised once for the whole batch.
 */
const attentionPerHead: Attn = (x, context, mask, w, o) => tf.tidy(() => {
  const [b, n, dim] = x.shape as [number, number, number];
  const d = dim / o.heads;
  const src = context ?? x;
  const nk = src.shape[1]!;
  const q = tf.mul(ops.dense(x, w.qKernel, w.qBias), 1 / Math.sqrt(d));
  const kT = ops.transpose(ops.dense(src, w.kKernel, w.kBias)); // [B, D, Nk]
  const v = ops.dense(src, w.vKernel, w.vBias);
  const outs: tf.Tensor[] = [];
  for (let bi = 0; bi < b; bi++) {
    const heads: tf.Tensor[] = [];
    for (let h = 0; h < o.heads; h++) {
      const qh = tf.reshape(tf.slice(q, [bi, 0, h * d], [1, n, d]), [n, d]);
      const kh = tf.reshape(tf.slice(kT, [bi, h * d, 0], [1, d, nk]), [d, nk]);
      const vh = tf.reshape(tf.slice(v, [bi, 0, h * d], [1, nk, d]), [nk, d]);
      heads.push(tf.matMul(tf.softmax(tf.matMul(qh, kh)), vh));
    }
    outs.push(tf.concat(heads, 1));
  }
  return ops.dense(tf.reshape(tf.concat(outs, 0), [b, n, dim]), w.oKernel, w.oBias);
});

function transformerBlock(dim: number, mlp: number, heads: number, causal: boolean, attention: Attn) {
  const a = attnParams(dim);
  const p = { g1: param([dim]), b1: param([dim]), g2: param([dim]), b2: param([dim]), f1: param([dim, mlp]), f1b: param([mlp]), f2: param([mlp, dim]), f2b: param([dim]) };
  const vars = [...Object.values(a), ...Object.values(p)] as tf.Variable[];
  const apply = (x: tf.Tensor, mask?: tf.Tensor) => {
    x = ops.add(x, attention(ops.layerNorm(x, p.g1, p.b1, { eps: 1e-5 }), undefined, mask, a, { heads, causal }));
    const h = ops.gelu(ops.dense(ops.layerNorm(x, p.g2, p.b2, { eps: 1e-5 }), p.f1, p.f1b));
    return ops.add(x, ops.dense(h, p.f2, p.f2b));
  };
  return { apply, vars };
}

// The per-head form only as an op case: at ViT size on wasm it is ~12× slower than the batched form,
// and a full ViT step with it exhausted wasm memory.
function vitCase(attention: Attn, name: string): Case {
  return {
    name,
    cpuHeavy: true,
    setup: () => {
      const [batch, image, patch, dim, depth, heads] = [64, 32, 4, 64, 4, 4];
      const pixels = rnd([batch, image, image, 3], 1);
      const labels = intsBelow([batch], 10);
      const pe = param([patch * patch * 3, dim]), peb = param([dim]), cls = param([dim]), pos = param([(image / patch) ** 2 + 1, dim]);
      const blocks = Array.from({ length: depth }, () => transformerBlock(dim, 128, heads, false, attention));
      const gf = param([dim]), bf = param([dim]), head = param([dim, 10]);
      const loss = () => tf.tidy(() => {
        let x = ops.dense(ops.patchify(pixels, { patch }), pe, peb);
        x = ops.positionEmbedding(ops.classToken(x, cls), pos);
        for (const blk of blocks) x = blk.apply(x);
        return ops.crossEntropy(ops.dense(ops.selectToken(ops.layerNorm(x, gf, bf, { eps: 1e-5 }), { index: 0 }), head), labels);
      });
      return { loss, vars: [pe, peb, cls, pos, gf, bf, head, ...blocks.flatMap((b) => b.vars)], inputs: [pixels, labels] };
    },
  };
}

const CASES: Case[] = [
  {
    name: "lenet",
    setup: () => {
      const x = rnd([32, 28, 28, 1], 1);
      const labels = intsBelow([32], 10);
      const c1 = param([5, 5, 1, 6]), c1b = param([6]), c2 = param([5, 5, 6, 16]), c2b = param([16]);
      const f1 = param([400, 120]), f1b = param([120]), f2 = param([120, 84]), f2b = param([84]), f3 = param([84, 10]), f3b = param([10]);
      const loss = () => tf.tidy(() => {
        let h = ops.maxPool(ops.relu(ops.conv2d(x, c1, c1b, { stride: 1, padding: "same" })), { size: 2, stride: 2, padding: "valid" });
        h = ops.maxPool(ops.relu(ops.conv2d(h, c2, c2b, { stride: 1, padding: "valid" })), { size: 2, stride: 2, padding: "valid" });
        h = ops.relu(ops.dense(ops.relu(ops.dense(ops.flatten(h), f1, f1b)), f2, f2b));
        return ops.crossEntropy(ops.dense(h, f3, f3b), labels);
      });
      return { loss, vars: [c1, c1b, c2, c2b, f1, f1b, f2, f2b, f3, f3b], inputs: [x, labels] };
    },
  },
  vitCase(ops.attention, "vit"),
  {
    name: "clip-loss",
    setup: () => {
      const img = param([64, 64], 1), txt = param([64, 64], 1), scale = param([1], 1);
      const loss = () => tf.tidy(() => {
        const logits = ops.mul(ops.matmul(ops.l2Normalize(img, { eps: 1e-12 }), ops.l2Normalize(txt, { eps: 1e-12 }), { transposeB: true }), ops.exp(scale));
        return ops.contrastiveLoss(logits);
      });
      return { loss, vars: [img, txt, scale], inputs: [] };
    },
  },
  {
    name: "decoder-lm",
    cpuHeavy: true,
    setup: () => {
      const [batch, t, vocab, dim] = [16, 64, 256, 64];
      const ids = intsBelow([batch, t], vocab), targets = intsBelow([batch, t], vocab);
      const mask = tf.ones([batch, t]);
      const emb = param([vocab, dim]);
      const blocks = [0, 1].map(() => transformerBlock(dim, 4 * dim, 4, true, ops.attention));
      const gf = param([dim]), bf = param([dim]);
      const loss = () => tf.tidy(() => {
        let h = ops.sinusoidalPositions(ops.embedding(ids, emb));
        for (const blk of blocks) h = blk.apply(h, mask);
        return ops.lmLoss(ops.matmul(ops.layerNorm(h, gf, bf, { eps: 1e-5 }), emb, { transposeB: true }), targets, mask);
      });
      return { loss, vars: [emb, gf, bf, ...blocks.flatMap((b) => b.vars)], inputs: [ids, targets, mask] };
    },
  },
  {
    name: "op:dense-4160x64x192",
    setup: () => {
      const x = rnd([64, 65, 64], 1), k = param([64, 192]), b = param([192]);
      return { loss: () => tf.tidy(() => tf.mean(ops.dense(x, k, b)) as tf.Scalar), vars: [k, b], inputs: [x] };
    },
  },
  {
    name: "op:attention-64x65x64-h4",
    setup: () => {
      const x = param([64, 65, 64], 1), w = attnParams(64);
      return { loss: () => tf.tidy(() => tf.mean(ops.attention(x, undefined, undefined, w, { heads: 4, causal: false })) as tf.Scalar), vars: [x, ...Object.values(w)] as tf.Variable[], inputs: [] };
    },
  },
  {
    name: "op:attention-perhead-64x65x64-h4",
    cpuHeavy: true,
    setup: () => {
      const x = param([64, 65, 64], 1), w = attnParams(64);
      return { loss: () => tf.tidy(() => tf.mean(attentionPerHead(x, undefined, undefined, w, { heads: 4, causal: false })) as tf.Scalar), vars: [x, ...Object.values(w)] as tf.Variable[], inputs: [] };
    },
  },
  {
    name: "op:conv2d-32x28x28x6-5x5x16",
    cpuHeavy: true,
    setup: () => {
      const x = param([32, 28, 28, 6], 1), k = param([5, 5, 6, 16]);
      return { loss: () => tf.tidy(() => tf.mean(ops.conv2d(x, k, undefined, { stride: 1, padding: "valid" })) as tf.Scalar), vars: [x, k], inputs: [] };
    },
  },
  {
    name: "op:layernorm-gelu-4160x128",
    setup: () => {
      const x = param([4160, 128], 1), g = param([128]), b = param([128]);
      return { loss: () => tf.tidy(() => tf.mean(ops.gelu(ops.layerNorm(x, g, b, { eps: 1e-5 }))) as tf.Scalar), vars: [x, g, b], inputs: [] };
    },
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function timeCase(c: Case, steps: number, budgetMs: number): Promise<{ stepMs: number; steps: number }> {
  const { loss, vars, inputs } = c.setup();
  const optimizer = tf.train.adam(1e-3);
  const step = async () => {
    const t0 = performance.now();
    const cost = optimizer.minimize(loss, true, vars);
    await cost!.data();
    cost!.dispose();
    return performance.now() - t0;
  };
  const times: number[] = [];
  const first = await step(); // warm-up (kernel setup, allocation)
  if (first > budgetMs) times.push(first);
  else {
    await step();
    for (let i = 0; i < steps; i++) times.push(await step());
  }
  optimizer.dispose();
  tf.dispose([...vars, ...inputs]);
  return { stepMs: median(times), steps: times.length };
}

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const backends = flag("backends", "wasm,cpu").split(",") as BackendRequest[];
  const only = flag("only", "").split(",").filter(Boolean);
  const steps = Number(flag("steps", "5"));
  const budget = Number(flag("cpu-budget-ms", "4000"));
  const cases = CASES.filter((c) => only.length === 0 || only.some((o) => c.name.startsWith(o)));
  const results: Record<string, Record<string, number | string>> = {};
  for (const backend of backends) {
    const choice = await initBackend(backend);
    for (const c of cases) {
      if (choice.name === "cpu" && c.cpuHeavy && !process.argv.includes("--all")) {
        console.log(`${choice.name.padEnd(5)} ${c.name.padEnd(30)}   skipped (seconds per step on cpu; --all runs it)`);
        continue;
      }
      const r = await timeCase(c, steps, backend === "cpu" ? budget : Infinity);
      (results[c.name] ??= {})[choice.name] = Number(r.stepMs.toFixed(1));
      console.log(`${choice.name.padEnd(5)} ${c.name.padEnd(30)} ${r.stepMs.toFixed(1).padStart(9)} ms/step (median of ${r.steps})`);
    }
  }
  console.log(JSON.stringify(results));
}

await main();
