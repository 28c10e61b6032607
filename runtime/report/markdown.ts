// report.md: the same sections as the HTML page, as Markdown tables and lists (charts are named and
// left to report.html, since Markdown viewers differ in what SVG they show).
import type { BuiltReport } from "./build.js";
import { reportSections, type Table } from "./sections.js";
import { mdCell } from "./text.js";

export function renderMarkdown(report: BuiltReport): string {
  const { json } = report;
  const titles = new Map(json.charts.map((c) => [c.id, c.title]));
  const out = [`# ${mdCell(json.title)}`, ""];
  for (const section of reportSections(json)) {
    out.push(`## ${section.title}`, "");
    for (const p of section.paragraphs) out.push(p, "");
    for (const table of section.tables) out.push(renderTable(table), "");
    for (const list of section.lists) out.push(`**${list.title}**`, "", ...list.items.map((i) => `- \`${i.replace(/`/g, "'")}\``), "");
    if (section.charts.length > 0) out.push(`Charts in report.html: ${section.charts.map((id) => titles.get(id) ?? id).join("; ")}.`, "");
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

function renderTable(table: Table): string {
  const align = table.headers.map((_, i) => (i >= table.numericFrom ? "---:" : "---"));
  const lines = [`| ${table.headers.map(mdCell).join(" | ")} |`, `| ${align.join(" | ")} |`];
  for (const row of table.rows) {
    lines.push(`| ${row.cells.map(mdCell).join(" | ")} |`);
    // Markdown tables have no row spans: details go in a row of their own under the module.
    for (const d of row.details ?? []) lines.push(`| | ${mdCell(`↳ ${d}`)} |${" |".repeat(Math.max(0, table.headers.length - 2))}`);
  }
  return lines.join("\n");
}
