// The front door of the grammar: text in, AST and syntax diagnostics out. Never throws.
//
// Syntax diagnostic codes (docs/language.md copies this table):
//
// | code  | meaning                                                                                                          |
// |-------|------------------------------------------------------------------------------------------------------------------|
// | E0100 | binary file: a NUL byte, or text that is not valid UTF-8                                                         |
// | E0101 | unexpected character (`@`, `$`, a backquote…)                                                                    |
// | E0102 | expected a closing bracket: `)`, `]` or `}` missing for the one opened at line:col                               |
// | E0103 | unknown escape in a string (the escapes are `\"` `\\` `\n`)                                                      |
// | E0104 | malformed or too large number (`1e`, `4.`, `3x`, `1e999`)                                                        |
// | E0105 | nesting too deep: more than 256 brackets inside one another, or an expression over 1000 levels deep            |
// | E0106 | unterminated string: no closing `"` before the end of the line                                                   |
// | E0110 | expected a token, found another (`expected ':' and a type after the parameter name, found ','`)                  |
// | E0111 | expected an expression                                                                                           |
// | E0112 | expected a statement (`in`, `out`, `name = value`, `repeat`, `loss`, `train`)                                    |
// | E0113 | expected a declaration (`import`, `block`, `encoder`, `projection`, `connector`, `model`)                        |
// | E0114 | `as` after something that is not a call (`x as y`)                                                               |
// | E0115 | a call named twice (`f(x) as a as b`)                                                                            |
// | E0116 | an input's element type that is not `int` or `float` (`in m: [B] bool`)                                          |
// | E0117 | a positional argument after a named one (`f(a = 1, 2)`)                                                          |
// | E0118 | expected a parameter type (`int float bool string block encoder projection connector`)                           |
// | E0119 | a closing bracket with nothing open to close (a stray `}`)                                                       |
// | E0199 | internal parser error (a bug in vlmc: please report it)                                                          |
import type { IRecognitionException, IToken, TokenType } from "chevrotain";
import { hasErrors, type Diagnostic } from "../compiler/diagnostics.js";
import { didYouMean } from "../compiler/suggest.js";
import type { Expr, SourceFile, Span } from "./ast.js";
import { cstToAst, expressionCstToAst, truncate, type CstToAstOptions } from "./cst-to-ast.js";
import { vlmParser, type ErrorPayload } from "./parser.js";
import * as T from "./tokens.js";

/** Brackets nested deeper than this are refused before parsing: the parser is recursive. */
export const MAX_NESTING = 256;

export interface ParseResult {
  /** null only when the text could not be tokenized into anything useful (binary, too deep). */
  ast: SourceFile | null;
  diagnostics: Diagnostic[];
}

/** What the formatter needs besides the AST: the tokens, to find brackets the AST does not keep. */
export interface DetailedParseResult extends ParseResult {
  tokens: IToken[];
}

export function parse(text: string, file: string): ParseResult {
  const { ast, diagnostics } = parseDetailed(text, file);
  return { ast, diagnostics };
}

export function parseDetailed(text: string, file: string): DetailedParseResult {
  return guarded(file, (): DetailedParseResult => {
    const front = tokenize(text, file);
    if (!front.ok) return { ast: null, tokens: front.tokens, diagnostics: front.diagnostics };
    const parser = vlmParser();
    parser.input = front.tokens;
    parser.clearAliasState();
    const cst = withStackGuard(file, front, () => parser.file());
    if (!cst) return { ast: null, tokens: front.tokens, diagnostics: front.diagnostics };
    front.reportParseErrors(parser.errors);
    const ast = cstToAst(cst, front.converterOptions);
    return { ast, tokens: front.tokens, diagnostics: sortDiagnostics(front.diagnostics) };
  }, (diagnostics) => ({ ast: null, tokens: [], diagnostics }));
}

export interface ExpressionParseResult {
  /** null when the text is not one expression (see diagnostics). */
  expr: Expr | null;
  diagnostics: Diagnostic[];
}

/**
 * Parses `text` as a single expression, such as a `--set` value (`MlpProjector(hidden = 128)`).
 * Spans are positions in `text` itself (line 1, col 1 is its first character).
 */
export function parseExpression(text: string, file: string): ExpressionParseResult {
  return guarded(file, (): ExpressionParseResult => {
    const front = tokenize(text, file);
    if (!front.ok) return { expr: null, diagnostics: front.diagnostics };
    if (front.tokens.length === 0) {
      const diagnostics = [...front.diagnostics, { code: "E0111", severity: "error" as const, message: "expected an expression, found nothing", span: point(file, 1, 1) }];
      return { expr: null, diagnostics };
    }
    const parser = vlmParser();
    parser.input = front.tokens;
    parser.clearAliasState();
    const cst = withStackGuard(file, front, () => parser.expression());
    if (!cst) return { expr: null, diagnostics: front.diagnostics };
    front.reportParseErrors(parser.errors);
    const expr = expressionCstToAst(cst, front.converterOptions);
    return { expr: hasErrors(front.diagnostics) ? null : expr, diagnostics: sortDiagnostics(front.diagnostics) };
  }, (diagnostics) => ({ expr: null, diagnostics }));
}

/** Runs a parse, turning any exception into a diagnostic given to `failed`: parse never throws. */
function guarded<R>(file: string, run: () => R, failed: (diagnostics: Diagnostic[]) => R): R {
  try {
    return run();
  } catch (err) {
    // The depth check should make this unreachable; a stack overflow here is still not the user's fault.
    const overflow = err instanceof RangeError;
    const message = overflow ? "nesting too deep for the parser" : `internal parser error: ${String(err)}`;
    return failed([{ code: overflow ? "E0105" : "E0199", severity: "error", message, span: point(file, 1, 1) }]);
  }
}

/**
 * Runs the parser, turning a stack overflow into E0105 at the deepest bracket. MAX_NESTING is
 * chosen so this does not happen, but how much stack there is depends on the caller.
 */
function withStackGuard<C>(file: string, front: Front, run: () => C): C | null {
  try {
    return run();
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    const { deepest } = bracketNesting(front.tokens);
    front.diagnostics.push({
      code: "E0105",
      severity: "error",
      message: "nesting too deep: the parser ran out of stack in these brackets",
      span: deepest ? tokenSpan(file, deepest) : point(file, 1, 1),
      hint: "split the expression into several bindings",
    });
    return null;
  }
}

/** The front half shared by the entry points: checks, lexing, and the diagnostics so far. */
interface Front {
  /** false when parsing must not even start (binary input, nesting too deep). */
  ok: boolean;
  tokens: IToken[];
  diagnostics: Diagnostic[];
  converterOptions: CstToAstOptions;
  reportParseErrors(errors: IRecognitionException[]): void;
}

function tokenize(text: string, file: string): Front {
  const diagnostics: Diagnostic[] = [];
  const report = (d: Diagnostic) => diagnostics.push(d);
  const unterminated = new Set<IToken>();
  const front = (ok: boolean, tokens: IToken[], comments: IToken[]): Front => ({
    ok,
    tokens,
    diagnostics,
    converterOptions: { file, text, comments, unterminated, report },
    reportParseErrors(errors) {
      // After a first error, recovery often trips again a token or two later on the same line
      // (`y = = x` fails at the second '=' and then at 'x'). Those follow-ups only repeat the
      // first error, so each line reports at most one syntax error, and none where a bad
      // character was already reported (the parser never saw that character).
      const linesWithErrors = new Set(diagnostics.map((d) => d.span?.line));
      for (const err of errors) {
        const d = describeParseError(err, tokens, text, file);
        if (linesWithErrors.has(d.span?.line)) continue;
        linesWithErrors.add(d.span?.line);
        report(d);
      }
    },
  });

  const binary = findBinary(text);
  if (binary >= 0) {
    const { line, col } = position(text, binary);
    const what = text[binary] === "\0" ? "a NUL byte" : "bytes that are not valid UTF-8";
    report({ code: "E0100", severity: "error", message: `binary file: ${what} at ${line}:${col}; a .vlm spec is UTF-8 text`, span: point(file, line, col) });
    return front(false, [], []);
  }

  const lexed = T.vlmLexer.tokenize(text);
  for (const e of lexed.errors) {
    const chars = text.slice(e.offset, e.offset + e.length);
    const shown = JSON.stringify(truncate(chars, 20)).slice(1, -1).replace(/'/g, "\\'");
    report({
      code: "E0101",
      severity: "error",
      message: `unexpected ${e.length === 1 ? "character" : "characters"} '${shown}'`,
      span: { file, line: e.line ?? 1, col: e.column ?? 1, endLine: e.line ?? 1, endCol: (e.column ?? 1) + Math.max(0, (e.length ?? 1) - 1) },
    });
  }

  // Malformed numbers and unterminated strings are reported once here and then parsed as the
  // token they were meant to be, so they do not cascade into "expected an expression".
  const tokens = lexed.tokens.map((tok) => {
    if (tok.tokenType === T.MalformedNumber) {
      report({ code: "E0104", severity: "error", message: `malformed number '${truncate(tok.image)}'`, span: tokenSpan(file, tok), hint: "numbers are written 4, 4.0, 1e-5 or 2.5e3" });
      return retype(tok, T.NumberLiteral);
    }
    if (tok.tokenType === T.UnterminatedString) {
      report({ code: "E0106", severity: "error", message: "unterminated string: no closing '\"' before the end of the line", span: tokenSpan(file, tok) });
      const fixed = retype(tok, T.StringLiteral);
      unterminated.add(fixed);
      return fixed;
    }
    return tok;
  });

  const { tooDeep } = bracketNesting(tokens);
  if (tooDeep) {
    report({ code: "E0105", severity: "error", message: `nesting too deep (limit ${MAX_NESTING}): more than ${MAX_NESTING} brackets inside one another`, span: tokenSpan(file, tooDeep) });
    return front(false, tokens, []);
  }
  return front(true, tokens, lexed.groups.comments ?? []);
}

// ---- error messages ------------------------------------------------------------------------------

const CLOSERS: Record<string, string> = { RParen: "LParen", RBracket: "LBracket", RCurly: "LCurly" };
const OPENERS = new Set(Object.values(CLOSERS));

/**
 * What the bracket opened by each rule encloses ("to close the argument list opened at 3:14"),
 * and what goes between its brackets ("expected a parameter or ')'").
 */
const ENCLOSED: Record<string, { what: string; item?: string }> = {
  argList: { what: "the argument list", item: "an argument" },
  paramList: { what: "the parameter list", item: "a parameter" },
  shape: { what: "the shape", item: "a dimension" },
  body: { what: "the body", item: "a statement" },
  trainStmt: { what: "the train block", item: "a setting (name = value)" },
};

/** The same for the brackets of an operand, which the parser keeps inline: `(x)`, `f(x)`, `[x]`. */
function enclosed(rule: string, closer: string, opener: IToken | undefined, tokens: IToken[]): { what: string; item?: string } {
  if (rule !== "operand") return ENCLOSED[rule] ?? { what: "the bracket" };
  if (closer === "RBracket") return { what: "the list", item: "an item" };
  // A '(' right after an operand opens a call's arguments; anywhere else it groups.
  const before = opener ? tokens[indexOf(tokens, opener) - 1] : undefined;
  return endsOperand(before?.tokenType) ? ENCLOSED.argList : { what: "the parenthesis" };
}

/** "expected X" for a mismatched token, by rule and expected token, where a bare token name is unclear. */
const EXPECTED_IN_RULE: Record<string, string> = {
  "blockDecl:Name": "a name for the declaration",
  "blockDecl:Kw_extends": "'(' and the parameters or 'extends'",
  "blockDecl:LParen": "'(' to start the parameter list",
  "param:Name": "a parameter name",
  "param:Colon": "':' and a type after the parameter name",
  "inputDecl:Name": "the input's name after 'in'",
  "inputDecl:Colon": "':' and a shape after the input's name",
  "inputDecl:LBracket": "a shape such as [B, N, dim]",
  "outputStmt:LBracket": "a shape such as [B, dim]",
  "shape:LBracket": "a shape such as [B, N, dim]",
  "importDecl:StringLiteral": "a quoted path after 'import', as in import \"std/layers.vlm\"",
  "assignStmt:Equals": "'=' after the name",
  "trainEntry:Equals": "'=' after the train setting's name",
  "trainEntry:Name": "a train setting (name = value)",
  "trainStmt:LCurly": "'{' after 'train'",
  "body:LCurly": "'{' to start the body",
  "repeatStmt:Name": "a name after 'as'",
  "memberOp:Name": "a member name after '.'",
  "aliasOp:Name": "a module name after 'as'",
  "argument:Equals": "'='",
  "argList:LParen": "'(' and the overridden parameters after the base block's name",
  "file:EOF": "a declaration",
};

function describeParseError(err: IRecognitionException, tokens: IToken[], text: string, file: string): Diagnostic {
  const payload = decodePayload(err.message);
  const found = err.token;
  const atEof = found.tokenType.name === "EOF" || !Number.isFinite(found.startOffset);
  const span = atEof ? endOfText(file, text) : tokenSpan(file, found);
  const foundText = describeToken(found);
  const error = (code: string, message: string, hint?: string): Diagnostic => ({ code, severity: "error", message, span, ...(hint ? { hint } : {}) });

  const declarationExpected = () =>
    error(
      "E0113",
      `expected a declaration (import, block, encoder, projection, connector or model), found ${foundText}`,
      found.tokenType === T.Identifier ? didYouMean(found.image, ["import", "block", "encoder", "projection", "connector", "model"]) : undefined,
    );

  if (!payload) return error("E0199", `internal parser error: ${err.message}`);
  const { kind, rule, expected } = payload;

  const index = atEof ? tokens.length : indexOf(tokens, found);
  const previous = tokens[index - 1];
  const next = tokens[index + 1];
  const keyword = keywordHint(found);

  // `loss` and `train` are names too, so `loss }` fails as a statement as a whole: say what was
  // missing after the keyword, at the token after it.
  if ((found.tokenType === T.Loss || found.tokenType === T.Train) && (rule === "statement" || rule === "body")) {
    const isLoss = found.tokenType === T.Loss;
    const want = isLoss ? "an expression after 'loss'" : "'{' after 'train'";
    const at = next ? tokenSpan(file, next) : endOfText(file, text);
    return { code: isLoss ? "E0111" : "E0110", severity: "error", message: `expected ${want}, found ${next ? describeToken(next) : "end of file"}`, span: at };
  }

  const strayCloser = () => error("E0119", `unexpected ${foundText}: there is no open '${T.tokenLabels[CLOSERS[found.tokenType.name]].slice(1, -1)}' to close`);

  if (kind === "mismatch" && CLOSERS[expected[0]]) {
    // A different closing bracket with nothing open for it is simply one too many.
    if (CLOSERS[found.tokenType.name] && found.tokenType.name !== expected[0] && !findOpener(tokens, index, CLOSERS[found.tokenType.name])) {
      return strayCloser();
    }
    const closer = T.tokenLabels[expected[0]];
    const opener = findOpener(tokens, index, CLOSERS[expected[0]]);
    const { what, item } = enclosed(rule, expected[0], opener, tokens);
    const where = opener ? ` opened at ${opener.startLine}:${opener.startColumn}` : "";
    // Right after the opening bracket or a comma the user was starting an item, not closing.
    const startingItem = item && previous && (previous.tokenType === T.Comma || OPENERS.has(previous.tokenType.name));
    const expectedText = startingItem ? `${item} or ${closer}` : closer;
    return error("E0102", `expected ${expectedText} to close ${what}${where}, found ${foundText}`, startingItem ? keyword : undefined);
  }
  const leftover = kind === "notAllInput" || (kind === "mismatch" && expected[0] === "EOF");
  if (leftover && rule === "expression") {
    return error("E0110", `expected the end of the expression, found ${foundText}`);
  }
  if (leftover) {
    if (CLOSERS[found.tokenType.name]) return strayCloser();
    return declarationExpected();
  }
  if (kind === "mismatch") {
    let label = EXPECTED_IN_RULE[`${rule}:${expected[0]}`] ?? T.tokenLabels[expected[0]] ?? expected[0];
    if (rule === "blockDecl" && previous?.tokenType === T.Extends) label = "the name of the block to extend after 'extends'";
    const hint = keyword ?? (rule === "argList" && expected[0] === "LParen" ? `write '${previous?.image ?? "Base"}()' when no parameter is overridden` : undefined);
    return error("E0110", `expected ${label}, found ${foundText}`, hint);
  }
  // noViableAlt / earlyExit: none of the alternatives of a rule starts with the found token.
  switch (rule) {
    case "operand":
    case "expression":
      return error("E0111", `expected an expression, found ${foundText}`);
    case "statement": {
      let hint: string | undefined;
      if (found.tokenType === T.Identifier && next?.tokenType === T.LParen) {
        hint = `a call on its own does nothing: bind it (y = ${found.image}(...)) or output it (out ${found.image}(...))`;
      } else if (found.tokenType === T.Identifier) {
        hint = `to bind a value write '${found.image} = ...'`;
      }
      return error("E0112", `expected a statement (in, out, name = value, repeat, loss or train), found ${foundText}`, hint);
    }
    case "file":
      return declarationExpected();
    case "typeName":
      return error(
        "E0118",
        `expected a parameter type (int, float, bool, string, block, encoder, projection or connector), found ${foundText}`,
        found.tokenType === T.Model
          ? "a model cannot be a parameter; use block, encoder, projection or connector"
          : didYouMean(found.image, ["int", "float", "bool", "string", "block", "encoder", "projection", "connector"]),
      );
    case "dtypeName":
      return error("E0116", `expected 'int' or 'float', found ${foundText}`);
    case "blockDecl":
      return error("E0110", `expected '(' and the parameter list, or 'extends', after the declaration's name, found ${foundText}`);
    case "outputStmt":
      return error("E0111", `expected a value after 'out' (out expr, out name = expr or out name: [shape]), found ${foundText}`);
    default: {
      const labels = expected.map((n) => T.tokenLabels[n] ?? n);
      return error("E0110", `expected ${labels.length > 1 ? "one of " + labels.join(", ") : labels[0] ?? "something else"}, found ${foundText}`);
    }
  }
}

/** A hint when a hard keyword stands where a name was probably meant. */
function keywordHint(tok: IToken): string | undefined {
  const isKeyword = tok.tokenType.name.startsWith("Kw_") && !(tok.tokenType.CATEGORIES ?? []).includes(T.Name);
  return isKeyword ? `'${tok.image}' is a keyword and cannot be used as a name` : undefined;
}

function decodePayload(message: string): ErrorPayload | null {
  try {
    const p = JSON.parse(message) as ErrorPayload;
    return typeof p === "object" && p && typeof p.kind === "string" ? p : null;
  } catch {
    return null;
  }
}

function describeToken(tok: IToken): string {
  if (tok.tokenType.name === "EOF" || !Number.isFinite(tok.startOffset)) return "end of file";
  return `'${truncate(tok.image)}'`;
}

/** The innermost bracket of type `openerType` still open just before token `index`. */
function findOpener(tokens: IToken[], index: number, openerType: string): IToken | undefined {
  const stack: IToken[] = [];
  for (let i = 0; i < index && i < tokens.length; i++) {
    const name = tokens[i].tokenType.name;
    if (OPENERS.has(name)) stack.push(tokens[i]);
    else if (CLOSERS[name]) {
      // Pop to the matching opener, tolerating mismatched brackets in broken input.
      const at = stack.map((t) => t.tokenType.name).lastIndexOf(CLOSERS[name]);
      if (at >= 0) stack.length = at;
    }
  }
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i].tokenType.name === openerType) return stack[i];
  return undefined;
}

function indexOf(tokens: IToken[], tok: IToken): number {
  let lo = 0;
  let hi = tokens.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tokens[mid].startOffset < tok.startOffset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// ---- pre-parse checks ----------------------------------------------------------------------------

/** Index of the first NUL or U+FFFD (what a decoder makes of invalid UTF-8), or -1. */
function findBinary(text: string): number {
  const nul = text.indexOf("\0");
  const bad = text.indexOf("\ufffd");
  if (nul < 0) return bad;
  if (bad < 0) return nul;
  return Math.min(nul, bad);
}

/** Where bracket nesting first passes MAX_NESTING (if it does), and where it is deepest. */
function bracketNesting(tokens: IToken[]): { tooDeep?: IToken; deepest?: IToken } {
  let depth = 0;
  let max = 0;
  let deepest: IToken | undefined;
  for (const tok of tokens) {
    const type = tok.tokenType;
    if (type === T.LParen || type === T.LBracket || type === T.LCurly) {
      depth++;
      if (depth > MAX_NESTING) return { tooDeep: tok, deepest: tok };
      if (depth > max) {
        max = depth;
        deepest = tok;
      }
    } else if (type === T.RParen || type === T.RBracket || type === T.RCurly) {
      depth = Math.max(0, depth - 1);
    }
  }
  return { deepest };
}

/** Tokens that end an operand (after them a '-' is binary, not unary). */
const ENDS_OPERAND = new Set<TokenType>([
  T.NumberLiteral, T.StringLiteral, T.RParen, T.RBracket, T.RCurly, T.True, T.False, T.Identifier,
  ...T.allTokens.filter((t) => (t.CATEGORIES ?? []).includes(T.Name)),
]);

function endsOperand(type: TokenType | undefined): boolean {
  return type !== undefined && ENDS_OPERAND.has(type);
}

// ---- positions -----------------------------------------------------------------------------------

function retype(tok: IToken, type: TokenType): IToken {
  return { ...tok, tokenType: type, tokenTypeIdx: type.tokenTypeIdx! };
}

function tokenSpan(file: string, tok: IToken): Span {
  return { file, line: tok.startLine ?? 1, col: tok.startColumn ?? 1, endLine: tok.endLine ?? tok.startLine ?? 1, endCol: tok.endColumn ?? tok.startColumn ?? 1 };
}

function point(file: string, line: number, col: number): Span {
  return { file, line, col, endLine: line, endCol: col };
}

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

/** Where "found end of file" points: just after the last non-blank character. */
function endOfText(file: string, text: string): Span {
  const trimmed = text.replace(/\s+$/, "");
  const { line, col } = position(trimmed + " ", trimmed.length);
  return point(file, line, col);
}

function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return diags
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (a.d.span?.line ?? 0) - (b.d.span?.line ?? 0) || (a.d.span?.col ?? 0) - (b.d.span?.col ?? 0) || a.i - b.i)
    .map(({ d }) => d);
}
