// The structural diff (compiler/diff) on hand-made spec pairs in test/corpus/diff/ and on the
// bundled specs: module matching, argument changes and their sources, renames, deltas, visual
// tokens and weight compatibility.
import { describe, expect, it } from "vitest";
import { diffPrograms, formatDiff, type ProgramDiff } from "../compiler/diff/index.js";
import { compileFile, type CompileOptions } from "../compiler/index.js";
import type { IRProgram } from "../compiler/ir.js";

function compile(file: string, opts: CompileOptions = {}): IRProgram {
  const result = compileFile(file, opts);
  if (!result.program) throw new Error(`${file} does not compile: ${result.diagnostics.map((d) => d.message).join("; ")}`);
  return result.program;
}

function pair(name: string, all = false): ProgramDiff {
  return diffPrograms(compile(`test/corpus/diff/${name}/a.vlm`), compile(`test/corpus/diff/${name}/b.vlm`), { all });
}

const byPath = (diff: ProgramDiff, path: string) => diff.modules.find((m) => m.path === path);

describe("identical specs", () => {
  it("report no differences", () => {
    const diff = pair("identical");
    expect(diff.identical).toBe(true);
    expect(diff.modules).toEqual([]);
    expect(diff.summary).toMatchObject({ added: 0, removed: 0, changed: 0 });
    expect(diff.totals.delta).toEqual({ params: 0, trainableParams: 0, flops: 0 });
    expect(diff.weights.loadable).toHaveLength(diff.weights.tensorsA);
    expect(formatDiff(diff)).toContain("no differences");
  });

  it("list every module as unchanged with all", () => {
    const a = compile("test/corpus/diff/identical/a.vlm");
    const diff = diffPrograms(a, compile("test/corpus/diff/identical/b.vlm"), { all: true });
    expect(diff.modules.map((m) => m.path)).toEqual(a.modules.map((m) => m.path));
    expect(diff.modules.every((m) => m.status === "same")).toBe(true);
  });
});

describe("a renamed module", () => {
  const diff = pair("renamed");

  it("shows as removed + added, flagged as a possible rename", () => {
    expect(byPath(diff, "vision")).toMatchObject({ status: "removed", renamedTo: "backbone", delta: { params: -(544 + 528) } });
    expect(byPath(diff, "backbone")).toMatchObject({ status: "added", renamedFrom: "vision", delta: { params: 544 + 528 } });
    // Children pair up too, but the unrelated modules do not.
    expect(byPath(diff, "backbone.up")?.renamedFrom).toBe("vision.up");
    expect(diff.identical).toBe(false);
    expect(diff.totals.delta.params).toBe(0);
    expect(formatDiff(diff)).toContain("possibly renamed from vision");
  });

  it("breaks the renamed weights and keeps the rest", () => {
    expect(diff.weights.missingInB).toEqual(["vision.up.kernel", "vision.up.bias", "vision.down.kernel", "vision.down.bias"]);
    expect(diff.weights.newInB).toEqual(["backbone.up.kernel", "backbone.up.bias", "backbone.down.kernel", "backbone.down.bias"]);
    expect(diff.weights.loadable).toEqual(["embed.kernel", "embed.bias", "head.kernel", "head.bias"]);
    expect(diff.weights.reshaped).toEqual([]);
  });

  it("does not call two different blocks a rename", () => {
    const diff = pair("added");
    expect(diff.modules.some((m) => m.renamedFrom !== undefined || m.renamedTo !== undefined)).toBe(false);
  });
});

describe("a changed width", () => {
  const diff = pair("width");

  it("reports the argument values and where each came from", () => {
    expect(byPath(diff, "")?.args).toEqual([
      expect.objectContaining({ name: "hidden", a: 32, b: 64, sourceA: "default", sourceB: "default" }),
    ]);
    const vision = byPath(diff, "vision")!;
    expect(vision.status).toBe("changed");
    expect(vision.args).toEqual([expect.objectContaining({ name: "hidden", a: 32, b: 64, sourceA: "call", sourceB: "call" })]);
    expect(vision.args[0]!.spanB).toMatchObject({ file: "test/corpus/diff/width/b.vlm", line: 11 });
    expect(byPath(diff, "vision.up")).toMatchObject({ changes: ["args", "shape", "params", "flops"], a: { shape: ["B", 16, 32] }, b: { shape: ["B", 16, 64] } });
  });

  it("gives deltas per module and in total, with percentages", () => {
    // up: 16×32+32 → 16×64+64; down: 32×16+16 → 64×16+16.
    expect(byPath(diff, "vision.up")!.delta.params).toBe(1088 - 544);
    expect(byPath(diff, "vision.down")!.delta.params).toBe(1040 - 528);
    expect(diff.totals.delta.params).toBe(1056);
    expect(diff.totals.percent.params).toBe(Math.round((1056 / diff.totals.a.params) * 1000) / 10);
    expect(formatDiff(diff)).toMatch(/total: params 1,365 → 2,421 \(\+1,056, \+77\.4%\)/);
  });

  it("lists the reshaped weights", () => {
    expect(diff.weights.reshaped).toEqual([
      { name: "vision.up.kernel", a: [16, 32], b: [16, 64] },
      { name: "vision.up.bias", a: [32], b: [64] },
      { name: "vision.down.kernel", a: [32, 16], b: [64, 16] },
    ]);
    expect(diff.weights.loadable).toContain("vision.down.bias");
  });
});

describe("an added block", () => {
  const diff = pair("added");

  it("is added with its children, and every weight of A still loads", () => {
    expect(diff.summary).toMatchObject({ added: 3, removed: 0 });
    expect(byPath(diff, "refine")).toMatchObject({ status: "added", a: null, b: { block: "Tower", kind: "block" } });
    expect(diff.weights.loadable).toHaveLength(diff.weights.tensorsA);
    expect(diff.weights.newInB).toEqual(["refine.up.kernel", "refine.up.bias", "refine.down.kernel", "refine.down.bias"]);
    // The terminal table folds the children into the parent's row.
    const text = formatDiff(diff);
    expect(text).toContain("refine (+2 inside)");
    expect(text).not.toMatch(/^\+\s+refine\.up/m);
  });

  it("lists the children separately with all", () => {
    expect(formatDiff(pair("added", true))).toMatch(/^\+\s+refine\.up\s/m);
  });
});

describe("bundled variants", () => {
  it("swap CLIP's connector arguments through --a/--b overrides", () => {
    const a = compile("specs/clip.vlm", { set: ["connector=Contrastive()"] });
    const b = compile("specs/clip.vlm", { set: ["connector=Contrastive(init_scale=0.0)"] });
    const diff = diffPrograms(a, b);
    expect(byPath(diff, "")!.args).toEqual([
      expect.objectContaining({ name: "connector", a: "Contrastive()", b: "Contrastive(init_scale=0.0)", sourceA: "set", sourceB: "set" }),
    ]);
    expect(byPath(diff, "connector")!.args).toEqual([expect.objectContaining({ name: "init_scale", a: 2.6592, b: 0, sourceA: "default", sourceB: "call" })]);
    expect(diff.totals.delta.params).toBe(0);
    expect(diff.weights.loadable).toHaveLength(diff.weights.tensorsA);
  });

  it("swap CLIP's projection heads (Clip → ClipMlp), sourced from extends", () => {
    const diff = diffPrograms(compile("specs/clip.vlm", { model: "Clip" }), compile("specs/clip.vlm", { model: "ClipMlp" }));
    expect(byPath(diff, "")!.args.map((c) => [c.name, c.sourceB])).toEqual([
      ["image_head", "extends"],
      ["text_head", "extends"],
    ]);
    expect(byPath(diff, "image_head")).toMatchObject({ changes: expect.arrayContaining(["block"]), a: { block: "ProjectionHead" }, b: { block: "MlpHead" } });
    expect(diff.weights.missingInB).toEqual(["image_head.proj.kernel", "text_head.proj.kernel"]);
  });

  it("count the visual tokens handed to the connector", () => {
    const kosmos = compile("specs/kosmos.vlm");
    const resampled = compile("specs/kosmos.vlm", { set: ["projector=Resampler(dim=64, out_dim=width, queries=8)"] });
    const diff = diffPrograms(kosmos, resampled);
    expect(diff.visualTokens.a).toMatchObject({ tokens: 16, connector: "decoder", shape: ["B", 16, 128] });
    expect(diff.visualTokens.b).toMatchObject({ tokens: 8, connector: "decoder" });
    // Positions over 16 (or 8) image tokens + seq_len = 12 text tokens.
    expect(diff.weights.reshaped).toEqual([{ name: "decoder.pos.table", a: [28, 128], b: [20, 128] }]);

    const clip = compile("specs/clip.vlm");
    expect(diffPrograms(clip, clip).visualTokens.a).toMatchObject({ tokens: 1, connector: "connector", shape: ["B", 64] });
    const vit = compile("specs/vit.vlm");
    const none = diffPrograms(vit, vit);
    expect(none.visualTokens.a).toMatchObject({ tokens: null, connector: null });
    expect(formatDiff({ ...none, identical: false })).toContain("visual tokens to the connector: n/a");
  });

  it("place A's removed modules where they stood, in program order", () => {
    const diff = diffPrograms(compile("specs/kosmos.vlm", { model: "Kosmos" }), compile("specs/kosmos.vlm", { model: "KosmosResampler" }));
    const paths = diff.modules.map((m) => m.path);
    expect(paths.indexOf("projector.fc1")).toBeGreaterThan(paths.indexOf("projector"));
    expect(paths.indexOf("projector.fc2")).toBe(paths.indexOf("projector.fc1") + 1);
    expect(diff.topLevel.map((t) => t.module)).toEqual(["vision", "projector", "decoder"]);
  });

  it("is deterministic", () => {
    const a = compile("specs/clip.vlm", { model: "Clip" });
    const b = compile("specs/clip.vlm", { model: "ClipViT" });
    expect(JSON.stringify(diffPrograms(a, b))).toBe(JSON.stringify(diffPrograms(a, b)));
    expect(diffPrograms(a, b).train).toEqual([{ key: "epochs", a: 8, b: 10 }]);
  });
});
