// `vlmc diff --train` through the real CLI: a tiny two-variant sweep that really trains (a few steps
// of a one-layer model on a slice of the shapes world, in child processes running dist/), its JSON,
// table and report, reuse on a second call, and the usage errors that must stop it before training.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli as run } from "./cli-capture.js";

const tmp = mkdtempSync(path.join(tmpdir(), "vlmc-diff-sweep-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TINY = "test/corpus/sweep/tiny.vlm";
const budget = ["--data", "shapes", "--steps", "3", "--limit", "48"];

describe("vlmc diff --train", () => {
  it("trains every variant, prints the results as JSON and writes the report; a second call reuses the runs", async () => {
    const out = path.join(tmp, "sweep");
    const report = path.join(tmp, "report");
    const args = ["diff", TINY, "--train", "--variants", "hidden=8", "hidden=16", ...budget, "--jobs", "2", "--out", out, "--json", "--report", report];
    const r = await run(...args);
    expect(r.stderr).toContain("sweep: 2 variants × 1 seed = 2 runs, 2 at a time");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.schema).toBe("vlmc.sweep/1");
    expect(json.diffs).toHaveLength(1);
    expect(json.diffs[0].totals.a.params).toBeLessThan(json.diffs[0].totals.b.params);
    expect(json.runs.map((x: { status: string }) => x.status)).toEqual(["done", "done"]);
    const [v8, v16] = json.results.variants;
    expect(v8.variant).toBe("hidden=8");
    expect(v8.params).toBe(json.diffs[0].totals.a.params);
    for (const v of [v8, v16]) {
      expect(v.seeds).toEqual([0]);
      for (const metric of ["train_loss", "test_loss", "test_accuracy", "heldout_accuracy"]) expect(Number.isFinite(v.metrics[metric].mean)).toBe(true);
    }
    expect(existsSync(path.join(out, "1-hidden-8", "seed-0", "weights.safetensors"))).toBe(true);
    const reportJson = JSON.parse(readFileSync(path.join(report, "report.json"), "utf8"));
    expect(reportJson.results.variants.map((v: { variant: string }) => v.variant)).toEqual(["hidden=8", "hidden=16"]);
    expect(reportJson.charts.map((c: { id: string }) => c.id)).toContain("loss");

    const again = await run(...args.filter((a) => a !== "--json"));
    expect(again.code).toBe(0);
    expect(again.stderr).toContain("hidden=8 seed 0: reused the finished run");
    expect(again.stdout).toMatch(/^parameters\s+\d\S*( K)?\s+\d\S*( K)?$/m);
    expect(again.stdout).toMatch(/^test_accuracy\s+[\d.]+%\s+[\d.]+%$/m);
  }, 120_000);

  it("trains A and B of a plain diff when no --variants are given", async () => {
    const out = path.join(tmp, "ab");
    const r = await run("diff", TINY, "--a", "hidden=4", "--b", "hidden=6", "--train", ...budget, "--out", out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("A: test/corpus/sweep/tiny.vlm (Tiny; hidden=4)");
    expect(r.stdout).toMatch(/^\s+A: Tiny; hidden=4\s+B: Tiny; hidden=6$/m);
    expect(existsSync(path.join(out, "2-b-tiny-hidden-6", "seed-0", "run.json"))).toBe(true);
  }, 120_000);

  it("stops before training when a variant does not compile", async () => {
    const out = path.join(tmp, "broken");
    const r = await run("diff", TINY, "--train", "--variants", "hidden=8", "hidden=oops", ...budget, "--out", out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("variant 2 (hidden=oops)");
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [["--seeds", "2"], "--seeds needs --train"],
    [["--train", "--seeds", "0"], "--seeds takes a count"],
    [["--train", "--seeds", "1,1"], "--seeds takes a count"],
    [["--train", "--steps", "2", "--epochs", "1"], "give --epochs or --steps, not both"],
    [["--train", "--jobs", "1.5"], "--jobs must be a whole number"],
    [["--train", "--variants", "hidden=8"], "--variants needs at least two variants"],
    [["--train", "--variants", "hidden=8", "hidden=9", "--b", "hidden=3"], "--variants replaces A and B: drop --b"],
    [["--train", "--variants", "hidden=8", "hidden 9"], 'cannot read "hidden 9"'],
  ])("rejects %j with a usage error", async (flags, message) => {
    const r = await run("diff", TINY, ...flags);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
