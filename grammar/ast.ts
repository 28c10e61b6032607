// The AST of a .vlm file: what the parser (grammar/parser.ts + grammar/cst-to-ast.ts) produces and
// the elaborator (compiler/elaborate) consumes. Nothing here knows about tensors.
//
// Every node carries the span of the source text it came from, so any later error can point at it.
import type { Span } from "../compiler/ir.js";

export type { Span };

export type BlockKind = "block" | "encoder" | "projection" | "connector" | "model";
export type ScalarTypeName = "int" | "float" | "bool" | "string";
/** A parameter's declared type: a scalar, or a block kind (its value is a block call such as `Mlp(hidden = 128)`). */
export type TypeName = ScalarTypeName | Exclude<BlockKind, "model">;

export interface Identifier {
  name: string;
  span: Span;
}

export interface SourceFile {
  kind: "SourceFile";
  file: string;
  imports: ImportDecl[];
  blocks: BlockDecl[];
  /** Comments in source order (the formatter re-attaches them). */
  comments: Comment[];
  span: Span;
}

export interface Comment {
  /** The text after `#`, without the newline. */
  text: string;
  span: Span;
}

/** `import "std/layers.vlm"` */
export interface ImportDecl {
  kind: "ImportDecl";
  path: string;
  span: Span;
}

export interface ParamDecl {
  kind: "ParamDecl";
  name: Identifier;
  type: { name: TypeName; span: Span };
  /** `= expr`; the expression may refer to earlier parameters (`hidden: int = dim * 4`). */
  default: Expr | null;
  span: Span;
}

/**
 * `encoder ViT(image: int = 32, ...) { ... }` or, for derived blocks,
 * `model ClipMlp extends Clip(connector = MlpProjector(hidden = 128)) { train { epochs = 4 } }`.
 */
export interface BlockDecl {
  kind: "BlockDecl";
  blockKind: BlockKind;
  name: Identifier;
  params: ParamDecl[];
  /** For `extends`: the base block and its overriding named arguments. */
  extends: { base: Identifier; args: Argument[]; span: Span } | null;
  body: Statement[];
  span: Span;
}

export type Statement =
  | InputDecl
  | OutputStmt
  | AssignStmt
  | RepeatStmt
  | LossStmt
  | TrainStmt;

/** `in x: [B, N, dim]` or `in label: [B] int` */
export interface InputDecl {
  kind: "InputDecl";
  name: Identifier;
  shape: ShapeExpr;
  dtype: { name: "int" | "float"; span: Span } | null;
  span: Span;
}

/** `[B, N, dim * 2]`: each dimension is an expression; an unbound identifier is a shape variable. */
export interface ShapeExpr {
  kind: "ShapeExpr";
  dims: Expr[];
  span: Span;
}

/** `out expr`, `out name = expr`, optionally with a declared shape `out x: [B, dim]`. */
export interface OutputStmt {
  kind: "OutputStmt";
  name: Identifier | null;
  value: Expr;
  shape: ShapeExpr | null;
  span: Span;
}

/** `name = expr` (rebinding allowed). */
export interface AssignStmt {
  kind: "AssignStmt";
  target: Identifier;
  value: Expr;
  span: Span;
}

/** `repeat depth as layers { ... }`: unrolled; modules inside are named `layers.<i>.<name>`. */
export interface RepeatStmt {
  kind: "RepeatStmt";
  count: Expr;
  name: Identifier | null;
  body: Statement[];
  span: Span;
}

/** `loss expr` (models only). */
export interface LossStmt {
  kind: "LossStmt";
  value: Expr;
  span: Span;
}

/** `train { epochs = 10, lr = 1e-3 }` (models only): training defaults. */
export interface TrainStmt {
  kind: "TrainStmt";
  entries: { key: Identifier; value: Expr; span: Span }[];
  span: Span;
}

export type Expr =
  | NumberLit
  | StringLit
  | BoolLit
  | NameRef
  | MemberExpr
  | CallExpr
  | BinaryExpr
  | UnaryExpr
  | ListExpr;

export interface NumberLit {
  kind: "NumberLit";
  value: number;
  /** true when written without '.', 'e' (so `4` is an int, `4.0` and `1e-5` are floats). */
  isInt: boolean;
  /** The source text, kept so the formatter prints `1e-5` back as written. */
  raw: string;
  span: Span;
}

export interface StringLit {
  kind: "StringLit";
  value: string;
  span: Span;
}

export interface BoolLit {
  kind: "BoolLit";
  value: boolean;
  span: Span;
}

export interface NameRef {
  kind: "NameRef";
  name: string;
  span: Span;
}

/** `r.loss` */
export interface MemberExpr {
  kind: "MemberExpr";
  object: Expr;
  property: Identifier;
  span: Span;
}

export interface Argument {
  /** null for positional arguments. */
  name: Identifier | null;
  value: Expr;
  span: Span;
}

/**
 * `dense(x, 64) as fc1`, `Mlp(dim, 128)` (a block with its parameters: a block value),
 * `Mlp(dim, 128)(x)` (that block value applied to tensors), `connector(img, txt)`.
 */
export interface CallExpr {
  kind: "CallExpr";
  callee: Expr;
  args: Argument[];
  /** `as name`: the module name given to this call. */
  alias: Identifier | null;
  span: Span;
}

export type BinaryOp = "+" | "-" | "*" | "/" | "//" | "%" | "==" | "!=" | "<" | "<=" | ">" | ">=";

export interface BinaryExpr {
  kind: "BinaryExpr";
  op: BinaryOp;
  left: Expr;
  right: Expr;
  span: Span;
}

export interface UnaryExpr {
  kind: "UnaryExpr";
  /** `frozen e`: the parameters of the call e are not trained (a block value stays frozen wherever it is applied). */
  op: "-" | "frozen";
  operand: Expr;
  span: Span;
}

export interface ListExpr {
  kind: "ListExpr";
  items: Expr[];
  span: Span;
}
