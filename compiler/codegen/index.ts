// The TypeScript emitter: IR → a readable, deterministic TypeScript module that builds the model by
// calling the runtime primitives (`Ops`). The trainer runs exactly this module (runtime/model.ts),
// so what a user trains is what `vlmc compile --emit ts` shows them.
//
// Safety: the template (templates/module.hbs) only ever receives pre-rendered code fragments
// built here from generated identifiers, number literals and strings escaped by escape.ts;
// Handlebars' own HTML escaping is off because it is the wrong escaping for TypeScript.
//
// The generated module imports its types from "vlmc/runtime", a package self-reference (see the
// `exports` entry in package.json) that points at runtime/ops/types.ts, so `tsc` resolves it from
// any file inside this repository and from any project that depends on vlmc. The import is
// type-only and vanishes when the module is transpiled, so the running module imports nothing.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import type { IRNode, IRProgram, IRValueRef } from "../ir.js";
import { CodegenError, commentText, jsString, numberLiteral, objectKey, propertyKey, valueName } from "./escape.js";
import { lowerNode } from "./lower.js";

export { CodegenError } from "./escape.js";

/** The module specifier the generated code imports its types from. */
export const RUNTIME_TYPES_IMPORT = "vlmc/runtime";

/** One statement of `forward`, with the comment that says where it came from. */
interface StatementView {
  comment: string;
  code: string;
}

interface NamedView {
  /** The name as an interface key. */
  typeKey: string;
  /** The name as an object-literal key. */
  objectKey: string;
  entry: string;
}

interface ModuleView {
  header: { file: string; model: string; hash: string };
  runtimeImport: string;
  modelName: string;
  source: string;
  params: NamedView[];
  inputs: (NamedView & { optional: boolean })[];
  outputs: (NamedView & { value: string })[];
  train: string;
  body: StatementView[];
  lossBody: StatementView[];
  lossValue: string | null;
  /** The loss node's op may return any tensor (e.g. a sum of losses): the IR guarantees shape []. */
  lossCast: string;
  needsRequired: boolean;
  omitted: string[];
}

/** Generates the TypeScript module for `program`. Throws CodegenError on malformed IR. */
export function emitTypeScript(program: IRProgram): string {
  return renderModule(buildView(program));
}

function buildView(program: IRProgram): ModuleView {
  const paramNames = new Set<string>();
  for (const param of program.params) {
    if (paramNames.has(param.name)) throw new CodegenError(`parameter ${jsString(param.name)} is declared twice`);
    paramNames.add(param.name);
  }

  const index = new Map<string, number>();
  program.nodes.forEach((node, i) => {
    if (index.has(node.id)) throw new CodegenError(`node id ${jsString(node.id)} is used twice`);
    index.set(node.id, i);
  });
  const nodeOf = (id: string, what: string): IRNode => {
    const i = index.get(id);
    if (i === undefined) throw new CodegenError(`${what} refers to node ${jsString(id)}, which does not exist`);
    return program.nodes[i]!;
  };

  for (const ref of program.inputs) {
    const node = nodeOf(ref.node, `input ${jsString(ref.name)}`);
    if (node.op !== "input" || node.attrs["name"] !== ref.name) {
      throw new CodegenError(`input ${jsString(ref.name)} must refer to an input node with the same name`);
    }
  }
  const outputIds = program.outputs.map((o) => nodeOf(o.node, `output ${jsString(o.name)}`).id);
  const lossId = program.loss === null ? null : nodeOf(program.loss, "the loss").id;

  // Nodes the outputs need come first; the ones only the loss needs follow an early return, so a
  // caller without labels can still run the model (forward(..., { loss: false })).
  const forOutputs = ancestors(outputIds, program, nodeOf);
  const forLoss = lossId === null ? new Set<string>() : ancestors([lossId], program, nodeOf);

  const valueOf = new Map<string, string>();
  const shapeOf = new Map(program.nodes.map((n) => [n.id, n.shape] as const));
  const body: StatementView[] = [];
  const lossBody: StatementView[] = [];
  const omitted: string[] = [];
  const inputNames = new Set(program.inputs.map((i) => i.name));
  const lossOnlyInputs = new Set<string>();

  program.nodes.forEach((node, i) => {
    const where = `${node.span.file}:${node.span.line} ${node.module === "" ? "(model)" : node.module} ${node.op}`;
    if (!forOutputs.has(node.id) && !forLoss.has(node.id)) {
      omitted.push(commentText(`${node.id} ${where}`));
      return;
    }
    const name = valueName(i);
    let expr = lowerNode(node, { valueOf, paramNames, shapeOf });
    if (node.op === "input") {
      const inputName = String(node.attrs["name"]);
      if (!inputNames.has(inputName)) {
        throw new CodegenError(`node ${node.id}: input ${jsString(inputName)} is not listed in the program's inputs`);
      }
      if (!forOutputs.has(node.id)) {
        lossOnlyInputs.add(inputName);
        expr = `required(${expr}, ${jsString(inputName)})`;
      }
    }
    valueOf.set(node.id, name);
    const statement = { comment: commentText(where), code: `const ${name} = ${expr};` };
    (forOutputs.has(node.id) ? body : lossBody).push(statement);
  });

  return {
    header: {
      file: commentText(program.source.file),
      model: commentText(program.model),
      hash: commentText(program.source.hash),
    },
    runtimeImport: jsString(RUNTIME_TYPES_IMPORT),
    modelName: jsString(program.model),
    source: literal({ file: program.source.file, hash: program.source.hash }),
    params: program.params.map((p) => ({
      typeKey: propertyKey(p.name),
      objectKey: objectKey(p.name),
      entry: literal({ name: p.name, shape: p.shape, init: p.init, trainable: p.trainable }),
    })),
    inputs: program.inputs.map((ref) => ({ ...valueRefView(ref), optional: lossOnlyInputs.has(ref.name) })),
    outputs: program.outputs.map((ref) => ({ ...valueRefView(ref), value: valueOf.get(ref.node)! })),
    train: literal(program.train ?? {}),
    body,
    lossBody,
    lossValue: lossId === null ? null : valueOf.get(lossId)!,
    lossCast: lossId !== null && !LOSS_OPS.has(nodeOf(lossId, "the loss").op) ? " as Scalar" : "",
    needsRequired: lossOnlyInputs.size > 0,
    omitted,
  };
}

/** Ops whose `Ops` method is typed to return a Scalar. */
const LOSS_OPS = new Set(["cross_entropy", "contrastive_loss", "lm_loss"]);

function valueRefView(ref: IRValueRef): NamedView {
  return { typeKey: propertyKey(ref.name), objectKey: objectKey(ref.name), entry: literal({ name: ref.name, shape: ref.shape, dtype: ref.dtype }) };
}

/** Ids of `roots` and every node they depend on. */
function ancestors(roots: string[], program: IRProgram, nodeOf: (id: string, what: string) => IRNode): Set<string> {
  const seen = new Set<string>();
  const stack = [...roots];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id === "" || seen.has(id)) continue;
    seen.add(id);
    for (const input of nodeOf(id, "a node input").inputs) stack.push(input);
  }
  return seen;
}

type Json = string | number | boolean | null | undefined | Json[] | { [key: string]: Json };

/** A TypeScript literal for plain JSON data, every string escaped and every key quoted when needed. */
export function literal(value: Json | object): string {
  if (value === null) return "null";
  if (typeof value === "string") return jsString(value);
  if (typeof value === "number") return numberLiteral(value, "a literal value");
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map((v) => literal(v as Json)).join(", ")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    return `{ ${entries.map(([k, v]) => `${objectKey(k)}: ${literal(v as Json)}`).join(", ")} }`;
  }
  throw new CodegenError(`cannot write a ${typeof value} as a literal`);
}

let template: Handlebars.TemplateDelegate<ModuleView> | undefined;

function renderModule(view: ModuleView): string {
  template ??= Handlebars.create().compile<ModuleView>(readFileSync(templatePath("module.hbs"), "utf8"), {
    noEscape: true,
    strict: true,
  });
  return template(view);
}

/**
 * Templates ship as source next to this file; when running the compiled copy in dist/, they are
 * found at the same path under the package root (tsc does not copy .hbs files into dist/).
 */
function templatePath(name: string): string {
  const candidates = [
    new URL(`./templates/${name}`, import.meta.url),
    new URL(`../../../compiler/codegen/templates/${name}`, import.meta.url),
  ];
  for (const url of candidates) if (existsSync(url)) return fileURLToPath(url);
  throw new Error(`vlmc installation is incomplete: template compiler/codegen/templates/${name} not found`);
}
