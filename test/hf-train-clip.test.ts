// Fine-tuning an imported CLIPModel: `vlmc train model.vlm --init weights.safetensors` on captioned
// images. The imported spec's loss is CLIP's (HF's clip_loss: the symmetric cross-entropy of
// logits_per_image with each image's own caption on the diagonal), the text is read with the
// tokenizer.json and the images with the pixel normalisation (preprocess.json) that the import wrote
// beside the weights, and both travel with the fine-tuned weights to eval and predict.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compileFile } from "../compiler/index.js";
import { initBackend } from "../runtime/backend.js";
import { transformImages, transformPixels } from "../runtime/data/normalise.js";
import type { Dataset } from "../runtime/data/types.js";
import { importHf } from "../runtime/hf/importer.js";
import { loadWeightsInto } from "../runtime/io/checkpoint.js";
import { loadModel } from "../runtime/model.js";
import { encodeCaption } from "../runtime/tasks/text.js";
import { loadTokenizer } from "../runtime/text/load.js";
import { runCli as vlmc } from "./cli-capture.js";
import { maxWeightDiff as maxDiff, OWN_FIXTURES } from "./hf-helpers.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-hf-train-clip-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// clip-zeroshot-bpe: image 16, a BPE tokenizer.json that knows the words below, 10 text positions.
const FIXTURE = join(OWN_FIXTURES, "clip-zeroshot-bpe");
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];
const imported = join(work, "clip");
const data = join(work, "captioned");

const COLOURS: Record<string, [number, number, number]> = { red: [220, 30, 30], green: [30, 200, 40], blue: [30, 40, 220] };
const SHAPES: Record<string, (u: number, v: number) => boolean> = {
  square: () => true,
  circle: (u, v) => (u - 0.5) ** 2 + (v - 0.5) ** 2 < 0.25,
  triangle: (u, v) => Math.abs(u - 0.5) < v / 2,
};

/** 72 captioned 16×16 images ("a red circle"): 9 colour–shape pairs at 8 positions, no labels. */
function makeCaptionedFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  let i = 0;
  for (let rep = 0; rep < 8; rep++) {
    for (const [colour, rgb] of Object.entries(COLOURS)) {
      for (const [shape, inside] of Object.entries(SHAPES)) {
        const img = new PNG({ width: 16, height: 16 });
        const [x0, y0, s] = [1 + ((i * 3) % 5), 1 + ((i * 7) % 5), 9];
        for (let y = 0; y < 16; y++) {
          for (let x = 0; x < 16; x++) {
            const [u, v] = [(x - x0) / s, (y - y0) / s];
            const on = u >= 0 && u <= 1 && v >= 0 && v <= 1 && inside(u, v);
            img.data.set([...(on ? rgb : [235, 235, 235]), 255], (y * 16 + x) * 4);
          }
        }
        const file = `${String(i).padStart(3, "0")}.png`;
        writeFileSync(join(dir, file), PNG.sync.write(img));
        lines.push(JSON.stringify({ file, caption: `a ${colour} ${shape}` }));
        i++;
      }
    }
  }
  writeFileSync(join(dir, "labels.jsonl"), lines.join("\n") + "\n");
}

beforeAll(() => {
  // The fixture with an openai-style image processor, so that the import writes preprocess.json.
  const source = join(work, "hf-folder");
  mkdirSync(source, { recursive: true });
  for (const f of ["config.json", "model.safetensors", "tokenizer.json"]) copyFileSync(join(FIXTURE, f), join(source, f));
  writeFileSync(join(source, "preprocessor_config.json"), JSON.stringify({
    image_processor_type: "CLIPImageProcessor", do_resize: true, size: { shortest_edge: 16 }, resample: 3,
    do_center_crop: true, crop_size: { height: 16, width: 16 }, do_rescale: true, rescale_factor: 1 / 255,
    do_normalize: true, image_mean: CLIP_MEAN, image_std: CLIP_STD, do_convert_rgb: true,
  }));
  importHf(source, imported);
  makeCaptionedFolder(data);
});

/** The training losses the run logged (metrics.jsonl), in order. */
function loggedLosses(runDir: string): number[] {
  return readFileSync(join(runDir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { kind: string; loss: number })
    .filter((r) => r.kind === "train").map((r) => r.loss);
}

describe("the imported CLIPModel's loss", () => {
  test("is HF's clip_loss: the mean of the cross-entropies over rows and columns of logits_per_image", async () => {
    await initBackend("cpu");
    const compiled = compileFile(join(imported, "model.vlm"));
    expect(compiled.diagnostics).toEqual([]);
    const program = compiled.program!;
    const model = await loadModel(program, { initialize: false });
    model.setParams(loadWeightsInto(program.params, join(imported, "weights.safetensors")));
    const tokenizer = loadTokenizer(join(imported, "tokenizer.json"));
    const captions = ["a red circle", "a blue square", "a green triangle"];
    const encoded = captions.map((c) => encodeCaption({ tokenizer, seqLen: 10 }, c));
    const pixels = Array.from({ length: 3 * 16 * 16 * 3 }, (_, i) => Math.sin(i * 0.37));
    const inputs = {
      image: tf.tensor(pixels, [3, 16, 16, 3]),
      tokens: tf.tensor(encoded.flatMap((e) => e.ids), [3, 10], "int32"),
      attention_mask: tf.tensor(encoded.flatMap((e) => e.mask), [3, 10], "int32"),
    };
    const { outputs, loss } = model.forward(inputs, { loss: true });
    const logits = (await outputs["logits_per_image"]!.array()) as number[][];
    // By hand: -log softmax of the diagonal, over each row and each column.
    const nll = (row: number[], k: number): number => Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[k]!;
    const perImage = logits.map((row, i) => nll(row, i));
    const perText = logits.map((_, j) => nll(logits.map((row) => row[j]!), j));
    const expected = (perImage.reduce((a, b) => a + b) / 3 + perText.reduce((a, b) => a + b) / 3) / 2;
    expect(loss!.dataSync()[0]).toBeCloseTo(expected, 5);
    // Not a degenerate case: the pairs are not already the row maxima.
    expect(expected).toBeGreaterThan(0.5);
    model.dispose();
  });
});

describe("vlmc train --init on an imported CLIP", () => {
  const run = join(work, "tuned");
  let trained: Awaited<ReturnType<typeof vlmc>>;
  beforeAll(async () => {
    trained = await vlmc("train", join(imported, "model.vlm"), "--init", join(imported, "weights.safetensors"),
      "--data", data, "--backend", "wasm", "--steps", "24", "--batch", "16", "--lr", "3e-3", "--warmup", "0",
      "--log-every", "4", "--out", run);
  });

  test("reads the text with the import's tokenizer.json and the images with its normalisation", () => {
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/^tokenizer: .*clip\/tokenizer\.json \(beside the --init weights\)$/m);
    expect(trained.stderr).toMatch(/^preprocessing \(preprocess\.json\): rescale ×0\.00392157, normalise mean \[0\.48145466, 0\.4578275, 0\.40821073\] std \[0\.26862954, 0\.26130258, 0\.27577711\]$/m);
    expect(trained.stderr).toMatch(/^init: 62 tensors from /m);
    // Both travel with the fine-tuned weights.
    expect(readFileSync(join(run, "tokenizer.json"), "utf8")).toBe(readFileSync(join(imported, "tokenizer.json"), "utf8"));
    expect(existsSync(join(run, "preprocess.json"))).toBe(true);
  });

  test("the contrastive loss goes down and the weights move away from the import", () => {
    const losses = loggedLosses(run);
    expect(losses.length).toBe(6);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.8);
    expect(maxDiff(join(run, "weights.safetensors"), join(imported, "weights.safetensors"))).toBeGreaterThan(1e-3);
  });

  test("eval and predict use the fine-tuned weights with the same tokenizer and normalisation", async () => {
    const evaluated = await vlmc("eval", join(imported, "model.vlm"), "--weights", join(run, "weights.safetensors"), "--data", data, "--backend", "wasm", "--json");
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).toMatch(/^preprocessing \(preprocess\.json beside the weights\): rescale/m);
    const metrics = JSON.parse(evaluated.stdout) as Record<string, number>;
    expect(metrics["retrieval_accuracy"]).toBeGreaterThanOrEqual(0);
    const predicted = await vlmc("predict", join(imported, "model.vlm"), "--weights", join(run, "weights.safetensors"),
      "--image", join(data, "004.png"), "--labels", "a red circle,a green circle,a blue triangle", "--backend", "wasm", "--json");
    expect(predicted.code, predicted.stderr).toBe(0);
    const ranking = JSON.parse(predicted.stdout) as { best: string; scores: { label: string }[] };
    expect(ranking.scores.map((s) => s.label).sort()).toEqual(["a blue triangle", "a green circle", "a red circle"]);
  });
});

describe("pixel normalisation of a dataset (preprocess.json's rescale and mean/std)", () => {
  test("maps bytes / 255 to (byte · rescale − mean) / std per channel", () => {
    const image = { dtype: "float32" as const, shape: [1, 1, 2, 3], data: new Float32Array([0, 0.5, 1, 1, 0, 0.25]) };
    const out = transformPixels(image, { rescale: 1 / 255, mean: [0.5, 0.25, 0], std: [0.5, 0.25, 2] });
    const expected = [(0 - 0.5) / 0.5, (0.5 - 0.25) / 0.25, (1 - 0) / 2, (1 - 0.5) / 0.5, (0 - 0.25) / 0.25, (0.25 - 0) / 2];
    Array.from(out.data).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    // No rescale factor (null in preprocess.json → 1): the model reads 0..255.
    expect(Array.from(transformPixels(image, { rescale: 1, mean: null, std: null }).data)).toEqual([0, 127.5, 255, 255, 0, 63.75]);
  });

  test("a dataset whose channels the statistics do not cover is an error", () => {
    const grey: Dataset = {
      name: "grey",
      classes: ["a"],
      splits: { train: { size: 0, imageShape: [4, 4, 1], meta: () => ({ label: 0 }), batch: () => { throw new Error("unused"); } } },
    };
    expect(() => transformImages(grey, { rescale: 1 / 255, mean: CLIP_MEAN, std: CLIP_STD })).toThrow(
      "the model's image preprocessing normalises 3 channels, but the train split of dataset grey has 1-channel images: convert them to RGB",
    );
  });
});
