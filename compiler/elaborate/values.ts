// The values the elaborator computes with. Scalars are evaluated at compile time; tensors are
// references to IR nodes with their inferred shape; a block value is a block with (some of) its
// parameters bound, waiting to be applied to tensors.
import type { BlockDecl, Expr } from "../../grammar/ast.js";
import type { DType, Shape, Span } from "../ir.js";

/** Where a value was set when it did not come from the spec itself: printed as a diagnostic note. */
export interface Origin {
  source: "extends" | "set";
  /** "--set dim=100" or "Derived extends Base(dim = 100)". */
  text: string;
  span?: Span;
}

export type ArgSource = "default" | "call" | "extends" | "set";

/** A block argument as given: its value, where it came from, and (for --set/extends) its origin. */
export interface BoundArg {
  value: Value;
  source: ArgSource;
  span: Span;
  origin?: Origin;
  /** Set when the block reads the parameter; overrides never read become warnings. */
  cell?: ReadTracker;
}

/** Shared flag object: marks that an overridden parameter was actually read by the model. */
export interface ReadTracker {
  read: boolean;
}

/** A block declaration together with the file that declares it. */
export interface BlockRef {
  decl: BlockDecl;
  file: string;
}

export type Value =
  | { kind: "int"; value: number; origin?: Origin }
  | { kind: "float"; value: number; origin?: Origin }
  | { kind: "bool"; value: boolean; origin?: Origin }
  | { kind: "string"; value: string; origin?: Origin }
  /** A symbolic dimension such as the batch "B" (usable in shapes, not in arithmetic). */
  | { kind: "sym"; name: string }
  | { kind: "tensor"; node: string; shape: Shape; dtype: DType }
  | { kind: "block"; ref: BlockRef; args: Map<string, BoundArg>; text: string; origin?: Origin; alias?: string; frozen?: boolean }
  | { kind: "list"; items: Value[] }
  /** The several named outputs of a block call: `r.loss`. */
  | { kind: "outputs"; fields: Map<string, Value> }
  /** A primitive op or block name used as a callee. */
  | { kind: "callable"; name: string };

export type TensorValue = Extract<Value, { kind: "tensor" }>;
export type BlockValue = Extract<Value, { kind: "block" }>;

/** How a value is described in messages ("int", "tensor [B, 64]", "encoder ViT"). */
export function describeValue(v: Value): string {
  switch (v.kind) {
    case "tensor":
      return `tensor [${v.shape.join(", ")}]${v.dtype === "int32" ? " int" : ""}`;
    case "block":
      return `${v.ref.decl.blockKind} ${v.ref.decl.name.name}`;
    case "sym":
      return `symbolic dimension ${v.name}`;
    case "outputs":
      return `block outputs {${[...v.fields.keys()].join(", ")}}`;
    case "callable":
      return `'${v.name}'`;
    case "list":
      return "list";
    case "float":
      return `float ${valueText(v)}`;
    default:
      return `${v.kind} ${JSON.stringify(v.value)}`;
  }
}

/** The spec text of a scalar or block value, as shown in module args and DOT labels. */
export function valueText(v: Value): string {
  switch (v.kind) {
    case "int":
      return String(v.value);
    case "float":
      return Number.isInteger(v.value) ? v.value.toFixed(1) : String(v.value);
    case "bool":
      return String(v.value);
    case "string":
      return JSON.stringify(v.value);
    case "block":
      return v.text;
    case "sym":
      return v.name;
    case "list":
      return `[${v.items.map(valueText).join(", ")}]`;
    default:
      return describeValue(v);
  }
}

/** A block call's text from its argument expressions, e.g. `MlpProjector(hidden=128)`. */
export function exprText(e: Expr): string {
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
      return `${exprText(e.object)}.${e.property.name}`;
    case "CallExpr":
      return `${exprText(e.callee)}(${e.args.map((a) => (a.name ? `${a.name.name}=` : "") + exprText(a.value)).join(", ")})`;
    case "BinaryExpr":
      return `${exprText(e.left)} ${e.op} ${exprText(e.right)}`;
    case "UnaryExpr":
      return `${e.op === "frozen" ? "frozen " : "-"}${exprText(e.operand)}`;
    case "ListExpr":
      return `[${e.items.map(exprText).join(", ")}]`;
  }
}
