// runtime/kernel-replay/ with runtime/step-graph/: on wasm a training step (or an evaluation
// batch) is recorded kernel by kernel during two eager calls and then replayed without tfjs's
// engine. The same kernels on the same data in the same order: the results must be the same to
// the bit as eager steps, on every bundled model, with no tensor or memory left behind; and every
// reason to stay op by op must be taken, and said.
import * as tf from "@tensorflow/tfjs-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compileBenchModels, repoRoot } from "../bench/harness.js";
import { syntheticInputs } from "../bench/synthetic.js";
import { initBackend } from "../runtime/backend.js";
import { KernelReplayFunction } from "../runtime/kernel-replay/adapter.js";
import { loadModel } from "../runtime/model.js";
import { createOptimizer } from "../runtime/train/optimizers.js";
import { createTrainStep } from "../runtime/train/step.js";
import { setWasmKernelsEnabled } from "../runtime/wasm-kernels.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-replay-test-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend("wasm");
});

/** Losses and final parameters of `steps` steps of a bundled model, replay allowed or not. */
async function train(key: "lenet5" | "vit" | "clip" | "kosmos", replay: boolean, steps: number, batch = 4) {
  const [c] = compileBenchModels(repoRoot(), [key], batch);
  const model = await loadModel(c!.program, { seed: 1, cacheDir: join(work, "cache") });
  const optimizer = createOptimizer({ name: (c!.program.train.optimizer ?? "adam") as "adam", weightDecay: 0.05 }, model.trainable);
  const modes: string[] = [];
  const step = createTrainStep({ params: model.trainable, loss: (x) => model.forward(x).loss!, optimizer, graph: replay, clip: 1, onMode: (line) => modes.push(line) });
  const inputs = syntheticInputs(c!.program, batch);
  const losses: number[] = [];
  const after: { tensors: number; data: number }[] = [];
  for (let i = 0; i < steps; i++) {
    const loss = step.run(inputs, 1e-3 * (1 + i)); // a changing learning rate: a per-step scalar
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
    // The backend's own count of live data: a replayed intermediate never becomes a tfjs tensor.
    after.push({ tensors: tf.memory().numTensors, data: tf.backend().numDataIds() });
  }
  const params = [...model.trainable].map(([n, v]) => [n, Array.from(v.dataSync())] as const);
  const state = [...optimizer.saveState()].map(([n, s]) => [n, Array.from(s.data)] as const);
  const result = { losses, params, state, modes, mode: step.mode, optimizerSteps: optimizer.steps, after };
  step.dispose();
  optimizer.dispose();
  model.dispose();
  tf.dispose(Object.values(inputs));
  return result;
}

describe("kernel replay on wasm", () => {
  test.each(["lenet5", "vit", "clip", "kosmos"] as const)("%s: replayed steps equal eager steps to the bit, and leave nothing behind", async (key) => {
    const eager = await train(key, false, 5);
    const replayed = await train(key, true, 5);
    expect(eager.mode).toBe("eager");
    expect(replayed.mode, replayed.modes.join("\n")).toBe("compiled");
    expect(replayed.modes[0]).toMatch(/^wasm: each training step runs as one replayed kernel sequence \(\d+ kernels/);
    expect(replayed.optimizerSteps).toBe(5);
    expect(replayed.losses).toEqual(eager.losses);
    expect(replayed.params).toEqual(eager.params);
    expect(replayed.state).toEqual(eager.state);
    // Steps 3–5 are replayed: as many tensors and data buffers after each as after the one before.
    expect(new Set(replayed.after.slice(2).map((a) => `${a.tensors}/${a.data}`)).size).toBe(1);
  }, 60_000);

  /** A tiny regression run through KernelReplayFunction (or eagerly), one call per batch size. */
  function tiny(lossOf: (x: tf.Tensor, w: tf.Variable) => tf.Scalar, batches: number[] = [4, 4, 4, 4], replay = true) {
    const dataBefore = tf.backend().numDataIds();
    const w = tf.tidy(() => tf.variable(tf.tensor2d([[0.5], [-0.25], [1]]), true, `w_tiny_${Math.random()}`));
    const modes: string[] = [];
    const body = (inputs: Readonly<Record<string, tf.Tensor>>, scalars: Readonly<Record<string, tf.Scalar>>) => {
      const { value, grads } = tf.variableGrads(() => lossOf(inputs["x"]!, w), [w]);
      w.assign(tf.sub(w, tf.mul(Object.values(grads)[0]!, scalars["lr"]!)));
      return { loss: value };
    };
    const fn = replay ? new KernelReplayFunction(body, { what: "training step", onMode: (line) => modes.push(line) }) : undefined;
    const losses: number[] = [];
    for (const b of batches) {
      const x = tf.tensor2d(Array.from({ length: b * 3 }, (_, i) => Math.sin(i + b)), [b, 3]);
      const lr = tf.scalar(0.1);
      const out = fn ? fn.run({ x }, { lr }) : tf.tidy(() => body({ x }, { lr }));
      losses.push(out["loss"]!.dataSync()[0]!);
      tf.dispose([x, lr, out["loss"]!]);
    }
    const state = fn?.state ?? "eager";
    fn?.dispose();
    const final = Array.from(w.dataSync());
    w.dispose();
    // Everything the replay wrote (its constants) is freed with it.
    return { modes, state, losses, final, leaked: tf.backend().numDataIds() - dataBefore };
  }
  const square = (x: tf.Tensor, w: tf.Variable) => tf.mean(tf.square(tf.matMul(x, w))) as tf.Scalar;

  test("an input of another shape runs that call op by op; the results equal eager ones to the bit", () => {
    const run = tiny(square, [4, 4, 4, 3, 4, 4]);
    expect(run.state).toBe("compiled");
    expect(run.leaked).toBe(0);
    const reference = tiny(square, [4, 4, 4, 3, 4, 4], false);
    expect(run.losses).toEqual(reference.losses);
    expect(run.final).toEqual(reference.final);
  });

  test("a random mask drawn in JavaScript: op by op, with the reason", () => {
    const run = tiny((x, w) => tf.mean(tf.mul(tf.square(tf.matMul(x, w)), tf.randomUniform([x.shape[0]!, 1]))) as tf.Scalar);
    expect(run.state).toBe("eager");
    expect(run.modes[0]).toMatch(/^wasm: each training step runs op by op: two steps ran different ops or constants/);
  });

  test("a value read back mid-step: op by op, naming the code that read", () => {
    const run = tiny((x, w) => {
      const y = tf.matMul(x, w);
      return (y.dataSync()[0]! > 100 ? tf.sum(y) : tf.mean(tf.square(y))) as tf.Scalar;
    });
    expect(run.state).toBe("eager");
    expect(run.modes[0]).toMatch(/reads 1 value\(s\) back to JavaScript while it runs \(first in kernel-replay\.test\.ts:\d+:\d+\)/);
  });

  test("a constant made from JavaScript before the first call (uploaded inside it) is still a constant", () => {
    const scale = tf.tensor2d([[2], [3], [4], [5]]);
    const run = tiny((x, w) => tf.mean(tf.mul(tf.square(tf.matMul(x, w)), scale)) as tf.Scalar);
    expect(run.state, run.modes.join("\n")).toBe("compiled");
    expect(run.leaked).toBe(0);
    const reference = tiny((x, w) => tf.mean(tf.mul(tf.square(tf.matMul(x, w)), scale)) as tf.Scalar, [4, 4, 4, 4], false);
    expect(run.final).toEqual(reference.final);
    scale.dispose();
  });

  test("a forward-only function with several outputs (an evaluation batch) equals eager batch by batch", () => {
    const w = tf.variable(tf.tensor2d([[0.5, 1], [-0.25, 2], [1, -1]]), true, `w_eval_${Math.random()}`);
    const body = (inputs: Readonly<Record<string, tf.Tensor>>) => {
      const y = tf.matMul(inputs["x"]!, w);
      const best = tf.argMax(y, -1);
      return { total: tf.sum(y), best, hits: tf.sum(tf.cast(tf.equal(best, inputs["label"]!), "float32")), rows: tf.concat([y, y], 1) };
    };
    const fn = new KernelReplayFunction(body, { what: "evaluation batch" });
    const before = [tf.memory().numTensors, tf.backend().numDataIds()];
    for (const b of [5, 5, 5, 5, 2, 5]) {
      const inputs = { x: tf.tensor2d(Array.from({ length: b * 3 }, (_, i) => Math.sin(i * b)), [b, 3]), label: tf.tensor1d(Array.from({ length: b }, (_, i) => i % 2), "int32") };
      const got = fn.run(inputs);
      const want = tf.tidy(() => body(inputs));
      expect(Object.keys(got)).toEqual(["total", "best", "hits", "rows"]);
      for (const k of Object.keys(want)) {
        expect(got[k]!.shape, k).toEqual(want[k as keyof typeof want].shape);
        expect(Array.from(got[k]!.dataSync()), k).toEqual(Array.from(want[k as keyof typeof want].dataSync()));
      }
      tf.dispose([...Object.values(got), ...Object.values(want), ...Object.values(inputs)] as tf.Tensor[]);
    }
    expect(fn.state).toBe("compiled");
    fn.dispose();
    expect([tf.memory().numTensors, tf.backend().numDataIds()]).toEqual(before);
    w.dispose();
  });

  test("with tfjs's stock Identity (the engine's copies for the gradient are new data) replayed steps still equal eager ones", async () => {
    setWasmKernelsEnabled(false);
    try {
      const eager = await train("lenet5", false, 4);
      const replayed = await train("lenet5", true, 4);
      expect(replayed.mode, replayed.modes.join("\n")).toBe("compiled");
      expect(replayed.losses).toEqual(eager.losses);
      expect(replayed.params).toEqual(eager.params);
    } finally {
      setWasmKernelsEnabled(true);
    }
  }, 60_000);

  /** Runs `body` through KernelReplayFunction on `xs` and returns each call's outputs as arrays, with their shapes. */
  function outputsOf(body: (inputs: Readonly<Record<string, tf.Tensor>>) => Record<string, tf.Tensor>, xs: number[][]) {
    const modes: string[] = [];
    const fn = new KernelReplayFunction(body, { what: "evaluation batch", onMode: (line) => modes.push(line) });
    const calls = xs.map((values) => {
      const x = tf.tensor1d(values);
      const out = fn.run({ x });
      const got = Object.fromEntries(Object.entries(out).map(([k, t]) => [k, { shape: t.shape, values: Array.from(t.dataSync()) }]));
      const want = tf.tidy(() => body({ x }));
      const expected = Object.fromEntries(Object.entries(want).map(([k, t]) => [k, { shape: t.shape, values: Array.from(t.dataSync()) }]));
      tf.dispose([x, ...Object.values(out), ...Object.values(want)]);
      return { got, expected };
    });
    const state = fn.state;
    fn.dispose();
    return { calls, state, modes };
  }

  test("a returned value that the body also reshapes comes back with its own shape", () => {
    const { calls, state } = outputsOf((i) => {
      const y = tf.reshape(tf.mul(i["x"]!, 2), [2, 2]);
      return { y, total: tf.sum(tf.reshape(y, [-1])) };
    }, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [1, 1, 1, 1]]);
    expect(state).toBe("compiled");
    for (const c of calls) expect(c.got).toEqual(c.expected);
  });

  test("a kernel whose output shape depends on the data: the call that disagrees runs op by op, with the reason", () => {
    const { calls, state, modes } = outputsOf((i) => ({ total: tf.sum(tf.unique(i["x"]!).values) }), [[1, 2, 2, 3], [4, 5, 5, 6], [7, 8, 8, 9], [1, 1, 1, 1]]);
    for (const c of calls) expect(c.got).toEqual(c.expected);
    expect(state).toBe("eager");
    expect(modes.at(-1)).toMatch(/op by op: it failed to run \(Unique made \[1\] where the recording had \[3\]/);
  });

  test("an optional input left out (a batch norm without scale and offset) is recorded and replayed", () => {
    const { calls, state } = outputsOf((i) => ({ y: tf.batchNorm(i["x"]!, tf.scalar(1), tf.scalar(4)) }), [[1, 2, 3, 4], [5, 6, 7, 8], [2, 2, 2, 2]]);
    expect(state).toBe("compiled");
    for (const c of calls) expect(c.got).toEqual(c.expected);
  });

  test("an assigned variable whose value the body also reshaped is assigned with its own shape", () => {
    const b = tf.tidy(() => tf.variable(tf.zeros([2, 1]), true, `b_${Math.random()}`));
    const w = tf.tidy(() => tf.variable(tf.tensor2d([[1], [2]]), true, `w_${Math.random()}`));
    const fn = new KernelReplayFunction((i) => {
      const y = tf.matMul(tf.reshape(i["x"]!, [2, 2]), w);
      b.assign(y);
      return { total: tf.sum(tf.reshape(y, [-1])) };
    }, { what: "training step" });
    for (const values of [[1, 2, 3, 4], [5, 6, 7, 8], [1, 0, 0, 1]]) {
      const x = tf.tensor1d(values);
      const out = fn.run({ x });
      expect(b.shape).toEqual([2, 1]);
      expect(Array.from(b.dataSync())).toEqual([values[0]! + 2 * values[1]!, values[2]! + 2 * values[3]!]);
      tf.dispose([x, ...Object.values(out)]);
    }
    expect(fn.state).toBe("compiled");
    fn.dispose();
    tf.dispose([b, w]);
  });

  test("VLMC_WASM_REPLAY=0 keeps steps op by op", async () => {
    process.env["VLMC_WASM_REPLAY"] = "0";
    try {
      const run = await train("lenet5", true, 3);
      expect(run.mode).toBe("eager");
      expect(run.modes).toEqual([]);
    } finally {
      delete process.env["VLMC_WASM_REPLAY"];
    }
  });
});
