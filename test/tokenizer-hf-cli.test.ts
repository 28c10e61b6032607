// `vlmc train --tokenizer` with a Hugging Face tokenizer.json through the real CLI entry point: a
// quick CLIP run binds vocab and the text encoder's eot to the tokenizer, saves it beside the weights,
// and eval and predict reuse it without the flag; a broken tokenizer is one clear line, no stack.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { encodePng } from "../runtime/data/images.js";
import { renderShapeImage } from "../runtime/data/shapes.js";
import { runCli as vlmc } from "./cli-capture.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-tokenizer-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const BPE = "test/fixtures/tokenizer/bpe";
const QUICK = ["--data", "shapes", "--backend", "wasm", "--limit", "32", "--batch", "16", "--steps", "3", "--warmup", "0", "--log-every", "1"];

describe("a Hugging Face tokenizer through the CLI", () => {
  const out = join(work, "clip");
  const weights = join(out, "weights.safetensors");

  it("trains CLIP with it, saved beside the weights, and eval and predict reuse it", async () => {
    const trained = await vlmc("train", "specs/clip.vlm", ...QUICK, "--tokenizer", BPE, "--out", out);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/data: set vocab=110, text\.eot=1 from shapes/);
    expect(readFileSync(join(out, "tokenizer.json"), "utf8")).toBe(readFileSync(join(BPE, "tokenizer.json"), "utf8"));
    expect(JSON.parse(readFileSync(join(out, "tokenizer_config.json"), "utf8"))).toMatchObject({ eos_token: "<|endoftext|>" });

    const evaluated = await vlmc("eval", "specs/clip.vlm", "--weights", weights, "--data", "shapes", "--backend", "wasm", "--limit", "24", "--json");
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(evaluated.stderr).toMatch(/data: set vocab=110, text\.eot=1 from shapes/);
    expect(typeof JSON.parse(evaluated.stdout).zero_shot_accuracy).toBe("number");

    const image = join(work, "red-circle.png");
    writeFileSync(image, encodePng(renderShapeImage({ shape: 0, colour: 0, size: 1, position: 0 }, 7), 32, 32, 3));
    const predicted = await vlmc("predict", "specs/clip.vlm", "--weights", weights, "--image", image, "--backend", "wasm", "--labels", "a red circle,a blue hexagon");
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.stderr).toMatch(/'hexagon' is not in the tokenizer's vocabulary and maps to its unknown token/);
    expect(predicted.stdout).toMatch(/a red circle/);

    // Continuing the run needs no --tokenizer: the one saved beside the weights reads the text.
    const resumed = await vlmc("train", "specs/clip.vlm", ...QUICK, "--resume", "--out", out);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/data: set vocab=110, text\.eot=1 from shapes/);
    expect(resumed.stderr).toMatch(/resuming from .* at step 3\/3/);
  });

  it("a broken or missing tokenizer is a clear error without a stack trace", async () => {
    const bad = join(work, "bad.json");
    writeFileSync(bad, '{"model": {"type": "BPE"');
    for (const path of [bad, join(work, "missing")]) {
      const r = await vlmc("train", "specs/clip.vlm", ...QUICK, "--tokenizer", path, "--out", join(work, "never"));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(path === bad ? /bad\.json: malformed JSON/ : /missing: no such tokenizer file or folder/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
