// CST → AST. The CST from grammar/parser.ts groups children by label; this module rebuilds the
// source-ordered, typed AST of grammar/ast.ts, with a span on every node.
//
// It must cope with partial CSTs from error recovery: any child may be missing. A missing piece
// becomes a placeholder (an empty name, `NameRef ""`) at the nearest known position; the caller
// already has a syntax error for it, so the placeholders never reach the elaborator.
//
// A few rules that the grammar accepts but the language does not are checked here, because the
// message is clearer with the whole construct in hand (`as` after something that is not a call,
// positional arguments after named ones, an input of type bool).
import type { CstNode, IToken } from "chevrotain";
import type {
  Argument,
  BlockDecl,
  BlockKind,
  CallExpr,
  Comment,
  Expr,
  Identifier,
  ImportDecl,
  ParamDecl,
  ShapeExpr,
  SourceFile,
  Span,
  Statement,
  TypeName,
  BinaryOp,
} from "./ast.js";
import type { Diagnostic } from "../compiler/diagnostics.js";

/**
 * Deeper expressions are refused: everything downstream (elaborator, formatter) walks the AST
 * recursively. Brackets are already limited to 256 by grammar/parse.ts; this catches long
 * operator chains such as `1 + 1 + ... + 1`, which parse without recursion.
 */
export const MAX_EXPRESSION_DEPTH = 1000;

const PRECEDENCE: Record<string, number> = {
  "==": 1, "!=": 1, "<": 1, "<=": 1, ">": 1, ">=": 1,
  "+": 2, "-": 2,
  "*": 3, "/": 3, "//": 3, "%": 3,
};

export interface CstToAstOptions {
  file: string;
  text: string;
  comments: IToken[];
  /** String tokens the lexer found without a closing quote (already reported). */
  unterminated: ReadonlySet<IToken>;
  report: (d: Diagnostic) => void;
}

export function cstToAst(cst: CstNode, opts: CstToAstOptions): SourceFile {
  return new Converter(opts).file(cst);
}

/** The AST of a CST produced by the parser's `expression` rule used as the start rule. */
export function expressionCstToAst(cst: CstNode, opts: CstToAstOptions): Expr {
  return new Converter(opts).standaloneExpression(cst);
}

/** The span of the whole text: from 1:1 to its last character. */
export function wholeFileSpan(file: string, text: string): Span {
  let line = 1;
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "\n") {
      if (i === text.length - 1) break; // a final newline belongs to the last line
      line++;
      col = 0;
    } else {
      col++;
    }
  }
  return { file, line: 1, col: 1, endLine: line, endCol: Math.max(col, 1) };
}

class Converter {
  /** The last real position seen, where placeholders for missing pieces are put. */
  private lastSpan: Span;
  /**
   * Depth of each expression node built so far (leaves are absent: depth 0). A Map, not a
   * WeakMap: it lives only as long as this converter, and weak entries are costly to collect.
   */
  private readonly depth = new Map<Expr, number>();
  private reportedTooDeep = false;

  constructor(private readonly opts: CstToAstOptions) {
    this.lastSpan = { file: opts.file, line: 1, col: 1, endLine: 1, endCol: 1 };
  }

  file(cst: CstNode): SourceFile {
    const imports: ImportDecl[] = [];
    const blocks: BlockDecl[] = [];
    for (const node of nodes(cst, "importDecl")) imports.push(this.importDecl(node));
    for (const node of nodes(cst, "blockDecl")) blocks.push(this.blockDecl(node));
    const comments: Comment[] = this.opts.comments.map((t) => ({ text: t.image.slice(1), span: this.span(t) }));
    return {
      kind: "SourceFile",
      file: this.opts.file,
      imports,
      blocks,
      comments,
      span: wholeFileSpan(this.opts.file, this.opts.text),
    };
  }

  standaloneExpression(cst: CstNode): Expr {
    return this.expression(cst);
  }

  private importDecl(node: CstNode): ImportDecl {
    const kw = token(node, "Kw_import");
    const pathTok = token(node, "path");
    const start = this.span(kw);
    return {
      kind: "ImportDecl",
      path: pathTok ? this.stringValue(pathTok) : "",
      span: join(start, pathTok ? this.span(pathTok) : start),
    };
  }

  private blockDecl(node: CstNode): BlockDecl {
    const kindTok = token(node, "kind");
    const start = this.span(kindTok);
    const name = this.identifier(token(node, "name"));
    let end = name.span;
    let params: ParamDecl[] = [];
    let ext: BlockDecl["extends"] = null;
    const paramList = child(node, "paramList");
    if (paramList) {
      params = nodes(paramList, "param").map((p) => this.param(p));
      end = this.closeOf(paramList, "RParen", end);
    }
    const baseTok = token(node, "base");
    if (token(node, "Kw_extends")) {
      const base = this.identifier(baseTok);
      const argList = child(node, "argList");
      const args = argList ? this.argList(argList) : [];
      const extEnd = argList ? this.closeOf(argList, "RParen", base.span) : base.span;
      ext = { base, args, span: join(base.span, extEnd) };
      end = extEnd;
    }
    const body = child(node, "body");
    const statements = body ? this.statements(body) : [];
    if (body) end = this.closeOf(body, "RCurly", end);
    return {
      kind: "BlockDecl",
      blockKind: (kindTok?.image ?? "block") as BlockKind,
      name,
      params,
      extends: ext,
      body: statements,
      span: join(start, end),
    };
  }

  private param(node: CstNode): ParamDecl {
    const name = this.identifier(token(node, "name"));
    const typeNode = child(node, "typeName");
    const typeTok = typeNode ? token(typeNode, "type") : undefined;
    const type = typeTok
      ? { name: typeTok.image as TypeName, span: this.span(typeTok) }
      : { name: "int" as TypeName, span: name.span };
    const defaultNode = child(node, "default");
    const dflt = defaultNode ? this.expression(defaultNode) : null;
    return { kind: "ParamDecl", name, type, default: dflt, span: join(name.span, dflt ? dflt.span : type.span) };
  }

  private statements(body: CstNode): Statement[] {
    return nodes(body, "statement").map((s) => this.statement(s)).filter((s): s is Statement => s !== null);
  }

  private statement(node: CstNode): Statement | null {
    const inner = firstChildNode(node);
    if (!inner) return null;
    switch (inner.name) {
      case "inputDecl":
        return this.inputDecl(inner);
      case "outputStmt":
        return this.outputStmt(inner);
      case "repeatStmt":
        return this.repeatStmt(inner);
      case "lossStmt": {
        const kw = this.span(token(inner, "Kw_loss"));
        const value = this.expressionOr(child(inner, "value"), kw);
        return { kind: "LossStmt", value, span: join(kw, value.span) };
      }
      case "trainStmt":
        return this.trainStmt(inner);
      case "assignStmt": {
        const target = this.identifier(token(inner, "target"));
        const value = this.expressionOr(child(inner, "value"), target.span);
        return { kind: "AssignStmt", target, value, span: join(target.span, value.span) };
      }
      default:
        return null;
    }
  }

  private inputDecl(node: CstNode): Statement {
    const kw = this.span(token(node, "Kw_in"));
    const name = this.identifier(token(node, "name"));
    const shapeNode = child(node, "shape");
    const shape = shapeNode ? this.shape(shapeNode) : { kind: "ShapeExpr" as const, dims: [], span: name.span };
    let dtype: { name: "int" | "float"; span: Span } | null = null;
    let end = shape.span;
    const dtypeNode = child(node, "dtypeName");
    const dtypeTok = dtypeNode ? token(dtypeNode, "type") : undefined;
    if (dtypeTok) {
      const span = this.span(dtypeTok);
      end = span;
      if (dtypeTok.image === "int" || dtypeTok.image === "float") {
        dtype = { name: dtypeTok.image, span };
      } else {
        this.error("E0116", `an input's element type is 'int' or 'float', found '${dtypeTok.image}'`, span);
      }
    }
    return { kind: "InputDecl", name, shape, dtype, span: join(kw, end) };
  }

  private outputStmt(node: CstNode): Statement {
    const kw = this.span(token(node, "Kw_out"));
    const nameTok = token(node, "name");
    const name = nameTok ? this.identifier(nameTok) : null;
    const shapeNode = child(node, "shape");
    const shape = shapeNode ? this.shape(shapeNode) : null;
    const valueNode = child(node, "value");
    let value: Expr;
    if (valueNode) {
      value = this.expression(valueNode);
    } else if (name) {
      // `out x: [B, dim]` outputs the binding `x` with a checked shape.
      value = { kind: "NameRef", name: name.name, span: name.span };
    } else {
      value = this.placeholder(kw);
    }
    const end = valueNode ? value.span : shape ? shape.span : value.span;
    return { kind: "OutputStmt", name, value, shape, span: join(kw, end) };
  }

  private repeatStmt(node: CstNode): Statement {
    const kw = this.span(token(node, "Kw_repeat"));
    const count = this.expressionOr(child(node, "count"), kw);
    const nameTok = token(node, "name");
    const name = nameTok ? this.identifier(nameTok) : null;
    const body = child(node, "body");
    const statements = body ? this.statements(body) : [];
    const end = body ? this.closeOf(body, "RCurly", name?.span ?? count.span) : name?.span ?? count.span;
    return { kind: "RepeatStmt", count, name, body: statements, span: join(kw, end) };
  }

  private trainStmt(node: CstNode): Statement {
    const kw = this.span(token(node, "Kw_train"));
    const entries = nodes(node, "trainEntry").map((e) => {
      const key = this.identifier(token(e, "key"));
      const value = this.expressionOr(child(e, "value"), key.span);
      return { key, value, span: join(key.span, value.span) };
    });
    const close = token(node, "RCurly");
    const end = close && isReal(close) ? this.span(close) : entries.at(-1)?.span ?? kw;
    return { kind: "TrainStmt", entries, span: join(kw, end) };
  }

  private shape(node: CstNode): ShapeExpr {
    const open = this.span(token(node, "LBracket"));
    const dims = nodes(node, "dims").map((d) => this.expression(d));
    return { kind: "ShapeExpr", dims, span: join(open, this.closeOf(node, "RBracket", open)) };
  }

  // ---- expressions ---------------------------------------------------------------------------

  private expressionOr(node: CstNode | undefined, near: Span): Expr {
    return node ? this.expression(node) : this.placeholder(near);
  }

  /**
   * An `expression` node is a flat run `operand (op operand)*`; precedence is applied here with an
   * operator stack (loosest → tightest: comparisons, `+ -`, `* / // %`; all left-associative).
   */
  private expression(node: CstNode): Expr {
    const operandNodes = nodes(node, "operands");
    const ops = tokens(node, "ops");
    if (operandNodes.length === 0) return this.placeholder(this.lastSpan);
    const values: Expr[] = [this.operand(operandNodes[0])];
    const pending: IToken[] = [];
    const reduce = () => {
      const op = pending.pop()!;
      const right = values.pop()!;
      const left = values.pop()!;
      values.push(this.deeper({ kind: "BinaryExpr", op: op.image as BinaryOp, left, right, span: join(left.span, right.span) }, left, right));
    };
    for (let i = 0; i < ops.length && i + 1 < operandNodes.length; i++) {
      while (pending.length && PRECEDENCE[pending[pending.length - 1].image] >= PRECEDENCE[ops[i].image]) reduce();
      pending.push(ops[i]);
      values.push(this.operand(operandNodes[i + 1]));
    }
    while (pending.length) reduce();
    const result = values[0];
    if ((this.depth.get(result) ?? 0) > MAX_EXPRESSION_DEPTH) {
      if (!this.reportedTooDeep) {
        this.error("E0105", `expression nested too deeply (limit ${MAX_EXPRESSION_DEPTH} levels of operators and calls)`, result.span, "split it into several bindings");
        this.reportedTooDeep = true;
      }
      return this.placeholder(result.span);
    }
    return result;
  }

  /** `-x.f(y) as g`, `frozen f(x) as g`: the prefixes apply to the whole postfix chain, innermost last. */
  private operand(node: CstNode): Expr {
    let expr = this.postfix(node);
    const prefixes = [...tokens(node, "minus"), ...tokens(node, "frozen")].sort((a, b) => a.startOffset - b.startOffset);
    for (let i = prefixes.length - 1; i >= 0; i--) {
      const opSpan = this.span(prefixes[i]);
      const op = prefixes[i].image === "frozen" ? "frozen" : "-";
      expr = this.deeper({ kind: "UnaryExpr", op, operand: expr, span: join(opSpan, expr.span) }, expr);
    }
    return expr;
  }

  private postfix(node: CstNode): Expr {
    let expr = this.primary(node);
    // Calls, member accesses and aliases sit under separate labels, and the arguments of all
    // the calls of a chain (`f(a)(b)`) under one: source offsets put them back in sequence.
    // Every operation starts with a real token ('(', '.' or 'as': the parser only enters one
    // on seeing it), so the offsets are always there.
    const opens = tokens(node, "callOpen");
    const closes = tokens(node, "callClose");
    const ops: { at: number; apply: () => void }[] = [];
    const args = nodes(node, "args");
    let nextArg = 0;
    opens.forEach((open, i) => {
      // This call's arguments: those before the next call's '('.
      const limit = opens[i + 1]?.startOffset ?? Infinity;
      const mine: CstNode[] = [];
      while (nextArg < args.length && argumentStart(args[nextArg]) < limit) mine.push(args[nextArg++]);
      ops.push({
        at: open.startOffset,
        apply: () => {
          const values = this.arguments(mine);
          const close = closes.find((c) => isReal(c) && c.startOffset > open.startOffset && c.startOffset < limit);
          const end = close ? this.span(close) : values.at(-1)?.span ?? expr.span;
          const call: CallExpr = { kind: "CallExpr", callee: expr, args: values, alias: null, span: join(expr.span, end) };
          expr = this.deeper(call, expr, ...values.map((a) => a.value));
        },
      });
    });
    for (const m of nodes(node, "members")) {
      ops.push({
        at: token(m, "Dot")?.startOffset ?? 0,
        apply: () => {
          const property = this.identifier(token(m, "member"));
          expr = this.deeper({ kind: "MemberExpr", object: expr, property, span: join(expr.span, property.span) }, expr);
        },
      });
    }
    for (const a of nodes(node, "aliases")) {
      ops.push({
        at: token(a, "Kw_as")?.startOffset ?? 0,
        apply: () => this.attachAlias(expr, this.identifier(token(a, "alias")), this.span(token(a, "Kw_as"))),
      });
    }
    if (ops.length > 1) ops.sort((a, b) => a.at - b.at);
    for (const op of ops) op.apply();
    return expr;
  }

  /** Records `node`'s depth (1 + its deepest child) so over-deep expressions are refused, not overflowed on. */
  private deeper<E extends Expr>(node: E, ...children: Expr[]): E {
    let d = 0;
    for (const c of children) d = Math.max(d, this.depth.get(c) ?? 0);
    this.depth.set(node, d + 1);
    return node;
  }

  /** `call as name`: the alias names the call right before it; it is not part of the call's span. */
  private attachAlias(expr: Expr, alias: Identifier, asSpan: Span): void {
    if (expr.kind !== "CallExpr") {
      this.error("E0114", `'as' names the module a call creates, but it follows ${describeExpr(expr)}, not a call`, join(asSpan, alias.span), "write 'as' right after a call, as in dense(x, 10) as head");
    } else if (expr.alias) {
      this.error("E0115", `this call is already named '${expr.alias.name}'`, join(asSpan, alias.span));
    } else {
      (expr as CallExpr).alias = alias;
    }
  }

  /** The arguments of an `argList` node (the `extends` overrides). */
  private argList(node: CstNode): Argument[] {
    return this.arguments(nodes(node, "args"));
  }

  private arguments(argNodes: CstNode[]): Argument[] {
    const args: Argument[] = [];
    let namedSeen: Argument | null = null;
    for (const a of argNodes) {
      const nameTok = token(a, "name");
      const name = nameTok ? this.identifier(nameTok) : null;
      // An argument node holds its expression's operands and operators itself.
      const value = nodes(a, "operands").length > 0 ? this.expression(a) : this.placeholder(name?.span ?? this.lastSpan);
      const arg: Argument = { name, value, span: name ? join(name.span, value.span) : value.span };
      if (name) {
        namedSeen ??= arg;
      } else if (namedSeen) {
        this.error("E0117", `positional argument after the named argument '${namedSeen.name!.name}'`, arg.span, "put positional arguments first, then the named ones");
      }
      args.push(arg);
    }
    return args;
  }

  /** The primary of an `operand` node: a literal, a name, `( expr )` or `[ items ]`. */
  private primary(node: CstNode): Expr {
    const tok = token(node, "number") ?? token(node, "string") ?? token(node, "bool") ?? token(node, "name");
    if (tok) {
      const span = this.span(tok);
      switch (tok.tokenType.name) {
        case "NumberLiteral":
          return this.number(tok, span);
        case "StringLiteral":
          return { kind: "StringLit", value: this.stringValue(tok), span };
        case "Kw_true":
        case "Kw_false":
          return { kind: "BoolLit", value: tok.image === "true", span };
        default:
          return { kind: "NameRef", name: tok.image, span };
      }
    }
    const openParen = token(node, "open");
    if (openParen) {
      const open = this.span(openParen);
      const innerNode = child(node, "inner");
      const inner = innerNode ? this.expression(innerNode) : this.placeholder(open);
      // The parentheses belong to the node's span, so carets under `(a + b) * c` start at '('.
      const close = token(node, "close");
      const widened = { ...inner, span: join(open, close && isReal(close) ? this.span(close) : inner.span) } as Expr;
      this.depth.set(widened, this.depth.get(inner) ?? 0);
      return widened;
    }
    const listOpen = token(node, "listOpen");
    if (listOpen) {
      const open = this.span(listOpen);
      const items = nodes(node, "items").map((i) => this.expression(i));
      const close = token(node, "listClose");
      const end = close && isReal(close) ? this.span(close) : items.at(-1)?.span ?? open;
      return this.deeper({ kind: "ListExpr", items, span: join(open, end) }, ...items);
    }
    return this.placeholder(this.lastSpan);
  }

  private number(tok: IToken, span: Span): Expr {
    const raw = tok.image;
    const value = Number(raw);
    if (!Number.isFinite(value) && /^\d/.test(raw) && !Number.isNaN(value)) {
      this.error("E0104", `number ${truncate(raw)} is too large`, span);
    }
    return { kind: "NumberLit", value, isInt: /^\d+$/.test(raw), raw, span };
  }

  /** The value of a string literal: `\"`, `\\` and `\n` are the escapes; others are errors. */
  private stringValue(tok: IToken): string {
    const image = tok.image;
    const body = this.opts.unterminated.has(tok) ? image.slice(1) : image.slice(1, -1);
    let out = "";
    for (let i = 0; i < body.length; i++) {
      const c = body[i];
      if (c !== "\\") {
        out += c;
        continue;
      }
      const next = body[i + 1];
      i++;
      if (next === '"' || next === "\\") out += next;
      else if (next === "n") out += "\n";
      else if (next !== undefined) {
        const col = tok.startColumn! + 1 + i - 1;
        const span: Span = { file: this.opts.file, line: tok.startLine!, col, endLine: tok.startLine!, endCol: col + 1 };
        this.error("E0103", `unknown escape '\\${next}' in a string; the escapes are \\" \\\\ and \\n`, span);
        out += next;
      }
    }
    return out;
  }

  // ---- helpers -------------------------------------------------------------------------------

  private identifier(tok: IToken | undefined): Identifier {
    if (!tok || !isReal(tok)) return { name: "", span: this.lastSpan };
    return { name: tok.image, span: this.span(tok) };
  }

  private placeholder(near: Span): Expr {
    return { kind: "NameRef", name: "", span: near };
  }

  /** The token's span; a token that recovery dropped or invented gets the last real position. */
  private span(tok: IToken | undefined): Span {
    if (!tok || !isReal(tok)) return this.lastSpan;
    const s: Span = {
      file: this.opts.file,
      line: tok.startLine!,
      col: tok.startColumn!,
      endLine: tok.endLine!,
      endCol: tok.endColumn!,
    };
    this.lastSpan = s;
    return s;
  }

  /**
   * The span of the node's closing bracket, or `fallback` when recovery dropped it (the
   * caller passes the end of the last thing it did find).
   */
  private closeOf(node: CstNode, closer: "RParen" | "RBracket" | "RCurly", fallback: Span): Span {
    const tok = token(node, closer);
    return tok && isReal(tok) ? this.span(tok) : fallback;
  }

  private error(code: string, message: string, span: Span, hint?: string): void {
    this.opts.report({ code, severity: "error", message, span, ...(hint ? { hint } : {}) });
  }
}

function isReal(tok: IToken): boolean {
  return !tok.isInsertedInRecovery && Number.isFinite(tok.startOffset) && tok.startLine !== undefined;
}

function join(start: Span, end: Span): Span {
  return { file: start.file, line: start.line, col: start.col, endLine: end.endLine, endCol: end.endCol };
}

/**
 * Offset of an `argument` node's first token: its name, or the start of its first operand
 * (a '-', a literal, a name, '(' or '['). Infinity if recovery left it empty.
 */
function argumentStart(arg: CstNode): number {
  const name = token(arg, "name");
  if (name) return name.startOffset;
  const first = nodes(arg, "operands")[0];
  if (!first) return Infinity;
  const tok =
    token(first, "minus") ?? token(first, "number") ?? token(first, "string") ?? token(first, "bool") ??
    token(first, "name") ?? token(first, "open") ?? token(first, "listOpen");
  return tok && Number.isFinite(tok.startOffset) ? tok.startOffset : Infinity;
}

/** The only child node of a node whose rule is a choice between sub-rules (`statement`). */
function firstChildNode(node: CstNode): CstNode | undefined {
  for (const key in node.children) {
    const c = node.children[key][0];
    if (c && "children" in c) return c;
  }
  return undefined;
}

function child(node: CstNode, label: string): CstNode | undefined {
  const c = node.children[label]?.[0];
  return c && "children" in c ? c : undefined;
}

// A label holds either nodes or tokens, never both (see parser.ts), so these need not filter.
const NONE: never[] = [];

function nodes(node: CstNode, label: string): CstNode[] {
  return (node.children[label] as CstNode[] | undefined) ?? NONE;
}

function token(node: CstNode, label: string): IToken | undefined {
  const c = node.children[label]?.[0];
  return c && "image" in c ? c : undefined;
}

function tokens(node: CstNode, label: string): IToken[] {
  return (node.children[label] as IToken[] | undefined) ?? NONE;
}

function describeExpr(e: Expr): string {
  switch (e.kind) {
    case "NameRef":
      return `the name '${e.name}'`;
    case "MemberExpr":
      return `the member access '.${e.property.name}'`;
    case "NumberLit":
      return "a number";
    case "StringLit":
      return "a string";
    case "BoolLit":
      return "a boolean";
    case "ListExpr":
      return "a list";
    default:
      return "an expression";
  }
}

export function truncate(s: string, max = 30): string {
  return s.length > max ? s.slice(0, max) + "…" : s;
}
