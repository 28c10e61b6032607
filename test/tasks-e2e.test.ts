// CLIP and KOSMOS end to end on a tiny shapes world (wasm backend): for the bundled models and
// their connector variants, the training loss falls within a few dozen steps, the tokenizer is
// saved beside the weights, and the run's metrics hold the task's figures for the test and the
// heldout splits. (Whether the models reach the accuracy targets is measured by full runs,
// never in tests.)
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../runtime/backend.js";
import { loadShapes } from "../runtime/data/shapes.js";
import { loadModel } from "../runtime/model.js";
import { compileForData } from "../runtime/train/setup.js";
import { train } from "../runtime/train/trainer.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-tasks-e2e-"));
const cacheDir = join(work, "cache");
const tiny = loadShapes({ trainSize: 64, testSize: 32, heldoutSize: 24, seed: 5 });

beforeAll(async () => {
  await initBackend("wasm");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function tinyRun(spec: string, modelName: string, steps: number, lr: number, batch: number) {
  const compiled = compileForData(spec, { model: modelName, set: [] }, tiny);
  expect(compiled.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  const model = await loadModel(compiled.program!, { seed: 1, cacheDir });
  const outDir = join(work, modelName);
  try {
    const result = await train({
      model,
      dataset: compiled.dataset!,
      tokenizer: compiled.tokenizer!,
      finalEvalSplits: ["heldout"],
      outDir,
      backend: { name: "wasm", reason: "test" },
      spec,
      data: "shapes",
      arguments: {},
      steps,
      epochs: 1,
      batch,
      lr,
      optimizer: { name: "adamw", weightDecay: 0.01 },
      schedule: "constant",
      warmup: 0,
      seed: 3,
      logEvery: 5,
      evalEvery: steps,
      evalBatch: 64,
    });
    const losses = readFileSync(join(outDir, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; loss: number })
      .filter((r) => r.kind === "train")
      .map((r) => r.loss);
    return { result, losses, outDir, compiled };
  } finally {
    model.dispose();
  }
}

describe("contrastive models on the shapes world", () => {
  for (const name of ["Clip", "ClipMlp"]) {
    it(`${name}: the loss falls and the zero-shot figures are reported`, async () => {
      const { result, losses, outDir, compiled } = await tinyRun("specs/clip.vlm", name, 30, 2e-3, 32);
      expect(compiled.bound).toContain(`vocab=${compiled.tokenizer!.size}`);
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.9);
      expect(existsSync(join(outDir, "tokenizer.json"))).toBe(true);
      for (const split of ["test", "heldout"]) {
        for (const key of ["loss", "retrieval_accuracy", "zero_shot_accuracy"]) {
          expect(result.metrics[`${split}_${key}`], `${split}_${key}`).toBeGreaterThanOrEqual(0);
        }
      }
      expect(result.metrics["heldout_zero_shot_chance"]).toBeCloseTo(1 / 30, 10);
    });
  }
});

describe("decoder models on the shapes world", () => {
  for (const name of ["Kosmos", "KosmosResampler"]) {
    it(`${name}: the loss falls and the answer accuracy is reported per question type`, async () => {
      const { result, losses } = await tinyRun("specs/kosmos.vlm", name, 20, 3e-3, 16);
      expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
      for (const split of ["test", "heldout"]) {
        for (const key of ["loss", "qa_accuracy", "qa_accuracy_colour", "qa_accuracy_shape", "qa_accuracy_size", "qa_accuracy_position"]) {
          expect(result.metrics[`${split}_${key}`], `${split}_${key}`).toBeGreaterThanOrEqual(0);
        }
      }
    });
  }
});
