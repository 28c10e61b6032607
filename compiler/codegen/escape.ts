// The only ways user text (names, file paths, module paths) may enter generated code. Every
// string literal goes through `jsString`, every comment through `commentText`, and every
// identifier in the generated code is made by `valueName` (never derived from user text), so a
// spec cannot inject code whatever its names contain.

/**
 * A TypeScript string literal equal to `value`. JSON escaping covers quotes, backslashes and
 * control characters; on top of that every non-ASCII character is written as `\uXXXX`, which
 * keeps the generated file pure ASCII and escapes U+2028/U+2029 (line terminators that
 * JSON.stringify leaves raw). Backticks and `${` are harmless inside a double-quoted literal.
 */
export function jsString(value: string): string {
  return asciiOnly(JSON.stringify(value));
}

/**
 * Text that is safe inside a `//` line comment and inside a block comment: no line terminator
 * can end the comment early and `*\/` cannot close a block comment. The result reads like the
 * input for ordinary names and paths.
 */
export function commentText(value: string): string {
  // JSON escaping turns \n, \r, \t and other control characters into visible escapes.
  const escaped = asciiOnly(JSON.stringify(value).slice(1, -1));
  return escaped.replace(/\*\//g, "*\\/");
}

/** A finite number as a TypeScript literal; NaN and infinities have no safe literal form. */
export function numberLiteral(value: number, what: string): string {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new CodegenError(`${what} must be a finite number, found ${String(value)}`);
  }
  // -0 prints as "0" through String(); keep the sign so the value round-trips.
  return Object.is(value, -0) ? "-0" : String(value);
}

/** The generated name of the value a node computes: `v` + its index ("n12" → "v12"). */
export function valueName(index: number): string {
  return `v${index}`;
}

/** True when `name` can be written as `obj.name` in TypeScript without quoting. */
export function isPlainIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED.has(name);
}

/** `obj.name` when the name is a plain identifier, else `obj["name"]` (escaped). */
export function propertyAccess(object: string, name: string): string {
  return isPlainIdentifier(name) ? `${object}.${name}` : `${object}[${jsString(name)}]`;
}

/** A property key for an interface or type literal: bare when plain, else a string literal. */
export function propertyKey(name: string): string {
  return isPlainIdentifier(name) ? name : jsString(name);
}

/**
 * A property key for an object literal. Non-plain names are computed keys (`["a.b"]`): a quoted
 * `"__proto__": v` in an object literal would set the prototype instead of a property.
 */
export function objectKey(name: string): string {
  return isPlainIdentifier(name) ? name : `[${jsString(name)}]`;
}

/** Malformed IR handed to the code generator (a compiler bug or a hand-written IR file). */
export class CodegenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CodegenError";
  }
}

function asciiOnly(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// Words that are legal property names but that we quote anyway, so readers never trip on them.
const RESERVED = new Set([
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else",
  "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof",
  "new", "null", "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void",
  "while", "with", "yield", "let", "static", "implements", "interface", "package", "private", "protected",
  "public", "await", "__proto__", "constructor", "prototype",
]);
