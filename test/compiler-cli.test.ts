// The check / compile / inspect commands, run through the real CLI entry point with stdout and
// stderr captured: exit codes, summaries, and the shapes of what they print.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runCli as run } from "./cli-capture.js";


describe("vlmc check", () => {
  it("passes every bundled spec and library", async () => {
    const r = await run("check", "specs/convnet.vlm", "specs/vit.vlm", "specs/clip.vlm", "specs/kosmos.vlm", "specs/std/layers.vlm");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("specs/convnet.vlm: ok (model LeNet5, 0.06 M params)");
    expect(r.stdout).toContain("model ClipMlp");
    expect(r.stdout).toContain("specs/std/layers.vlm: ok (library: 2 blocks, no model)");
  });

  it("exits 1 with the diagnostic on a broken spec", async () => {
    const r = await run("check", "test/corpus/semantic/add-broadcast.vlm");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[E0401]: add: cannot broadcast [B, 17, 64] with [B, 16, 64]");
  });

  it("exits 1 on an unknown --set target", async () => {
    const r = await run("check", "specs/vit.vlm", "--set", "vision.act=relu");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("unknown --set target 'vision.act': ViT has no parameter 'act'");
  });

  it("exits 0 on warnings, printing them", async () => {
    const w = await run("check", "test/corpus/semantic/set-never-read.vlm", "--set", "hidden=32");
    expect(w.code).toBe(0);
    expect(w.stderr).toContain("warning[W0501]");
  });

  it("exits 2 on a usage error", async () => {
    expect((await run("check")).code).toBe(2);
  });
});

describe("vlmc compile", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "vlmc-compile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("emits the IR as 2-space JSON", async () => {
    const r = await run("compile", "specs/convnet.vlm", "--emit", "ir");
    expect(r.code).toBe(0);
    const program = JSON.parse(r.stdout);
    expect(program.schema).toBe("vlmc.ir/1");
    expect(r.stdout).toBe(JSON.stringify(program, null, 2) + "\n");
  });

  it("writes DOT to a file with -o", async () => {
    const out = path.join(dir, "clip.dot");
    const r = await run("compile", "specs/clip.vlm", "--emit", "dot", "-o", out);
    expect(r.code).toBe(0);
    const dot = readFileSync(out, "utf8");
    expect(dot).toMatch(/^digraph "Clip" \{/);
    expect(dot).toContain('"m:image_head" -> "m:connector" [label="[B, 64]"];');
  });

  it("applies --model and --set", async () => {
    const r = await run("compile", "specs/kosmos.vlm", "--model", "KosmosResampler", "--set", "projector.queries=8");
    expect(r.code).toBe(0);
    const program = JSON.parse(r.stdout);
    expect(program.modules.find((m: { path: string }) => m.path === "projector").shape).toEqual(["B", 8, 128]);
  });
});

describe("vlmc inspect", () => {
  it("prints a table with totals", async () => {
    const r = await run("inspect", "specs/convnet.vlm");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}c1 +conv2d +\[B, 28, 28, 6\] +156 +/m);
    expect(r.stdout).toContain("total: 61,706 parameters");
  });

  it("prints exactly the documented JSON keys", async () => {
    const r = await run("inspect", "specs/vit.vlm", "--json");
    const summary = JSON.parse(r.stdout);
    expect(Object.keys(summary)).toEqual(["model", "params", "trainableParams", "frozenParams", "flops", "inputs", "outputs", "modules"]);
    expect(Object.keys(summary.modules[0])).toEqual(["path", "kind", "params", "flops", "shape"]);
    expect(summary.modules[0]).toMatchObject({ path: "", kind: "model", params: summary.params, flops: summary.flops });
  });

  it("a missing file is a diagnostic and exit 1", async () => {
    const r = await run("inspect", "specs/nope.vlm");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("error[E0001]: specs/nope.vlm: no such file");
  });
});
