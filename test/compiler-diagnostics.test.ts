// The semantic diagnostics corpus: every test/corpus/semantic/*.vlm is a broken spec whose first
// line is `# expect: <the first diagnostic line>` (a leading "line:col" means this file), with
// optional `# set: k=v` and `# model: Name` lines for command-line cases.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatDiagnostic, formatDiagnostics } from "../compiler/diagnostics.js";
import { compileFile, compileSource } from "../compiler/index.js";

const corpusDir = "test/corpus/semantic";
const cases = readdirSync(corpusDir).filter((f) => f.endsWith(".vlm")).sort();

function firstLine(file: string, opts: { set?: string[]; model?: string }) {
  const result = compileFile(file, opts);
  const first = result.diagnostics[0];
  return { result, line: first ? formatDiagnostic(first, result.sources).split("\n")[0] : "(no diagnostics)" };
}

describe("semantic diagnostics corpus", () => {
  it("has at least 25 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  for (const name of cases) {
    it(name, () => {
      const file = `${corpusDir}/${name}`;
      const text = readFileSync(file, "utf8");
      const expected = /^# expect: (.*)$/m.exec(text)?.[1];
      expect(expected, "the file starts with '# expect: …'").toBeDefined();
      const set = [...text.matchAll(/^# set: (.*)$/gm)].map((m) => m[1]!);
      const model = /^# model: (.*)$/m.exec(text)?.[1];
      const { result, line } = firstLine(file, { set, model });
      const want = /^\d/.test(expected!) ? `${file}:${expected}` : expected;
      expect(line).toBe(want);
      // An error means no program; a warning-only case still compiles.
      expect(result.program === null).toBe(result.diagnostics.some((d) => d.severity === "error"));
    });
  }
});

describe("diagnostic details", () => {
  it("names the --set that caused a shape error, with the call chain", () => {
    const { result } = firstLine(`${corpusDir}/set-heads-divisibility.vlm`, { set: ["vision.heads=5"] });
    const printed = formatDiagnostics(result.diagnostics, result.sources);
    expect(printed).toContain("note: set here: --set vision.heads=5");
    expect(printed).toContain("1 | vision.heads=5");
    expect(printed).toContain("note: in encoder ViT, instantiated here");
    expect(printed).toContain("hint: choose heads among the divisors of 64");
  });

  it("points a block input mismatch at the call, with the declaration as a note", () => {
    const { result } = firstLine(`${corpusDir}/encoder-width-vs-projection.vlm`, {});
    const d = result.diagnostics[0]!;
    expect(d.span?.line).toBe(8);
    expect(d.notes?.some((n) => n.message === "'x' declared here" && n.span?.file === "specs/std/connectors.vlm")).toBe(true);
  });

  it("suggests the closest name for undefined names and --set targets", () => {
    expect(firstLine(`${corpusDir}/undefined-name.vlm`, {}).result.diagnostics[0]!.hint).toBe("did you mean 'image'?");
    expect(firstLine(`${corpusDir}/set-unknown-target.vlm`, { set: ["dimm=32"] }).result.diagnostics[0]!.hint).toBe("did you mean 'dim'?");
  });

  it("says where an extends override came from", () => {
    const src = `block Base(heads: int = 4) {\n  in x: [B, 3, 64]\n  out attention(x, heads)\n}\nblock Odd extends Base(heads = 5)\nmodel M() {\n  in x: [B, 3, 64]\n  out Odd()(x)\n}\n`;
    const result = compileSource(src, "inline.vlm");
    expect(result.diagnostics[0]!.code).toBe("E0404");
    expect(result.diagnostics[0]!.notes?.[0]?.message).toBe("overridden here: Odd extends Base(heads = 5)");
  });

  it("reports independent errors in one run, and each only once", () => {
    const src = `model M() {\n  in x: [B, 8]\n  a = relu(nope)\n  b = dense(a, 4)\n  c = dense(x, 0)\n  out x\n}\n`;
    const codes = compileSource(src, "multi.vlm").diagnostics.map((d) => d.code);
    expect(codes).toEqual(["E0201", "E0407"]);
  });

  it("accepts a bare word for a string parameter in --set", () => {
    const src = `model M(act: string = "gelu") {\n  in x: [B, 8]\n  out activation(x, act)\n}\n`;
    const result = compileSource(src, "act.vlm", { set: ["act=relu"] });
    expect(result.diagnostics).toEqual([]);
    expect(result.program!.nodes.map((n) => n.op)).toEqual(["input", "relu"]);
  });
});

describe("file-level problems are diagnostics, never exceptions", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "vlmc-files-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a missing file", () => {
    const r = compileFile(path.join(dir, "nope.vlm"));
    expect(r.program).toBeNull();
    expect(r.diagnostics[0]!.code).toBe("E0001");
    expect(r.diagnostics[0]!.message).toContain("no such file");
  });

  it("a directory", () => {
    mkdirSync(path.join(dir, "d.vlm"));
    expect(compileFile(path.join(dir, "d.vlm")).diagnostics[0]!.message).toContain("is a directory");
  });

  it("a binary file", () => {
    writeFileSync(path.join(dir, "b.vlm"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    expect(compileFile(path.join(dir, "b.vlm")).diagnostics[0]!.message).toContain("binary");
  });

  it("an empty file", () => {
    writeFileSync(path.join(dir, "e.vlm"), "");
    const r = compileFile(path.join(dir, "e.vlm"));
    expect(r.program).toBeNull();
    expect(r.diagnostics.length).toBeGreaterThan(0);
  });

  it("50,000 levels of nesting", () => {
    const src = `model M() {\n  in x: [B, 8]\n  y = ${"(".repeat(50_000)}1${")".repeat(50_000)}\n  out x\n}\n`;
    const r = compileSource(src, "deep.vlm");
    expect(r.program).toBeNull();
    expect(r.diagnostics.length).toBeGreaterThan(0);
  });

  const chain = (n: number) => {
    const blocks = Array.from({ length: n }, (_, i) => `block C${i}(d: int) {\n  in x: [B, d]\n  out ${i === n - 1 ? "relu(x)" : `C${i + 1}(d)(x)`}\n}`);
    return compileSource(`${blocks.join("\n")}\nmodel M() {\n  in x: [B, 8]\n  out C0(8)(x)\n}\n`, "chain.vlm");
  };

  it("blocks nested 300 deep, each calling the next: a diagnostic, not a stack overflow", () => {
    expect(chain(100).program).not.toBeNull();
    const r = chain(300);
    expect(r.program).toBeNull();
    expect(r.diagnostics[0]!.code).toBe("E0408");
    expect(r.diagnostics[0]!.message).toBe("blocks are nested more than 256 deep (C0 → … → C256)");
  });

  it("a model that unrolls past the node limit", () => {
    const src = `model M() {\n  in x: [B, 8]\n  repeat 100000 {\n    repeat 100 {\n      x = relu(x)\n    }\n  }\n  out x\n}\n`;
    const r = compileSource(src, "huge.vlm");
    expect(r.program).toBeNull();
    expect(r.diagnostics[0]!.code).toBe("E0408");
  });
});
