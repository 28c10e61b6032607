// The variant sweep behind `vlmc diff --train` (runtime/sweep), without training anything: how
// variants are read, which command lines and folders the runs get, how finished runs are reused and
// failures reported (a stand-in for `vlmc train`), and how the results are read back and tabulated.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { summarizeResults } from "../runtime/report/results.js";
import {
  collectResults,
  curveRecords,
  formatResultsTable,
  headlineMetrics,
  parseVariant,
  parseVariants,
  planSweep,
  runSweep,
  slug,
  splitTopLevel,
  VariantError,
  type SweepEvent,
} from "../runtime/sweep/index.js";
import { singleThreadedWhenParallel } from "../runtime/sweep/runner.js";

const tmp = mkdtempSync(path.join(tmpdir(), "vlmc-sweep-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const defaults = { file: "specs/clip.vlm", model: "Clip", set: ["embed=32"] };
const fakeTrain = [process.execPath, path.resolve("test/fixtures/sweep/fake-train.mjs")];

describe("variants", () => {
  it("reads overrides, a model name and a spec file, keeping the defaults for the rest", () => {
    expect(parseVariant("connector=Contrastive(init_scale = 1.0)", defaults)).toEqual({
      name: "connector=Contrastive(init_scale = 1.0)",
      file: "specs/clip.vlm",
      model: "Clip",
      set: ["embed=32", "connector=Contrastive(init_scale = 1.0)"],
    });
    expect(parseVariant("ClipBoW", defaults)).toMatchObject({ model: "ClipBoW", set: ["embed=32"] });
    expect(parseVariant("specs/kosmos.vlm; KosmosResampler; width=64", defaults)).toEqual({
      name: "specs/kosmos.vlm; KosmosResampler; width=64",
      file: "specs/kosmos.vlm",
      model: "KosmosResampler",
      set: ["embed=32", "width=64"],
    });
    // Another file without a model: its own first model, not the default file's.
    expect(parseVariant("specs/kosmos.vlm", defaults).model).toBeUndefined();
  });

  it("splits on ; only outside parentheses, brackets and strings", () => {
    expect(splitTopLevel('a=F(x = 1; y = 2); b=[1;2]; c="p;q"; d=1', ";")).toEqual(["a=F(x = 1; y = 2)", " b=[1;2]", ' c="p;q"', " d=1"]);
    expect(parseVariant('text=T(name = "a;b"); depth=2', defaults).set).toEqual(["embed=32", 'text=T(name = "a;b")', "depth=2"]);
  });

  it("rejects what it cannot read, naming the variant and the part", () => {
    expect(() => parseVariant("  ;  ", defaults)).toThrow(/is empty/);
    expect(() => parseVariant("Clip; ClipBoW", defaults)).toThrow(/names two models/);
    expect(() => parseVariant("a.vlm; b.vlm", defaults)).toThrow(/names two spec files/);
    expect(() => parseVariant("depth 2", defaults)).toThrow(VariantError);
    expect(() => parseVariant("depth 2", defaults)).toThrow(/cannot read "depth 2"; expected an override/);
    expect(() => parseVariants(["depth=2", " depth=2 "], defaults)).toThrow(/"depth=2" is given twice/);
  });
});

describe("plan", () => {
  it("gives every variant × seed the same budget, its own folder and its seed", () => {
    const variants = parseVariants(["Clip", "ClipBoW; embed=16"], defaults);
    const runs = planSweep(variants, [0, 3], "out", { data: "shapes", steps: 10, limit: 64 });
    expect(runs.map((r) => [r.variantIndex, r.seed, r.dir])).toEqual([
      [0, 0, path.join("out", "1-clip", "seed-0")],
      [0, 3, path.join("out", "1-clip", "seed-3")],
      [1, 0, path.join("out", "2-clipbow-embed-16", "seed-0")],
      [1, 3, path.join("out", "2-clipbow-embed-16", "seed-3")],
    ]);
    expect(runs[3]!.args).toEqual([
      "train", "specs/clip.vlm", "--model", "ClipBoW", "--set", "embed=32", "--set", "embed=16",
      "--data", "shapes", "--steps", "10", "--limit", "64", "--seed", "3", "--out", path.join("out", "2-clipbow-embed-16", "seed-3"),
    ]);
  });

  it("makes folder names from any variant text", () => {
    expect(slug("connector=Resampler(queries = 8)")).toBe("connector-resampler-queries-8");
    expect(slug("(((")).toBe("variant");
    expect(slug("x".repeat(100)).length).toBe(48);
  });
});

describe("results", () => {
  it("keeps the losses and headline accuracies, not the breakdowns and chance levels", () => {
    expect(
      headlineMetrics({
        train_loss: 1, test_loss: 2, test_accuracy: 0.9, heldout_zero_shot_accuracy: 0.8, heldout_zero_shot_chance: 0.03,
        test_qa_accuracy: 0.99, test_qa_accuracy_colour: 1, test_retrieval_accuracy: 0.7,
      }),
    ).toEqual({ train_loss: 1, test_loss: 2, test_accuracy: 0.9, heldout_zero_shot_accuracy: 0.8, test_qa_accuracy: 0.99, test_retrieval_accuracy: 0.7 });
  });

  it("gives each evaluation record its task's headline accuracy for the curves", () => {
    const records = curveRecords([
      { kind: "train", step: 1, loss: 2 },
      { kind: "eval", epoch: 1, split: "test", zero_shot_accuracy: 0.5, retrieval_accuracy: 0.2 },
      { kind: "eval", epoch: 1, split: "test", qa_accuracy: 0.7, qa_accuracy_shape: 0.6 },
      { kind: "eval", epoch: 1, split: "test", loss: 1 },
    ]);
    expect(records.map((r) => r["accuracy"])).toEqual([undefined, 0.5, 0.7, undefined]);
  });
});

describe("runner", () => {
  it("runs parallel children single-threaded (wasm worker off, one thread per TensorFlow pool), except what the user set", () => {
    expect(singleThreadedWhenParallel(1, {})).toEqual({});
    expect(singleThreadedWhenParallel(2, {})).toEqual({ VLMC_WASM_THREADS: "0", TF_NUM_INTRAOP_THREADS: "1", TF_NUM_INTEROP_THREADS: "1" });
    expect(singleThreadedWhenParallel(3, { TF_NUM_INTRAOP_THREADS: "2", VLMC_WASM_THREADS: "1" })).toEqual({ TF_NUM_INTEROP_THREADS: "1" });
  });

  const variants = parseVariants(["embed=16", "embed=16; fail=1"], { file: "m.vlm", model: undefined, set: [] });

  it("runs every variant × seed, reads the runs back, and reports a failure with its log", async () => {
    const out = path.join(tmp, "sweep");
    const events: SweepEvent[] = [];
    const runs = planSweep(variants, [0, 1], out, {});
    const outcomes = await runSweep(runs, { jobs: 2, launcher: fakeTrain, onEvent: (e) => events.push(e) });
    expect(outcomes.map((o) => o.status)).toEqual(["done", "done", "failed", "failed"]);
    expect(outcomes[2]!.exitCode).toBe(3);
    expect(outcomes[2]!.logTail).toContain("this variant fails on purpose");
    expect(readFileSync(path.join(runs[0]!.dir, "train.log"), "utf8")).toMatch(/^\$ vlmc train m\.vlm --set embed=16 --seed 0 --out /);
    // Progress comes from the children's "step N/T" lines.
    expect(events.filter((e) => e.kind === "step" && e.run.index === 0).map((e) => (e as { step: number }).step)).toEqual([1, 2]);

    const results = collectResults(variants, [{ specHash: "h", params: 10, trainableParams: 6, flops: 20, visualTokens: 4 }, null], outcomes, "two variants");
    expect(results.variants[0]!.runs.map((r) => r.final["test_zero_shot_accuracy"])).toEqual([0.5, 0.6]);
    expect(results.variants[1]!.runs).toEqual([]);
    const summary = summarizeResults(results);
    expect(summary.variants[0]!.metrics["test_zero_shot_accuracy"]!.mean).toBeCloseTo(0.55, 12);
    expect(summary.curves.accuracy).toHaveLength(2);
    const table = formatResultsTable(summary);
    expect(table).toMatch(/test_zero_shot_accuracy\s+55\.0% ± 7\.1\s+—/);
    expect(table).toMatch(/runs \(seeds\)\s+2 \(0, 1\)\s+none finished/);
    expect(table).toMatch(/visual tokens\s+4\s+—/);
    // Frozen parameters show as a trainable count below the total; step times come from run.json.
    expect(table).toMatch(/trainable\s+6\s+—/);
    expect(table).toMatch(/ms \/ step\s+10\.5 ± 0\.707\s+—/);
  });

  it("reuses finished runs of the same command line, retrains changed ones, resumes checkpointed ones", async () => {
    const out = path.join(tmp, "reuse");
    const first = planSweep(variants.slice(0, 1), [0], out, {});
    expect((await runSweep(first, { jobs: 1, launcher: fakeTrain }))[0]!.status).toBe("done");
    expect((await runSweep(first, { jobs: 1, launcher: fakeTrain }))[0]!.status).toBe("reused");
    expect((await runSweep(first, { jobs: 1, launcher: fakeTrain, reuse: false }))[0]!.status).toBe("done");

    // Another budget is another command line: the old run.json must not stand in for it.
    const changed = planSweep(variants.slice(0, 1), [0], out, { steps: 5 });
    expect((await runSweep(changed, { jobs: 1, launcher: fakeTrain }))[0]!.status).toBe("done");

    // An interrupted run (checkpoint, run.json marked interrupted) is continued with --resume.
    const dir = changed[0]!.dir;
    mkdirSync(path.join(dir, "checkpoint"), { recursive: true });
    writeFileSync(path.join(dir, "run.json"), JSON.stringify({ interrupted: true }));
    expect((await runSweep(changed, { jobs: 1, launcher: fakeTrain }))[0]!.status).toBe("done");
    expect(JSON.parse(readFileSync(path.join(dir, "run.json"), "utf8")).resumed).toBe(true);
  });

  it("does not reuse or resume a run of an older version of the spec", async () => {
    const out = path.join(tmp, "edited");
    const withHash = (hash: string) => planSweep(variants.slice(0, 1), [0], out, {}).map((r) => ({ ...r, specHash: hash }));
    const env = (hash: string) => ({ FAKE_SPEC_HASH: hash });
    expect((await runSweep(withHash("hash-1"), { jobs: 1, launcher: fakeTrain, env: env("hash-1") }))[0]!.status).toBe("done");
    expect((await runSweep(withHash("hash-1"), { jobs: 1, launcher: fakeTrain, env: env("hash-1") }))[0]!.status).toBe("reused");
    // The spec was edited: same command line, another source hash → trained again.
    expect((await runSweep(withHash("hash-2"), { jobs: 1, launcher: fakeTrain, env: env("hash-2") }))[0]!.status).toBe("done");
    // An interrupted run of the old spec starts over instead of resuming its checkpoint.
    const dir = withHash("hash-3")[0]!.dir;
    mkdirSync(path.join(dir, "checkpoint"), { recursive: true });
    writeFileSync(path.join(dir, "run.json"), JSON.stringify({ interrupted: true, spec_hash: "hash-2" }));
    expect((await runSweep(withHash("hash-3"), { jobs: 1, launcher: fakeTrain, env: env("hash-3") }))[0]!.status).toBe("done");
    expect(JSON.parse(readFileSync(path.join(dir, "run.json"), "utf8")).resumed).toBe(false);
  });

  it("reports a launcher that cannot start as a failed run", async () => {
    const runs = planSweep(variants.slice(0, 1), [0], path.join(tmp, "nolauncher"), {});
    const [outcome] = await runSweep(runs, { jobs: 1, launcher: [path.join(tmp, "no-such-program")] });
    expect(outcome!.status).toBe("failed");
    expect(outcome!.logTail).toContain("cannot start vlmc");
  });
});
