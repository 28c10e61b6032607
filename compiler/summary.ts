// A model summary from the IR: what `vlmc inspect` prints (table or JSON), and the human units
// (1.2 M, 3.4 MFLOPs) other commands reuse.
import { formatShape } from "./elaborate/shapes.js";
import type { IRProgram, Shape } from "./ir.js";

export interface ModelSummary {
  model: string;
  params: number;
  /** Parameters the trainer updates; the rest (`frozen`) keep their initial or loaded values. */
  trainableParams: number;
  frozenParams: number;
  flops: number;
  inputs: { name: string; shape: Shape; dtype: string }[];
  outputs: { name: string; shape: Shape; dtype: string }[];
  modules: { path: string; kind: string; params: number; flops: number; shape: Shape }[];
}

/** The `inspect --json` object. Module kind is the block kind, or the op name for a primitive. */
export function summarize(program: IRProgram): ModelSummary {
  return {
    model: program.model,
    params: program.totals.params,
    trainableParams: program.totals.trainableParams,
    frozenParams: program.totals.params - program.totals.trainableParams,
    flops: program.totals.flops,
    inputs: program.inputs.map((v) => ({ name: v.name, shape: v.shape, dtype: v.dtype })),
    outputs: program.outputs.map((v) => ({ name: v.name, shape: v.shape, dtype: v.dtype })),
    modules: program.modules.map((m) => ({ path: m.path, kind: m.kind === "op" ? m.block : m.kind, params: m.params, flops: m.flops, shape: m.shape })),
  };
}

/** 61706 → "61.7 K", 1234567 → "1.2 M". */
export function humanCount(n: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]];
  for (const [size, unit] of units) if (Math.abs(n) >= size) return `${(n / size).toFixed(1)} ${unit}`;
  return String(n);
}

/** 22341592 → "22.3 MFLOPs". */
export function humanFlops(n: number): string {
  const text = humanCount(n);
  return /[A-Z]$/.test(text) ? `${text}FLOPs` : `${text} FLOPs`;
}

/** The inspect table: one row per module, the path indented by its depth, then totals. */
export function formatSummaryTable(program: IRProgram): string {
  const header = ["module", "kind", "output shape", "params", "FLOPs"];
  const paths = new Set(program.modules.map((m) => m.path));
  const frozen = frozenByModule(program);
  const rows = program.modules.map((m) => {
    // Depth = number of enclosing modules ("vision.layers.0.block" sits under "vision" only).
    const segments = m.path === "" ? [] : m.path.split(".");
    const depth = m.path === "" ? 0 : 1 + segments.slice(0, -1).filter((_, i) => paths.has(segments.slice(0, i + 1).join("."))).length;
    const name = m.path === "" ? program.model : m.path;
    const kind = (m.kind === "op" ? m.block : m.kind === "model" ? "model" : `${m.kind} ${m.block}`) + frozenNote(frozen.get(m.path) ?? 0, m.params);
    return ["  ".repeat(depth) + name, kind, formatShape(m.shape), humanCount(m.params), humanCount(m.flops)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const inputs = program.inputs.map((v) => `${v.name} ${formatShape(v.shape)}${v.dtype === "int32" ? " int" : ""}`).join(", ");
  const outputs = program.outputs.map((v) => `${v.name} ${formatShape(v.shape)}`).join(", ");
  const t = program.totals;
  return [
    `model ${program.model} (${program.source.file})`,
    `inputs: ${inputs}`,
    `outputs: ${outputs}${program.loss ? ", loss []" : ""}`,
    "",
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
    "",
    `total: ${t.params.toLocaleString("en-US")} parameters (${humanCount(t.params)}; ${t.trainableParams.toLocaleString("en-US")} trainable, ${(t.params - t.trainableParams).toLocaleString("en-US")} frozen), ${humanFlops(t.flops)} per example (forward)`,
  ].join("\n");
}

/** Frozen parameter elements under each module path (a parameter counts for every enclosing module). */
function frozenByModule(program: IRProgram): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of program.params) {
    if (p.trainable) continue;
    const size = p.shape.reduce((a, b) => a * b, 1);
    const parts = p.name.split(".");
    for (let i = 0; i < parts.length; i++) {
      const path = parts.slice(0, i).join(".");
      counts.set(path, (counts.get(path) ?? 0) + size);
    }
  }
  return counts;
}

/** " (frozen)" when all of a module's parameters are frozen, " (N frozen)" when some are. */
function frozenNote(frozen: number, params: number): string {
  if (frozen === 0) return "";
  return frozen === params ? " (frozen)" : ` (${humanCount(frozen)} frozen)`;
}
