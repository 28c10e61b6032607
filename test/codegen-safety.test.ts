// The generated module is safe and well-typed: a hostile IR (names and paths that try to close
// comments and strings, start template substitutions or add lines) produces code that compiles
// under `tsc --strict`, whose strings equal the hostile input and whose forward() reads the hostile
// parameter names as keys. tsc is spawned once, over this module and every golden module.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { CodegenError, emitTypeScript } from "../compiler/codegen/index.js";
import { commentText, jsString } from "../compiler/codegen/escape.js";
import type { IRProgram } from "../compiler/ir.js";
import { fixtureProgram } from "./fixtures/ir/programs.js";

// Inside the repository so "vlmc/runtime" resolves; excluded from tsconfig.json by name.
const OUT_DIR = "test/generated-out/codegen-safety";

const HOSTILE = [
  "a */ process.exit(1); /* b",
  "line\nprocess.exit(2) //",
  "cr\rprocess.exit(3)",
  "sep\u2028process.exit(4)\u2029",
  "`${process.exit(5)}`",
  '"); process.exit(6); ("',
  "back\\slash\\",
  "\0nul and é ☃ 😀",
  "__proto__",
  "constructor",
];

/** The MLP fixture with every user-visible name replaced by a hostile string. */
function hostileProgram(): IRProgram {
  const program = fixtureProgram("mlp");
  const h = (i: number) => HOSTILE[i % HOSTILE.length]!;
  const paramNames = new Map(program.params.map((p, i) => [p.name, `${h(i)}.${i}`]));
  program.model = h(0);
  program.source = { file: h(1), hash: h(2) };
  program.params = program.params.map((p) => ({ ...p, name: paramNames.get(p.name)! }));
  const inputNames = new Map([["image", h(3)], ["label", h(8)]]);
  program.inputs = program.inputs.map((ref) => ({ ...ref, name: inputNames.get(ref.name)! }));
  program.outputs = program.outputs.map((ref) => ({ ...ref, name: h(4) }));
  program.nodes = program.nodes.map((node, i) => ({
    ...node,
    module: h(i + 5),
    span: { ...node.span, file: h(i) },
    attrs: node.op === "input" ? { name: inputNames.get(String(node.attrs["name"]))! } : node.attrs,
    params: Object.fromEntries(Object.entries(node.params).map(([role, name]) => [role, paramNames.get(name)!])),
  }));
  program.train = { task: "classify", [h(5)]: h(6), [h(9)]: 1 };
  return program;
}

async function importGenerated(code: string, name: string): Promise<Record<string, any>> {
  const js = ts.transpileModule(code, {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const file = join(OUT_DIR, `${name}.mjs`);
  writeFileSync(file, js);
  return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as Record<string, any>;
}

mkdirSync(OUT_DIR, { recursive: true });
afterAll(() => { if (!process.env["KEEP_GENERATED"]) rmSync(OUT_DIR, { recursive: true, force: true }); });

describe("escaping helpers", () => {
  it("string literals evaluate back to their input and stay on one ASCII line", () => {
    for (const s of HOSTILE) {
      const literal = jsString(s);
      expect(literal).toMatch(/^"[\x20-\x7e]*"$/);
      expect(JSON.parse(literal)).toBe(s);
    }
  });

  it("comment text never ends a line comment or closes a block comment", () => {
    for (const s of HOSTILE) {
      const text = commentText(s);
      expect(text).toMatch(/^[\x20-\x7e]*$/);
      expect(text).not.toContain("*/");
    }
  });
});

describe("a hostile IR", () => {
  const program = hostileProgram();
  const code = emitTypeScript(program);
  writeFileSync(join(OUT_DIR, "hostile.ts"), code);

  it("produces a module whose only non-comment user text is escaped string literals", () => {
    // No line of the output may start with anything but code we wrote: every hostile payload that
    // tried to begin a new line is still inside a comment or a string.
    expect(code).not.toMatch(/^\s*process\.exit/m);
    expect(code).toMatch(/^[\x00-\x7e]*$/);
    // A parse without errors: syntax is intact (types are checked by tsc below).
    const parsed = ts.createSourceFile("hostile.ts", code, ts.ScriptTarget.ES2022, true);
    expect((parsed as unknown as { parseDiagnostics: unknown[] }).parseDiagnostics).toEqual([]);
  });

  it("exports strings equal to the hostile input, and forward() uses the hostile keys", async () => {
    const mod = await importGenerated(code, "hostile");
    expect(mod["model"]).toBe(program.model);
    expect(mod["source"]).toEqual(program.source);
    expect(mod["params"].map((p: { name: string }) => p.name)).toEqual(program.params.map((p) => p.name));
    expect(mod["inputs"].map((p: { name: string }) => p.name)).toEqual(program.inputs.map((p) => p.name));
    expect(mod["outputs"].map((p: { name: string }) => p.name)).toEqual(program.outputs.map((p) => p.name));
    expect(mod["train"]).toEqual(program.train);

    // A recording stand-in for the runtime ops: each call returns a description of itself, so the
    // result shows which parameters and inputs forward() actually read.
    const record = new Proxy({}, { get: (_, op) => (...args: unknown[]) => ({ op, args }) });
    const params = Object.fromEntries(program.params.map((p) => [p.name, `param:${p.name}`]));
    const inputs = Object.fromEntries(program.inputs.map((p) => [p.name, `input:${p.name}`]));
    const result = mod["forward"](record, params, inputs);
    const logits = result.outputs[program.outputs[0]!.name];
    expect(logits.op).toBe("dense");
    expect(logits.args[1]).toBe(`param:${program.params[2]!.name}`);
    expect(result.loss.args[1]).toBe(`input:${program.inputs[1]!.name}`);
    // `__proto__` as an input name is an own key, not the prototype.
    expect(Object.getPrototypeOf(result.outputs)).toBe(Object.prototype);
  });
});

describe("malformed IR is a CodegenError naming the node", () => {
  it("rejects unknown ops, bad attributes, undeclared parameters and forward references", () => {
    const cases: [string, (p: IRProgram) => void, RegExp][] = [
      ["unknown op", (p) => ((p.nodes[2] as { op: string }).op = "evil"), /node n2: unknown op "evil"/],
      ["inherited name as op", (p) => ((p.nodes[2] as { op: string }).op = "__proto__"), /node n2: unknown op "__proto__"/],
      ["bad padding", (p) => { p.nodes[3]!.op = "max_pool"; p.nodes[3]!.attrs = { size: 2, stride: 2, padding: "x\"); hack(" }; p.nodes[3]!.params = {}; }, /n3 \(max_pool\): attribute "padding"/],
      ["undeclared parameter", (p) => (p.nodes[3]!.params["kernel"] = "nope"), /parameter "nope" is not declared/],
      ["forward reference", (p) => (p.nodes[2]!.inputs = ["n5"]), /not an earlier node/],
      ["non-finite number", (p) => { p.nodes[2]!.op = "const"; p.nodes[2]!.inputs = []; p.nodes[2]!.attrs = { value: Number.NaN }; }, /finite number/],
    ];
    for (const [, mutate, message] of cases) {
      const program = fixtureProgram("mlp");
      mutate(program);
      expect(() => emitTypeScript(program)).toThrow(CodegenError);
      expect(() => emitTypeScript(program)).toThrow(message);
    }
  });
});

describe("tsc --strict", () => {
  it("type-checks the hostile module and every golden module", () => {
    const goldens = readdirSync("test/golden/ts").filter((f) => f.endsWith(".ts")).map((f) => join("test/golden/ts", f));
    // A control that must fail: proves tsc sees the real `Ops` type through "vlmc/runtime".
    const control = join(OUT_DIR, "control.ts");
    writeFileSync(control, 'import type { Ops } from "vlmc/runtime";\nexport const f = (ops: Ops) => ops.dense(1 as never, "x");\n');
    const files = [join(OUT_DIR, "hostile.ts"), control, ...goldens];
    const args = [
      "node_modules/typescript/bin/tsc", "--noEmit", "--strict", "--target", "ES2022", "--module", "NodeNext",
      "--moduleResolution", "NodeNext", "--skipLibCheck", "--types", "node", ...files,
    ];
    let output = "";
    try {
      execFileSync(process.execPath, args, { encoding: "utf8", stdio: "pipe" });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    const errors = output.split("\n").filter((line) => /error TS/.test(line));
    expect(errors.filter((line) => !line.startsWith(control))).toEqual([]);
    expect(errors.some((line) => line.startsWith(control) && line.includes("TS2345"))).toBe(true);
  });
});
