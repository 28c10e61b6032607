// `vlmc train`, `eval` and `predict` on CLIP and KOSMOS through the real CLI entry point, with
// quick runs (a few steps on a few dozen examples): the JSON keys of issue 4, the tokenizer saved
// beside the weights, and the user errors of predict (missing tokenizer, corrupt image, unknown
// words). Whether the figures are good is for full runs; here only that they are computed.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { encodePng } from "../runtime/data/images.js";
import { renderShapeImage } from "../runtime/data/shapes.js";
import { runCli as vlmc } from "./cli-capture.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-tasks-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


const QUICK = ["--data", "shapes", "--backend", "wasm", "--limit", "32", "--batch", "16", "--steps", "2", "--warmup", "0", "--log-every", "1"];
const EVAL = ["--data", "shapes", "--backend", "wasm", "--limit", "24", "--json"];

// A large red circle on the left: one of the held-out combinations.
const imageFile = join(work, "red-circle.png");
writeFileSync(imageFile, encodePng(renderShapeImage({ shape: 0, colour: 0, size: 1, position: 0 }, 7), 32, 32, 3));

describe("CLIP through the CLI", () => {
  const out = join(work, "clip");
  const weights = join(out, "weights.safetensors");

  it("trains, saving the tokenizer, and evaluates with the zero-shot keys", async () => {
    const trained = await vlmc("train", "specs/clip.vlm", ...QUICK, "--out", out);
    expect(trained.code, trained.stderr).toBe(0);
    expect(trained.stderr).toMatch(/data: set vocab=\d+ from shapes/);
    const tokenizer = JSON.parse(readFileSync(join(out, "tokenizer.json"), "utf8"));
    expect(tokenizer.vocab.slice(0, 4)).toEqual(["<pad>", "<bos>", "<eos>", "<unk>"]);
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    for (const key of ["test_zero_shot_accuracy", "heldout_zero_shot_accuracy", "test_retrieval_accuracy"]) expect(run.metrics).toHaveProperty(key);

    const evaluated = await vlmc("eval", "specs/clip.vlm", "--weights", weights, ...EVAL);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const json = JSON.parse(evaluated.stdout);
    for (const key of ["loss", "retrieval_accuracy", "zero_shot_accuracy", "zero_shot_accuracy_test", "zero_shot_chance"]) {
      expect(typeof json[key], key).toBe("number");
    }
    expect(json.zero_shot_chance).toBeCloseTo(1 / 30, 10);

    const text = await vlmc("eval", "specs/clip.vlm", "--weights", weights, ...EVAL.filter((a) => a !== "--json"));
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/heldout \(unseen combinations\): .*zero-shot accuracy [\d.]+% \(chance 3\.33%\)/);
  });

  it("predicts: ranks the given labels, and warns about words it never saw", async () => {
    const r = await vlmc("predict", "specs/clip.vlm", "--weights", weights, "--image", imageFile, "--backend", "wasm", "--labels", "a red circle, a blue zebra", "--json");
    expect(r.code, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.scores.map((s: { label: string }) => s.label).sort()).toEqual(["a blue zebra", "a red circle"]);
    expect(json.scores[0].cosine).toBeGreaterThanOrEqual(json.scores[1].cosine);
    const probabilities = json.scores.reduce((a: number, s: { probability: number }) => a + s.probability, 0);
    expect(probabilities).toBeCloseTo(1, 5);

    const warned = await vlmc("predict", "specs/clip.vlm", "--weights", weights, "--image", imageFile, "--backend", "wasm", "--labels", "a blue zebra");
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/'zebra' is not in the training vocabulary and maps to <unk>/);
  });

  it("says what is wrong with a missing tokenizer or a corrupt image", async () => {
    const bare = join(work, "bare");
    mkdirSync(bare, { recursive: true });
    copyFileSync(weights, join(bare, "weights.safetensors"));
    const noTokenizer = await vlmc("predict", "specs/clip.vlm", "--weights", join(bare, "weights.safetensors"), "--image", imageFile, "--backend", "wasm");
    expect(noTokenizer.code).toBe(1);
    expect(noTokenizer.stderr).toMatch(/tokenizer\.json: cannot read the tokenizer file \(it is saved beside the weights by 'vlmc train'\)/);

    const corrupt = join(work, "corrupt.png");
    writeFileSync(corrupt, readFileSync(imageFile).subarray(0, 40));
    const bad = await vlmc("predict", "specs/clip.vlm", "--weights", weights, "--image", corrupt, "--backend", "wasm");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/corrupt\.png: cannot decode PNG/);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe("KOSMOS through the CLI", () => {
  const out = join(work, "kosmos");
  const weights = join(out, "weights.safetensors");

  it("trains and evaluates with the QA keys, per question type for both splits", async () => {
    const trained = await vlmc("train", "specs/kosmos.vlm", ...QUICK, "--out", out);
    expect(trained.code, trained.stderr).toBe(0);
    const evaluated = await vlmc("eval", "specs/kosmos.vlm", "--weights", weights, ...EVAL);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    const json = JSON.parse(evaluated.stdout);
    expect(typeof json.qa_accuracy).toBe("number");
    expect(typeof json.qa_accuracy_heldout).toBe("number");
    for (const split of ["test", "heldout"]) expect(Object.keys(json.qa_by_type[split]).sort()).toEqual(["colour", "position", "shape", "size"]);
  });

  it("predicts an answer to a prompt, and asks for one when it is missing", async () => {
    const r = await vlmc("predict", "specs/kosmos.vlm", "--weights", weights, "--image", imageFile, "--backend", "wasm", "--prompt", "what colour is the shape ?", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(typeof JSON.parse(r.stdout).answer).toBe("string");
    const missing = await vlmc("predict", "specs/kosmos.vlm", "--weights", weights, "--image", imageFile, "--backend", "wasm");
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/give --prompt/);
  });
});
