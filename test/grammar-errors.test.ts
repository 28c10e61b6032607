// Syntax errors: every broken spec in test/corpus/syntax/ starts with `# expect: <first line>`,
// the exact first printed diagnostic line; one file holds several errors that must all be found.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatDiagnostic, formatDiagnostics } from "../compiler/diagnostics.js";
import { parse } from "../grammar/parse.js";
import { vlmLexer } from "../grammar/tokens.js";

const CORPUS = "test/corpus/syntax";
const files = readdirSync(CORPUS)
  .filter((f) => f.endsWith(".vlm"))
  .sort();

function firstLine(file: string, text: string): string {
  const { diagnostics } = parse(text, file);
  if (diagnostics.length === 0) return "(no diagnostics)";
  return formatDiagnostic(diagnostics[0], new Map()).split("\n")[0];
}

describe("the syntax error corpus", () => {
  it("has at least 20 broken specs", () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  it("covers every code of the table in grammar/parse.ts (except the internal E0199)", () => {
    const table = [...readFileSync("grammar/parse.ts", "utf8").matchAll(/^\/\/ \| (E01\d\d) \|/gm)].map((m) => m[1]);
    expect(table.length).toBeGreaterThan(10);
    const covered = new Set(files.map((f) => /error\[(E\d+)\]/.exec(readFileSync(join(CORPUS, f), "utf8"))?.[1]));
    expect(table.filter((code) => code !== "E0199" && !covered.has(code))).toEqual([]);
  });

  it.each(files)("%s", (name) => {
    const file = `${CORPUS}/${name}`;
    const text = readFileSync(join(CORPUS, name), "utf8");
    const expected = /^# expect: (.*)$/m.exec(text)?.[1];
    expect(expected, `${file} must start with '# expect: <diagnostic line>'`).toBeDefined();
    expect(firstLine(file, text)).toBe(expected);
  });
});

describe("error recovery", () => {
  it("reports every error of a file, in source order, each once", () => {
    const file = `${CORPUS}/many-errors.vlm`;
    const text = readFileSync(file, "utf8");
    const { ast, diagnostics } = parse(text, file);
    expect(diagnostics.map((d) => `${d.span?.line}:${d.span?.col} ${d.code}`)).toEqual([
      "2:13 E0110", // dim int: missing ':'
      "4:3 E0102", // [B, dim: missing ']'
      "5:9 E0101", // @
      "8:16 E0117", // positional after named
      "9:1 E0110", // 'as' without a name
      "12:1 E0111", // loss without a value
    ]);
    // The partial AST still has all three declarations.
    expect(ast?.blocks.map((b) => b.name.name)).toEqual(["A", "B", "C"]);
  });

  it("prints the offending line with a caret under the span", () => {
    const file = `${CORPUS}/unclosed-paren.vlm`;
    const text = readFileSync(file, "utf8");
    const printed = formatDiagnostics(parse(text, file).diagnostics, new Map([[file, text]]));
    expect(printed).toBe(
      [
        "test/corpus/syntax/unclosed-paren.vlm:4:3: error[E0102]: expected ')' to close the argument list opened at 3:17, found 'out'",
        "  |",
        "4 |   out h",
        "  |   ^^^",
      ].join("\n"),
    );
  });

  it("gives hints where they help", () => {
    const hint = (text: string) => parse(text, "t.vlm").diagnostics[0]?.hint;
    expect(hint("blok A() {}")).toBe("did you mean 'block'?");
    expect(hint("block A(n: flot) {}")).toBe("did you mean 'float'?");
    expect(hint("block A() { dense(x, 4) }")).toMatch(/a call on its own does nothing/);
    expect(hint("block A(in: int) {}")).toBe("'in' is a keyword and cannot be used as a name");
  });

  it("recovers from every truncation and every missing run of 1 to 4 tokens of a spec", () => {
    const spec = [
      'import "std/layers.vlm"',
      'block Mlp(dim: int, hidden: int = dim * 4, act: string = "gelu") {',
      "  in x: [B, N, dim]",
      "  h = activation(dense(x, hidden) as fc1, act)",
      "  repeat depth as layers { h = h + Mlp(dim)(h) as mlp }",
      "  out y: [B, N, dim] = -h.z[0] // 2",
      "}",
      "model M(vision: encoder = ViT(dim = 8)) {",
      "  in label: [B] int",
      "  out logits = dense(vision(x), 10) as head",
      "  loss cross_entropy(logits, label)",
      '  train { task = "classify", lr = 1e-3, }',
      "}",
      "model W extends M(vision = ViT(dim = 16))",
    ].join("\n");
    const tokens = vlmLexer.tokenize(spec).tokens;
    const at = (i: number) => tokens[i]?.startOffset ?? spec.length;
    const variants = tokens.flatMap((_, i) => [
      spec.slice(0, at(i)),
      ...[1, 2, 3, 4].map((n) => spec.slice(0, at(i)) + spec.slice(at(i + n))),
    ]);
    for (const text of variants) {
      const { ast, diagnostics } = parse(text, "t.vlm");
      expect(ast).not.toBeNull();
      for (const d of diagnostics) expect(d.code, `${d.message}\n--- in ---\n${text}`).not.toBe("E0199");
    }
  });

  it("never reports a stack trace for junk, and reports each junk line once", () => {
    const { diagnostics } = parse("@@@\n}}}\n((((\n\"\n", "junk.vlm");
    expect(diagnostics.length).toBeGreaterThan(0);
    expect(diagnostics.every((d) => /^E01\d\d$/.test(d.code) && d.span?.file === "junk.vlm")).toBe(true);
    const lines = diagnostics.map((d) => d.span?.line);
    expect(new Set(lines).size).toBe(lines.length);
  });
});
