// Loading a model: the generated module is cached on disk and imported, forward() runs on the real
// runtime ops, and parameter initialisation is deterministic, per-parameter and follows each Init.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emitTypeScript } from "../compiler/codegen/index.js";
import { initBackend } from "../runtime/backend.js";
import { initialValues, loadModel } from "../runtime/model.js";
import { fixtureProgram } from "./fixtures/ir/programs.js";

const cacheDir = mkdtempSync(join(tmpdir(), "vlmc-model-"));
beforeAll(async () => {
  await initBackend("cpu");
});
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

describe("loadModel", () => {
  it("caches the generated module (TypeScript beside the transpiled JavaScript) and runs its forward", async () => {
    const program = fixtureProgram("vit");
    const model = await loadModel(program, { seed: 0, cacheDir });
    expect(model.modulePath.startsWith(cacheDir)).toBe(true);
    const ts = model.modulePath.replace(/\.mjs$/, ".ts");
    expect(readFileSync(ts, "utf8")).toBe(emitTypeScript(program));
    expect(model.module.model).toBe("TinyViT");
    expect(model.paramCount).toBe(program.totals.params);

    const result = tf.tidy(() => {
      const inputs = { image: tf.ones([2, 8, 8, 1]), label: tf.tensor1d([0, 2], "int32") };
      const { outputs, loss } = model.forward(inputs);
      return { logits: outputs["logits"]!.shape, loss: loss!.dataSync()[0]! };
    });
    expect(result.logits).toEqual([2, 3]);
    expect(result.loss).toBeGreaterThan(0);
    // Without labels the outputs are still available.
    const shape = tf.tidy(() => model.forward({ image: tf.ones([1, 8, 8, 1]) }, { loss: false }).outputs["logits"]!.shape);
    expect(shape).toEqual([1, 3]);

    // A second load reuses the cached file.
    const again = await loadModel(program, { seed: 0, cacheDir });
    expect(again.modulePath).toBe(model.modulePath);
    expect(readdirSync(cacheDir).length).toBe(2);
    model.dispose();
    again.dispose();
  });

  it("initialises the same values for the same seed, other values for another seed", async () => {
    const program = fixtureProgram("mlp");
    const a = await loadModel(program, { seed: 5, cacheDir });
    const b = await loadModel(program, { seed: 5, cacheDir });
    const c = await loadModel(program, { seed: 6, cacheDir });
    const values = (m: typeof a) => Array.from(m.params.get("fc1.kernel")!.dataSync());
    expect(values(b)).toEqual(values(a));
    expect(values(c)).not.toEqual(values(a));
    for (const m of [a, b, c]) m.dispose();
  });

  it("can skip the initial draws for callers that load weights at once", async () => {
    const model = await loadModel(fixtureProgram("mlp"), { cacheDir, initialize: false });
    expect(Array.from(model.params.get("fc1.kernel")!.dataSync()).every((v) => v === 0)).toBe(true);
    model.dispose();
  });

  it("setParams and readParams round-trip, and reject unknown names", async () => {
    const model = await loadModel(fixtureProgram("mlp"), { seed: 1, cacheDir });
    model.setParams(new Map([["fc2.bias", new Float32Array([1, 2, 3])]]));
    expect(Array.from(model.readParams().get("fc2.bias")!.data)).toEqual([1, 2, 3]);
    expect(() => model.setParams(new Map([["nope", new Float32Array(1)]]))).toThrow(/no parameter named "nope"/);
    model.dispose();
  });
});

describe("parameter initialisers", () => {
  const stats = (xs: Float32Array) => {
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const std = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    return { mean, std, min: Math.min(...xs), max: Math.max(...xs) };
  };

  it("follow each Init kind", () => {
    expect(Array.from(initialValues({ kind: "zeros" }, [3], 0, "z"))).toEqual([0, 0, 0]);
    expect(Array.from(initialValues({ kind: "ones" }, [2], 0, "o"))).toEqual([1, 1]);
    expect(Array.from(initialValues({ kind: "constant", value: 2.5 }, [2], 0, "c"))).toEqual([2.5, 2.5]);

    const glorot = stats(initialValues({ kind: "glorot_uniform", fanIn: 100, fanOut: 50 }, [100, 50], 0, "g"));
    const limit = Math.sqrt(6 / 150);
    expect(glorot.min).toBeGreaterThanOrEqual(-limit);
    expect(glorot.max).toBeLessThanOrEqual(limit);
    expect(glorot.std).toBeCloseTo(limit / Math.sqrt(3), 2);

    const uniform = stats(initialValues({ kind: "uniform", bound: 0.125 }, [100, 50], 0, "u"));
    expect(uniform.min).toBeGreaterThanOrEqual(-0.125);
    expect(uniform.max).toBeLessThanOrEqual(0.125);
    expect(uniform.std).toBeCloseTo(0.125 / Math.sqrt(3), 2);

    const he = stats(initialValues({ kind: "he_normal", fanIn: 50 }, [50, 200], 0, "h"));
    expect(he.std).toBeCloseTo(Math.sqrt(2 / 50), 2);
    expect(Math.abs(he.mean)).toBeLessThan(0.01);

    const normal = stats(initialValues({ kind: "normal", std: 0.02 }, [10000], 0, "n"));
    expect(normal.std).toBeCloseTo(0.02, 3);

    const truncated = stats(initialValues({ kind: "truncated_normal", std: 0.02 }, [10000], 0, "t"));
    expect(truncated.min).toBeGreaterThanOrEqual(-0.04);
    expect(truncated.max).toBeLessThanOrEqual(0.04);
  });

  it("give each parameter its own stream, so one parameter's values do not depend on the others", () => {
    const init = { kind: "normal" as const, std: 1 };
    const a = initialValues(init, [4], 9, "layer.a");
    expect(Array.from(initialValues(init, [4], 9, "layer.a"))).toEqual(Array.from(a));
    expect(Array.from(initialValues(init, [4], 9, "layer.b"))).not.toEqual(Array.from(a));
  });
});

it("cache directory is created on demand", async () => {
  const dir = join(cacheDir, "nested", "deeper");
  const model = await loadModel(fixtureProgram("conv"), { cacheDir: dir });
  expect(existsSync(dir)).toBe(true);
  model.dispose();
});
