// The canonical pretty-printer (`vlmc fmt`): prints the AST back as text in one layout, keeping
// every comment. Idempotent, and never changes meaning: parse(format(x)) has the AST of x.
//
// How it works: the printer first lays out the AST as a list of lines, each *anchored* at the
// source offset of the first token it prints. A line then owns every source token from its anchor
// up to the next line's anchor. Comments are placed by that ownership:
//   - a comment after code on its source line is *trailing*: it goes at the end of the line
//     owning the token before it;
//   - a comment alone on its line goes on its own line, before the line it sits in front of (or,
//     when it sits in the middle of a construct printed on one line, before that construct).
// A construct that has a comment inside it (a parameter list, a `train { }`) is printed one
// item per line, so the comments keep their place next to their items.
//
// Layout: two-space indentation, one statement per line, one blank line between top-level
// declarations, blank lines inside bodies kept (at most one), parameter/argument/train lists one
// item per line (with trailing commas) when the one-line form would pass 100 columns; a statement
// or list item still longer than that has its call's arguments put one per line the same way.
import type { IToken } from "chevrotain";
import type { Diagnostic } from "../compiler/diagnostics.js";
import type { Argument, BlockDecl, Comment, Expr, SourceFile, Span, Statement } from "./ast.js";
import { parseDetailed } from "./parse.js";

export const MAX_WIDTH = 100;
const INDENT = "  ";

export interface FormatResult {
  /** The formatted text, or null when the input has syntax errors (see diagnostics). */
  text: string | null;
  diagnostics: Diagnostic[];
}

export function format(text: string, file: string): FormatResult {
  const { ast, diagnostics, tokens } = parseDetailed(text, file);
  if (!ast || diagnostics.some((d) => d.severity === "error")) return { text: null, diagnostics };
  return { text: new Printer(text, ast, tokens).print(), diagnostics };
}

/** One output line before comments are placed. */
interface Line {
  depth: number;
  text: string;
  /** Source offset of the first token this line prints. */
  anchor: number;
  /** Closes a construct (`}`, `) {`): comments before it are indented one level deeper. */
  closes: boolean;
  /** Opens a construct (ends with `{` or `(`): no blank line right after it. */
  opens: boolean;
  /** The first line of a top-level declaration: exactly one blank line before it (or its comments). */
  declStart: boolean;
}

/** One entry of a list printed by `list`: `prefix` then the value (a parameter, an argument...). */
interface ListItem {
  prefix: string;
  value: Expr | null;
  /** Source offset of the entry's first token. */
  anchor: number;
}

/** An emitted line: code or a comment, with the source lines it came from (for blank lines). */
interface Item {
  text: string;
  firstLine: number;
  lastLine: number;
  opens: boolean;
  closes: boolean;
  /** Starts a top-level declaration group (its leading comments, or its first line). */
  groupStart: boolean;
}

class Printer {
  private readonly lines: Line[] = [];
  private readonly lineStarts: number[];
  /** Start offsets of the code tokens, ascending (for "which token comes before this comment"). */
  private readonly tokenOffsets: number[];
  private readonly commentOffsets: number[];

  constructor(
    source: string,
    private readonly ast: SourceFile,
    private readonly tokens: IToken[],
  ) {
    this.lineStarts = [0];
    for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
    this.tokenOffsets = tokens.map((t) => t.startOffset);
    this.commentOffsets = ast.comments.map((c) => this.offset(c.span));
  }

  print(): string {
    // Top-level items in source order, so line anchors stay ascending.
    const top = [...this.ast.imports, ...this.ast.blocks].sort((a, b) => this.offset(a.span) - this.offset(b.span));
    for (const item of top) {
      if (item.kind === "ImportDecl") this.emit(0, `import ${quote(item.path)}`, item.span);
      else this.block(item);
    }
    return this.render(this.placeComments());
  }

  // ---- layout --------------------------------------------------------------------------------

  private block(b: BlockDecl): void {
    const head = `${b.blockKind} ${b.name.name}`;
    const start = this.offset(b.span);
    const end = this.endOffset(b.span);
    // The `{` of the body, if any: the last '{' … '}' pair ends the block's span.
    const hasBraces = this.tokenAt(end)?.image === "}";
    const bodyStart = (hasBraces ? this.matchingOpen(end) : undefined) ?? end + 1;
    // An empty body is `{}` for a plain block and left out for a derived one (it is optional there).
    const bodyShown = b.body.length > 0 || this.hasCommentIn(bodyStart, end);
    const tail = bodyShown ? " {" : b.extends ? "" : " {}";
    const headerLine = this.lines.length;
    if (b.extends) {
      const listOpen = this.nextToken(this.offset(b.extends.base.span), "(");
      this.list(0, `${head} extends ${b.extends.base.name}(`, b.extends.args.map((a) => this.argumentItem(a)), `)${tail}`, start, listOpen);
    } else {
      const items = b.params.map((p): ListItem => ({
        prefix: `${p.name.name}: ${p.type.name}${p.default ? " = " : ""}`,
        value: p.default,
        anchor: this.offset(p.span),
      }));
      const listOpen = this.nextToken(this.offset(b.name.span), "(");
      this.list(0, `${head}(`, items, `)${tail}`, start, listOpen);
    }
    this.lines[this.lines.length - 1].opens = bodyShown;
    this.lines[headerLine].declStart = true;
    if (bodyShown) {
      this.statements(b.body, 1);
      this.emitClose(0, "}", end);
    }
  }

  /**
   * `prefix item, item suffix` on one line when it fits and holds no comment, otherwise
   * `prefix` / one item per line with a trailing comma / `suffix`.
   */
  private list(depth: number, prefix: string, items: ListItem[], suffix: string, anchor: number, listOpen: number | undefined): void {
    const oneLine = `${prefix}${items.map((i) => this.itemText(i)).join(", ")}${suffix}`;
    const close = listOpen !== undefined ? this.matchingClose(listOpen) : undefined;
    const commented = listOpen !== undefined && close !== undefined && this.hasCommentIn(listOpen, close);
    if (items.length === 0 || (!commented && fits(depth, oneLine))) {
      this.emitAt(depth, oneLine, anchor);
      return;
    }
    this.emitAt(depth, prefix, anchor, { opens: true });
    for (const item of items) this.emitValue(depth + 1, item.prefix, item.value, ",", item.anchor);
    // Without the ')' (never, on input that parsed) the suffix shares the last item's anchor.
    this.emitAt(depth, suffix, close ?? this.lines[this.lines.length - 1].anchor, { closes: true });
  }

  private itemText(item: ListItem): string {
    return item.prefix + (item.value ? this.expr(item.value) : "");
  }

  private argumentItem(a: Argument): ListItem {
    return { prefix: a.name ? `${a.name.name} = ` : "", value: a.value, anchor: this.offset(a.span) };
  }

  /**
   * `prefix value suffix` on one line; when that passes MAX_WIDTH and the value is a call, its
   * arguments go one per line instead (each wrapped the same way if still too long).
   */
  private emitValue(depth: number, prefix: string, value: Expr | null, suffix: string, anchor: number): void {
    const oneLine = `${prefix}${value ? this.expr(value) : ""}${suffix}`;
    if (!value || value.kind !== "CallExpr" || value.args.length === 0 || fits(depth, oneLine)) {
      this.emitAt(depth, oneLine, anchor);
      return;
    }
    const callee = this.operand(value.callee, precedence(value.callee) < POSTFIX, false);
    this.emitAt(depth, `${prefix}${callee}(`, anchor, { opens: true });
    for (const arg of value.args) {
      const item = this.argumentItem(arg);
      this.emitValue(depth + 1, item.prefix, item.value, ",", item.anchor);
    }
    const alias = value.alias ? ` as ${value.alias.name}` : "";
    this.emitAt(depth, `)${alias}${suffix}`, this.endOffset(value.span), { closes: true });
  }

  private statements(stmts: Statement[], depth: number): void {
    for (const s of stmts) this.statement(s, depth);
  }

  private statement(s: Statement, depth: number): void {
    switch (s.kind) {
      case "InputDecl": {
        const dtype = s.dtype ? ` ${s.dtype.name}` : "";
        this.emit(depth, `in ${s.name.name}: ${this.shape(s.shape.dims)}${dtype}`, s.span);
        return;
      }
      case "OutputStmt": {
        if (s.name && s.shape) {
          // `out x: [B, dim]` is short for `out x: [B, dim] = x`.
          const implicit = s.value.kind === "NameRef" && s.value.name === s.name.name;
          const text = `out ${s.name.name}: ${this.shape(s.shape.dims)}${implicit ? "" : " = " + this.expr(s.value)}`;
          this.emit(depth, text, s.span);
        } else {
          this.emitValue(depth, s.name ? `out ${s.name.name} = ` : "out ", s.value, "", this.offset(s.span));
        }
        return;
      }
      case "AssignStmt":
        this.emitValue(depth, `${s.target.name} = `, s.value, "", this.offset(s.span));
        return;
      case "LossStmt":
        this.emitValue(depth, "loss ", s.value, "", this.offset(s.span));
        return;
      case "RepeatStmt": {
        const head = `repeat ${this.expr(s.count, true)}${s.name ? " as " + s.name.name : ""}`;
        const end = this.endOffset(s.span);
        const open = this.matchingOpen(end) ?? end;
        if (s.body.length === 0 && !this.hasCommentIn(open, end)) {
          this.emit(depth, `${head} {}`, s.span);
          return;
        }
        this.emitAt(depth, `${head} {`, this.offset(s.span), { opens: true });
        this.statements(s.body, depth + 1);
        this.emitClose(depth, "}", end);
        return;
      }
      case "TrainStmt": {
        const items = s.entries.map((e): ListItem => ({ prefix: `${e.key.name} = `, value: e.value, anchor: this.offset(e.span) }));
        const start = this.offset(s.span);
        const open = this.nextToken(start, "{");
        const end = this.endOffset(s.span);
        const commented = open !== undefined && this.hasCommentIn(open, end);
        const oneLine = items.length === 0 ? "train {}" : `train { ${items.map((i) => this.itemText(i)).join(", ")} }`;
        if (!commented && fits(depth, oneLine)) {
          this.emit(depth, oneLine, s.span);
          return;
        }
        this.emitAt(depth, "train {", start, { opens: true });
        for (const item of items) this.emitValue(depth + 1, item.prefix, item.value, ",", item.anchor);
        this.emitClose(depth, "}", end);
        return;
      }
    }
  }

  private shape(dims: Expr[]): string {
    return `[${dims.map((d) => this.expr(d)).join(", ")}]`;
  }

  private argument(a: Argument): string {
    return a.name ? `${a.name.name} = ${this.expr(a.value)}` : this.expr(a.value);
  }

  /**
   * Prints an expression with the fewest parentheses that keep its tree. `aliasBlocked` is true
   * for a repeat count, where a bare `as` would be read as the repeat's name.
   */
  private expr(e: Expr, aliasBlocked = false): string {
    switch (e.kind) {
      case "NumberLit":
        return e.raw;
      case "StringLit":
        return quote(e.value);
      case "BoolLit":
        return e.value ? "true" : "false";
      case "NameRef":
        return e.name;
      case "ListExpr":
        return `[${e.items.map((i) => this.expr(i)).join(", ")}]`;
      case "UnaryExpr":
        return `${e.op === "frozen" ? "frozen " : "-"}${this.operand(e.operand, precedence(e.operand) < UNARY, aliasBlocked)}`;
      case "BinaryExpr": {
        const p = precedence(e);
        // Left-associative: a right operand of the same precedence needs parentheses.
        const left = this.operand(e.left, precedence(e.left) < p, aliasBlocked);
        const right = this.operand(e.right, precedence(e.right) <= p, aliasBlocked);
        return `${left} ${e.op} ${right}`;
      }
      case "MemberExpr": {
        // `4.x` would lex as a malformed number.
        const wrap = precedence(e.object) < POSTFIX || e.object.kind === "NumberLit";
        return `${this.operand(e.object, wrap, aliasBlocked)}.${e.property.name}`;
      }
      case "CallExpr": {
        const callee = this.operand(e.callee, precedence(e.callee) < POSTFIX, aliasBlocked);
        const call = `${callee}(${e.args.map((a) => this.argument(a)).join(", ")})`;
        if (!e.alias) return call;
        return aliasBlocked ? `(${call} as ${e.alias.name})` : `${call} as ${e.alias.name}`;
      }
    }
  }

  private operand(e: Expr, parenthesize: boolean, aliasBlocked: boolean): string {
    // Inside parentheses `as` is the call's again.
    return parenthesize ? `(${this.expr(e)})` : this.expr(e, aliasBlocked);
  }

  // ---- line bookkeeping ----------------------------------------------------------------------

  private emit(depth: number, text: string, span: Span, flags: Partial<Line> = {}): void {
    this.emitAt(depth, text, this.offset(span), flags);
  }

  private emitAt(depth: number, text: string, anchor: number, flags: Partial<Line> = {}): void {
    this.lines.push({ depth, text, anchor, closes: false, opens: false, declStart: false, ...flags });
  }

  private emitClose(depth: number, text: string, anchor: number): void {
    this.emitAt(depth, text, anchor, { closes: true });
  }

  // ---- comments ------------------------------------------------------------------------------

  /** Decides, for each line, the comments printed before it and the one at its end. */
  private placeComments(): { before: Comment[][]; trailing: (Comment | null)[]; after: Comment[] } {
    const n = this.lines.length;
    const before: Comment[][] = Array.from({ length: n }, () => []);
    const trailing: (Comment | null)[] = new Array(n).fill(null);
    const after: Comment[] = [];
    const anchors = this.lines.map((l) => l.anchor);
    const addBefore = (i: number, c: Comment) => {
      // Keep source order: a trailing comment already placed here came earlier.
      if (trailing[i]) before[i].push(trailing[i]!);
      trailing[i] = null;
      before[i].push(c);
    };
    this.ast.comments.forEach((c, k) => {
      const at = this.commentOffsets[k];
      const prevTok = lastBelow(this.tokenOffsets, at);
      const prev = prevTok >= 0 ? this.tokens[prevTok] : undefined;
      if (prev && prev.endLine === c.span.line && n > 0) {
        const i = Math.max(0, lastBelowOrEqual(anchors, prev.startOffset));
        if (trailing[i]) before[i].push(trailing[i]!);
        trailing[i] = c;
        return;
      }
      const j = lastBelowOrEqual(anchors, at) + 1; // the first line anchored after the comment
      const i = j - 1;
      const nextTok = prevTok + 1 < this.tokens.length ? this.tokens[prevTok + 1] : undefined;
      const insideLine = i >= 0 && nextTok !== undefined && (j >= n || nextTok.startOffset < anchors[j]);
      if (insideLine) addBefore(i, c);
      else if (j < n) addBefore(j, c);
      else after.push(c);
    });
    return { before, trailing, after };
  }

  private render({ before, trailing, after }: ReturnType<Printer["placeComments"]>): string {
    const items: Item[] = [];
    this.lines.forEach((line, i) => {
      const commentDepth = line.closes ? line.depth + 1 : line.depth;
      before[i].forEach((c, k) => {
        items.push({ text: indent(commentDepth) + commentText(c), firstLine: c.span.line, lastLine: c.span.line, opens: false, closes: false, groupStart: line.declStart && k === 0 });
      });
      const [firstLine, lastLine] = this.sourceLines(i);
      const end = trailing[i] ? `  ${commentText(trailing[i]!)}` : "";
      items.push({ text: indent(line.depth) + line.text + end, firstLine, lastLine, opens: line.opens, closes: line.closes, groupStart: line.declStart && before[i].length === 0 });
    });
    for (const c of after) items.push({ text: commentText(c), firstLine: c.span.line, lastLine: c.span.line, opens: false, closes: false, groupStart: false });

    const out: string[] = [];
    items.forEach((item, k) => {
      const prev = items[k - 1];
      if (prev) {
        const blank = item.groupStart || (!prev.opens && !item.closes && item.firstLine - prev.lastLine >= 2);
        if (blank) out.push("");
      }
      out.push(item.text);
    });
    return out.length ? out.join("\n") + "\n" : "";
  }

  /** The first and last source lines of the tokens line `i` owns. */
  private sourceLines(i: number): [number, number] {
    const start = this.lines[i].anchor;
    const next = i + 1 < this.lines.length ? this.lines[i + 1].anchor : Infinity;
    const first = this.tokens[Math.max(0, lastBelow(this.tokenOffsets, start + 1))];
    const last = this.tokens[Math.max(0, lastBelow(this.tokenOffsets, next))];
    if (!first || !last) return [1, 1];
    return [first.startLine ?? 1, Math.max(first.startLine ?? 1, last.endLine ?? 1)];
  }

  // ---- source positions ----------------------------------------------------------------------

  private offset(span: Span): number {
    return (this.lineStarts[span.line - 1] ?? 0) + span.col - 1;
  }

  private endOffset(span: Span): number {
    return (this.lineStarts[span.endLine - 1] ?? 0) + span.endCol - 1;
  }

  private tokenAt(offset: number): IToken | undefined {
    const i = lastBelowOrEqual(this.tokenOffsets, offset);
    return i >= 0 && this.tokens[i].startOffset === offset ? this.tokens[i] : undefined;
  }

  /** Offset of the first token with this image at or after `from`. */
  private nextToken(from: number, image: string): number | undefined {
    for (let i = Math.max(0, lastBelow(this.tokenOffsets, from) + 1); i < this.tokens.length; i++) {
      if (this.tokens[i].image === image) return this.tokens[i].startOffset;
    }
    return undefined;
  }

  /** Offset of the bracket closing the one at `open`. */
  private matchingClose(open: number): number | undefined {
    let depth = 0;
    for (let i = lastBelowOrEqual(this.tokenOffsets, open); i >= 0 && i < this.tokens.length; i++) {
      const img = this.tokens[i].image;
      if (img === "(" || img === "[" || img === "{") depth++;
      else if (img === ")" || img === "]" || img === "}") {
        depth--;
        if (depth === 0) return this.tokens[i].startOffset;
      }
    }
    return undefined;
  }

  /** Offset of the bracket opening the one that closes at `close`. */
  private matchingOpen(close: number): number | undefined {
    let depth = 0;
    for (let i = lastBelowOrEqual(this.tokenOffsets, close); i >= 0; i--) {
      const img = this.tokens[i].image;
      if (img === ")" || img === "]" || img === "}") depth++;
      else if (img === "(" || img === "[" || img === "{") {
        depth--;
        if (depth === 0) return this.tokens[i].startOffset;
      }
    }
    return undefined;
  }

  private hasCommentIn(from: number, to: number): boolean {
    const i = lastBelow(this.commentOffsets, to);
    return i >= 0 && this.commentOffsets[i] > from;
  }
}

function fits(depth: number, text: string): boolean {
  return INDENT.length * depth + text.length <= MAX_WIDTH;
}

const UNARY = 4;
const POSTFIX = 5;

function precedence(e: Expr): number {
  switch (e.kind) {
    case "BinaryExpr":
      return ["==", "!=", "<", "<=", ">", ">="].includes(e.op) ? 1 : e.op === "+" || e.op === "-" ? 2 : 3;
    case "UnaryExpr":
      return UNARY;
    default:
      return POSTFIX;
  }
}

/** A string literal that reads back as `value`. */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

function commentText(c: Comment): string {
  return `#${c.text.trimEnd()}`;
}

function indent(depth: number): string {
  return INDENT.repeat(depth);
}

/** Index of the last element < x in an ascending array, or -1. */
function lastBelow(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** Index of the last element <= x in an ascending array, or -1. */
function lastBelowOrEqual(sorted: number[], x: number): number {
  return lastBelow(sorted, x + 1);
}
