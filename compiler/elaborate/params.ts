// Block parameters: the effective parameter list of a block (through `extends`), binding call
// arguments to it, and checking a value against a declared parameter type.
import type { BlockDecl, ParamDecl, TypeName } from "../../grammar/ast.js";
import type { Span } from "../ir.js";
import { didYouMean } from "../suggest.js";
import { fail, originNotes } from "./errors.js";
import type { ArgSource, BlockRef, BoundArg, Origin, ReadTracker, Value } from "./values.js";
import { describeValue } from "./values.js";

export interface ParamInfo {
  decl: ParamDecl;
  /** The block that declares it (a base block for inherited parameters). */
  owner: BlockRef;
}

/** The base of a derived block, or an error at the `extends` clause. */
export function baseOf(ref: BlockRef, blocks: ReadonlyMap<string, BlockRef>): BlockRef | null {
  const ext = ref.decl.extends;
  if (!ext) return null;
  const base = blocks.get(ext.base.name);
  if (!base) {
    fail("E0201", `undefined block '${ext.base.name}' in extends`, ext.base.span, { hint: didYouMean(ext.base.name, blocks.keys()) });
  }
  if (base.decl.blockKind !== ref.decl.blockKind) {
    fail("E0306", `${ref.decl.blockKind} ${ref.decl.name.name} cannot extend ${base.decl.blockKind} ${base.decl.name.name}: the kinds differ`, ext.base.span, {
      notes: [{ message: "declared here", span: base.decl.name.span }],
    });
  }
  return base;
}

/** A block's own parameters followed by those it inherits (not redeclared), in declaration order. */
export function effectiveParams(ref: BlockRef, blocks: ReadonlyMap<string, BlockRef>, seen: string[] = []): ParamInfo[] {
  const name = ref.decl.name.name;
  if (seen.includes(name)) {
    fail("E0206", `cyclic extends: ${[...seen, name].join(" → ")}`, ref.decl.extends?.base.span ?? ref.decl.name.span);
  }
  const own: ParamInfo[] = ref.decl.params.map((decl) => ({ decl, owner: ref }));
  const base = baseOf(ref, blocks);
  if (!base) return own;
  const inherited = effectiveParams(base, blocks, [...seen, name]).filter((p) => !own.some((o) => o.decl.name.name === p.decl.name.name));
  return [...own, ...inherited];
}

const BLOCK_KINDS = new Set(["block", "encoder", "projection", "connector"]);

/** Checks (and converts) a value for a parameter of type `type`; null when it does not fit. */
export function coerceToType(value: Value, type: TypeName): Value | null {
  switch (type) {
    case "int":
      return value.kind === "int" ? value : null;
    case "float":
      if (value.kind === "int") return { kind: "float", value: value.value, origin: value.origin };
      return value.kind === "float" ? value : null;
    case "bool":
      return value.kind === "bool" ? value : null;
    case "string":
      return value.kind === "string" ? value : null;
    default:
      if (value.kind !== "block" || !BLOCK_KINDS.has(type)) return null;
      // A `block` parameter accepts any kind of block; the others must match exactly.
      if (type !== "block" && value.ref.decl.blockKind !== type) return null;
      return value;
  }
}

export function typeMismatch(what: string, type: TypeName, value: Value, span: Span, declared?: Span): never {
  const article = /^[aeiou]/.test(type) ? "an" : "a";
  const notes = originNotes(value);
  if (declared) notes.push({ message: "declared here", span: declared });
  fail("E0305", `${what} expects ${article} ${type}, found ${describeValue(value)}`, span, { notes });
}

export interface GivenArg {
  name: string | null;
  nameSpan?: Span;
  value: Value;
  span: Span;
  source: ArgSource;
  origin?: Origin;
  tracker?: ReadTracker;
}

/** Binds call arguments (positional, then named) to a block's parameters, checking their types. */
export function bindBlockArgs(ref: BlockRef, params: ParamInfo[], args: GivenArg[], callSpan: Span): Map<string, BoundArg> {
  const blockName = ref.decl.name.name;
  const bound = new Map<string, BoundArg>();
  let position = 0;
  for (const arg of args) {
    let param: ParamInfo | undefined;
    if (arg.name === null) {
      param = params[position++];
      if (!param) {
        fail("E0301", `${blockName} takes ${params.length} parameter${params.length === 1 ? "" : "s"}, found ${args.filter((a) => a.name === null).length} positional arguments`, arg.span, {
          hint: `${blockName}(${params.map((p) => p.decl.name.name).join(", ")})`,
          notes: [{ message: "declared here", span: ref.decl.name.span }],
        });
      }
    } else {
      param = params.find((p) => p.decl.name.name === arg.name);
      if (!param) {
        const known = params.map((p) => p.decl.name.name);
        fail("E0303", `${blockName} has no parameter named '${arg.name}'`, arg.nameSpan ?? arg.span, {
          hint: didYouMean(arg.name, known) ?? `its parameters: ${known.join(", ") || "(none)"}`,
        });
      }
    }
    const name = param.decl.name.name;
    if (bound.has(name)) fail("E0304", `parameter '${name}' of ${blockName} is given more than once`, arg.span);
    const value = coerceToType(arg.value, param.decl.type.name);
    if (value === null) {
      if (arg.value.kind === "tensor") {
        fail("E0305", `parameter '${name}' of ${blockName} expects ${/^[aeiou]/.test(param.decl.type.name) ? "an" : "a"} ${param.decl.type.name}, found ${describeValue(arg.value)}`, arg.span, {
          hint: `${blockName}(…) binds parameters; apply the block to tensors with ${blockName}(…)(x)`,
        });
      }
      typeMismatch(`parameter '${name}' of ${blockName}`, param.decl.type.name, arg.value, arg.span, param.decl.span);
    }
    bound.set(name, { value, source: arg.source, span: arg.span, origin: arg.origin, cell: arg.tracker });
  }
  return bound;
}

export function isDerived(decl: BlockDecl): boolean {
  return decl.extends !== null;
}
