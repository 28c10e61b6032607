// Diagnostics: errors are values with a code and a span; the CLI prints them.
//
// Printed form (first line is what tests compare):
//   specs/bad.vlm:12:7: error[E0301]: dense expects a tensor of rank >= 1, found int
//      12 |   x = dense(4, 8)
//         |       ^^^^^^^^^^^
//   note: ... (with its own location and caret when it has a span)
//   hint: ...
import type { Span } from "./ir.js";

export type Severity = "error" | "warning";

export interface DiagnosticNote {
  message: string;
  span?: Span;
}

export interface Diagnostic {
  /** Stable code, documented in docs/language.md ("E0101"...; warnings "W..."). */
  code: string;
  severity: Severity;
  message: string;
  span?: Span;
  /** Related locations: "set here: --set dim=100", "overridden here", "declared here". */
  notes?: DiagnosticNote[];
  hint?: string;
}

/** Source texts by file name, so the printer can show the offending line. */
export type SourceMap = ReadonlyMap<string, string>;

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === "error");
}

function location(span: Span | undefined): string {
  return span ? `${span.file}:${span.line}:${span.col}` : "vlmc";
}

/** The source line of `span` with a caret run under it (clipped to that line). */
export function renderSpan(span: Span, sources: SourceMap): string {
  const text = sources.get(span.file);
  if (text === undefined) return "";
  const lines = text.split(/\r?\n/);
  const line = lines[span.line - 1];
  if (line === undefined) return "";
  const gutter = String(span.line).length;
  const lastCol = span.endLine === span.line ? Math.max(span.endCol, span.col) : Math.max(line.length, span.col);
  // Tabs keep their width so the caret lines up with the text above it.
  const pad = line.slice(0, span.col - 1).replace(/[^\t]/g, " ");
  const carets = "^".repeat(Math.max(1, lastCol - span.col + 1));
  const shown = line.length > 200 ? line.slice(0, 200) + " …" : line;
  return `${" ".repeat(gutter)} |\n${span.line} | ${shown}\n${" ".repeat(gutter)} | ${pad}${carets}`;
}

export function formatDiagnostic(d: Diagnostic, sources: SourceMap): string {
  const out: string[] = [`${location(d.span)}: ${d.severity}[${d.code}]: ${d.message}`];
  if (d.span) {
    const snippet = renderSpan(d.span, sources);
    if (snippet) out.push(snippet);
  }
  for (const note of d.notes ?? []) {
    out.push(note.span ? `${location(note.span)}: note: ${note.message}` : `note: ${note.message}`);
    if (note.span) {
      const snippet = renderSpan(note.span, sources);
      if (snippet) out.push(snippet);
    }
  }
  if (d.hint) out.push(`hint: ${d.hint}`);
  return out.join("\n");
}

export function formatDiagnostics(diags: readonly Diagnostic[], sources: SourceMap): string {
  return diags.map((d) => formatDiagnostic(d, sources)).join("\n\n");
}
