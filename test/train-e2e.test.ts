// End to end on the cpu backend, with tiny hand-written IR models and a tiny synthetic dataset:
// the loss goes down, a run interrupted and resumed ends with the same weights and metrics as an
// uninterrupted one, the same seed gives the same metrics, and the run directory holds what it
// should. (The real datasets and the bundled specs are exercised by the CLI test.)
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRng } from "../runtime/data/rng.js";
import type { BatchField, Dataset, Split } from "../runtime/data/types.js";
import { readSafetensors } from "../runtime/io/safetensors.js";
import { initBackend } from "../runtime/backend.js";
import { loadModel, type Model } from "../runtime/model.js";
import { train, type TrainOptions, type TrainResult } from "../runtime/train/trainer.js";
import { fixtureProgram } from "./fixtures/ir/programs.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-train-e2e-"));
const cacheDir = join(work, "cache");

beforeAll(async () => {
  await initBackend("cpu");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Images [size, size, 1] of 3 classes: a bright block in the top-left quadrant (0), the bottom-right
 * (1) or the top-right (2), over noise. Learnable by the tiny models in a few dozen steps.
 */
function syntheticSplit(count: number, size: number, seed: number): Split {
  const rng = createRng(seed);
  const pixels = new Float32Array(count * size * size);
  const labels = new Int32Array(count);
  const half = size / 2;
  for (let n = 0; n < count; n++) {
    const label = n % 3;
    labels[n] = label;
    const [r0, c0] = label === 0 ? [0, 0] : label === 1 ? [half, half] : [0, half];
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const inBlock = r >= r0 && r < r0 + half && c >= c0 && c < c0 + half;
        pixels[n * size * size + r * size + c] = (inBlock ? 0.8 : 0.1) + 0.1 * rng.next();
      }
    }
  }
  return {
    size: count,
    imageShape: [size, size, 1],
    meta: (i) => ({ label: labels[i]! }),
    batch(indices) {
      const image = new Float32Array(indices.length * size * size);
      const label = new Int32Array(indices.length);
      indices.forEach((index, b) => {
        image.set(pixels.subarray(index * size * size, (index + 1) * size * size), b * size * size);
        label[b] = labels[index]!;
      });
      const imageField: BatchField = { dtype: "float32", shape: [indices.length, size, size, 1], data: image };
      const labelField: BatchField = { dtype: "int32", shape: [indices.length], data: label };
      return { image: imageField, label: labelField };
    },
  };
}

function syntheticDataset(size: number): Dataset {
  return {
    name: "synthetic",
    classes: ["top-left", "bottom-right", "top-right"],
    splits: { train: syntheticSplit(48, size, 1), test: syntheticSplit(24, size, 2) },
  };
}

async function runTraining(
  fixture: string,
  outDir: string,
  overrides: Partial<TrainOptions> = {},
): Promise<{ result: TrainResult; model: Model }> {
  const program = fixtureProgram(fixture);
  const model = await loadModel(program, { seed: 3, cacheDir });
  const imageSize = program.inputs[0]!.shape[1] as number;
  const result = await train({
    model,
    dataset: syntheticDataset(imageSize),
    outDir,
    backend: { name: "cpu", reason: "test" },
    spec: `${fixture}.json`,
    data: "synthetic",
    arguments: {},
    epochs: 4,
    batch: 8,
    lr: 0.01,
    optimizer: { name: "adam" },
    schedule: "cosine",
    warmup: 2,
    clip: 5,
    seed: 11,
    logEvery: 3,
    ...overrides,
  });
  return { result, model };
}

function trainLosses(outDir: string): number[] {
  return readFileSync(join(outDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { kind: string; loss: number })
    .filter((r) => r.kind === "train")
    .map((r) => r.loss);
}

/** The metrics a rerun must reproduce: everything except timings. */
function reproducible(outDir: string): unknown[] {
  return readFileSync(join(outDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { examples_per_s: _timing, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    });
}

describe("training on the cpu backend", () => {
  it("lowers the loss of the tiny MLP and writes the run files", async () => {
    const outDir = join(work, "mlp");
    const { result, model } = await runTraining("mlp", outDir);
    const losses = trainLosses(outDir);
    expect(losses.length).toBeGreaterThan(3);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);
    expect(result.metrics["test_accuracy"]).toBeGreaterThan(0.6);
    expect(result.step).toBe(4 * 6); // 48 examples / batch 8 = 6 steps per epoch

    const run = JSON.parse(readFileSync(join(outDir, "run.json"), "utf8")) as Record<string, any>;
    expect(run["model"]).toBe("TinyMlp");
    expect(run["params"]).toBe(16 * 8 + 8 + 8 * 3 + 3);
    expect(run["metrics"]["test_accuracy"]).toBe(result.metrics["test_accuracy"]);
    expect(run["metrics"]["test_loss"]).toBeGreaterThan(0);
    expect(run["steps"]).toBe(24);

    // weights.safetensors holds every parameter under its IR name, equal to the model's values.
    const weights = readSafetensors(join(outDir, "weights.safetensors"));
    expect([...weights.tensors.keys()].sort()).toEqual([...model.params.keys()].sort());
    expect(Array.from(weights.tensors.get("fc2.bias")!.data as Float32Array)).toEqual(
      Array.from(model.params.get("fc2.bias")!.dataSync()),
    );
    // One eval line per epoch.
    expect(reproducible(outDir).filter((r: any) => r.kind === "eval").length).toBe(4);
    model.dispose();
  });

  it("trains the tiny conv net with SGD momentum and the tiny ViT with AdamW", async () => {
    for (const [fixture, optimizer] of [["conv", { name: "sgd", momentum: 0.9 }], ["vit", { name: "adamw", weightDecay: 0.05 }]] as const) {
      const outDir = join(work, fixture);
      const { model } = await runTraining(fixture, outDir, { optimizer, lr: fixture === "conv" ? 0.05 : 0.01, epochs: 3 });
      const losses = trainLosses(outDir);
      expect(losses.at(-1)!, fixture).toBeLessThan(losses[0]!);
      model.dispose();
    }
  });

  it("gives the same metrics for the same seed, and different ones for another seed", async () => {
    const a = join(work, "seed-a");
    const b = join(work, "seed-b");
    const c = join(work, "seed-c");
    (await runTraining("mlp", a, { epochs: 2 })).model.dispose();
    (await runTraining("mlp", b, { epochs: 2 })).model.dispose();
    (await runTraining("mlp", c, { epochs: 2, seed: 12 })).model.dispose();
    expect(reproducible(b)).toEqual(reproducible(a));
    expect(reproducible(c)).not.toEqual(reproducible(a));
  });

  it("resumes an interrupted run to the same weights and metrics as an uninterrupted one", async () => {
    const straight = join(work, "straight");
    const broken = join(work, "broken");
    const s = await runTraining("mlp", straight, { epochs: 3 });

    // Stop after step 8 (mid epoch 2, off the logging grid), then resume in a fresh model.
    let steps = 0;
    const first = await runTraining("mlp", broken, { epochs: 3, shouldStop: () => ++steps >= 8 });
    expect(first.result.interrupted).toBe(true);
    expect(first.result.step).toBe(8);
    expect(existsSync(join(broken, "weights.safetensors"))).toBe(false);
    first.model.dispose();
    const resumed = await runTraining("mlp", broken, { epochs: 3, resume: true });
    expect(resumed.result.interrupted).toBe(false);

    const weightsOf = (dir: string) => readSafetensors(join(dir, "weights.safetensors")).tensors;
    const w1 = weightsOf(straight);
    const w2 = weightsOf(broken);
    for (const [name, t] of w1) expect(Array.from(w2.get(name)!.data as Float32Array), name).toEqual(Array.from(t.data as Float32Array));
    expect(reproducible(broken)).toEqual(reproducible(straight));
    expect(resumed.result.metrics).toEqual(s.result.metrics);
    s.model.dispose();
    resumed.model.dispose();
  });

  it("evaluates every N steps when asked, and at the end", async () => {
    const outDir = join(work, "eval-every");
    const { model } = await runTraining("mlp", outDir, { epochs: 1, evalEvery: 4 });
    const evalSteps = reproducible(outDir).filter((r: any) => r.kind === "eval").map((r: any) => r.step);
    expect(evalSteps).toEqual([4, 6]);
    model.dispose();
  });

  it("resumes after a hard kill: steps logged after the last checkpoint are dropped and redone", async () => {
    const straight = join(work, "straight");
    const killed = join(work, "killed");
    // Stop at the end of epoch 1 (step 6, where the epoch checkpoint is written)...
    let steps = 0;
    (await runTraining("mlp", killed, { epochs: 3, shouldStop: () => ++steps >= 6 })).model.dispose();
    // ...then pretend the process kept going and was killed mid epoch 2, after logging more lines
    // (one of them cut short), with no newer checkpoint.
    appendFileSync(join(killed, "metrics.jsonl"), '{"kind":"train","step":9,"epoch":2,"loss":9,"lr":0,"examples_per_s":1}\n{"kind":"tr');
    const resumed = await runTraining("mlp", killed, { epochs: 3, resume: true });
    expect(reproducible(killed)).toEqual(reproducible(straight));
    resumed.model.dispose();
  });

  it("refuses to resume with different settings, naming them", async () => {
    const dir = join(work, "straight");
    await expect(runTraining("mlp", dir, { epochs: 3, lr: 0.02, resume: true })).rejects.toThrow(/lr: 0.01 then, 0.02 now/);
  });

  it("keeps no tensors alive between steps", async () => {
    const outDir = join(work, "leak");
    const program = fixtureProgram("mlp");
    const model = await loadModel(program, { seed: 1, cacheDir });
    const base = { model, dataset: syntheticDataset(4), outDir, backend: { name: "cpu", reason: "test" }, spec: "x", data: "synthetic", arguments: {},
      batch: 8, lr: 0.01, optimizer: { name: "adam" as const }, schedule: "constant" as const, warmup: 0, seed: 1, logEvery: 2 };
    await train({ ...base, epochs: 1 });
    const after1 = tf.memory().numTensors;
    await train({ ...base, epochs: 3 });
    expect(tf.memory().numTensors).toBe(after1);
    model.dispose();
  });
});
