// `vlmc train` and `vlmc eval` through the real CLI entry point, on the bundled LeNet-5 spec and
// real MNIST (a few steps on a few dozen examples, wasm backend), plus the user errors they must
// report without a stack trace.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { runCli as vlmc } from "./cli-capture.js";

const work = mkdtempSync(join(tmpdir(), "vlmc-train-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


const QUICK = ["--data", "mnist", "--backend", "wasm", "--limit", "48", "--batch", "16", "--log-every", "1"];

describe("vlmc train / eval on the bundled LeNet-5 and MNIST", () => {
  const out = join(work, "lenet");

  it("trains, says which backend and why, and writes the run files", async () => {
    const { code, stdout, stderr } = await vlmc("train", "specs/convnet.vlm", ...QUICK, "--epochs", "2", "--warmup", "0", "--out", out);
    expect(stderr).toMatch(/^backend: wasm \(requested\)$/m);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^done: 6 steps/m);
    for (const file of ["weights.safetensors", "run.json", "metrics.jsonl", "checkpoint/checkpoint.json"]) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(run).toMatchObject({ model: "LeNet5", backend: "wasm", seed: 0, params: 61706, steps: 6, batch: 16, data: "mnist" });
    expect(run.metrics.test_accuracy).toBeGreaterThanOrEqual(0);
    const losses = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).filter((r) => r.kind === "train").map((r) => r.loss);
    expect(losses).toHaveLength(6);
    // 6 steps of Adam at 2e-3 on 48 digits: the loss falls from ~2.3.
    expect(losses.at(-1)).toBeLessThan(losses[0]);
  });

  it("evaluates the weights it wrote, as text and as one flat JSON object", async () => {
    const weights = join(out, "weights.safetensors");
    const text = await vlmc("eval", "specs/convnet.vlm", "--weights", weights, "--data", "mnist", "--backend", "wasm", "--limit", "48");
    expect(text.code, text.stderr).toBe(0);
    expect(text.stderr).toMatch(/^backend: wasm/m);
    expect(text.stdout).toMatch(/^LeNet5 on mnist test: accuracy [\d.]+%, loss [\d.]+, 48 examples$/m);

    const json = await vlmc("eval", "specs/convnet.vlm", "--weights", weights, "--data", "mnist", "--backend", "wasm", "--limit", "48", "--json");
    expect(json.code, json.stderr).toBe(0);
    const result = JSON.parse(json.stdout);
    expect(Object.keys(result).slice(0, 2)).toEqual(["accuracy", "loss"]);
    expect(result.examples).toBe(48);
    // The same figures as the last evaluation of the run (same weights, same examples).
    const run = JSON.parse(readFileSync(join(out, "run.json"), "utf8"));
    expect(result.accuracy).toBe(run.metrics.test_accuracy);
    expect(result.loss).toBeCloseTo(run.metrics.test_loss, 6);
  });

  it("sets data-bound parameters from the dataset and says so", async () => {
    // The ViT spec is written for 32×32×3 images; on MNIST its image_size and channels follow the data.
    const vit = await vlmc("train", "specs/vit.vlm", "--data", "mnist", "--backend", "wasm", "--limit", "8", "--batch", "4", "--steps", "1", "--out", join(work, "vit"));
    expect(vit.code, vit.stderr).toBe(0);
    expect(vit.stderr).toMatch(/^data: set image_size=28, channels=1 from mnist$/m);
    const run = JSON.parse(readFileSync(join(work, "vit", "run.json"), "utf8"));
    expect(run.model).toBe("ViTClassifier");
  });

  it("keeps data-bound parameters the user set, fitting the images instead", async () => {
    const { code, stderr } = await vlmc("train", "specs/convnet.vlm", "--data", "mnist", "--backend", "wasm", "--limit", "16", "--batch", "8", "--steps", "1", "--set", "classes=12", "--set", "image_size=32", "--out", join(work, "bound"));
    // classes=12 was set by the user and is kept; image_size=32 too, and the 28×28 digits are padded to fit.
    expect(code, stderr).toBe(0);
    expect(stderr).not.toMatch(/set .*classes=/);
    expect(stderr).toMatch(/images 28×28×1 → 32×32×1: centre pad/);
  });
});

describe("user errors are messages, not stack traces", () => {
  it("explains weights trained with other --set overrides", async () => {
    // Trained above with --set classes=12 --set image_size=32; evaluated here without them.
    const { code, stderr } = await vlmc("eval", "specs/convnet.vlm", "--weights", join(work, "bound", "weights.safetensors"), "--data", "mnist", "--backend", "wasm", "--limit", "8");
    expect(code).toBe(1);
    expect(stderr).toMatch(/wrong shape: f7\.kernel: the model needs \[84, 10\], the file has \[84, 12\]/);
    expect(stderr).toMatch(/hint: the run in .* was trained with --set classes=12 --set image_size=32/);
  });

  it("reports a missing weights file by name", async () => {
    const { code, stderr } = await vlmc("eval", "specs/convnet.vlm", "--weights", join(work, "nope.safetensors"), "--data", "mnist", "--backend", "wasm");
    expect(code).toBe(1);
    expect(stderr).toContain("nope.safetensors");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("reports weights that do not fit the model", async () => {
    const bad = join(work, "bad.safetensors");
    writeFileSync(bad, "not a safetensors file at all");
    const { code, stderr } = await vlmc("eval", "specs/convnet.vlm", "--weights", bad, "--data", "mnist", "--backend", "wasm");
    expect(code).toBe(1);
    expect(stderr).toContain("bad.safetensors");
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it("needs --out to resume, and a checkpoint in it", async () => {
    const noOut = await vlmc("train", "specs/convnet.vlm", "--resume", "--data", "mnist");
    expect(noOut.code).toBe(2);
    expect(noOut.stderr).toMatch(/--resume needs --out/);
    const empty = await vlmc("train", "specs/convnet.vlm", ...QUICK, "--steps", "1", "--resume", "--out", join(work, "empty"));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/no checkpoint in/);
  });

  it("prints compile diagnostics with file:line:col", async () => {
    const spec = join(work, "broken.vlm");
    writeFileSync(spec, "model M() {\n  in image: [B, 4]\n  out logits = dense(imagez, 3)\n}\n");
    const { code, stderr } = await vlmc("train", spec, "--data", "mnist");
    expect(code).toBe(1);
    expect(stderr).toMatch(/broken\.vlm:3:\d+: error\[E\d+\]/);
  });

  it("rejects bad flag values with the expected range", async () => {
    const { code, stderr } = await vlmc("train", "specs/convnet.vlm", "--data", "mnist", "--batch", "0", "--backend", "wasm");
    expect(code).toBe(2);
    expect(stderr).toMatch(/batch must be a positive integer, got 0/);
  });

  it("names the field a model needs that the data lacks", async () => {
    const spec = join(work, "tokens.vlm");
    writeFileSync(
      spec,
      "model T(classes: int = 10) {\n  in image: [B, 28, 28, 1]\n  in label: [B] int\n  in tokens: [B, 4] int\n" +
        "  out logits = dense(flatten(image), classes) as head\n  loss cross_entropy(logits, label)\n}\n",
    );
    const { code, stderr } = await vlmc("train", spec, ...QUICK, "--steps", "1", "--out", join(work, "tokens"));
    expect(code).toBe(1);
    expect(stderr).toMatch(/reads an input 'tokens' that dataset mnist does not provide/);
  });
});
