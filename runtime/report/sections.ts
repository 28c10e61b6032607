// What the report says, as plain text in sections, tables and lists; the HTML and Markdown writers
// only lay it out. Keeping the content here means both files always say the same thing.
import { formatShape } from "../../compiler/elaborate/shapes.js";
import { formatValue } from "../../compiler/diff/format.js";
import type { ModuleDiff, ProgramDiff, VisualTokens } from "../../compiler/diff/types.js";
import { formatSeries, humanCount, signedCount, signedPercent, trainableCell } from "./text.js";
import type { ReportJson, ResultsSummary } from "./types.js";

export interface TableRow {
  cells: string[];
  /** A CSS class for the row ("added", "removed", "changed"). */
  kind?: string;
  /** Lines shown under the row (argument changes, renames). */
  details?: string[];
}

export interface Table {
  id: string;
  headers: string[];
  /** Columns from this index on are numbers (right-aligned). */
  numericFrom: number;
  rows: TableRow[];
}

export interface ListBlock {
  title: string;
  items: string[];
}

export interface Section {
  id: string;
  title: string;
  paragraphs: string[];
  tables: Table[];
  lists: ListBlock[];
  /** Ids of the charts (ReportJson.charts) shown in this section. */
  charts: string[];
}

export function reportSections(report: ReportJson): Section[] {
  const diff = report.diff;
  // Summary first (overview, cost, results), then the details a reader digs into (modules, weights).
  const sections: Section[] = [overview(diff)];
  const costCharts = report.charts.filter((c) => c.id === "params" || c.id === "flops").map((c) => c.id);
  if (costCharts.length > 0) {
    sections.push({
      id: "cost",
      title: "Cost per top-level module",
      paragraphs: [`${sideLabel("A", diff)} against ${sideLabel("B", diff)}.`],
      tables: [],
      lists: [],
      charts: costCharts,
    });
  }
  sections.push(resultsSection(report.results, report.charts.map((c) => c.id)), modulesSection(diff), weightsSection(diff));
  return sections;
}

function sideLabel(side: "A" | "B", diff: ProgramDiff): string {
  return `${side} (${side === "A" ? diff.a.label : diff.b.label})`;
}

function overview(diff: ProgramDiff): Section {
  const s = diff.summary;
  const verdict = diff.identical
    ? "No differences: both specs compile to the same structure."
    : `${s.added} modules added, ${s.removed} removed, ${s.changed} changed, ${s.same} unchanged.`;
  const t = diff.totals;
  const tokens = (v: VisualTokens) => (v.tokens === null ? "n/a" : String(v.tokens));
  const rows: TableRow[] = [
    { cells: ["parameters", t.a.params.toLocaleString("en-US"), t.b.params.toLocaleString("en-US"), signedCount(t.delta.params), signedPercent(t.percent.params)] },
    {
      cells: [
        "trainable parameters",
        t.a.trainableParams.toLocaleString("en-US"),
        t.b.trainableParams.toLocaleString("en-US"),
        signedCount(t.delta.trainableParams),
        signedPercent(t.a.trainableParams === 0 ? null : Math.round((t.delta.trainableParams / t.a.trainableParams) * 1000) / 10),
      ],
    },
    { cells: ["FLOPs per example (forward)", t.a.flops.toLocaleString("en-US"), t.b.flops.toLocaleString("en-US"), signedCount(t.delta.flops), signedPercent(t.percent.flops)] },
    { cells: ["visual tokens to the connector", tokens(diff.visualTokens.a), tokens(diff.visualTokens.b), "", ""] },
  ];
  const paragraphs = [`A: ${diff.a.label}`, `B: ${diff.b.label}`, verdict, `Visual tokens — A: ${diff.visualTokens.a.note}; B: ${diff.visualTokens.b.note}.`];
  const lists: ListBlock[] = [];
  if (diff.interface.length > 0) {
    const view = (v: { shape: (number | string)[]; dtype: string } | null) => (v ? `${formatShape(v.shape)}${v.dtype === "int32" ? " int" : ""}` : "(none)");
    lists.push({ title: "Inputs and outputs that changed", items: diff.interface.map((c) => `${c.role} ${c.name}: ${view(c.a)} → ${view(c.b)}`) });
  }
  if (diff.train.length > 0) lists.push({ title: "Training defaults that changed", items: diff.train.map((c) => `${c.key}: ${c.a ?? "(unset)"} → ${c.b ?? "(unset)"}`) });
  return {
    id: "overview",
    title: "Overview",
    paragraphs,
    tables: [{ id: "totals", headers: ["", "A", "B", "Δ", "Δ %"], numericFrom: 1, rows }],
    lists,
    charts: [],
  };
}

function modulesSection(diff: ProgramDiff): Section {
  const rows = diff.modules.map(moduleRow);
  const scope = diff.all ? "Every module." : "Only the modules that differ (vlmc diff --all lists every module).";
  return {
    id: "modules",
    title: "Modules",
    paragraphs: rows.length === 0 ? [diff.identical ? "No module differs." : "No module differs; see the overview for other changes."] : [scope],
    tables: rows.length === 0 ? [] : [{ id: "modules", headers: ["", "module", "block", "output shape", "params A", "params B", "Δ params", "FLOPs A", "FLOPs B", "Δ FLOPs"], numericFrom: 4, rows }],
    lists: [],
    charts: [],
  };
}

const MARK: Record<ModuleDiff["status"], string> = { added: "+", removed: "−", changed: "~", same: "" };

function moduleRow(m: ModuleDiff): TableRow {
  const pair = (a: string | undefined, b: string | undefined) => (a === undefined ? b! : b === undefined || a === b ? a : `${a} → ${b}`);
  const block = (side: ModuleDiff["a"]) => side && (side.kind === "op" || side.kind === "model" ? side.block : `${side.kind} ${side.block}`);
  const count = (n: number | undefined) => (n === undefined ? "—" : humanCount(n));
  const details = m.args.map((c) => {
    const value = (v: typeof c.a, source: string | null, span: typeof c.spanA) =>
      v === null ? "(absent)" : `${formatValue(v)}${source ? ` [${source}]` : ""}${span ? ` at ${span.file}:${span.line}` : ""}`;
    return `${c.name}: ${value(c.a, c.sourceA, c.spanA)} → ${value(c.b, c.sourceB, c.spanB)}`;
  });
  if (m.renamedFrom) details.push(`possibly renamed from ${m.renamedFrom} (same block, arguments and parameter shapes)`);
  if (m.renamedTo) details.push(`possibly renamed to ${m.renamedTo}`);
  return {
    kind: m.status,
    cells: [
      MARK[m.status],
      m.path === "" ? "(model)" : m.path,
      pair(block(m.a) ?? undefined, block(m.b) ?? undefined),
      pair(m.a ? formatShape(m.a.shape) : undefined, m.b ? formatShape(m.b.shape) : undefined),
      count(m.a?.params),
      count(m.b?.params),
      signedCount(m.delta.params),
      count(m.a?.flops),
      count(m.b?.flops),
      signedCount(m.delta.flops),
    ],
    ...(details.length > 0 ? { details } : {}),
  };
}

function weightsSection(diff: ProgramDiff): Section {
  const w = diff.weights;
  const lists: ListBlock[] = [];
  if (w.reshaped.length > 0) lists.push({ title: `Reshaped: same name, different shape (${w.reshaped.length})`, items: w.reshaped.map((r) => `${r.name} ${formatShape(r.a)} → ${formatShape(r.b)}`) });
  if (w.missingInB.length > 0) lists.push({ title: `In A only: removed or renamed (${w.missingInB.length})`, items: w.missingInB });
  if (w.newInB.length > 0) lists.push({ title: `In B only: initialised fresh (${w.newInB.length})`, items: w.newInB });
  if (w.loadable.length > 0) lists.push({ title: `Load unchanged (${w.loadable.length})`, items: w.loadable });
  return {
    id: "weights",
    title: "Weight compatibility",
    paragraphs: [
      `${w.loadable.length} of A's ${w.tensorsA} weight tensors load into B (same name and same shape); ` +
        `${w.loadableValues.toLocaleString("en-US")} of B's ${w.valuesB.toLocaleString("en-US")} values can start from A's checkpoint.`,
    ],
    tables: [],
    lists,
    charts: [],
  };
}

function resultsSection(results: ResultsSummary | null, chartIds: string[]): Section {
  if (!results) {
    return {
      id: "results",
      title: "Training results",
      paragraphs: ["No training results in this report: it was written from the structural diff alone. A training sweep of the variants adds a table of metrics (mean ± spread over seeds) and loss and accuracy curves here."],
      tables: [],
      lists: [],
      charts: [],
    };
  }
  const headers = ["variant", "seeds", "params", "trainable", "FLOPs", "visual tokens", ...results.metricNames, "examples/s", "ms / step", "wall time (s)"];
  const rows: TableRow[] = results.variants.map((v) => ({
    cells: [
      v.variant,
      String(v.seeds.length),
      v.params === null ? "—" : humanCount(v.params),
      trainableCell(v),
      v.flops === null ? "—" : humanCount(v.flops),
      v.visualTokens === null ? "—" : String(v.visualTokens),
      ...results.metricNames.map((name) => (v.metrics[name] ? formatSeries(name, v.metrics[name]!) : "—")),
      v.examplesPerSecond ? formatSeries("examples/s", v.examplesPerSecond) : "—",
      v.msPerStep ? formatSeries("ms/step", v.msPerStep) : "—",
      v.wallSeconds ? formatSeries("wall", v.wallSeconds) : "—",
    ],
  }));
  return {
    id: "results",
    title: "Training results",
    paragraphs: [...(results.note ? [results.note] : []), "Final metrics, mean ± sample standard deviation over seeds."],
    tables: [{ id: "results", headers, numericFrom: 1, rows }],
    lists: [],
    charts: chartIds.filter((id) => id === "loss" || id === "accuracy"),
  };
}
