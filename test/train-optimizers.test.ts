// Optimizer updates, schedules and clipping against values computed by hand from the published
// update rules (PyTorch's SGD, Adam, AdamW), on the cpu backend.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { beforeAll, describe, expect, it } from "vitest";
import { clipByGlobalNorm } from "../runtime/train/clip.js";
import { createOptimizer, isDecayed, type OptimizerConfig } from "../runtime/train/optimizers.js";
import { learningRate } from "../runtime/train/schedule.js";
import { batchAt, epochOrder, stepsPerEpoch } from "../runtime/train/batches.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

/** Runs `steps` updates with fixed gradients on parameters "w.kernel" = [1, -2] and "w.bias" = [0.5]. */
function run(config: OptimizerConfig, grads: number[][], lr: number): { kernel: number[]; bias: number[] } {
  const params = new Map([
    ["w.kernel", tf.variable(tf.tensor1d([1, -2]))],
    ["w.bias", tf.variable(tf.tensor1d([0.5]))],
  ]);
  const optimizer = createOptimizer(config, params);
  for (const [gk0, gk1, gb] of grads) {
    tf.tidy(() => optimizer.apply(new Map([["w.kernel", tf.tensor1d([gk0!, gk1!])], ["w.bias", tf.tensor1d([gb!])]]), lr));
  }
  const result = {
    kernel: Array.from(params.get("w.kernel")!.dataSync()),
    bias: Array.from(params.get("w.bias")!.dataSync()),
  };
  optimizer.dispose();
  for (const p of params.values()) p.dispose();
  return result;
}

const GRADS = [
  [0.5, -1, 2],
  [0.25, 1, -1],
];

describe("optimizers", () => {
  it("SGD with momentum: buf = 0.9 buf + g; p -= lr buf", () => {
    const { kernel, bias } = run({ name: "sgd", momentum: 0.9 }, GRADS, 0.1);
    // kernel[0]: buf1 = 0.5, p = 1 - 0.05 = 0.95; buf2 = 0.45 + 0.25 = 0.7, p = 0.95 - 0.07 = 0.88
    // kernel[1]: buf1 = -1, p = -1.9; buf2 = -0.9 + 1 = 0.1, p = -1.91
    // bias: buf1 = 2, p = 0.3; buf2 = 1.8 - 1 = 0.8, p = 0.22
    expect(kernel[0]).toBeCloseTo(0.88, 6);
    expect(kernel[1]).toBeCloseTo(-1.91, 6);
    expect(bias[0]).toBeCloseTo(0.22, 6);
  });

  it("SGD with L2 weight decay decays kernels only", () => {
    const { kernel, bias } = run({ name: "sgd", momentum: 0, weightDecay: 0.5 }, [[0, 0, 0]], 0.1);
    expect(kernel).toEqual([expect.closeTo(0.95, 6), expect.closeTo(-1.9, 6)]); // p - 0.1 * 0.5 * p
    expect(bias[0]).toBeCloseTo(0.5, 6);
  });

  it("Adam: two steps with bias correction", () => {
    const { kernel } = run({ name: "adam" }, GRADS, 0.01);
    // Hand computation for kernel[0] with g = 0.5 then 0.25, beta1 0.9, beta2 0.999, eps 1e-8:
    // t=1: m = 0.05, v = 0.00025; m^ = 0.5, v^ = 0.25 → step = 0.01 * 0.5 / 0.5 = 0.01 → p = 0.99
    // t=2: m = 0.045 + 0.025 = 0.07, v = 0.00024975 + 0.0000625 = 0.00031225
    //      m^ = 0.07 / 0.19 = 0.368421, v^ = 0.00031225 / 0.001999 = 0.156203, √ = 0.395225
    //      step = 0.01 * 0.368421 / 0.395225 = 0.0093218 → p = 0.9806782
    expect(kernel[0]).toBeCloseTo(0.9806782, 5);
    // kernel[1]: g = -1 then 1. t=1: p = -2 + 0.01 = -1.99.
    // t=2: m = -0.09 + 0.1 = 0.01, v = 0.000999 + 0.001 = 0.001999; m^ = 0.052632, v^ = 1 → step 0.00052632
    expect(kernel[1]).toBeCloseTo(-1.99052632, 5);
  });

  it("AdamW: decoupled decay p *= 1 - lr wd on kernels, none on biases", () => {
    const plain = run({ name: "adam" }, GRADS.slice(0, 1), 0.1);
    const decoupled = run({ name: "adamw", weightDecay: 0.5 }, GRADS.slice(0, 1), 0.1);
    // One step: Adam moves each value by lr * sign(g) = 0.1; AdamW first scales kernels by 1 - 0.05.
    expect(plain.kernel[0]).toBeCloseTo(0.9, 6);
    expect(decoupled.kernel[0]).toBeCloseTo(1 * 0.95 - 0.1, 6);
    expect(decoupled.kernel[1]).toBeCloseTo(-2 * 0.95 + 0.1, 6);
    expect(decoupled.bias[0]).toBeCloseTo(plain.bias[0]!, 6);
    expect(decoupled.bias[0]).toBeCloseTo(0.4, 6);
  });

  it("decays kernels, not biases, norms, tables or tokens", () => {
    expect(["fc.kernel", "attn.q_kernel", "c1.kernel"].every((n) => isDecayed(n))).toBe(true);
    expect(["fc.bias", "ln.gamma", "ln.beta", "emb.table", "cls.token", "scale.value"].some((n) => isDecayed(n))).toBe(false);
    // decay = "all": every parameter, as torch.optim.AdamW(model.parameters()).
    expect(["fc.bias", "ln.gamma", "emb.table", "scale.value"].every((n) => isDecayed(n, "all"))).toBe(true);
  });

  it("AdamW with decay = \"all\" shrinks biases too", () => {
    const kernelsOnly = run({ name: "adamw", weightDecay: 0.5 }, GRADS.slice(0, 1), 0.1);
    const all = run({ name: "adamw", weightDecay: 0.5, decay: "all" }, GRADS.slice(0, 1), 0.1);
    expect(all.kernel).toEqual(kernelsOnly.kernel);
    expect(all.bias[0]).toBeCloseTo(0.5 * 0.95 - 0.1, 6);
  });

  it("saves and restores its state exactly", () => {
    const make = () => new Map([["w.kernel", tf.variable(tf.tensor1d([1, -2]))]]);
    const a = make();
    const opt = createOptimizer({ name: "adam" }, a);
    tf.tidy(() => opt.apply(new Map([["w.kernel", tf.tensor1d([0.3, 0.7])]]), 0.01));
    const b = make();
    b.get("w.kernel")!.assign(a.get("w.kernel")!);
    const restored = createOptimizer({ name: "adam" }, b);
    restored.loadState(opt.saveState(), opt.steps);
    for (const [o, params] of [[opt, a], [restored, b]] as const) {
      tf.tidy(() => o.apply(new Map([["w.kernel", tf.tensor1d([-0.1, 0.2])]]), 0.01));
      void params;
    }
    expect(Array.from(b.get("w.kernel")!.dataSync())).toEqual(Array.from(a.get("w.kernel")!.dataSync()));
    expect(restored.steps).toBe(2);
  });
});

describe("multi-tensor Adam (the form used on native TensorFlow)", () => {
  for (const [name, wd] of [["adam", 0.1], ["adamw", 0.05]] as const) {
    it(`${name}: the same parameters and state, to the bit, as the per-parameter rule (a step without one gradient included)`, () => {
      // The per-parameter form (the default on cpu and wasm, checked by hand above) is the reference.
      expect(createOptimizer({ name }, new Map()).constructor.name).toBe("Adam");
      const shapes: [string, number[]][] = [["a.kernel", [3, 4]], ["a.bias", [4]], ["ln.gamma", [4]], ["emb.table", [5, 2]], ["s.value", []]];
      let seed = 1;
      const random = (shape: number[]) => tf.randomNormal(shape, 0, 1, "float32", seed++);
      const make = () => new Map(shapes.map(([n, shape], i) => [n, tf.variable(tf.randomNormal(shape, 0, 1, "float32", 100 + i))] as const));
      const fused = make();
      const reference = make();
      const optimizer = createOptimizer({ name, weightDecay: wd }, fused, { multiTensor: true });
      const perParameter = createOptimizer({ name, weightDecay: wd }, reference, { multiTensor: false });
      for (let t = 1; t <= 5; t++) {
        // Step 3: "emb.table" gets no gradient (a parameter the loss does not reach): it and its state stay.
        const grads = new Map(shapes.filter(([n]) => !(t === 3 && n === "emb.table")).map(([n, shape]) => [n, random(shape)] as const));
        const lr = 0.01 * t;
        tf.tidy(() => optimizer.apply(grads, lr));
        tf.tidy(() => perParameter.apply(grads, lr));
        for (const g of grads.values()) g.dispose();
      }
      for (const [n, p] of fused) expect(Array.from(p.dataSync()), n).toEqual(Array.from(reference.get(n)!.dataSync()));
      const saved = optimizer.saveState();
      const expected = perParameter.saveState();
      expect([...saved.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [key, state] of expected) expect(Array.from(saved.get(key)!.data), key).toEqual(Array.from(state.data));
      perParameter.dispose();
      optimizer.dispose();
    });
  }
});

describe("learning-rate schedule", () => {
  const cosine = { kind: "cosine" as const, lr: 1, warmup: 4, totalSteps: 14 };
  it("warms up linearly, then follows a half cosine to zero", () => {
    expect([0, 1, 2, 3].map((s) => learningRate(cosine, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRate(cosine, 4)).toBeCloseTo(1, 12);
    expect(learningRate(cosine, 9)).toBeCloseTo(0.5, 12); // half way through the decay
    expect(learningRate(cosine, 14)).toBeCloseTo(0, 12);
    expect(learningRate({ ...cosine, finalLr: 0.1 }, 9)).toBeCloseTo(0.55, 12);
  });
  it("constant keeps the rate after warmup", () => {
    expect(learningRate({ kind: "constant", lr: 0.3, warmup: 0, totalSteps: 10 }, 7)).toBe(0.3);
    expect(learningRate({ kind: "constant", lr: 0.3, warmup: 3, totalSteps: 10 }, 0)).toBeCloseTo(0.1, 12);
  });
});

describe("gradient clipping by global norm", () => {
  it("scales every gradient by max / norm when the norm is larger, and leaves small ones alone", () => {
    tf.tidy(() => {
      // Global norm of [3, 4] and [12] is 13.
      const grads = new Map([["a", tf.tensor1d([3, 4])], ["b", tf.tensor1d([12])]]);
      const { grads: clipped, norm } = clipByGlobalNorm(grads, 6.5);
      expect(norm.dataSync()[0]).toBeCloseTo(13, 5);
      expect(Array.from(clipped.get("a")!.dataSync())).toEqual([expect.closeTo(1.5, 5), expect.closeTo(2, 5)]);
      expect(clipped.get("b")!.dataSync()[0]).toBeCloseTo(6, 5);
      const { grads: kept } = clipByGlobalNorm(grads, 100);
      expect(Array.from(kept.get("a")!.dataSync())).toEqual([3, 4]);
    });
  });
});

describe("batch order", () => {
  it("is a permutation that depends on seed and epoch only", () => {
    const a = epochOrder(7, 0, 50);
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epochOrder(7, 0, 50)).toEqual(a);
    expect(epochOrder(7, 1, 50)).not.toEqual(a);
    expect(epochOrder(8, 0, 50)).not.toEqual(a);
  });
  it("drops the last partial batch", () => {
    expect(stepsPerEpoch(50, 16)).toBe(3);
    expect(stepsPerEpoch(5, 16)).toBe(1);
    expect(batchAt([0, 1, 2, 3, 4], 1, 2)).toEqual([2, 3]);
  });
});

describe("progress lines when not on a terminal", () => {
  it("prints one plain line per logged step and nothing on other steps", async () => {
    const { createProgress } = await import("../runtime/train/progress.js");
    let text = "";
    const stream = { write: (s: string) => ((text += s), true), isTTY: false } as unknown as NodeJS.WriteStream;
    const progress = createProgress({ stream });
    progress.start(100, 0);
    progress.step({ step: 1, totalSteps: 100, epoch: 1, lr: 0.001, examplesPerSecond: 10 });
    progress.step({ step: 50, totalSteps: 100, epoch: 1, lr: 0.001, examplesPerSecond: 812.4, loss: 0.34215 });
    progress.line("eval test @ step 50");
    progress.stop();
    expect(text).toMatch(/^step 50\/100 {2}epoch 1 {2}loss 0\.3422 {2}lr 1\.00e-3 {2}812 ex\/s {2}eta \d+s\neval test @ step 50\n$/);
  });
});
