// The lexer of .vlm: every token of the language, in the order the lexer tries them.
//
// Order matters because chevrotain takes the first pattern that matches (not the longest):
// two-character operators come before their one-character prefixes, keywords use `longer_alt`
// so `inputs` lexes as an identifier rather than `in` + `puts`.
//
// Some keywords are *soft*: they also belong to the `Name` category, so they can be used
// where a name is expected. A parameter named `connector` of type `connector` is the idiomatic
// way to make a connector swappable, and `out loss = ...` / `r.loss` are natural in models.
// The hard keywords (statement starters, `as`, `extends`, literals, scalar types) never are names.
import { createToken, Lexer, type TokenType } from "chevrotain";

/** Anything usable as a name: identifiers and the soft keywords. Never produced by the lexer itself. */
export const Name = createToken({ name: "Name", pattern: Lexer.NA });

export const Identifier = createToken({
  name: "Identifier",
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
  categories: [Name],
});

function keyword(word: string, soft = false): TokenType {
  return createToken({
    name: `Kw_${word}`,
    pattern: word,
    longer_alt: Identifier,
    categories: soft ? [Name] : [],
  });
}

// Declarations (soft: usable as names in expressions and parameter names).
export const Block = keyword("block", true);
export const Encoder = keyword("encoder", true);
export const Projection = keyword("projection", true);
export const Connector = keyword("connector", true);
export const Model = keyword("model", true);
export const Import = keyword("import");
export const Extends = keyword("extends");
// Statements.
export const In = keyword("in");
export const Out = keyword("out");
export const Repeat = keyword("repeat");
export const As = keyword("as");
export const Loss = keyword("loss", true);
export const Train = keyword("train", true);
// A prefix on a call or block value: the parameters of that call are not trained.
export const Frozen = keyword("frozen");
// Literals and scalar types.
export const True = keyword("true");
export const False = keyword("false");
export const Int = keyword("int");
export const Float = keyword("float");
export const Bool = keyword("bool");
export const String = keyword("string");

// A number immediately followed by a letter or digit it cannot own (`1e`, `3x`, `4.`) is one
// malformed token rather than a number and a name, so the error says what is wrong with it.
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![A-Za-z0-9_]|\.(?!\d))/,
});
export const MalformedNumber = createToken({
  name: "MalformedNumber",
  pattern: /\d+(?:\.\d*)?(?:[eE][+-]?\d*)?[A-Za-z0-9_]*/,
});

// Escapes are validated after lexing (grammar/parse.ts) so a bad escape is one clear error.
export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/,
});
/** A string that reaches the end of its line without a closing quote. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/,
});

/** Every binary operator, so the parser matches them as one token type (one check, not twelve). */
export const BinaryOperator = createToken({ name: "BinaryOperator", pattern: Lexer.NA });
const binary = { categories: [BinaryOperator] };

export const EqEq = createToken({ name: "EqEq", pattern: "==", ...binary });
export const NotEq = createToken({ name: "NotEq", pattern: "!=", ...binary });
export const LessEq = createToken({ name: "LessEq", pattern: "<=", ...binary });
export const GreaterEq = createToken({ name: "GreaterEq", pattern: ">=", ...binary });
export const Less = createToken({ name: "Less", pattern: "<", ...binary });
export const Greater = createToken({ name: "Greater", pattern: ">", ...binary });
export const Plus = createToken({ name: "Plus", pattern: "+", ...binary });
export const Minus = createToken({ name: "Minus", pattern: "-", ...binary });
export const Star = createToken({ name: "Star", pattern: "*", ...binary });
export const SlashSlash = createToken({ name: "SlashSlash", pattern: "//", ...binary });
export const Slash = createToken({ name: "Slash", pattern: "/", ...binary });
export const Percent = createToken({ name: "Percent", pattern: "%", ...binary });
export const Equals = createToken({ name: "Equals", pattern: "=" });
export const Colon = createToken({ name: "Colon", pattern: ":" });
export const Dot = createToken({ name: "Dot", pattern: "." });
export const Comma = createToken({ name: "Comma", pattern: "," });
export const Semicolon = createToken({ name: "Semicolon", pattern: ";" });
export const LParen = createToken({ name: "LParen", pattern: "(" });
export const RParen = createToken({ name: "RParen", pattern: ")" });
export const LBracket = createToken({ name: "LBracket", pattern: "[" });
export const RBracket = createToken({ name: "RBracket", pattern: "]" });
export const LCurly = createToken({ name: "LCurly", pattern: "{" });
export const RCurly = createToken({ name: "RCurly", pattern: "}" });

/** `#` to end of line; kept in its own group so the formatter can put comments back. */
export const Comment = createToken({ name: "Comment", pattern: /#[^\r\n]*/, group: "comments" });
export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\u00a0\ufeff]+/, group: Lexer.SKIPPED, line_breaks: true });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Block, Encoder, Projection, Connector, Model, Import, Extends,
  // `int` before `in`: a keyword that is a prefix of another must come after it.
  True, False, Int, Float, Bool, String,
  In, Out, Repeat, As, Loss, Train, Frozen,
  Identifier,
  Name,
  BinaryOperator,
  NumberLiteral, MalformedNumber,
  StringLiteral, UnterminatedString,
  EqEq, NotEq, LessEq, GreaterEq, Less, Greater,
  Plus, Minus, Star, SlashSlash, Slash, Percent,
  Equals, Colon, Dot, Comma, Semicolon,
  LParen, RParen, LBracket, RBracket, LCurly, RCurly,
];

/** How each token is named in "expected X" messages. */
export const tokenLabels: Record<string, string> = {
  Name: "a name",
  BinaryOperator: "an operator",
  Identifier: "a name",
  NumberLiteral: "a number",
  StringLiteral: "a string",
  EqEq: "'=='", NotEq: "'!='", LessEq: "'<='", GreaterEq: "'>='", Less: "'<'", Greater: "'>'",
  Plus: "'+'", Minus: "'-'", Star: "'*'", SlashSlash: "'//'", Slash: "'/'", Percent: "'%'",
  Equals: "'='", Colon: "':'", Dot: "'.'", Comma: "','", Semicolon: "';'",
  LParen: "'('", RParen: "')'", LBracket: "'['", RBracket: "']'", LCurly: "'{'", RCurly: "'}'",
};
for (const t of allTokens) {
  if (t.name.startsWith("Kw_")) tokenLabels[t.name] = `'${t.name.slice(3)}'`;
}

export function tokenLabel(type: TokenType): string {
  return tokenLabels[type.name] ?? type.name;
}

// positionTracking "full" gives 1-based start/end lines and columns (end inclusive), which
// become spans directly. Only '\n' ends a line (a '\r' before it is ordinary whitespace), as in
// the diagnostic printer and the formatter, so a lone '\r' cannot make them disagree on lines.
export const vlmLexer = new Lexer(allTokens, {
  positionTracking: "full",
  lineTerminatorsPattern: /\n/g,
  lineTerminatorCharacters: ["\n"],
  ensureOptimizations: false,
});
