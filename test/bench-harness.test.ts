// The benchmark harness (`npm run bench`) in its tiny mode, so that it cannot rot between the
// occasional real runs: every bundled model compiles, loads, takes one training step and one
// inference on wasm with a batch of 2; the hand-written tfjs twins compute the generated models'
// loss from the same weights; the PyTorch twins (where PyTorch is installed) have exactly the IR's
// parameter count; and bench/results.json has the schema of issue 7. No timing is asserted: the
// numbers of a tiny run mean nothing.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, describe, expect, it } from "vitest";
import { compileBenchModels, repoRoot, runTorch, torchConfig } from "../bench/harness.js";
import { MODEL_KEYS } from "../bench/models.js";
import { main } from "../bench/run.js";
import { validateResults, type BenchResults } from "../bench/schema.js";
import { syntheticInputs } from "../bench/synthetic.js";
import { initBackend } from "../runtime/backend.js";
import { loadModel } from "../runtime/model.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-bench-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const python = process.env["VLMC_BENCH_PYTHON"] ?? "python3";
const torchInstalled = spawnSync(python, ["-c", "import torch"], { stdio: "ignore" }).status === 0;

describe("bench harness, tiny mode", () => {
  it("measures every bundled model on wasm and writes results in the issue's schema", async () => {
    const logged: string[] = [];
    let printed = "";
    const status = await main(
      ["--tiny", "--no-torch", "--no-compile", "--backends", "wasm", "--out", work],
      { log: (line) => logged.push(line), print: (text) => (printed += text) },
    );
    expect(status).toBe(0);

    const results = JSON.parse(readFileSync(join(work, "results.local.json"), "utf8")) as BenchResults;
    expect(validateResults(results)).toEqual([]);
    expect(Object.keys(results.models)).toEqual([...MODEL_KEYS]);

    const programs = new Map(compileBenchModels(repoRoot(), MODEL_KEYS).map((c) => [c.key, c.program]));
    for (const key of MODEL_KEYS) {
      const figures = results.models[key]!;
      expect(figures.params).toBe(programs.get(key)!.totals.params);
      expect(Object.keys(figures.backends)).toEqual(["wasm"]);
      const wasm = figures.backends.wasm!;
      expect(wasm.train_step_ms).toBeGreaterThan(0);
      expect(wasm.infer_ms).toBeGreaterThan(0);
      expect(wasm.peak_mb).toBeGreaterThan(0);
      expect(wasm.vs_pytorch).toBeNull(); // PyTorch skipped: no ratio, never a made-up one
      expect(figures.pytorch.train_step_ms).toBeNull();
    }
    // The hand-written twins exist for LeNet-5 and the ViT, and a ratio is printed only when their
    // parameter count equals the IR's: a non-null vs_generated is the parity check passing.
    for (const key of ["lenet5", "vit"] as const) {
      const hw = results.models[key]!.handwritten_tfjs;
      expect(hw, key).not.toBeNull();
      expect(hw!.train_step_ms).toBeGreaterThan(0);
      expect(hw!.vs_generated, `${key}: hand-written parameter count differs from the IR`).not.toBeNull();
    }
    expect(results.models.clip!.handwritten_tfjs).toBeNull();
    expect(results.compile).toEqual({ bundled_ms: null, lines10k_ms: null });
    expect(results.machine["run"]).toMatchObject({ mode: "tiny", steps: 1, batch: 2, handwritten_backend: "wasm" });

    const markdown = readFileSync(join(work, "results.local.md"), "utf8");
    expect(printed).toContain(markdown);
    expect(markdown).toContain(`| KOSMOS (batch 2) | ${programs.get("kosmos")!.totals.params.toLocaleString("en-US")} | wasm |`);
    expect(markdown).toContain("These numbers mean nothing");
    expect(logged.some((line) => line.includes("leak"))).toBe(false);
  });

  it("rejects results that stray from the schema", () => {
    const good: BenchResults = {
      machine: {},
      compile: { bundled_ms: 1, lines10k_ms: null },
      models: {
        vit: {
          params: 10,
          pytorch: { train_step_ms: null },
          backends: { wasm: { train_step_ms: 1, infer_ms: 1, peak_mb: 1, vs_pytorch: null } },
          handwritten_tfjs: { train_step_ms: 1, vs_generated: 1 },
        },
      },
    };
    expect(validateResults(good)).toEqual([]);
    const extraKey = structuredClone(good) as unknown as { models: { vit: { backends: { wasm: Record<string, unknown> } } } };
    extraKey.models.vit.backends.wasm["rss_mb"] = 3;
    expect(validateResults(extraKey).join("\n")).toMatch(/models\.vit\.backends\.wasm: expected keys/);
    const badNumber = structuredClone(good);
    badNumber.models.vit!.pytorch.train_step_ms = Number.NaN;
    expect(validateResults(badNumber).join("\n")).toMatch(/pytorch\.train_step_ms/);
    expect(validateResults({ ...good, models: { resnet: good.models.vit } }).join("\n")).toMatch(/unknown model key/);
  });

  it("rejects unknown flags and model names", async () => {
    const io = { log: () => {}, print: () => {} };
    await expect(main(["--models", "resnet"], io)).rejects.toThrow(/--models: unknown 'resnet'/);
    await expect(main(["--backends", "webgl"], io)).rejects.toThrow(/--backends: unknown 'webgl'/);
  });

  it("hand-written twins compute the same loss as the generated models from the same weights", async () => {
    await initBackend("wasm");
    for (const c of compileBenchModels(repoRoot(), ["lenet5", "vit"], 2)) {
      const model = await loadModel(c.program, { seed: 3, cacheDir: join(work, "cache") });
      const twin = c.spec.handwritten!(c.sizes, 0);
      // Same names on both sides (the twins use the IR's), so the generated values copy straight over.
      expect([...twin.params.keys()].sort()).toEqual([...model.params.keys()].sort());
      for (const [name, variable] of twin.params) variable.assign(model.params.get(name)!);
      const inputs = syntheticInputs(c.program, 2);
      const generated = tf.tidy(() => model.forward(inputs).loss!.dataSync()[0]!);
      const handwritten = tf.tidy(() => twin.loss(inputs).dataSync()[0]!);
      expect(Math.abs(generated - handwritten), c.key).toBeLessThan(1e-4 * Math.max(1, Math.abs(generated)));
      tf.dispose(Object.values(inputs));
      twin.dispose();
      model.dispose();
    }
  });

  it.skipIf(!torchInstalled)("builds PyTorch twins with exactly the IR's parameter counts", () => {
    const compiled = compileBenchModels(repoRoot(), MODEL_KEYS);
    const run = runTorch(
      { models: MODEL_KEYS, steps: 1, warmup: 0, budgetS: 1, python, log: () => {} },
      repoRoot(),
      torchConfig(compiled),
      true,
    );
    expect(run.note).toBeUndefined();
    for (const c of compiled) expect(run.models[c.key]?.params, c.key).toBe(c.program.totals.params);
  });
});
