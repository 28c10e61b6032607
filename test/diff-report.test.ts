// The report writer (runtime/report) fed a real structural diff and synthetic training results:
// the report.json schema, the statistics over seeds, the SVG charts in the page, the page's
// self-containment and escaping, and metrics.jsonl reading.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffPrograms, type ProgramDiff } from "../compiler/diff/index.js";
import { compileFile } from "../compiler/index.js";
import {
  buildReport,
  readMetricsJsonl,
  renderHtml,
  renderMarkdown,
  REPORT_SCHEMA,
  summarizeSeries,
  writeReport,
  type BuiltReport,
  type ResultsInput,
  type VariantRun,
} from "../runtime/report/index.js";

function clipDiff(): ProgramDiff {
  const a = compileFile("specs/clip.vlm", { model: "Clip" }).program!;
  const b = compileFile("specs/clip.vlm", { model: "ClipMlp" }).program!;
  return diffPrograms(a, b);
}

/** A run whose loss falls and accuracy rises deterministically with the seed. */
function syntheticRun(seed: number, finalAccuracy: number): VariantRun {
  const metrics: Record<string, unknown>[] = [];
  for (let step = 0; step <= 40; step += 10) metrics.push({ kind: "train", step, epoch: Math.floor(step / 20), loss: 2 / (1 + step / 10) + seed * 0.01, lr: 0.001, examples_per_s: 900 });
  // Evaluation records carry their split's loss, which must not enter the training-loss curve.
  for (let epoch = 1; epoch <= 2; epoch++) metrics.push({ kind: "eval", step: epoch * 20, epoch, split: "test", loss: 9, accuracy: (finalAccuracy * epoch) / 2 });
  return { seed, final: { loss: 0.4 + seed * 0.01, test_accuracy: finalAccuracy }, metrics, examplesPerSecond: 900 + seed, wallSeconds: 60 + seed };
}

const results: ResultsInput = {
  note: "shapes world, 2 epochs, 2 seeds (synthetic numbers for the test)",
  variants: [
    { variant: "A: Clip", params: 136705, flops: 18386437, runs: [syntheticRun(1, 0.9), syntheticRun(2, 0.92)] },
    { variant: "B: <b>ClipMlp</b>", params: 161665, flops: 18436229, runs: [syntheticRun(1, 0.8), syntheticRun(2, 0.84)] },
  ],
};

let withResults: BuiltReport;
let diffOnly: BuiltReport;
beforeAll(async () => {
  const diff = clipDiff();
  withResults = await buildReport({ diff, results });
  diffOnly = await buildReport({ diff });
});

describe("report.json", () => {
  it("has the documented top-level schema", () => {
    const json = JSON.parse(JSON.stringify(withResults.json));
    expect(Object.keys(json)).toEqual(["schema", "title", "diff", "moduleCosts", "results", "charts"]);
    expect(json.schema).toBe(REPORT_SCHEMA);
    expect(Object.keys(json.diff)).toEqual(["schema", "a", "b", "identical", "all", "totals", "topLevel", "summary", "modules", "interface", "train", "visualTokens", "weights"]);
    expect(Object.keys(json.results)).toEqual(["note", "metricNames", "variants", "curves"]);
    expect(Object.keys(json.results.variants[0])).toEqual(["variant", "seeds", "params", "trainableParams", "flops", "visualTokens", "metrics", "examplesPerSecond", "msPerStep", "wallSeconds"]);
    expect(json.charts.map((c: { id: string }) => c.id)).toEqual(["params", "flops", "loss", "accuracy"]);
    expect(json.moduleCosts.filter((c: { side: string }) => c.side === "A").map((c: { module: string }) => c.module)).toEqual(["vision", "image_head", "text", "text_head", "connector"]);
  });

  it("summarises every metric over seeds (mean and sample standard deviation)", () => {
    const a = withResults.json.results!.variants[0]!;
    expect(a.seeds).toEqual([1, 2]);
    expect(withResults.json.results!.metricNames).toEqual(["loss", "test_accuracy"]);
    expect(a.metrics.test_accuracy!.mean).toBeCloseTo(0.91, 12);
    expect(a.metrics.test_accuracy!.std).toBeCloseTo(Math.SQRT2 * 0.01, 12);
    expect(a.examplesPerSecond).toMatchObject({ n: 2, mean: 901.5, min: 901, max: 902 });
    expect(summarizeSeries([3])).toMatchObject({ n: 1, mean: 3, std: 0 });
  });

  it("collects the curve points from metrics.jsonl records", () => {
    const { loss, accuracy } = withResults.json.results!.curves;
    expect(loss).toHaveLength(2 * 2 * 5); // variants × seeds × logged training steps
    expect(loss.some((p) => p.loss === 9)).toBe(false);
    expect(accuracy).toHaveLength(2 * 2 * 2);
    expect(accuracy[0]).toEqual({ variant: "A: Clip", seed: 1, epoch: 1, split: "test", accuracy: 0.45 });
  });

  it("has no results section and no curve charts without results", () => {
    expect(diffOnly.json.results).toBeNull();
    expect(diffOnly.json.charts.map((c) => c.id)).toEqual(["params", "flops"]);
  });

  it("is documented in docs/diff.md, key by key", () => {
    const doc = readFileSync("docs/diff.md", "utf8");
    const keys = [
      ...Object.keys(withResults.json),
      ...Object.keys(withResults.json.diff),
      ...Object.keys(withResults.json.diff.weights),
      ...Object.keys(withResults.json.diff.modules[0]!),
      ...Object.keys(withResults.json.results!),
    ];
    for (const key of new Set(keys)) expect(doc, `docs/diff.md does not mention \`${key}\``).toContain(`\`${key}\``);
  });
});

describe("report.html", () => {
  it("embeds one SVG chart per chart entry", () => {
    const html = renderHtml(withResults);
    const figures = [...html.matchAll(/<figure class="chart" data-chart="([a-z]+)"><svg[\s\S]*?<\/svg><\/figure>/g)].map((m) => m[1]);
    expect(figures).toEqual(["params", "flops", "loss", "accuracy"]);
    // The bars and lines are drawn: vega writes marks as paths.
    expect(withResults.svgs.get("loss")).toMatch(/<path[^>]*class="[^"]*"|<path /);
    expect(html).toContain('id="table-results"');
    expect(html).toContain("91.0% ± 1.4"); // A's test accuracy over two seeds: 0.90 and 0.92
  });

  it("is self-contained: no script and nothing loaded from elsewhere", () => {
    const html = renderHtml(withResults);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).not.toMatch(/\bsrc\s*=/i);
    expect(html).not.toMatch(/url\(\s*['"]?https?:/i);
    expect(html).not.toMatch(/href\s*=\s*["']https?:/i);
  });

  it("escapes names that come from the user", () => {
    const html = renderHtml(withResults);
    expect(html).not.toContain("<b>ClipMlp</b>");
    expect(html).toContain("B: &lt;b&gt;ClipMlp&lt;/b&gt;");
  });

  it("is the same bytes for the same input", async () => {
    const again = await buildReport({ diff: clipDiff(), results });
    expect(renderHtml(again)).toBe(renderHtml(withResults));
  });
});

describe("report.md", () => {
  it("carries the same tables", () => {
    const md = renderMarkdown(withResults);
    expect(md).toContain("| variant | seeds | params | trainable | FLOPs | visual tokens | loss | test_accuracy | examples/s | ms / step | wall time (s) |");
    expect(md).toMatch(/\| A: Clip \| 2 \| 136\.7 K \|/);
    expect(md).toContain("## Modules");
    expect(md).toContain("Charts in report.html: Training loss; Accuracy by epoch.");
  });
});

describe("writeReport and metrics.jsonl", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "vlmc-report-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("writes the three files", async () => {
    const written = await writeReport(path.join(tmp, "out"), { diff: clipDiff(), results });
    expect(JSON.parse(readFileSync(written.json, "utf8")).schema).toBe(REPORT_SCHEMA);
    expect(readFileSync(written.html, "utf8")).toMatch(/^<!DOCTYPE html>/);
    expect(readFileSync(written.markdown, "utf8")).toMatch(/^# vlmc diff: /);
  });

  it("reads records, skipping a last line cut short by a killed run", () => {
    const file = path.join(tmp, "metrics.jsonl");
    writeFileSync(file, '{"kind":"train","step":0,"loss":2}\n{"kind":"eval","epoch":1,"split":"test","accuracy":0.5}\n{"kind":"tr');
    expect(readMetricsJsonl(file)).toEqual([
      { kind: "train", step: 0, loss: 2 },
      { kind: "eval", epoch: 1, split: "test", accuracy: 0.5 },
    ]);
  });

  it("names the file and line of a malformed record", () => {
    const file = path.join(tmp, "bad.jsonl");
    writeFileSync(file, '{"step":0,"loss":2}\nnot json\n{"step":1,"loss":1}\n');
    expect(() => readMetricsJsonl(file)).toThrow(`${file}:2: not a JSON object`);
    expect(() => readMetricsJsonl(path.join(tmp, "missing.jsonl"))).toThrow(/cannot read .*missing\.jsonl: ENOENT/);
  });
});
