// Assembles a report from its input: the JSON document (report.json) and the SVG charts that the
// HTML page embeds. The HTML and Markdown writers only lay out what this produces.
import { renderSvg, costChartSpec, lossChartSpec, accuracyChartSpec, type CostBar } from "./charts.js";
import { summarizeResults } from "./results.js";
import { REPORT_SCHEMA } from "./types.js";
import type { ChartInfo, ModuleCost, ReportInput, ReportJson } from "./types.js";

export interface BuiltReport {
  json: ReportJson;
  /** Chart id → SVG markup, for each entry of json.charts. */
  svgs: Map<string, string>;
}

export async function buildReport(input: ReportInput): Promise<BuiltReport> {
  const { diff } = input;
  const moduleCosts: ModuleCost[] = [];
  for (const m of diff.topLevel) {
    if (m.a) moduleCosts.push({ module: m.module, side: "A", ...m.a });
    if (m.b) moduleCosts.push({ module: m.module, side: "B", ...m.b });
  }
  const results = input.results ? summarizeResults(input.results) : null;

  const names = sideNames(diff.a.model, diff.b.model);
  const bars = (measure: "params" | "flops"): CostBar[] => moduleCosts.map((c) => ({ module: c.module, variant: names[c.side as "A" | "B"], value: c[measure] }));
  const charts: (ChartInfo & { spec: Parameters<typeof renderSvg>[0] })[] = [];
  if (moduleCosts.length > 0) {
    charts.push({ id: "params", title: "Parameters per top-level module", spec: costChartSpec("Parameters per top-level module", "parameters", bars("params")) });
    charts.push({ id: "flops", title: "FLOPs per top-level module (forward, per example)", spec: costChartSpec("FLOPs per top-level module (forward, per example)", "FLOPs", bars("flops")) });
  }
  if (results && results.curves.loss.length > 0) charts.push({ id: "loss", title: "Training loss", spec: lossChartSpec(results.curves.loss) });
  if (results && results.curves.accuracy.length > 0) charts.push({ id: "accuracy", title: "Accuracy by epoch", spec: accuracyChartSpec(results.curves.accuracy) });

  const svgs = new Map<string, string>();
  for (const chart of charts) svgs.set(chart.id, await renderSvg(chart.spec));
  return {
    json: {
      schema: REPORT_SCHEMA,
      title: input.title ?? `vlmc diff: ${diff.a.label} vs ${diff.b.label}`,
      diff,
      moduleCosts,
      results,
      charts: charts.map(({ id, title }) => ({ id, title })),
    },
    svgs,
  };
}

/** Legend names of the two sides: "A: Clip" / "B: ClipMlp" (the letters keep them apart when the models share a name). */
export function sideNames(modelA: string, modelB: string): { A: string; B: string } {
  return { A: `A: ${modelA}`, B: `B: ${modelB}` };
}
