// The two text losses on the bundled models, at initialisation, on a batch of the shapes world.
//  - KOSMOS: "a loss that changes when an image position's target changes is a bug". The decoder
//    predicts text positions only: its targets and logits are [B, seq_len] and [B, seq_len, vocab]
//    (no image positions to change), and within the text, a target the mask does not count (the
//    question, padding) leaves the loss unchanged, while an answer target changes it.
//  - CLIP: the connector's logits and symmetric cross-entropy against a hand computation from the
//    model's own embeddings.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBackend } from "../runtime/backend.js";
import { loadShapes } from "../runtime/data/shapes.js";
import { loadModel, type Model } from "../runtime/model.js";
import { compileForData } from "../runtime/train/setup.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-tasks-losses-"));
const shapes = loadShapes({ trainSize: 64, testSize: 8, heldoutSize: 6, seed: 4 });

beforeAll(async () => {
  await initBackend("cpu");
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function load(spec: string, name: string): Promise<{ model: Model; batch: Record<string, { shape: number[]; data: Float32Array | Int32Array; dtype: string }> }> {
  const compiled = compileForData(spec, { model: name, set: [] }, shapes);
  const model = await loadModel(compiled.program!, { seed: 2, cacheDir: join(work, "cache") });
  // Examples 0 and 1: their four question–answer sequences and captions (lm), or 6 captions (contrastive).
  const indices = spec.includes("kosmos") ? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] : [0, 1, 2, 3, 4, 5];
  const batch = compiled.dataset!.splits["train"]!.batch(indices) as never;
  return { model, batch };
}

function lossOf(model: Model, batch: Record<string, { shape: number[]; data: Float32Array | Int32Array; dtype: string }>): number {
  return tf.tidy(() => {
    const inputs = Object.fromEntries(Object.entries(batch).map(([k, f]) => [k, tf.tensor(f.data, f.shape, f.dtype as "float32" | "int32")]));
    return model.forward(inputs).loss!.dataSync()[0]!;
  });
}

describe("the decoder's loss counts answer tokens only", () => {
  it("has no targets at image positions: targets and logits cover the text positions alone", async () => {
    const { model } = await load("specs/kosmos.vlm", "Kosmos");
    const seqLen = model.module.inputs.find((i) => i.name === "tokens")!.shape[1];
    expect(model.module.inputs.find((i) => i.name === "targets")!.shape).toEqual(["B", seqLen]);
    expect(model.module.outputs.find((o) => o.name === "logits")!.shape.slice(0, 2)).toEqual(["B", seqLen]);
    model.dispose();
  });

  for (const name of ["Kosmos", "KosmosResampler"]) {
    it(`${name}: unchanged by targets outside the mask, changed by an answer target`, async () => {
      const { model, batch } = await load("specs/kosmos.vlm", name);
      const base = lossOf(model, batch);
      expect(Number.isFinite(base)).toBe(true);
      const mask = batch["target_mask"]!.data;
      const outside = [...mask.keys()].filter((i) => mask[i] === 0);
      const inside = [...mask.keys()].filter((i) => mask[i] === 1);
      expect(outside.length).toBeGreaterThan(0);
      expect(inside.length).toBeGreaterThan(0);

      // Every uncounted target (question words, padding) replaced by another word: no change at all.
      const scrambled = Int32Array.from(batch["targets"]!.data);
      for (const i of outside) scrambled[i] = (scrambled[i]! + 5) % 30;
      expect(lossOf(model, { ...batch, targets: { ...batch["targets"]!, data: scrambled } })).toBe(base);

      // One answer target changed: the loss moves.
      const oneAnswer = Int32Array.from(batch["targets"]!.data);
      oneAnswer[inside[0]!] = (oneAnswer[inside[0]!]! + 7) % 30;
      expect(Math.abs(lossOf(model, { ...batch, targets: { ...batch["targets"]!, data: oneAnswer } }) - base)).toBeGreaterThan(1e-4);
      model.dispose();
    });
  }
});

describe("the contrastive connector", () => {
  it("gives the cosine logits times exp(logit_scale) and their symmetric cross-entropy", async () => {
    const { model, batch } = await load("specs/clip.vlm", "Clip");
    const got = tf.tidy(() => {
      const inputs = Object.fromEntries(Object.entries(batch).map(([k, f]) => [k, tf.tensor(f.data, f.shape, f.dtype as "float32" | "int32")]));
      const r = model.forward(inputs);
      return {
        loss: r.loss!.dataSync()[0]!,
        logits: r.outputs["logits"]!.arraySync() as number[][],
        image: r.outputs["image_embeds"]!.arraySync() as number[][],
        text: r.outputs["text_embeds"]!.arraySync() as number[][],
      };
    });
    const unit = (v: number[]) => {
      const n = Math.hypot(...v);
      return v.map((x) => x / n);
    };
    const scale = Math.exp(2.6592); // the connector's initial logit scale (1 / 0.07)
    const img = got.image.map(unit);
    const txt = got.text.map(unit);
    const logits = img.map((a) => txt.map((b) => scale * a.reduce((s, x, k) => s + x * b[k]!, 0)));
    logits.forEach((row, i) => row.forEach((v, j) => expect(got.logits[i]![j]!).toBeCloseTo(v, 3)));

    // Cross-entropy of each row (image → text) and each column (text → image), diagonal = match.
    const ce = (rows: number[][]) =>
      rows.reduce((sum, row, i) => {
        const max = Math.max(...row);
        return sum + (Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max - row[i]!);
      }, 0) / rows.length;
    const columns = logits.map((_, j) => logits.map((row) => row[j]!));
    expect(got.loss).toBeCloseTo((ce(logits) + ce(columns)) / 2, 4);
    model.dispose();
  });
});
