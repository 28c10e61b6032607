// `vlmc diff` through the real CLI entry point: the three ways to name the two sides, --json,
// --all, --report, and user errors (a side that does not compile, an unwritable report directory).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { DIFF_SCHEMA, type ProgramDiff } from "../compiler/diff/index.js";
import { runCli as run } from "./cli-capture.js";


const tmp = mkdtempSync(path.join(tmpdir(), "vlmc-diff-cli-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("vlmc diff", () => {
  it("compares two files and prints only what changed", async () => {
    const r = await run("diff", "test/corpus/diff/width/a.vlm", "test/corpus/diff/width/b.vlm");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("A: test/corpus/diff/width/a.vlm (Small)");
    expect(r.stdout).toContain("modules: 0 added, 0 removed, 4 changed (2 unchanged; --all lists them)");
    expect(r.stdout).toContain("hidden: 32 [call] → 64 [call]");
    expect(r.stdout).not.toMatch(/^\s+head\s/m);
    expect(r.stdout).toContain("weights: 5 of A's 8 tensors load into B");
  });

  it("lists unchanged modules with --all", async () => {
    const r = await run("diff", "test/corpus/diff/width/a.vlm", "test/corpus/diff/width/b.vlm", "--all");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^\s+head\s+dense/m);
  });

  it("says so when two specs do not differ", async () => {
    const r = await run("diff", "test/corpus/diff/identical/a.vlm", "test/corpus/diff/identical/b.vlm");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no differences");
  });

  it("compares two models of one file with --model/--model-b", async () => {
    const r = await run("diff", "specs/clip.vlm", "--model", "Clip", "--model-b", "ClipViT");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("B: specs/clip.vlm (ClipViT)");
    expect(r.stdout).toMatch(/vision\s+encoder ConvTower → encoder ViT/);
    expect(r.stdout).toContain("epochs: 8 → 10");
  });

  it("compares one model under two sets of overrides with --a/--b, as JSON", async () => {
    const r = await run("diff", "specs/clip.vlm", "--a", "connector=Contrastive()", "--b", "connector=Contrastive(init_scale=0.0)", "--json");
    expect(r.code).toBe(0);
    const diff = JSON.parse(r.stdout) as ProgramDiff;
    expect(diff.schema).toBe(DIFF_SCHEMA);
    expect(diff.b.label).toBe("specs/clip.vlm (Clip; connector=Contrastive(init_scale=0.0))");
    expect(diff.modules.find((m) => m.path === "connector")?.args[0]).toMatchObject({ name: "init_scale", b: 0, sourceB: "call" });
  });

  it("notes when both sides are the same input", async () => {
    const r = await run("diff", "specs/vit.vlm");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("no differences");
    expect(r.stderr).toContain("note: A and B are the same file, model and overrides");
  });

  it("prints the diagnostics of a side that does not compile and exits 1", async () => {
    const r = await run("diff", "specs/clip.vlm", "--b", "connector=Nope()");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("B (specs/clip.vlm; connector=Nope()) does not compile:");
    expect(r.stderr).toContain("error[E0201]: undefined name 'Nope'");
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("reports a missing file as a diagnostic", async () => {
    const r = await run("diff", "test/corpus/diff/nope.vlm", "test/corpus/diff/width/b.vlm");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/A \(test\/corpus\/diff\/nope\.vlm\) does not compile:\n.*error\[/);
  });

  it("writes report.html, report.md and report.json with --report", async () => {
    const dir = path.join(tmp, "report");
    const r = await run("diff", "specs/kosmos.vlm", "--model", "Kosmos", "--model-b", "KosmosResampler", "--report", dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`wrote ${path.join(dir, "report.html")}`);
    const json = JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8"));
    expect(json.schema).toBe("vlmc.report/1");
    expect(json.diff.b.model).toBe("KosmosResampler");
    expect(json.results).toBeNull();
    expect(readFileSync(path.join(dir, "report.html"), "utf8")).toContain("<svg");
    expect(readFileSync(path.join(dir, "report.md"), "utf8")).toContain("## Weight compatibility");
  });

  it("exits 1 with a message when the report directory cannot be written", async () => {
    const file = path.join(tmp, "a-file");
    writeFileSync(file, "not a directory");
    const r = await run("diff", "specs/vit.vlm", "--report", file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot write the report: /m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(path.join(file, "report.html"))).toBe(false);
  });
});
