// The formatter: canonical layout, comments kept in place, idempotent, meaning unchanged
// (parse(format(x)) has the AST of x, spans aside), on samples and on every bundled spec;
// and `vlmc fmt` with --check / --write.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SourceFile } from "../grammar/ast.js";
import { format } from "../grammar/format.js";
import { parse } from "../grammar/parse.js";
import { runFmt } from "../cli/commands/fmt.js";

/** The AST without spans, with comments compared by text (the formatter trims their trailing blanks). */
function meaning(ast: SourceFile | null): unknown {
  if (!ast) return null;
  const { comments, ...rest } = ast;
  return {
    ...JSON.parse(JSON.stringify(rest, (k, v) => (k === "span" ? undefined : v))),
    comments: comments.map((c) => c.text.trimEnd()),
  };
}

function fmt(text: string): string {
  const r = format(text, "t.vlm");
  expect(r.diagnostics).toEqual([]);
  return r.text!;
}

/** The three promises of the formatter, for one input that parses. */
function checkFormatter(text: string, file: string): void {
  const before = parse(text, file);
  expect(before.diagnostics).toEqual([]);
  const once = format(text, file).text;
  expect(once).not.toBeNull();
  expect(format(once!, file).text).toBe(once);
  expect(meaning(parse(once!, file).ast)).toEqual(meaning(before.ast));
}

function specFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? specFiles(join(dir, e.name)) : e.name.endsWith(".vlm") ? [join(dir, e.name)] : [],
  );
}

const MESSY = `# Layers used below.
import   "std/layers.vlm"   # bundled

# Mlp doc
block Mlp(dim:int,hidden:int=dim*4,act:string="gelu"){
  in x:[B,N,dim]      # tokens
  # the hidden layer
  h=activation(dense(x,hidden)as fc1,act) ;  y = ((a + b)) * -(c - d) - (e - f) // 2 % 3



  out dense(h,dim)as fc2
}
block TransformerBlock(dim: int, heads: int, mlp_ratio: int = 4, causal: bool = false,
                       eps: float = 1e-5, act: string = "gelu") {
  in x: [B, N, dim]
  x = x + attention(layer_norm(x, eps) as ln1, heads, causal = causal) as attn
  repeat (f(n) as g) as layers { x = 1 }
  repeat depth {
    # nothing yet
  }
  train { task = "classify", data = "mnist", epochs = 10, batch = 64, optimizer = "adam", lr = 2e-3,
          schedule = "cosine", warmup = 200 }
  out x: [B, N, dim]
}
model B extends A(dim = 128)   # derived
model C extends A(x = f(a,   # first
      b)) { train {epochs=1} }   # second
# end of file
`;

describe("layout", () => {
  it("prints the canonical form", () => {
    expect(fmt(MESSY)).toBe(`# Layers used below.
import "std/layers.vlm"  # bundled

# Mlp doc
block Mlp(dim: int, hidden: int = dim * 4, act: string = "gelu") {
  in x: [B, N, dim]  # tokens
  # the hidden layer
  h = activation(dense(x, hidden) as fc1, act)
  y = (a + b) * -(c - d) - (e - f) // 2 % 3

  out dense(h, dim) as fc2
}

block TransformerBlock(
  dim: int,
  heads: int,
  mlp_ratio: int = 4,
  causal: bool = false,
  eps: float = 1e-5,
  act: string = "gelu",
) {
  in x: [B, N, dim]
  x = x + attention(layer_norm(x, eps) as ln1, heads, causal = causal) as attn
  repeat (f(n) as g) as layers {
    x = 1
  }
  repeat depth {
    # nothing yet
  }
  train {
    task = "classify",
    data = "mnist",
    epochs = 10,
    batch = 64,
    optimizer = "adam",
    lr = 2e-3,
    schedule = "cosine",
    warmup = 200,
  }
  out x: [B, N, dim]
}

model B extends A(dim = 128)  # derived

model C extends A(
  x = f(a, b),  # first
) {
  train { epochs = 1 }
}  # second
# end of file
`);
  });

  it("prints numbers as written and strings with their escapes", () => {
    expect(fmt('block A(a: float = 1e-5, b: float = 2.50, s: string = "q\\"\\\\\\n") {}')).toBe(
      'block A(a: float = 1e-5, b: float = 2.50, s: string = "q\\"\\\\\\n") {}\n',
    );
  });

  it("keeps the parentheses that the tree needs and drops the others", () => {
    const body = (s: string) => fmt(`block A() { x = ${s} }`).split("\n")[1].trim().slice(4);
    expect(body("((a))")).toBe("a");
    expect(body("a - (b - c)")).toBe("a - (b - c)");
    expect(body("(a - b) - c")).toBe("a - b - c");
    expect(body("(a + b) * c")).toBe("(a + b) * c");
    expect(body("-(a * b)")).toBe("-(a * b)");
    expect(body("(-a).b")).toBe("(-a).b");
    expect(body("(a + b).c(d)")).toBe("(a + b).c(d)");
    expect(body("(a < b) == c")).toBe("a < b == c");
    expect(body("a == (b < c)")).toBe("a == (b < c)");
    expect(body("(4).x")).toBe("(4).x");
  });

  it("keeps at most one blank line inside a body and none after '{' or before '}'", () => {
    expect(fmt("block A() {\n\n\n  x = 1\n\n\n\n  y = 2\n\n}\n\n\n\nblock B() {}")).toBe(
      "block A() {\n  x = 1\n\n  y = 2\n}\n\nblock B() {}\n",
    );
  });

  it("prints an empty file as empty, and a file of comments as its comments", () => {
    expect(fmt("")).toBe("");
    expect(fmt("  # a  \n\n\n# b")).toBe("# a\n\n# b\n");
  });

  it("leaves out an empty body of a derived block, but not when it holds a comment", () => {
    expect(fmt("model B extends A(x = 1) {}")).toBe("model B extends A(x = 1)\n");
    expect(fmt("model B extends A(x = 1) {\n  # later\n}")).toBe("model B extends A(x = 1) {\n  # later\n}\n");
  });

  it("wraps a parameter list that holds a comment, keeping each comment by its parameter", () => {
    expect(fmt("block A(dim: int,  # width\n  # heads next\n  heads: int) { out 1 }")).toBe(
      "block A(\n  dim: int,  # width\n  # heads next\n  heads: int,\n) {\n  out 1\n}\n",
    );
  });

  it("puts a too-long call's arguments one per line, comments staying by their argument", () => {
    const src = [
      "block A() {",
      "  x = some_function_name(argument_number_one, argument_number_two,  # c1",
      "      argument_number_three, named = another_function(inner_one, inner_two, inner_three, inner_four_long)) as y",
      "  loss short(a, b)",
      "}",
    ].join("\n");
    expect(fmt(src)).toBe(
      [
        "block A() {",
        "  x = some_function_name(",
        "    argument_number_one,",
        "    argument_number_two,  # c1",
        "    argument_number_three,",
        "    named = another_function(inner_one, inner_two, inner_three, inner_four_long),",
        "  ) as y",
        "  loss short(a, b)",
        "}",
        "",
      ].join("\n"),
    );
  });

  it("moves a comment from the middle of a one-line statement to just before it", () => {
    expect(fmt("block A() {\n  x = f(a,\n    # about b\n    b)\n}")).toBe("block A() {\n  # about b\n  x = f(a, b)\n}\n");
  });
});

describe("idempotence and meaning", () => {
  const samples: Record<string, string> = {
    messy: MESSY,
    semicolons: "block A() { in x: [B]; x = x; out x }; block B() { out 1 }",
    soft_keywords: "model M(connector: connector = C()) { out loss = connector(a, b).loss\n train = 1 }",
    nested: "block A() { x = -(-(a)) + [1, [2, -3.5e-2]] * f(g(h(1) as p) as q, k = (a < b)) as r }",
    comments_everywhere: "# a\nblock # b\n A( # c\n x: int # d\n ) # e\n { # f\n out 1 # g\n # h\n } # i\n# j\n",
    repeat_alias: "block A() { repeat n as l { x = f(x) as y } repeat (g(n) as m).k { } }",
    long_extends: `model B extends A(${Array.from({ length: 12 }, (_, i) => `param_${i} = ${i}`).join(", ")})`,
    long_calls: `block A(p: block = ${"f(".repeat(8)}${"argument_x, ".repeat(6)}z${")".repeat(8)}) {\n  x = g(${"h(aaaaaaaaaa, # c\n bbbbbbbbbb), ".repeat(6)}) as q }`,
  };
  it.each(Object.entries(samples))("%s", (_name, text) => checkFormatter(text, "t.vlm"));

  const specs = [...specFiles("specs")].sort();
  it.runIf(specs.length > 0).each(specs)("bundled spec %s", (file) => {
    checkFormatter(readFileSync(file, "utf8"), file);
  });

  it("refuses to format a file with syntax errors and returns the diagnostics", () => {
    const r = format("block A( {", "t.vlm");
    expect(r.text).toBeNull();
    expect(r.diagnostics.length).toBeGreaterThan(0);
  });
});

describe("vlmc fmt", () => {
  let dir: string;
  let stdout: string;
  let stderr: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "vlmc-fmt-"));
    stdout = "";
    stderr = "";
    vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => ((stdout += String(s)), true));
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => ((stderr += String(s)), true));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  const messy = "block A(){out 1}\n";
  const tidy = "block A() {\n  out 1\n}\n";

  it("prints the formatted text by default and changes nothing", () => {
    const file = join(dir, "a.vlm");
    writeFileSync(file, messy);
    expect(runFmt([file], { check: false, write: false })).toBe(0);
    expect(stdout).toBe(tidy);
    expect(readFileSync(file, "utf8")).toBe(messy);
  });

  it("--check lists the files that would change and exits 1", () => {
    const a = join(dir, "a.vlm");
    const b = join(dir, "b.vlm");
    writeFileSync(a, messy);
    writeFileSync(b, tidy);
    expect(runFmt([a, b], { check: true, write: false })).toBe(1);
    expect(stdout).toBe(`${a}\n`);
    expect(runFmt([b], { check: true, write: false })).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(messy);
  });

  it("--write rewrites changed files only, leaving no temporary file", () => {
    const a = join(dir, "a.vlm");
    const b = join(dir, "b.vlm");
    writeFileSync(a, messy);
    writeFileSync(b, tidy);
    const inodeB = statSync(b).ino;
    expect(runFmt([a, b], { check: false, write: true })).toBe(0);
    expect(readFileSync(a, "utf8")).toBe(tidy);
    expect(statSync(b).ino).toBe(inodeB); // untouched: not even rewritten with the same text
    expect(readdirSync(dir).sort()).toEqual(["a.vlm", "b.vlm"]);
  });

  it("prints diagnostics and exits 1 on a syntax error, formatting the other files", () => {
    const bad = join(dir, "bad.vlm");
    const good = join(dir, "good.vlm");
    writeFileSync(bad, "block A( {\n");
    writeFileSync(good, messy);
    expect(runFmt([bad, good], { check: false, write: true })).toBe(1);
    expect(stderr).toContain(`${bad}:1:10: error[E0`);
    expect(readFileSync(bad, "utf8")).toBe("block A( {\n");
    expect(readFileSync(good, "utf8")).toBe(tidy);
  });

  it("reports a missing file as a user error", () => {
    expect(() => runFmt([join(dir, "nope.vlm")], { check: false, write: false })).toThrow(/nope\.vlm: no such file/);
  });
});
