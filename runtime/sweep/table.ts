// The sweep's results as a terminal table: one column per variant, one row per measure (variants
// are few and metrics many, so this way round fits a terminal).
import { formatSeries, humanCount, trainableCell } from "../report/text.js";
import type { ResultsSummary } from "../report/types.js";

export function formatResultsTable(results: ResultsSummary): string {
  const variants = results.variants;
  const rows: string[][] = [];
  rows.push(["", ...variants.map((v) => v.variant)]);
  rows.push(["runs (seeds)", ...variants.map((v) => (v.seeds.length === 0 ? "none finished" : `${v.seeds.length} (${v.seeds.join(", ")})`))]);
  rows.push(["parameters", ...variants.map((v) => (v.params === null ? "—" : humanCount(v.params)))]);
  rows.push(["trainable", ...variants.map(trainableCell)]);
  rows.push(["FLOPs / example", ...variants.map((v) => (v.flops === null ? "—" : humanCount(v.flops)))]);
  rows.push(["visual tokens", ...variants.map((v) => (v.visualTokens === null ? "—" : String(v.visualTokens)))]);
  for (const name of results.metricNames) rows.push([name, ...variants.map((v) => (v.metrics[name] ? formatSeries(name, v.metrics[name]!) : "—"))]);
  rows.push(["examples/s", ...variants.map((v) => (v.examplesPerSecond ? formatSeries("examples/s", v.examplesPerSecond) : "—"))]);
  rows.push(["ms / step", ...variants.map((v) => (v.msPerStep ? formatSeries("ms/step", v.msPerStep) : "—"))]);
  rows.push(["wall time (s)", ...variants.map((v) => (v.wallSeconds ? formatSeries("wall", v.wallSeconds) : "—"))]);

  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => r[col]!.length)));
  const line = (r: string[]) => r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("   ").trimEnd();
  const out = [line(rows[0]!), widths.map((w) => "-".repeat(w)).join("   "), ...rows.slice(1).map(line)];
  const notes = [...(results.note ? [results.note] : []), "Metrics: mean ± sample standard deviation over seeds."];
  return [...notes, "", ...out].join("\n");
}
