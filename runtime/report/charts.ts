// The report's charts: vega-lite specifications compiled to vega and rendered to SVG strings in
// Node (vega's headless "none" renderer), so the page carries finished pictures and needs no
// script or network to show them.
import { View, parse } from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { AccuracyPoint, LossPoint } from "./types.js";

/** One bar per (top-level module, variant). */
export interface CostBar {
  module: string;
  variant: string;
  value: number;
}

const FONT = "system-ui, -apple-system, Segoe UI, Roboto, sans-serif";
const CONFIG = {
  font: FONT,
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true, gridOpacity: 0.5 },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: "bottom", labelLimit: 400 },
  title: { fontSize: 14, anchor: "start" },
} as const;

/** Grouped horizontal bars: parameters (or FLOPs) per top-level module, A next to B. */
export function costChartSpec(title: string, axisTitle: string, bars: CostBar[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 380,
    data: { values: copies(bars) },
    mark: { type: "bar", tooltip: false },
    encoding: {
      // sort: null keeps program order (the order the modules are built in).
      y: { field: "module", type: "nominal", sort: null, title: null, axis: { labelLimit: 220 } },
      yOffset: { field: "variant", type: "nominal", sort: null },
      x: { field: "value", type: "quantitative", title: axisTitle, axis: { format: "~s" } },
      color: { field: "variant", type: "nominal", sort: null, title: null, scale: { range: ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2"] } },
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** Training loss against step: one colour per variant, one line per seed. */
export function lossChartSpec(points: LossPoint[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Training loss",
    width: 520,
    height: 260,
    data: { values: copies(points) },
    mark: { type: "line", strokeWidth: 1.5, opacity: 0.85 },
    encoding: {
      x: { field: "step", type: "quantitative", title: "step" },
      y: { field: "loss", type: "quantitative", title: "loss", scale: { zero: false } },
      color: { field: "variant", type: "nominal", sort: null, title: null },
      detail: { field: "seed", type: "nominal" },
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** Accuracy against epoch: colour per variant, dash per split, one line per seed. */
export function accuracyChartSpec(points: AccuracyPoint[]): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: "Accuracy by epoch",
    width: 520,
    height: 260,
    data: { values: copies(points) },
    mark: { type: "line", point: true, strokeWidth: 1.5 },
    encoding: {
      x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
      y: { field: "accuracy", type: "quantitative", title: "accuracy", axis: { format: ".0%" } },
      color: { field: "variant", type: "nominal", sort: null, title: null },
      strokeDash: { field: "split", type: "nominal", title: "split" },
      detail: { field: "seed", type: "nominal" },
    },
    config: CONFIG,
  } as TopLevelSpec;
}

/** vega tags the data objects it is given (a symbol-keyed id): hand it copies, never report data. */
function copies<T extends object>(rows: T[]): T[] {
  return rows.map((row) => ({ ...row }));
}

/** vega-lite → vega → an SVG string. Deterministic for the same spec. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
