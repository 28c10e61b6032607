// The report page in a real headless Chromium (Debian's `chromium` package): it loads from a file
// URL with the network off, its tables and SVG charts are in the rendered DOM, nothing is logged
// as an error, and the screenshot shows the charts' colours. Skipped, saying why, when chromium
// is not installed. Set VLMC_REPORT_SCREENSHOT=path.png to keep the screenshot for a look.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { PNG } from "pngjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffPrograms } from "../compiler/diff/index.js";
import { compileFile } from "../compiler/index.js";
import { writeReport, type VariantRun } from "../runtime/report/index.js";

const CHROMIUM = process.env.CHROMIUM_BIN ?? "chromium";
const available = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8", timeout: 30_000 }).status === 0;
if (!available) console.warn(`skipping the report browser test: '${CHROMIUM}' not found (apt-get install chromium, or set CHROMIUM_BIN)`);

/** Chromium flags for a quiet, offline, throwaway headless run. */
function chromiumArgs(profile: string): string[] {
  return [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    `--user-data-dir=${profile}`,
  ];
}

function run(args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(CHROMIUM, args, { encoding: "utf8", timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`chromium exited with ${r.status ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

function run_(seed: number, accuracy: number): VariantRun {
  const metrics = [0, 10, 20, 30].map((step) => ({ kind: "train", step, loss: 2 / (1 + step / 10) + seed / 100 }));
  const evals = [1, 2].map((epoch) => ({ kind: "eval", epoch, split: "test", accuracy: (accuracy * epoch) / 2 }));
  return { seed, final: { test_accuracy: accuracy }, metrics: [...metrics, ...evals] };
}

describe.skipIf(!available)("report.html in headless Chromium", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "vlmc-report-browser-"));
  const html = path.join(tmp, "report", "report.html");
  const screenshot = path.join(tmp, "report.png");
  let dom = "";
  let logs = "";

  beforeAll(async () => {
    const a = compileFile("specs/clip.vlm", { model: "Clip" }).program!;
    const b = compileFile("specs/clip.vlm", { model: "ClipMlp" }).program!;
    const results = {
      note: "synthetic numbers (browser test)",
      variants: [
        { variant: "A: Clip", runs: [run_(1, 0.9), run_(2, 0.92)] },
        { variant: "B: ClipMlp", runs: [run_(1, 0.85), run_(2, 0.87)] },
      ],
    };
    await writeReport(path.dirname(html), { diff: diffPrograms(a, b), results });
    const url = pathToFileURL(html).href;
    const dumped = run([...chromiumArgs(path.join(tmp, "profile-dom")), "--dump-dom", url]);
    dom = dumped.stdout;
    logs = dumped.stderr;
    logs += run([...chromiumArgs(path.join(tmp, "profile-shot")), `--screenshot=${screenshot}`, "--window-size=1200,1600", url]).stderr;
    if (process.env.VLMC_REPORT_SCREENSHOT) copyFileSync(screenshot, process.env.VLMC_REPORT_SCREENSHOT);
  }, 180_000);
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("renders the tables and the SVG charts", () => {
    expect(dom).toContain('<table id="table-totals">');
    expect(dom).toContain('<table id="table-modules">');
    expect(dom).toContain('<table id="table-results">');
    const charts = [...dom.matchAll(/<figure class="chart" data-chart="([a-z]+)"><svg /g)].map((m) => m[1]);
    expect(charts).toEqual(["params", "flops", "loss", "accuracy"]);
  });

  it("logs no script or resource error", () => {
    // With --enable-logging, page console messages and failed loads appear as CONSOLE / ERR_ lines.
    expect(logs).not.toMatch(/Uncaught|CONSOLE\(|net::ERR_/);
  });

  it("draws the charts into the screenshot", () => {
    const png = PNG.sync.read(readFileSync(screenshot));
    expect([png.width, png.height]).toEqual([1200, 1600]);
    // The bars' two colours (A #4c78a8, B #f58518) are on screen, not just in the markup.
    const count = (r: number, g: number, b: number) => {
      let n = 0;
      for (let i = 0; i < png.data.length; i += 4) if (png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b) n++;
      return n;
    };
    expect(count(0x4c, 0x78, 0xa8)).toBeGreaterThan(500);
    expect(count(0xf5, 0x85, 0x18)).toBeGreaterThan(500);
  });
});
