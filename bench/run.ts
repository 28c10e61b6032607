// `npm run bench`: every bundled model on every available backend, against the same architecture
// in PyTorch CPU and (LeNet-5, ViT) hand-written in plain tfjs. See bench/harness.ts for how each
// figure is taken and bench/schema.ts for bench/results.json.
//
//   npm run bench                        # full run → bench/results.json + bench/results.md
//   npm run bench -- --quick             # 5 steps → bench/results.local.{json,md} (as any partial run)
//   npm run bench -- --models lenet5,vit --backends wasm,cpu
//   npm run bench -- --tiny --no-torch   # one step per model: a smoke test, no timing claims
//
// The script builds first: `tsc -p bench/tsconfig.json` compiles bench/ (and what it imports) to
// dist/bench/, then `node dist/bench/run.js` runs. Run it from anywhere in the repository.
// Flags: --quick, --tiny, --models LIST, --backends LIST, --cpu, --steps N, --warmup N,
// --min-time-s S, --budget-s S, --batch N, --no-torch, --no-compile, --python PATH (or VLMC_BENCH_PYTHON),
// --torch-threads N (default 2), --out DIR.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../runtime/io/atomic.js";
import { repoRoot, runBench, type BenchMode, type BenchOptions } from "./harness.js";
import { MODEL_KEYS, type ModelKey } from "./models.js";
import { renderMarkdown } from "./report.js";
import { BACKEND_NAMES, type BackendName } from "./schema.js";

/**
 * Steps, warm-up and time limits of each mode, per model and backend: at least `steps` timed
 * steps, more until `minTimeS` seconds (fast models get steadier medians), none started after
 * `budgetS` seconds (the cpu backend takes seconds per step).
 */
const MODES: Record<BenchMode, { steps: number; warmup: number; minTimeS: number; budgetS: number }> = {
  full: { steps: 20, warmup: 3, minTimeS: 5, budgetS: 30 },
  quick: { steps: 5, warmup: 1, minTimeS: 1, budgetS: 10 },
  tiny: { steps: 1, warmup: 0, minTimeS: 0, budgetS: 1 },
};

class UsageError extends Error {}

function list<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new UsageError(`${flag}: unknown '${item}'; expected some of ${allowed.join(", ")}`);
  }
  return items as T[];
}

function count(value: string | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`${flag}: expected a number ≥ ${min}, got '${value}'`);
  return n;
}

export interface MainIO {
  /** Progress and warnings (stderr). */
  log: (line: string) => void;
  /** The Markdown table (stdout). */
  print: (text: string) => void;
}

const processIO: MainIO = {
  log: (line) => process.stderr.write(line + "\n"),
  print: (text) => process.stdout.write(text),
};

/** Runs the bench with command-line `argv`; writes the results files; returns the exit status. */
export async function main(argv: string[], io: MainIO = processIO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      tiny: { type: "boolean", default: false },
      models: { type: "string" },
      backends: { type: "string" },
      cpu: { type: "boolean", default: false },
      steps: { type: "string" },
      warmup: { type: "string" },
      "budget-s": { type: "string" },
      "min-time-s": { type: "string" },
      batch: { type: "string" },
      "no-torch": { type: "boolean", default: false },
      "no-compile": { type: "boolean", default: false },
      python: { type: "string" },
      "torch-threads": { type: "string" },
      out: { type: "string" },
    },
    strict: true,
  });
  const mode: BenchMode = values.tiny ? "tiny" : values.quick ? "quick" : "full";
  const defaults = MODES[mode];
  const backends = list<BackendName>(values.backends, BACKEND_NAMES, "--backends");
  const options: BenchOptions = {
    models: list<ModelKey>(values.models, MODEL_KEYS, "--models") ?? MODEL_KEYS,
    ...(backends ? { backends } : {}),
    cpu: values.cpu,
    mode,
    steps: count(values.steps, "--steps", 1) ?? defaults.steps,
    warmup: count(values.warmup, "--warmup", 0) ?? defaults.warmup,
    minTimeS: count(values["min-time-s"], "--min-time-s", 0) ?? defaults.minTimeS,
    budgetS: count(values["budget-s"], "--budget-s", 0) ?? defaults.budgetS,
    ...(values.batch !== undefined ? { batch: count(values.batch, "--batch", 1)! } : mode === "tiny" ? { batch: 2 } : {}),
    torch: !values["no-torch"],
    python: values.python ?? process.env["VLMC_BENCH_PYTHON"] ?? "python3",
    torchThreads: count(values["torch-threads"], "--torch-threads", 1) ?? 2,
    compile: !values["no-compile"],
    log: io.log,
  };

  const results = await runBench(options);
  // bench/results.json holds the figures the README quotes: only a complete full run (every model,
  // the default backends, the specs' batch sizes, PyTorch on 2 threads) may replace them. Anything
  // else goes to results.local.*.
  const complete =
    mode === "full" && !values.models && !values.backends && values.batch === undefined && !values["no-torch"] && options.torchThreads === 2;
  const root = repoRoot();
  const outDir = values.out ?? join(root, "bench");
  const stem = complete ? "results" : "results.local";
  const markdown = renderMarkdown(results);
  writeFileAtomic(join(outDir, `${stem}.json`), JSON.stringify(results, null, 2) + "\n");
  writeFileAtomic(join(outDir, `${stem}.md`), markdown);
  io.print("\n" + markdown);
  io.log(`wrote ${join(values.out ?? "bench", `${stem}.json`)} and ${stem}.md`);
  return 0;
}

// Run only as a script (node dist/bench/run.js), not when a test imports main().
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (isUsageError(err)) {
        process.stderr.write(`bench: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

/** A bad flag: ours, or one node:util's parseArgs rejects (unknown option, missing value). */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS"));
}
