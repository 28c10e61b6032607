// The Markdown summary of a bench run (bench/results.md, pasted into the README): one row per
// model and backend, then the PyTorch and hand-written tfjs references, then compile times.
import { MODEL_KEYS } from "./models.js";
import { BACKEND_NAMES, type BenchResults } from "./schema.js";

const MODEL_TITLES: Record<string, string> = { lenet5: "LeNet-5", vit: "ViT", clip: "CLIP", kosmos: "KOSMOS" };

export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  const run = (m["run"] ?? {}) as Record<string, unknown>;
  const num = (x: number | null | undefined, unit = ""): string => (x === null || x === undefined ? "—" : `${x.toLocaleString("en-US")}${unit}`);
  const lines: string[] = [];
  lines.push(
    `Measured ${String(m["date"] ?? "")} on ${String(m["cpu"])} (${String(m["cores"])} cores), Node ${String(m["node"])}, ` +
      `tfjs ${String(m["tfjs"])}, PyTorch ${m["torch"] === null ? "not run" : `${String(m["torch"])} (${String(m["torch_threads"])} threads)`}; ` +
      `load average ${JSON.stringify(m["load_avg_start"])} before, ${JSON.stringify(m["load_avg_end"])} after. ` +
      `Mode ${String(run["mode"])}: medians of at least ${String(run["steps"])} steps and ${String(run["min_time_s"] ?? 0)} s per model and backend, ` +
      `after ${String(run["warmup"])} warm-up steps (outside tiny mode at least 3 on wasm and tensorflow, whose first steps are recorded and compiled; at most 1 on cpu; fewer where a model hit the ${String(run["budget_s"])} s budget).`,
  );
  if (run["mode"] === "tiny") lines.push("", "**Tiny mode: one step per model, a smoke test of the harness. These numbers mean nothing.**");
  const busy = busyWarning(m);
  if (busy) lines.push("", busy);
  lines.push(
    "",
    "| model | params | backend | train step (ms) | × PyTorch | inference (ms/batch) | peak tensors (MiB) |",
    "| --- | ---: | --- | ---: | ---: | ---: | ---: |",
  );
  for (const key of MODEL_KEYS) {
    const f = results.models[key];
    if (!f) continue;
    const batch = (run["batches"] as Record<string, number> | undefined)?.[key];
    const title = `${MODEL_TITLES[key] ?? key}${batch === undefined ? "" : ` (batch ${batch})`}`;
    for (const name of BACKEND_NAMES) {
      const b = f.backends[name];
      if (!b) continue;
      lines.push(`| ${title} | ${num(f.params)} | ${name} | ${num(b.train_step_ms)} | ${num(b.vs_pytorch, "×")} | ${num(b.infer_ms)} | ${num(b.peak_mb)} |`);
    }
    if (f.pytorch.train_step_ms !== null) lines.push(`| ${title} | ${num(f.params)} | PyTorch CPU | ${num(f.pytorch.train_step_ms)} | 1× | | |`);
  }
  const hwRows = MODEL_KEYS.filter((k) => results.models[k]?.handwritten_tfjs);
  if (hwRows.length > 0) {
    lines.push(
      "",
      `Generated code vs the same model written by hand in plain tfjs, on ${String(run["handwritten_backend"])}, timed interleaved (target ≤ 1.05×):`,
      "",
      "| model | hand-written train step (ms) | generated ÷ hand-written |",
      "| --- | ---: | ---: |",
    );
    for (const key of hwRows) {
      const hw = results.models[key]!.handwritten_tfjs!;
      lines.push(`| ${MODEL_TITLES[key] ?? key} | ${num(hw.train_step_ms)} | ${num(hw.vs_generated, "×")} |`);
    }
  }
  lines.push(
    "",
    `Compile (parse, check, lower; bench/compile.ts): all bundled specs ${num(results.compile.bundled_ms, " ms")} (target < 50 ms); ` +
      `a 10,000-line spec ${num(results.compile.lines10k_ms, " ms")} (target < 1,000 ms).`,
  );
  if (typeof run["pytorch_note"] === "string") lines.push("", `PyTorch: ${run["pytorch_note"]}`);
  if (typeof run["tensorflow_note"] === "string") lines.push("", `Native TensorFlow backend: ${run["tensorflow_note"]}`);
  return lines.join("\n") + "\n";
}

/**
 * A warning when the machine was busy: other processes on the cores inflate every figure, and
 * PyTorch's most of all — its two threads meet at a barrier after every op, so one descheduled
 * thread stalls both (measured here: a ViT step 21 ms with 1 thread, 229 ms with 2, under load 3–5
 * on 2 cores). Half the cores busy in the minute before the run is the threshold.
 */
export function busyWarning(machine: Record<string, unknown>): string | undefined {
  const cores = Number(machine["cores"]);
  const loads = [machine["load_avg_start"], machine["load_avg_end"]].map((l) => (Array.isArray(l) ? Number(l[0]) : 0));
  const worst = Math.max(...loads);
  if (!(cores > 0) || worst <= cores / 2) return undefined;
  return (
    `**Warning: the machine was busy (1-minute load average up to ${worst} on ${cores} cores). ` +
    `Every figure here is inflated, PyTorch's multi-threaded ones most; the ratios are not to be quoted.**`
  );
}
