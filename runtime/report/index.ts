// The experiment report: `writeReport(dir, input)` writes report.html (self-contained, charts as
// inline SVG), report.md and report.json, each atomically. Input: a structural diff and,
// optionally, training results (see types.ts).
import { join } from "node:path";
import { writeFileAtomic } from "../io/atomic.js";
import { buildReport } from "./build.js";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import type { ReportInput } from "./types.js";

export { buildReport } from "./build.js";
export type { BuiltReport } from "./build.js";
export { renderHtml } from "./html.js";
export { renderMarkdown } from "./markdown.js";
export { readMetricsJsonl, summarizeResults, summarizeSeries, MetricsFileError } from "./results.js";
export * from "./types.js";

export interface WrittenReport {
  html: string;
  markdown: string;
  json: string;
}

/** Writes the three report files into `dir` (created if missing); returns their paths. */
export async function writeReport(dir: string, input: ReportInput): Promise<WrittenReport> {
  const report = await buildReport(input);
  const paths = { html: join(dir, "report.html"), markdown: join(dir, "report.md"), json: join(dir, "report.json") };
  writeFileAtomic(paths.json, JSON.stringify(report.json, null, 2) + "\n");
  writeFileAtomic(paths.markdown, renderMarkdown(report));
  writeFileAtomic(paths.html, renderHtml(report));
  return paths;
}
