// Command-line overrides: `--set name=value` and dotted `--set vision.depth=2`. The value is parsed
// as a .vlm expression (by the real parser, on a one-line wrapper) and kept with a virtual source
// file so diagnostics can show the text the user typed.
import type { Expr } from "../../grammar/ast.js";
import { parse } from "../../grammar/parse.js";
import type { Diagnostic } from "../diagnostics.js";
import type { Span } from "../ir.js";

export interface SetOverride {
  /** ["vision", "depth"] for `--set vision.depth=2`. */
  path: string[];
  /** The value as parsed; null when it does not parse (a bare word may still be a string). */
  expr: Expr | null;
  /** The text after '=' exactly as typed. */
  rawValue: string;
  /** "--set vision.depth=2", for notes. */
  text: string;
  /** The whole `name=value` text in its virtual file. */
  span: Span;
  /** The value part. */
  valueSpan: Span;
}

/** The virtual file name that holds the i-th --set text. */
export function overrideFileName(index: number): string {
  return `<--set ${index + 1}>`;
}

const WRAPPER_PREFIX = "block Set__() { v__ = ";
const WRAPPER_SUFFIX = " }";

/** Moves every span in an expression from the wrapper text to the virtual file of the override. */
function relocate(node: unknown, file: string, shift: number): void {
  if (Array.isArray(node)) {
    for (const item of node) relocate(item, file, shift);
    return;
  }
  if (!node || typeof node !== "object") return;
  for (const [key, value] of Object.entries(node)) {
    if (key === "span" && value && typeof value === "object") {
      const span = value as Span;
      span.file = file;
      span.col += shift;
      span.endCol += shift;
    } else {
      relocate(value, file, shift);
    }
  }
}

export function parseOverrides(sets: readonly string[], sources: Map<string, string>): { overrides: SetOverride[]; diagnostics: Diagnostic[] } {
  const overrides: SetOverride[] = [];
  const diagnostics: Diagnostic[] = [];
  sets.forEach((text, index) => {
    const file = overrideFileName(index);
    sources.set(file, text);
    const span: Span = { file, line: 1, col: 1, endLine: 1, endCol: Math.max(1, text.length) };
    const eq = text.indexOf("=");
    const name = eq < 0 ? "" : text.slice(0, eq).trim();
    if (eq < 0 || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(name) || /[\r\n]/.test(text)) {
      diagnostics.push({
        code: "E0503",
        severity: "error",
        message: `--set expects name=value (a parameter name, '=', a .vlm expression), found '${text}'`,
        span,
        hint: "for example --set dim=128 or --set connector='MlpProjector(hidden=128)'",
      });
      return;
    }
    const rawValue = text.slice(eq + 1);
    const valueSpan: Span = { file, line: 1, col: eq + 2, endLine: 1, endCol: Math.max(eq + 2, text.length) };
    let expr: Expr | null = null;
    if (rawValue.trim() !== "") {
      const wrapped = parse(WRAPPER_PREFIX + rawValue + WRAPPER_SUFFIX, file);
      const stmt = wrapped.ast?.blocks[0]?.body[0];
      if (wrapped.diagnostics.length === 0 && stmt && stmt.kind === "AssignStmt" && wrapped.ast!.blocks[0]!.body.length === 1) {
        expr = stmt.value;
        relocate(expr, file, eq + 1 - WRAPPER_PREFIX.length);
      }
    }
    overrides.push({ path: name.split("."), expr, rawValue, text: `--set ${text}`, span, valueSpan });
  });
  return { overrides, diagnostics };
}
