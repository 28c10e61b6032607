// Fine-tuning an imported checkpoint: `vlmc train --init weights.safetensors` on the spec `vlmc import
// hf` wrote. The initial weights are the imported ones (not a random initialisation), names and
// shapes are checked with every mismatch listed, and data that disagrees with the imported sizes is
// a clear error instead of a silent rebinding of image_size, channels or classes.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { importHf } from "../runtime/hf/importer.js";
import { readSafetensors, writeSafetensors } from "../runtime/io/safetensors.js";
import { runCli as vlmc } from "./cli-capture.js";
import { maxWeightDiff as maxDiff, OWN_FIXTURES } from "./hf-helpers.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-hf-train-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

// The imported ViTForImageClassification: 16×16 grey images, 5 labels.
const imported = join(work, "vit");
const data = join(work, "grey-16");

/** 40 grey 16×16 PNGs in 5 classes (a brightness band per class, with a little texture). */
function makeFolder(dir: string, size: number): void {
  mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    const label = i % 5;
    const img = new PNG({ width: size, height: size });
    for (let y = 0; y < size; y++)
      for (let x = 0; x < size; x++) {
        const v = Math.min(255, 30 + label * 45 + ((x * 7 + y * 3 + i) % 11));
        img.data.set([v, v, v, 255], (y * size + x) * 4);
      }
    const file = `${String(i).padStart(2, "0")}.png`;
    writeFileSync(join(dir, file), PNG.sync.write(img));
    lines.push(JSON.stringify({ file, label: `band${label}` }));
  }
  writeFileSync(join(dir, "labels.jsonl"), lines.join("\n") + "\n");
}

beforeAll(() => {
  importHf(join(OWN_FIXTURES, "vit-cls-quickgelu-grey"), imported);
  makeFolder(data, 16);
});

const QUICK = ["--data", data, "--backend", "wasm", "--batch", "8", "--log-every", "1"];

describe("vlmc train --init", () => {
  test("starts from the imported weights: a step at a negligible learning rate leaves them as imported", async () => {
    const out = join(work, "still");
    const ran = await vlmc("train", join(imported, "model.vlm"), ...QUICK, "--steps", "1", "--lr", "1e-12", "--warmup", "0",
      "--init", join(imported, "weights.safetensors"), "--out", out);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stderr).toMatch(/init: 24 tensors from .*weights\.safetensors\n/);
    // Nothing was rebound from the data: the folder's sizes are the imported ones.
    expect(ran.stderr).not.toMatch(/^data: set/m);
    expect(maxDiff(join(out, "weights.safetensors"), join(imported, "weights.safetensors"))).toBeLessThan(1e-6);
  });

  test("fine-tunes for a few steps: the loss is finite and the weights move away from the import", async () => {
    const out = join(work, "tuned");
    const ran = await vlmc("train", join(imported, "model.vlm"), ...QUICK, "--steps", "5", "--lr", "1e-3", "--warmup", "0",
      "--init", join(imported, "weights.safetensors"), "--out", out);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^done: 5 steps in /);
    expect(ran.stdout + ran.stderr).not.toMatch(/NaN/);
    expect(maxDiff(join(out, "weights.safetensors"), join(imported, "weights.safetensors"))).toBeGreaterThan(1e-4);
    // The trained weights load back into the same model for evaluation.
    const evaluated = await vlmc("eval", join(imported, "model.vlm"), "--weights", join(out, "weights.safetensors"), "--data", data, "--backend", "wasm");
    expect(evaluated.code, evaluated.stderr).toBe(0);
  });

  test("an init file that does not fit lists every missing, unexpected and wrongly shaped tensor", async () => {
    const { tensors } = readSafetensors(join(imported, "weights.safetensors"));
    const doctored = new Map(tensors);
    doctored.delete("classifier.bias");
    doctored.set("classifier.kernel", { dtype: "F32", shape: [32, 7], data: new Float32Array(32 * 7) });
    doctored.set("head.extra", { dtype: "F32", shape: [3], data: new Float32Array(3) });
    const bad = join(work, "bad-init.safetensors");
    writeSafetensors(bad, doctored);
    const ran = await vlmc("train", join(imported, "model.vlm"), ...QUICK, "--steps", "1", "--init", bad, "--out", join(work, "bad"));
    expect(ran.code).toBe(1);
    expect(ran.stderr).toBe(
      `error[data]: ${bad}: the weights do not match the model (1 missing, 1 unexpected, 1 with the wrong shape):\n` +
        "  missing:     classifier.bias [5]\n" +
        "  unexpected:  head.extra [3]\n" +
        "  wrong shape: classifier.kernel: the model needs [32, 5], the file has [32, 7]\n",
    );
  });

  test("data that disagrees with the imported sizes is an error naming each parameter, not a silent rebinding", async () => {
    const rgb = join(work, "shapes-like");
    mkdirSync(rgb, { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < 6; i++) {
      const img = new PNG({ width: 8, height: 8 });
      for (let p = 0; p < 64; p++) img.data.set([200, i * 40, 10, 255], p * 4);
      writeFileSync(join(rgb, `${i}.png`), PNG.sync.write(img));
      lines.push(JSON.stringify({ file: `${i}.png`, label: `c${i % 3}` }));
    }
    writeFileSync(join(rgb, "labels.jsonl"), lines.join("\n") + "\n");
    const spec = join(imported, "model.vlm");
    const ran = await vlmc("train", spec, "--data", rgb, "--backend", "wasm", "--steps", "1", "--init", join(imported, "weights.safetensors"), "--out", join(work, "mismatch"));
    expect(ran.code).toBe(1);
    const [first, ...rest] = ran.stderr.split("\n");
    expect(first).toMatch(/^error\[data\]: \S*vit\/model\.vlm: the dataset ".*shapes-like" does not fit model ImportedViTForImageClassification, whose `extends` fixes these parameters:$/);
    expect(rest.join("\n")).toBe(
      "  image_size = 16 in the spec, the data has 8×8 images\n" +
        "  channels = 1 in the spec, the data has 3-channel images\n" +
        "  classes = 5 in the spec, the data has 3 classes\n" +
        "use data that matches the model (an imported model keeps its checkpoint's sizes), or --set the parameter to change the model (weights of the old size then no longer load)\n",
    );
  });
});
