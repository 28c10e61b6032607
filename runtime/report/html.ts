// report.html: one self-contained page. Styles are inline, charts are inline SVG rendered at write
// time, and there is no script at all, so the page shows the same thing offline, in any browser,
// and cannot fail to render for want of a network.
import type { BuiltReport } from "./build.js";
import { reportSections, type Section, type Table } from "./sections.js";
import { escapeHtml } from "./text.js";

const STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --add: #e6f4ea; --del: #fbe9e9; --chg: #fff6e0; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; background: #f6f7f9; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; min-height: 100vh; }
h1 { font-size: 22px; margin: 0 0 8px; word-break: break-word; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 14px 0 4px; }
p { margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
td.num, th.num { text-align: right; white-space: nowrap; }
#table-modules td:nth-child(4) { white-space: nowrap; }
tr.added td { background: var(--add); }
tr.removed td { background: var(--del); }
tr.changed td { background: var(--chg); }
tr.details td { background: #fff; color: var(--muted); font-size: 12.5px; border-bottom: 1px solid var(--line); padding-left: 32px; }
code, td.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
ul.names { columns: 2; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; margin: 4px 0 10px; }
details { margin: 6px 0; }
summary { cursor: pointer; font-weight: 600; }
figure { margin: 12px 0; }
figure svg { max-width: 100%; height: auto; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

export function renderHtml(report: BuiltReport): string {
  const { json, svgs } = report;
  const body = reportSections(json).map((s) => renderSection(s, svgs)).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(json.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(json.title)}</h1>
${body}
<footer>Written by vlmc (${escapeHtml(json.schema)}); the same data is in report.json and report.md.</footer>
</main>
</body>
</html>
`;
}

function renderSection(section: Section, svgs: Map<string, string>): string {
  const parts = [`<section id="${escapeHtml(section.id)}">`, `<h2>${escapeHtml(section.title)}</h2>`];
  for (const p of section.paragraphs) parts.push(`<p>${escapeHtml(p)}</p>`);
  for (const table of section.tables) parts.push(renderTable(table));
  for (const list of section.lists) {
    // Long name lists stay folded; <details> opens without any script.
    parts.push(
      `<details${list.items.length <= 12 ? " open" : ""}><summary>${escapeHtml(list.title)}</summary><ul class="names">${list.items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul></details>`,
    );
  }
  if (section.charts.length > 0) {
    parts.push(`<div class="charts">`);
    for (const id of section.charts) {
      const svg = svgs.get(id);
      // The SVG is vega's own output (its text escaped by vega), embedded as markup on purpose.
      if (svg) parts.push(`<figure class="chart" data-chart="${escapeHtml(id)}">${svg}</figure>`);
    }
    parts.push(`</div>`);
  }
  parts.push(`</section>`);
  return parts.join("\n");
}

function renderTable(table: Table): string {
  const cls = (i: number) => (i >= table.numericFrom ? ` class="num"` : "");
  const head = `<tr>${table.headers.map((h, i) => `<th${cls(i)}>${escapeHtml(h)}</th>`).join("")}</tr>`;
  const rows = table.rows.map((row) => {
    const kind = row.kind ? ` class="${escapeHtml(row.kind)}"` : "";
    const tr = `<tr${kind}>${row.cells.map((c, i) => `<td${cls(i)}>${escapeHtml(c)}</td>`).join("")}</tr>`;
    const details = (row.details ?? []).map((d) => `<tr class="details"><td></td><td colspan="${table.headers.length - 1}">${escapeHtml(d)}</td></tr>`);
    return [tr, ...details].join("\n");
  });
  return `<table id="table-${escapeHtml(table.id)}">\n<thead>${head}</thead>\n<tbody>\n${rows.join("\n")}\n</tbody>\n</table>`;
}
