// The terminal form of a ProgramDiff: a header naming both sides, a table of the modules that
// changed (all modules with `all`), the argument changes under each module, a totals line with
// deltas and percentages, the visual tokens and the weight-compatibility summary.
import { formatShape } from "../elaborate/shapes.js";
import type { AttrValue } from "../ir.js";
import { humanCount } from "../summary.js";
import type { ArgChange, ModuleDiff, ProgramDiff, VisualTokens } from "./types.js";

/** Name lists (weights) longer than this are cut short unless `all`. */
const LIST_LIMIT = 8;

const STATUS_MARK: Record<ModuleDiff["status"], string> = { added: "+", removed: "-", changed: "~", same: " " };

export function formatDiff(diff: ProgramDiff): string {
  const out = [`A: ${diff.a.label}`, `B: ${diff.b.label}`, ""];
  if (diff.identical) {
    const t = diff.totals.a;
    out.push(`no differences: both compile to the same structure (${humanCount(t.params)} parameters, ${humanCount(t.flops)} FLOPs per example)`);
    return out.join("\n");
  }
  const s = diff.summary;
  const hidden = diff.all || s.same === 0 ? "" : ` (${s.same} unchanged; --all lists them)`;
  out.push(`modules: ${s.added} added, ${s.removed} removed, ${s.changed} changed${hidden}`);
  if (diff.modules.length > 0) out.push("", ...moduleTable(diff));
  if (diff.interface.length > 0) {
    out.push("", "interface:");
    for (const c of diff.interface) {
      const view = (v: typeof c.a) => (v ? `${formatShape(v.shape)}${v.dtype === "int32" ? " int" : ""}` : "(none)");
      out.push(`  ${c.role} ${c.name}: ${view(c.a)} → ${view(c.b)}`);
    }
  }
  if (diff.train.length > 0) {
    out.push("", "train defaults:");
    for (const c of diff.train) out.push(`  ${c.key}: ${c.a ?? "(unset)"} → ${c.b ?? "(unset)"}`);
  }
  out.push("", totalsLine(diff), visualTokensLine(diff.visualTokens.a, diff.visualTokens.b), "", ...weightLines(diff));
  return out.join("\n");
}

function totalsLine(diff: ProgramDiff): string {
  const { a, b, delta, percent } = diff.totals;
  const part = (name: string, va: number, vb: number, d: number, pct: number | null) =>
    `${name} ${va.toLocaleString("en-US")} → ${vb.toLocaleString("en-US")} (${signed(d, (n) => n.toLocaleString("en-US"))}${pct === null ? "" : `, ${pct > 0 ? "+" : ""}${pct}%`})`;
  return `total: ${part("params", a.params, b.params, delta.params, percent.params)}; ${part("FLOPs", a.flops, b.flops, delta.flops, percent.flops)} per example`;
}

function visualTokensLine(a: VisualTokens, b: VisualTokens): string {
  const n = (v: VisualTokens) => (v.tokens === null ? "n/a" : String(v.tokens));
  if (a.tokens === b.tokens && a.note === b.note) return `visual tokens to the connector: ${n(a)} (${a.note})`;
  return `visual tokens to the connector: ${n(a)} → ${n(b)}\n  A: ${a.note}\n  B: ${b.note}`;
}

function weightLines(diff: ProgramDiff): string[] {
  const w = diff.weights;
  const out = [
    `weights: ${w.loadable.length} of A's ${w.tensorsA} tensors load into B (same name and shape); ` +
      `${humanCount(w.loadableValues)} of B's ${humanCount(w.valuesB)} values come from A`,
  ];
  const list = (title: string, items: string[]) => {
    if (items.length === 0) return;
    const shown = diff.all ? items : items.slice(0, LIST_LIMIT);
    const more = items.length - shown.length;
    out.push(`  ${title} (${items.length}): ${shown.join(", ")}${more > 0 ? `, … ${more} more (--all lists them)` : ""}`);
  };
  list("reshaped", w.reshaped.map((r) => `${r.name} ${formatShape(r.a)} → ${formatShape(r.b)}`));
  list("missing in B (removed or renamed)", w.missingInB);
  list("new in B (initialised fresh)", w.newInB);
  return out;
}

/**
 * One row per listed module. Without `all`, an added (removed) module inside another added
 * (removed) module is folded into its parent's row as "+N inside", so a swapped block reads as one line.
 */
function moduleTable(diff: ProgramDiff): string[] {
  const folded = diff.all ? new Map<string, number>() : foldNested(diff.modules);
  const rows: string[][] = [];
  const notes = new Map<number, string[]>();
  for (const m of diff.modules) {
    if (folded.get(m.path) === -1) continue;
    const inside = folded.get(m.path) ?? 0;
    let name = m.path === "" ? "(model)" : m.path;
    if (inside > 0) name += ` (+${inside} inside)`;
    const blockA = m.a && describeBlock(m.a.kind, m.a.block);
    const blockB = m.b && describeBlock(m.b.kind, m.b.block);
    const shapeA = m.a && formatShape(m.a.shape);
    const shapeB = m.b && formatShape(m.b.shape);
    rows.push([
      STATUS_MARK[m.status],
      name,
      transition(blockA, blockB),
      transition(shapeA, shapeB),
      countTransition(m.a?.params ?? null, m.b?.params ?? null, m.delta.params),
      countTransition(m.a?.flops ?? null, m.b?.flops ?? null, m.delta.flops),
    ]);
    const lines = m.args.map(formatArgChange);
    if (m.renamedFrom) lines.push(`possibly renamed from ${m.renamedFrom} (same block, arguments and parameter shapes)`);
    if (m.renamedTo) lines.push(`possibly renamed to ${m.renamedTo}`);
    if (lines.length > 0) notes.set(rows.length - 1, lines);
  }
  const header = ["", "module", "block", "output shape", "params", "FLOPs"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  // The status column's rule stays blank so that it cannot be read as a "removed" mark.
  const out = [line(header), line(widths.map((w, i) => (i === 0 ? " " : "-").repeat(w)))];
  rows.forEach((r, i) => {
    out.push(line(r));
    for (const note of notes.get(i) ?? []) out.push(`${" ".repeat(widths[0]! + 2)}    ${note}`);
  });
  return out;
}

/** path → number of folded descendants (≥ 0) for a shown row, or -1 for a row folded into an ancestor. */
function foldNested(modules: ModuleDiff[]): Map<string, number> {
  const status = new Map(modules.map((m) => [m.path, m.status]));
  const result = new Map<string, number>();
  for (const m of modules) {
    if (m.status !== "added" && m.status !== "removed") continue;
    const segments = m.path.split(".");
    for (let i = 1; i < segments.length; i++) {
      const ancestor = segments.slice(0, i).join(".");
      if (status.get(ancestor) === m.status && result.get(ancestor) !== -1) {
        result.set(m.path, -1);
        result.set(ancestor, (result.get(ancestor) ?? 0) + 1);
        break;
      }
    }
  }
  return result;
}

function describeBlock(kind: string, block: string): string {
  return kind === "op" || kind === "model" ? block : `${kind} ${block}`;
}

function transition(a: string | null, b: string | null): string {
  if (a === null) return b ?? "";
  if (b === null) return a;
  return a === b ? a : `${a} → ${b}`;
}

function countTransition(a: number | null, b: number | null, delta: number): string {
  const fmt = (n: number | null) => (n === null ? "—" : humanCount(n));
  if (a !== null && b !== null && delta === 0) return fmt(a);
  return `${fmt(a)} → ${fmt(b)} (${signed(delta, humanCount)})`;
}

function signed(n: number, fmt: (n: number) => string): string {
  return n > 0 ? `+${fmt(n)}` : n < 0 ? `-${fmt(-n)}` : "±0";
}

function formatArgChange(c: ArgChange): string {
  // Primitive ops (dense, conv2d…) have no argument sources: their values come from the op call.
  const value = (v: AttrValue | null, source: string | null) => (v === null ? "(absent)" : source === null ? formatValue(v) : `${formatValue(v)} [${source}]`);
  return `${c.name}: ${value(c.a, c.sourceA)} → ${value(c.b, c.sourceB)}`;
}

/** Block-call arguments are shown as written ("MlpHead(hidden=128)"); other strings quoted. */
export function formatValue(v: AttrValue): string {
  if (typeof v === "string") return /^[A-Za-z_][\w]*\(.*\)$/s.test(v) ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.join(", ")}]`;
  return String(v);
}
