// Control flow for diagnostics during elaboration. A check that fails throws a DiagnosticError;
// the statement that contains it records the diagnostic and poisons the names it would have bound,
// so later uses of them fail quietly (SilentFailure) instead of repeating the same error.
import type { Diagnostic, DiagnosticNote } from "../diagnostics.js";
import type { Span } from "../ir.js";
import type { Value } from "./values.js";

export class DiagnosticError extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}

/** A value could not be computed because of an error already reported. */
export class SilentFailure extends Error {
  constructor() {
    super("already reported");
  }
}

export function fail(code: string, message: string, span: Span | undefined, extra: { notes?: DiagnosticNote[]; hint?: string } = {}): never {
  const diagnostic: Diagnostic = { code, severity: "error", message, span };
  if (extra.notes && extra.notes.length > 0) diagnostic.notes = extra.notes;
  if (extra.hint) diagnostic.hint = extra.hint;
  throw new DiagnosticError(diagnostic);
}

/** "set here: --set heads=5" notes for the values that came from an override. */
export function originNotes(...values: (Value | undefined)[]): DiagnosticNote[] {
  const notes: DiagnosticNote[] = [];
  for (const v of values) {
    if (!v || !("origin" in v) || !v.origin) continue;
    const o = v.origin;
    const message = o.source === "set" ? `set here: ${o.text}` : `overridden here: ${o.text}`;
    if (!notes.some((n) => n.message === message)) notes.push(o.span ? { message, span: o.span } : { message });
  }
  return notes;
}
