// Number and value formatting shared by the HTML and Markdown writers.
import { humanCount } from "../../compiler/summary.js";
import type { SeriesSummary, VariantSummary } from "./types.js";

export { humanCount };

export function signedCount(n: number): string {
  return n > 0 ? `+${humanCount(n)}` : n < 0 ? `-${humanCount(-n)}` : "±0";
}

export function signedPercent(p: number | null): string {
  return p === null ? "—" : `${p > 0 ? "+" : ""}${p}%`;
}

/** "mean ± std" with 3 significant decimals; accuracies (names containing "acc", values in [0, 1]) as percentages. */
export function formatSeries(name: string, s: SeriesSummary): string {
  const asPercent = /acc/i.test(name) && s.min >= 0 && s.max <= 1;
  const fmt = (v: number) => (asPercent ? `${(v * 100).toFixed(1)}%` : Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  const spread = s.n > 1 ? ` ± ${asPercent ? (s.std * 100).toFixed(1) : fmt(s.std)}` : "";
  return `${fmt(s.mean)}${spread}`;
}

/** "all", or the trainable count when some parameters are frozen. */
export function trainableCell(v: Pick<VariantSummary, "params" | "trainableParams">): string {
  if (v.params === null || v.trainableParams === null) return "—";
  return v.trainableParams === v.params ? "all" : humanCount(v.trainableParams);
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/** A Markdown table cell: pipes escaped, newlines flattened. */
export function mdCell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}
