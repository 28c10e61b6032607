// `vlmc import hf` and `vlmc run` through the CLI: files written, outputs matching the reference,
// and user errors as messages with exit code 1, never stack traces.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { readTensorJson, writeTensorJson } from "../runtime/io/tensor-json.js";
import { compareTensors, OWN_FIXTURES } from "./hf-helpers.js";
import { runCli as run } from "./cli-capture.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-hf-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


const fixture = join(OWN_FIXTURES, "clip-tanh-first-eos");
const out = join(work, "clip");

describe("vlmc import hf + vlmc run", () => {
  test("imports a CLIP folder and runs it on HF-named inputs", async () => {
    const imported = await run("import", "hf", fixture, "-o", out);
    expect(imported.stderr).toMatch(/^note: .*clip-tanh-first-eos has no preprocessor_config\.json; 'vlmc predict' feeds images as pixel values \/ 255\nnote: .*clip-tanh-first-eos has no tokenizer\.json; give 'vlmc predict' the model's tokenizer with --tokenizer\n$/);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported CLIPModel from .*clip-tanh-first-eos: 62 tensors → model ImportedCLIPModel \(62 parameters, [\d,]+ values\)\nwrote .*model\.vlm, .*weights\.safetensors\n$/);

    const result = join(out, "out.json");
    const ran = await run("run", join(out, "model.vlm"), "--weights", join(out, "weights.safetensors"),
      "--inputs", join(fixture, "inputs.json"), "-o", result, "--backend", "cpu");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^wrote .*out\.json: vision_last_hidden_state \[3, 5, 24\], .*logits_per_image \[3, 3\]\n$/);
    const ours = readTensorJson(result);
    const reference = readTensorJson(join(fixture, "outputs.json"));
    for (const [name, ref] of reference) {
      const { violations, shapeOk } = compareTensors(ours.get(name)!, ref);
      expect(shapeOk && violations === 0, name).toBe(true);
    }
  });

  test("an input the model does not read is named, with the accepted names", async () => {
    const inputs = join(work, "bad-inputs.json");
    writeFileSync(inputs, JSON.stringify({ tensors: { pixels: { shape: [1, 3, 16, 16], dtype: "float32", data: new Array(768).fill(0) } } }));
    const ran = await run("run", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "-i", inputs, "-o", join(work, "x.json"), "--backend", "cpu");
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^error\[data\]: .*bad-inputs\.json: no tensor "image" or "pixel_values": the model needs \[B, 16, 16, 3\] float32\n$/);
  });

  test("pixel values of the wrong size name both shapes", async () => {
    const inputs = join(work, "small.json");
    writeFileSync(inputs, JSON.stringify({ tensors: { pixel_values: { shape: [1, 3, 8, 8], dtype: "float32", data: new Array(192).fill(0) } } }));
    const ran = await run("run", join(out, "model.vlm"), "-w", join(out, "weights.safetensors"), "-i", inputs, "-o", join(work, "x.json"), "--backend", "cpu");
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/"pixel_values" has shape \[1, 8, 8, 3\], the model's input "image" needs \[B, 16, 16, 3\] float32/);
  });

  test("an unsupported architecture is an error message, not a stack trace", async () => {
    const dir = join(work, "blip");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ architectures: ["Blip2ForConditionalGeneration"] }));
    writeFileSync(join(dir, "model.safetensors"), Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
    const ran = await run("import", "hf", dir, "-o", join(work, "blip-out"));
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^error\[data\]: .*blip\/config\.json: architecture "Blip2ForConditionalGeneration" is not supported; vlmc imports ViTModel, ViTForImageClassification, CLIPModel, Kosmos2ForConditionalGeneration\n$/);
  });

  test("imports a KOSMOS-2 folder and runs it on HF-named inputs (pixel_values, input_ids, both masks)", async () => {
    const kosmos = join(OWN_FIXTURES, "kosmos2-untied-noscale");
    const dir = join(work, "kosmos2");
    const imported = await run("import", "hf", kosmos, "-o", dir);
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported Kosmos2ForConditionalGeneration from .*: 78 tensors → model ImportedKosmos2ForConditionalGeneration \(78 parameters, [\d,]+ values\)\n/);
    const spec = readFileSync(join(dir, "model.vlm"), "utf8");
    expect(spec).toMatch(/import "hf\/kosmos2\.vlm"/);
    expect(spec).toMatch(/pad = 3,  # pad_token_id: positions start at pad \+ 1/);
    expect(spec).toMatch(/embed_scale = 1\.0,  # scale_embedding is false/);

    const result = join(dir, "out.json");
    const ran = await run("run", join(dir, "model.vlm"), "-w", join(dir, "weights.safetensors"), "-i", join(kosmos, "inputs.json"), "-o", result, "--backend", "wasm");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/logits \[3, 14, 40\]/);
    const ours = readTensorJson(result);
    for (const [name, ref] of readTensorJson(join(kosmos, "outputs.json"))) {
      const { maxAbs, shapeOk } = compareTensors(ours.get(name)!, ref);
      expect(shapeOk && maxAbs <= 1e-4, `${name}: max |diff| ${maxAbs}`).toBe(true);
    }

    // An image mask that marks the wrong number of positions is named, with the count it needs.
    const inputs = readTensorJson(join(kosmos, "inputs.json"));
    const mask = inputs.get("image_embeds_position_mask")!;
    if (mask.data instanceof BigInt64Array) mask.data[3] = 0n;
    else mask.data[3] = 0;
    const bad = join(work, "kosmos-bad.json");
    writeTensorJson(bad, inputs);
    const refused = await run("run", join(dir, "model.vlm"), "-w", join(dir, "weights.safetensors"), "-i", bad, "-o", join(work, "k.json"), "--backend", "cpu");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error\[data\]: .*kosmos-bad\.json: "image_embeds_position_mask" marks 5 positions in row 0; the model places 6 image embeddings per row \(latent_query_num\), so each row must mark exactly 6\n$/);
  });

  test("zero-shot predict with an imported CLIP: its tokenizer.json comes along, the ranking is HF's", async () => {
    const zs = join(OWN_FIXTURES, "clip-zeroshot-bpe");
    const dir = join(work, "zeroshot");
    const imported = await run("import", "hf", zs, "-o", dir);
    expect(imported.code).toBe(0);
    expect(imported.stderr).toMatch(/^note: .*clip-zeroshot-bpe has no preprocessor_config\.json; 'vlmc predict' feeds images as pixel values \/ 255\n$/);
    expect(imported.stdout).toMatch(/wrote .*model\.vlm, .*weights\.safetensors, .*tokenizer\.json\n$/);
    const reference = JSON.parse(readFileSync(join(zs, "zeroshot.json"), "utf8")).tensors as { labels: string[]; cosine: number[]; logits_per_image: number[] };
    for (const backend of ["cpu", "wasm"]) {
      // The tokenizer is found beside the weights, where the import copied it.
      const ran = await run("predict", join(dir, "model.vlm"), "-w", join(dir, "weights.safetensors"), "--image", join(zs, "image.png"),
        "--labels", reference.labels.join(","), "--backend", backend, "--json");
      expect(ran.code, ran.stderr).toBe(0);
      const result = JSON.parse(ran.stdout) as { best: string; scores: { label: string; cosine: number; probability: number }[] };
      const best = reference.labels[reference.cosine.indexOf(Math.max(...reference.cosine))];
      expect(result.best).toBe(best);
      // Probabilities: softmax over exp(logit_scale) · cosine, HF's logits_per_image.
      const max = Math.max(...reference.logits_per_image);
      const exps = reference.logits_per_image.map((l) => Math.exp(l - max));
      const sum = exps.reduce((a, b) => a + b, 0);
      for (const [i, label] of reference.labels.entries()) {
        const ours = result.scores.find((r) => r.label === label)!;
        expect(Math.abs(ours.cosine - reference.cosine[i]!), `${backend} ${label} cosine`).toBeLessThanOrEqual(1e-4);
        expect(Math.abs(ours.probability - exps[i]! / sum), `${backend} ${label} probability`).toBeLessThanOrEqual(1e-4);
      }
    }
    // Without a tokenizer beside the weights or --tokenizer, predict says which file it needs.
    const bare = join(work, "zeroshot-bare");
    mkdirSync(bare, { recursive: true });
    copyFileSync(join(dir, "weights.safetensors"), join(bare, "weights.safetensors"));
    const missing = await run("predict", join(dir, "model.vlm"), "-w", join(bare, "weights.safetensors"), "--image", join(zs, "image.png"), "--labels", "a red circle", "--backend", "cpu");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error\[data\]: .*zeroshot-bare\/tokenizer\.json: cannot read the tokenizer file/);
    // ... and --tokenizer names it.
    const given = await run("predict", join(dir, "model.vlm"), "-w", join(bare, "weights.safetensors"), "--tokenizer", zs, "--image", join(zs, "image.png"), "--labels", "a red circle,a cyan star", "--backend", "cpu", "--json");
    expect(given.code, given.stderr).toBe(0);
  });

  test("a text length beyond the position table is refused", async () => {
    const ran = await run("import", "hf", fixture, "-o", join(work, "long"), "--text-length", "9");
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/text length 9 must be between 1 and text_config\.max_position_embeddings = 8/);
  });
});
