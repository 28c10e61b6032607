// `vlmc import hf` and `vlmc run` through the CLI: files written, outputs matching the reference,
// and user errors as messages with exit code 1, never stack traces.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, test, vi } from "vitest";
import { readTensorJson } from "../runtime/io/tensor-json.js";
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
    expect(imported.stderr).toBe("");
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
    const dir = join(work, "kosmos");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ architectures: ["Kosmos2ForConditionalGeneration"] }));
    writeFileSync(join(dir, "model.safetensors"), Buffer.from([2, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d]));
    const ran = await run("import", "hf", dir, "-o", join(work, "kosmos-out"));
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/^error\[data\]: .*kosmos\/config\.json: architecture "Kosmos2ForConditionalGeneration" is not supported; vlmc imports ViTModel, ViTForImageClassification, CLIPModel\n$/);
  });

  test("a text length beyond the position table is refused", async () => {
    const ran = await run("import", "hf", fixture, "-o", join(work, "long"), "--text-length", "9");
    expect(ran.code).toBe(1);
    expect(ran.stderr).toMatch(/text length 9 must be between 1 and text_config\.max_position_embeddings = 8/);
  });
});
