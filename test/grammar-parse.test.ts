// The parser: every construct of the syntax maps to the expected AST, precedence and `as`
// binding are right, and spans point at the right columns.
import { describe, expect, it } from "vitest";
import type { BlockDecl, Expr, SourceFile, Statement } from "../grammar/ast.js";
import { parse, parseExpression } from "../grammar/parse.js";

function parseOk(text: string, file = "t.vlm"): SourceFile {
  const { ast, diagnostics } = parse(text, file);
  expect(diagnostics.map((d) => `${d.span?.line}:${d.span?.col} ${d.code} ${d.message}`)).toEqual([]);
  expect(ast).not.toBeNull();
  return ast!;
}

function body(stmts: string): Statement[] {
  return parseOk(`block T() {\n${stmts}\n}`).blocks[0].body;
}

/** The expression bound by `x = <text>`. */
function expr(text: string): Expr {
  const [s] = body(`x = ${text}`);
  if (s.kind !== "AssignStmt") throw new Error("expected an assignment");
  return s.value;
}

/** A compact, span-free rendering of an expression tree: `(+ a (* b c))`. */
function sx(e: Expr): string {
  switch (e.kind) {
    case "NumberLit":
      return e.raw;
    case "StringLit":
      return JSON.stringify(e.value);
    case "BoolLit":
      return String(e.value);
    case "NameRef":
      return e.name;
    case "MemberExpr":
      return `(. ${sx(e.object)} ${e.property.name})`;
    case "ListExpr":
      return `[${e.items.map(sx).join(" ")}]`;
    case "UnaryExpr":
      return `(neg ${sx(e.operand)})`;
    case "BinaryExpr":
      return `(${e.op} ${sx(e.left)} ${sx(e.right)})`;
    case "CallExpr": {
      const args = e.args.map((a) => (a.name ? `${a.name.name}=${sx(a.value)}` : sx(a.value)));
      return `(call ${sx(e.callee)}${args.map((a) => " " + a).join("")}${e.alias ? " :as " + e.alias.name : ""})`;
    }
  }
}

/** Deep copy without spans, for comparing whole statements. */
function noSpans<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (k, v) => (k === "span" ? undefined : v)));
}

describe("file structure", () => {
  it("parses an empty file and a file of comments to an empty SourceFile", () => {
    const empty = parseOk("");
    expect(empty).toMatchObject({ kind: "SourceFile", file: "t.vlm", imports: [], blocks: [], comments: [] });
    const comments = parseOk("# one\n\n  # two\n");
    expect(comments.comments.map((c) => c.text)).toEqual([" one", " two"]);
    expect(comments.comments[1].span).toEqual({ file: "t.vlm", line: 3, col: 3, endLine: 3, endCol: 7 });
  });

  it("parses imports and the five block kinds", () => {
    const ast = parseOk(
      'import "std/layers.vlm"\nimport "a b.vlm"\n' +
        "block A() {}\nencoder B() {}\nprojection C() {}\nconnector D() {}\nmodel E() {}\n",
    );
    expect(ast.imports.map((i) => i.path)).toEqual(["std/layers.vlm", "a b.vlm"]);
    expect(ast.blocks.map((b) => [b.blockKind, b.name.name])).toEqual([
      ["block", "A"],
      ["encoder", "B"],
      ["projection", "C"],
      ["connector", "D"],
      ["model", "E"],
    ]);
  });

  it("parses typed parameters with defaults, and a trailing comma", () => {
    const [b] = parseOk(
      'block Mlp(dim: int, hidden: int = dim * 4, act: string = "gelu", p: float = 0.1, on: bool = true,\n' +
        "  inner: block = Mlp(dim = 4), e: encoder = ViT(), pr: projection = P(), connector: connector = Contrastive(),) {}",
    ).blocks;
    expect(b.params.map((p) => [p.name.name, p.type.name, p.default ? sx(p.default) : null])).toEqual([
      ["dim", "int", null],
      ["hidden", "int", "(* dim 4)"],
      ["act", "string", '"gelu"'],
      ["p", "float", "0.1"],
      ["on", "bool", "true"],
      ["inner", "block", "(call Mlp dim=4)"],
      ["e", "encoder", "(call ViT)"],
      ["pr", "projection", "(call P)"],
      ["connector", "connector", "(call Contrastive)"],
    ]);
  });

  it("parses extends with overriding arguments, with and without a body", () => {
    const ast = parseOk(
      "model ClipMlp extends Clip(connector = MlpProjector(hidden = 128))\n" +
        "model Small extends Clip(embed = 32) { train { epochs = 4 } }\n",
    );
    const [a, b] = ast.blocks;
    expect(a.extends!.base.name).toBe("Clip");
    expect(a.extends!.args.map((x) => `${x.name?.name}=${sx(x.value)}`)).toEqual(["connector=(call MlpProjector hidden=128)"]);
    expect(a.params).toEqual([]);
    expect(a.body).toEqual([]);
    expect(b.body.map((s) => s.kind)).toEqual(["TrainStmt"]);
  });

  it("separates statements by newlines, semicolons or nothing at all", () => {
    const ast = parseOk("block A() { in x: [B] x = x; out x } ; block B() { out 1 }");
    expect(ast.blocks[0].body.map((s) => s.kind)).toEqual(["InputDecl", "AssignStmt", "OutputStmt"]);
    expect(ast.blocks).toHaveLength(2);
  });
});

describe("statements", () => {
  it("parses inputs with shapes and element types", () => {
    const [a, b] = body("in x: [B, N, dim * 2]\nin label: [B] int");
    expect(noSpans(a)).toEqual({
      kind: "InputDecl",
      name: { name: "x" },
      shape: {
        kind: "ShapeExpr",
        dims: [
          { kind: "NameRef", name: "B" },
          { kind: "NameRef", name: "N" },
          {
            kind: "BinaryExpr",
            op: "*",
            left: { kind: "NameRef", name: "dim" },
            right: { kind: "NumberLit", value: 2, isInt: true, raw: "2" },
          },
        ],
      },
      dtype: null,
    });
    expect(b.kind === "InputDecl" && b.dtype?.name).toBe("int");
  });

  it("parses the four forms of out", () => {
    const [a, b, c, d] = body("out dense(h, 4) as fc2\nout logits = x\nout y: [B, dim]\nout z: [B] = -y");
    expect(a.kind === "OutputStmt" && [a.name, sx(a.value), a.shape]).toEqual([null, "(call dense h 4 :as fc2)", null]);
    expect(b.kind === "OutputStmt" && [b.name?.name, sx(b.value), b.shape]).toEqual(["logits", "x", null]);
    // `out y: [B, dim]` outputs the binding y with a checked shape.
    expect(c.kind === "OutputStmt" && [c.name?.name, sx(c.value), c.shape?.dims.map(sx)]).toEqual(["y", "y", ["B", "dim"]]);
    expect(d.kind === "OutputStmt" && [d.name?.name, sx(d.value), d.shape?.dims.map(sx)]).toEqual(["z", "(neg y)", ["B"]]);
  });

  it("parses repeat with and without a name; `as` there names the repeat", () => {
    const [a, b, c] = body("repeat depth as layers { x = T(dim)(x) as block }\nrepeat n // 2 { x = f(x) }\nrepeat (f(n) as g) as l {}");
    expect(a.kind === "RepeatStmt" && [sx(a.count), a.name?.name, a.body.length]).toEqual(["depth", "layers", 1]);
    const inner = a.kind === "RepeatStmt" ? a.body[0] : null;
    expect(inner?.kind === "AssignStmt" && sx(inner.value)).toBe("(call (call T dim) x :as block)");
    expect(b.kind === "RepeatStmt" && [sx(b.count), b.name]).toEqual(["(// n 2)", null]);
    expect(c.kind === "RepeatStmt" && [sx(c.count), c.name?.name]).toEqual(["(call f n :as g)", "l"]);
  });

  it("parses loss and train, with or without commas between entries", () => {
    const [l, t, u] = body('loss cross_entropy(logits, label)\ntrain { task = "classify", lr = 2e-3, }\ntrain {\n epochs = 1\n batch = 8\n}');
    expect(l.kind === "LossStmt" && sx(l.value)).toBe("(call cross_entropy logits label)");
    expect(t.kind === "TrainStmt" && t.entries.map((e) => `${e.key.name}=${sx(e.value)}`)).toEqual(['task="classify"', "lr=2e-3"]);
    expect(u.kind === "TrainStmt" && u.entries.map((e) => e.key.name)).toEqual(["epochs", "batch"]);
  });

  it("lets the soft keywords be names: connector, loss, train, model...", () => {
    const [a, b, c] = body("out loss = contrastive_loss(r.loss)\nconnector = connector(img, txt)\nloss = model.train");
    expect(a.kind === "OutputStmt" && [a.name?.name, sx(a.value)]).toEqual(["loss", "(call contrastive_loss (. r loss))"]);
    expect(b.kind === "AssignStmt" && [b.target.name, sx(b.value)]).toEqual(["connector", "(call connector img txt)"]);
    expect(c.kind === "AssignStmt" && [c.target.name, sx(c.value)]).toEqual(["loss", "(. model train)"]);
  });
});

describe("expressions", () => {
  it("parses literals: ints, floats, exponents, strings with escapes, booleans, lists", () => {
    const ints = expr("[4, 4.0, 1e-5, 2.5e3, 10]");
    expect(ints.kind === "ListExpr" && ints.items.map((i) => i.kind === "NumberLit" && [i.value, i.isInt, i.raw])).toEqual([
      [4, true, "4"],
      [4, false, "4.0"],
      [1e-5, false, "1e-5"],
      [2500, false, "2.5e3"],
      [10, true, "10"],
    ]);
    expect(sx(expr('"a \\"b\\" \\\\ \\n"'))).toBe(JSON.stringify('a "b" \\ \n'));
    expect(sx(expr("[true, false, []]"))).toBe("[true false []]");
  });

  it.each([
    ["1 + 2 * 3", "(+ 1 (* 2 3))"],
    ["1 * 2 + 3", "(+ (* 1 2) 3)"],
    ["a - b - c", "(- (- a b) c)"],
    ["a - (b - c)", "(- a (- b c))"],
    ["a / b // c % d", "(% (// (/ a b) c) d)"],
    ["a + b == c * d", "(== (+ a b) (* c d))"],
    ["a < b != c >= d", "(>= (!= (< a b) c) d)"],
    ["a <= b > c", "(> (<= a b) c)"],
    ["-a * b", "(* (neg a) b)"],
    ["-a.b(c)", "(neg (call (. a b) c))"],
    ["- -a", "(neg (neg a))"],
    ["-(a + b)", "(neg (+ a b))"],
    ["a.b.c", "(. (. a b) c)"],
    ["f(x)(y).z", "(. (call (call f x) y) z)"],
    ["x + dense(x, 4) as fc", "(+ x (call dense x 4 :as fc))"],
    ["Mlp(4)(x) as mlp", "(call (call Mlp 4) x :as mlp)"],
    ["Mlp(4) as m", "(call Mlp 4 :as m)"],
    ["activation(dense(x, hidden) as fc1, act)", "(call activation (call dense x hidden :as fc1) act)"],
    ["f(a, b = 2, c = [1, 2],)", "(call f a b=2 c=[1 2])"],
    ["reshape(x, [d1, d2 * 2])", "(call reshape x [d1 (* d2 2)])"],
  ])("%s  →  %s", (text, tree) => {
    expect(sx(expr(text))).toBe(tree);
  });
});

describe("spans", () => {
  const src = [
    "block Mlp(dim: int, hidden: int = dim * 4) {", // 1
    "  in x: [B, N, dim]", // 2
    "  h = activation(dense(x, hidden) as fc1, act)", // 3
    "  out (h + 1) * 2", // 4
    "}", // 5
    "", // 6
  ].join("\n");
  const ast = parseOk(src, "specs/m.vlm");
  const block: BlockDecl = ast.blocks[0];
  const at = (s: { span: { line: number; col: number; endLine: number; endCol: number } }) =>
    `${s.span.line}:${s.span.col}-${s.span.endLine}:${s.span.endCol}`;

  it("are 1-based, end-inclusive and carry the file", () => {
    expect(block.span).toEqual({ file: "specs/m.vlm", line: 1, col: 1, endLine: 5, endCol: 1 });
    expect(at(block.name)).toBe("1:7-1:9");
    expect(at(block.params[1])).toBe("1:21-1:41");
    expect(at(block.params[1].type)).toBe("1:29-1:31");
    expect(at(block.params[1].default!)).toBe("1:35-1:41");
    expect(ast.span).toEqual({ file: "specs/m.vlm", line: 1, col: 1, endLine: 5, endCol: 1 });
  });

  it("cover statements, calls (without their alias) and parentheses", () => {
    const [input, assign, out] = block.body;
    expect(at(input)).toBe("2:3-2:19");
    expect(input.kind === "InputDecl" && at(input.shape)).toBe("2:9-2:19");
    expect(at(assign)).toBe("3:3-3:46");
    const call = assign.kind === "AssignStmt" && assign.value.kind === "CallExpr" ? assign.value : null;
    expect(at(call!)).toBe("3:7-3:46");
    const dense = call!.args[0].value;
    expect(at(dense)).toBe("3:18-3:33");
    expect(dense.kind === "CallExpr" && at(dense.alias!)).toBe("3:38-3:40");
    expect(at(out)).toBe("4:3-4:17");
    const product = out.kind === "OutputStmt" ? out.value : null;
    expect(at(product!)).toBe("4:7-4:17");
    expect(product?.kind === "BinaryExpr" && at(product.left)).toBe("4:7-4:13");
  });
});

describe("robustness", () => {
  it("accepts 255 nested brackets and refuses 50,000 with one E0105 where the limit is passed", () => {
    const ok = parse(`block A() { x = ${"(".repeat(200)}1${")".repeat(200)} }`, "t.vlm");
    expect(ok.diagnostics).toEqual([]);
    for (const [open, close] of [
      ["(", ")"],
      ["[", "]"],
      ["f(", ")"],
      ["-(", ")"],
    ]) {
      const deep = parse(`block A() { x = ${open.repeat(50_000)}1${close.repeat(50_000)} }`, "t.vlm");
      expect(deep.ast).toBeNull();
      expect(deep.diagnostics).toHaveLength(1);
      expect(deep.diagnostics[0].code).toBe("E0105");
      expect(deep.diagnostics[0].message).toContain("nesting too deep (limit 256)");
    }
    const minus = parse(`block A() { x = ${"-".repeat(50_000)}1 }`, "t.vlm");
    expect(minus.diagnostics.map((d) => d.code)).toEqual(["E0105"]);
  });

  it("refuses an over-long operator chain instead of building a tree too deep to walk", () => {
    const r = parse(`block A() { x = ${"1 + ".repeat(5000)}1 }`, "t.vlm");
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E0105"]);
    const fine = parse(`block A() { x = ${"1 + ".repeat(500)}1 }`, "t.vlm");
    expect(fine.diagnostics).toEqual([]);
  });

  it("parses a very long line", () => {
    const r = parse(`block A() { x = f(${"a, ".repeat(20_000)}b) }`, "t.vlm");
    expect(r.diagnostics).toEqual([]);
    const call = r.ast!.blocks[0].body[0];
    expect(call.kind === "AssignStmt" && call.value.kind === "CallExpr" && call.value.args.length).toBe(20_001);
  });

  it("reports a binary file once, with no AST", () => {
    for (const text of ["block A\0() {}", "block \ufffd"]) {
      const r = parse(text, "bin.vlm");
      expect(r.ast).toBeNull();
      expect(r.diagnostics).toHaveLength(1);
      expect(r.diagnostics[0].code).toBe("E0100");
      expect(r.diagnostics[0].message).toMatch(/^binary file/);
    }
  });

  it("returns a partial AST next to the errors", () => {
    const r = parse("block A() { x = = 1\n out x }\nblock B() { out 2 }", "t.vlm");
    expect(r.diagnostics.length).toBeGreaterThan(0);
    expect(r.ast?.blocks.map((b) => b.name.name)).toEqual(["A", "B"]);
  });
});

describe("parseExpression (for --set values)", () => {
  it("parses one expression with spans inside the given text", () => {
    const r = parseExpression("MlpProjector(hidden = 128)", "--set");
    expect(r.diagnostics).toEqual([]);
    expect(sx(r.expr!)).toBe("(call MlpProjector hidden=128)");
    expect(r.expr!.span).toEqual({ file: "--set", line: 1, col: 1, endLine: 1, endCol: 26 });
    // Checks made after parsing count too: `as` after a number is refused.
    expect(parseExpression("dim * 2 as x", "--set").expr).toBeNull();
  });

  it.each([
    ["", "1:1 E0111 expected an expression, found nothing"],
    ["a = 1", "1:3 E0110 expected the end of the expression, found '='"],
    ["1 2", "1:3 E0110 expected the end of the expression, found '2'"],
    ["f(", "1:3 E0102 expected an argument or ')' to close the argument list opened at 1:2, found end of file"],
  ])("refuses %j", (text, first) => {
    const r = parseExpression(text, "--set");
    expect(r.expr).toBeNull();
    const d = r.diagnostics[0];
    expect(`${d.span?.line}:${d.span?.col} ${d.code} ${d.message}`).toBe(first);
  });
});
