// The measurements behind `npm run bench` (bench/run.ts is the command line around them).
//
// For each bundled model and each backend: compile the spec, load the generated module
// (runtime/model.ts, the path `vlmc train` takes), feed it one synthetic batch at the spec's
// `train { batch }`, and time training steps and inference. Alongside: the same architecture in
// PyTorch CPU (bench/torch/bench.py, a child process with 2 threads, run before any tfjs timing so
// the two never share the cores), and for LeNet-5 and the ViT the same model written by hand in
// plain tfjs (bench/handwritten/), timed interleaved with the generated one so that machine noise
// falls on both alike.
//
// How each figure is taken (see also bench/schema.ts):
// - a training step is forward + loss + backward (tf.variableGrads) + the spec's optimizer
//   (runtime/train/optimizers.ts, both tfjs sides) + reading the loss value back, so nothing is
//   left queued on an asynchronous backend; medians over `steps` timed steps after `warmup`;
// - inference is the forward pass without the loss, summed and read back (PyTorch does the same);
//   compiled (runtime/step-graph/) as `vlmc eval` runs its batches;
// - peak memory is tf.profile's peakBytes over one extra training step run op by op (a compiled
//   step bypasses tfjs's engine, out of tf.profile's sight): all live tfjs tensors,
//   parameters and optimizer state included (the process RSS is in machine.max_rss_mb);
// - a ratio to PyTorch or to the hand-written model is printed only when both sides have the
//   IR's parameter count; otherwise it is null and the mismatch is reported.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import { compileFile } from "../compiler/index.js";
import { formatDiagnostics } from "../compiler/diagnostics.js";
import type { IRProgram } from "../compiler/ir.js";
import { initBackend } from "../runtime/backend.js";
import { loadModel, type Model } from "../runtime/model.js";
import { createOptimizer, type OptimizerName } from "../runtime/train/optimizers.js";
import { createTrainStep } from "../runtime/train/step.js";
import { tracedFunction } from "../runtime/step-graph/index.js";
import type { HandwrittenModel } from "./handwritten/common.js";
import { BENCH_MODELS, type BenchModel, type ModelKey, type Sizes } from "./models.js";
import type { BackendFigures, BackendName, BenchResults, ModelFigures } from "./schema.js";
import { syntheticInputs } from "./synthetic.js";

export type BenchMode = "full" | "quick" | "tiny";

export interface BenchOptions {
  models: readonly ModelKey[];
  /** Exactly these backends for every model; absent: wasm, tensorflow when it starts, cpu per `cpu`. */
  backends?: readonly BackendName[];
  /** Measure the cpu backend for every model (by default only for LeNet-5). */
  cpu?: boolean;
  mode: BenchMode;
  /** Untimed steps before timing (per model and backend). */
  warmup: number;
  /** Timed steps (medians over these): at least this many... */
  steps: number;
  /** ...and more while the timed steps have taken less than this many seconds (steadier medians for fast models). */
  minTimeS?: number;
  /** Stop timing a model on a backend once its timed steps took this long (at least one step is timed). */
  budgetS: number;
  /** Override every model's batch size (default: the spec's `train { batch }`). */
  batch?: number;
  /** Run the PyTorch reference (skipped with a message when torch is absent). */
  torch: boolean;
  /** The Python interpreter for bench/torch/bench.py. */
  python: string;
  /** PyTorch's thread count (default 2: the figure the targets are stated against). */
  torchThreads?: number;
  /** Measure compile times with bench/compile.js (only when running compiled, from dist/). */
  compile: boolean;
  /** Where the generated modules are cached (runtime/model.ts's cacheDir). */
  cacheDir?: string;
  /** Progress lines (stderr in the CLI, silent in tests). */
  log: (line: string) => void;
}

/** The repository root: the nearest directory above this file whose package.json names vlmc. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "vlmc") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("bench: cannot find the vlmc repository root above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const root = repoRoot();
  const log = options.log;
  const loadStart = os.loadavg();
  const startedAt = new Date();

  // Compile every model first: the PyTorch twins are built with the sizes read from the IR.
  const compiled = compileBenchModels(root, options.models, options.batch);
  const torch = options.torch ? runTorch(options, root, torchConfig(compiled)) : skippedTorch("skipped (--no-torch)");
  if (torch.note) log(`pytorch: ${torch.note}`);

  const tensorflow = options.backends ? { ok: options.backends.includes("tensorflow"), why: "" } : await probeTensorflow();
  if (!tensorflow.ok && !options.backends) log(`tensorflow backend: not measured (${tensorflow.why})`);

  const compile = options.compile ? measureCompile(root, options, log) : { bundled_ms: null, lines10k_ms: null };

  const models: BenchResults["models"] = {};
  let handwrittenBackend: BackendName | undefined;
  for (const { key, spec, program, batch, sizes } of compiled) {
    const params = program.totals.params;
    const torchFigures = torch.models[key];
    const torchStep = torchFigures?.train_step_ms ?? null;
    const torchMs = torchFigures?.params === params ? torchStep : null;
    if (torchFigures && torchFigures.params !== params) {
      log(`${key}: PyTorch model has ${torchFigures.params} parameters, the IR ${params}: no ratio to PyTorch (fix bench/torch/models.py)`);
    }
    const figures: ModelFigures = {
      params,
      pytorch: { train_step_ms: torchStep === null ? null : round(torchStep) },
      backends: {},
      handwritten_tfjs: null,
    };
    const backends = backendsFor(spec, options, tensorflow.ok);
    for (const backend of backends) {
      // The hand-written twin runs on the first backend that works (wasm unless --backends says
      // otherwise): one interleaved comparison is what the ≤ 1.05× target needs.
      const withHandwritten = figures.handwritten_tfjs === null && spec.handwritten !== undefined;
      log(`${key} on ${backend}: batch ${batch}, ${params.toLocaleString("en-US")} parameters${withHandwritten ? ", with the hand-written tfjs twin" : ""}`);
      let measured: Measured;
      try {
        measured = await measureModel(program, backend, batch, withHandwritten ? () => spec.handwritten!(sizes, 0) : undefined, options, root);
      } catch (err) {
        // One model failing on one backend (a missing kernel, a backend that will not start) is a
        // finding to report, not a reason to lose the rest of the run.
        log(`  failed: ${(err instanceof Error ? err.message : String(err)).split("\n")[0]}`);
        figures.backends[backend] = { train_step_ms: null, infer_ms: null, peak_mb: null, vs_pytorch: null };
        continue;
      }
      figures.backends[backend] = {
        train_step_ms: round(measured.trainMs),
        infer_ms: round(measured.inferMs),
        peak_mb: round(measured.peakBytes / 2 ** 20, 1),
        vs_pytorch: ratio(measured.trainMs, torchMs),
      };
      if (measured.handwritten) {
        handwrittenBackend = backend;
        const hw = measured.handwritten;
        const parity = hw.params === params;
        if (!parity) log(`${key}: the hand-written tfjs model has ${hw.params} parameters, the IR ${params}: no ratio (fix bench/handwritten/)`);
        figures.handwritten_tfjs = { train_step_ms: round(hw.trainMs), vs_generated: parity ? ratio(measured.trainMs, hw.trainMs) : null };
      }
      log(`  ${describe(figures.backends[backend]!)}${figures.handwritten_tfjs && withHandwritten ? `; hand-written ${figures.handwritten_tfjs.train_step_ms} ms (generated ÷ hand-written ${figures.handwritten_tfjs.vs_generated ?? "n/a"})` : ""}`);
    }
    models[key] = figures;
  }

  return {
    machine: {
      cpu: os.cpus()[0]?.model ?? "unknown",
      cores: os.cpus().length,
      memory_gb: round(os.totalmem() / 2 ** 30, 1),
      platform: `${os.platform()} ${os.release()}`,
      node: process.version,
      tfjs: tf.version_core,
      torch: torch.version,
      torch_threads: torch.threads,
      // The load average before and after: these timings are only as good as the machine was quiet.
      load_avg_start: loadStart.map((x) => round(x, 2)),
      load_avg_end: os.loadavg().map((x) => round(x, 2)),
      max_rss_mb: round(process.resourceUsage().maxRSS / 1024, 1),
      date: startedAt.toISOString(),
      run: {
        mode: options.mode,
        warmup: options.warmup,
        steps: options.steps,
        min_time_s: options.minTimeS ?? 0,
        budget_s: options.budgetS,
        batch: options.batch ?? "spec",
        batches: Object.fromEntries(compiled.map((c) => [c.key, c.batch])),
        handwritten_backend: handwrittenBackend ?? null,
        ...(torch.note ? { pytorch_note: torch.note } : {}),
        ...(!tensorflow.ok && !options.backends ? { tensorflow_note: `not measured: ${tensorflow.why}` } : {}),
      },
    },
    compile,
    models,
  };
}

export interface CompiledBenchModel {
  key: ModelKey;
  spec: BenchModel;
  program: IRProgram;
  batch: number;
  sizes: Sizes;
}

/** Compiles each model's spec (throwing with the diagnostics if one does not compile). */
export function compileBenchModels(root: string, keys: readonly ModelKey[], batch?: number): CompiledBenchModel[] {
  return keys.map((key) => {
    const spec = BENCH_MODELS[key];
    const program = compileProgram(root, spec);
    return { key, spec, program, batch: batch ?? Number(program.train.batch ?? 32), sizes: spec.sizes(program) };
  });
}

/** What bench/torch/bench.py --config takes: per model, the batch, the optimizer settings and the sizes. */
export function torchConfig(
  compiled: readonly CompiledBenchModel[],
): Record<string, { batch: number; optimizer: string; lr: number; weight_decay: number | null; sizes: Sizes }> {
  return Object.fromEntries(
    compiled.map((c) => {
      const train = c.program.train;
      return [c.key, {
        batch: c.batch,
        optimizer: String(train.optimizer ?? "adam"),
        lr: Number(train.lr ?? 1e-3),
        weight_decay: typeof train.weight_decay === "number" ? train.weight_decay : null,
        sizes: c.sizes,
      }];
    }),
  );
}

function backendsFor(spec: BenchModel, options: BenchOptions, tensorflowOk: boolean): BackendName[] {
  if (options.backends) return [...options.backends];
  const list: BackendName[] = ["wasm"];
  if (tensorflowOk) list.push("tensorflow");
  if (options.cpu || spec.cpuByDefault) list.push("cpu");
  return list;
}

function compileProgram(root: string, spec: BenchModel): IRProgram {
  const result = compileFile(join(root, spec.spec), { model: spec.model });
  if (!result.program) {
    throw new Error(`bench: ${spec.spec} (${spec.model}) does not compile:\n${formatDiagnostics(result.diagnostics, result.sources)}`);
  }
  return result.program;
}

interface Measured {
  trainMs: number;
  inferMs: number;
  peakBytes: number;
  handwritten?: { trainMs: number; params: number };
}

async function measureModel(
  program: IRProgram,
  backend: BackendName,
  batch: number,
  makeHandwritten: (() => HandwrittenModel) | undefined,
  options: BenchOptions,
  root: string,
): Promise<Measured> {
  await initBackend(backend);
  const optimizerName = (program.train.optimizer ?? "adam") as OptimizerName;
  const weightDecay = typeof program.train.weight_decay === "number" ? program.train.weight_decay : undefined;
  const optimizerConfig = { name: optimizerName, ...(weightDecay !== undefined ? { weightDecay } : {}) };
  const lr = Number(program.train.lr ?? 1e-3);

  const inputs = syntheticInputs(program, batch);
  let model: Model | undefined;
  let generatedStep: StepFn | undefined;
  let hw: HandwrittenModel | undefined;
  let handwrittenStep: StepFn | undefined;
  try {
    model = await loadModel(program, { seed: 0, cacheDir: options.cacheDir ?? join(root, ".vlmc-cache") });
    const generated = model;
    generatedStep = trainStep(generated.trainable, (x) => generated.forward(x).loss!, inputs, optimizerConfig, lr, (line) => options.log(`  ${line}`));
    if (makeHandwritten) {
      const twin = (hw = makeHandwritten());
      handwrittenStep = trainStep(twin.params, (x) => twin.loss(x), inputs, optimizerConfig, lr);
    }

    // The cpu backend takes seconds per step: one warm-up step is all it can afford.
    // Elsewhere the first two steps are recorded and the third builds the compiled form
    // (runtime/step-graph/): never timed (tiny mode times nothing worth it).
    const warmup = backend === "cpu" ? Math.min(options.warmup, 1) : options.mode === "tiny" ? options.warmup : Math.max(options.warmup, 3);
    const bodies: Record<string, () => void> = { generated: generatedStep.run };
    if (handwrittenStep) bodies["handwritten"] = handwrittenStep.run;
    const tensorsBefore = tf.memory().numTensors;
    const timing = { warmup, steps: options.steps, minTimeS: options.minTimeS ?? 0, budgetS: options.budgetS };
    const train = timeInterleaved(bodies, { ...timing, budgetS: options.budgetS * (handwrittenStep ? 2 : 1) });
    const leaked = tf.memory().numTensors - tensorsBefore;
    if (leaked > 0) options.log(`  warning: ${leaked} tensors more after the timed steps than before (a leak in a step)`);

    const outputName = program.outputs.some((o) => o.name === "logits") ? "logits" : program.outputs[0]!.name;
    const forwardSum = (x: Readonly<Record<string, tf.Tensor>>) => ({ total: tf.sum(generated.forward(x, { loss: false }).outputs[outputName]!) });
    // As `vlmc eval` runs batches: compiled where the backend allows (the warm-up covers the two
    // recorded calls and the build).
    const inferGraph = tracedFunction(forwardSum, { what: "inference batch" });
    const infer = timeInterleaved(
      {
        generated: () => {
          const total = inferGraph ? inferGraph.run(inputs)["total"]! : tf.tidy(() => forwardSum(inputs).total);
          total.dataSync();
          total.dispose();
        },
      },
      timing,
    );
    inferGraph?.dispose();
    // tf.profile sees what runs through tfjs's engine only; a compiled step (a TensorFlow graph, a
    // replay) bypasses it, so the peak is taken from the same step run op by op.
    const probe = trainStep(generated.trainable, (x) => generated.forward(x).loss!, inputs, optimizerConfig, lr, undefined, false);
    const profile = await tf.profile(() => probe.run());
    probe.dispose();
    return {
      trainMs: train["generated"]!,
      inferMs: infer["generated"]!,
      peakBytes: profile.peakBytes,
      ...(hw ? { handwritten: { trainMs: train["handwritten"]!, params: hw.paramCount } } : {}),
    };
  } finally {
    generatedStep?.dispose();
    handwrittenStep?.dispose();
    hw?.dispose();
    model?.dispose();
    for (const t of Object.values(inputs)) t.dispose();
  }
}

export interface StepFn {
  run: () => void;
  dispose: () => void;
}

/**
 * One optimisation step over `params` (named as the optimizer's weight-decay rule expects), the
 * same code for the generated and the hand-written model: only the loss function differs. It is
 * `vlmc train`'s step (runtime/train/step.ts): compiled after two recorded steps on native
 * TensorFlow and wasm; `inputs` are fed to it each step, as a training batch is.
 */
export function trainStep(
  params: ReadonlyMap<string, tf.Variable>,
  loss: (inputs: Readonly<Record<string, tf.Tensor>>) => tf.Scalar,
  inputs: Readonly<Record<string, tf.Tensor>>,
  optimizerConfig: { name: OptimizerName; weightDecay?: number },
  lr: number,
  onMode?: (line: string) => void,
  graph = true,
): StepFn {
  const optimizer = createOptimizer(optimizerConfig, params);
  const step = createTrainStep({ params, loss, optimizer, graph, ...(onMode ? { onMode } : {}) });
  return {
    run: () => {
      const value = step.run(inputs, lr);
      // Reading the loss back waits for the step to finish on any backend.
      value.dataSync();
      value.dispose();
    },
    dispose: () => {
      step.dispose();
      optimizer.dispose();
    },
  };
}

export interface Timing {
  /** Untimed rounds first. */
  warmup: number;
  /** At least this many timed rounds... */
  steps: number;
  /** ...and more until the timed rounds have taken this long... */
  minTimeS: number;
  /** ...but none started after this long (at least one round is always timed). */
  budgetS: number;
}

/**
 * Median ms of each body, run round-robin (the order alternating every round) so that a noisy
 * machine slows all of them alike.
 */
export function timeInterleaved(bodies: Record<string, () => void>, timing: Timing): Record<string, number> {
  const names = Object.keys(bodies);
  for (let i = 0; i < timing.warmup; i++) for (const name of names) bodies[name]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const started = performance.now();
  for (let round = 0; ; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const t0 = performance.now();
      bodies[name]!();
      samples[name]!.push(performance.now() - t0);
    }
    const elapsedS = (performance.now() - started) / 1000;
    const enough = round + 1 >= timing.steps && elapsedS >= timing.minTimeS;
    if (enough || elapsedS >= timing.budgetS) break;
  }
  return Object.fromEntries(names.map((n) => [n, median(samples[n]!)]));
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** a ÷ b to 2 decimals, or null when either side is missing. */
export function ratio(a: number | null, b: number | null): number | null {
  if (a === null || b === null || b <= 0) return null;
  return round(a / b, 2);
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function describe(b: BackendFigures): string {
  const vs = b.vs_pytorch === null ? "" : ` (${b.vs_pytorch}× PyTorch)`;
  return `train step ${b.train_step_ms} ms${vs}, inference ${b.infer_ms} ms/batch, peak ${b.peak_mb} MiB`;
}

// ---------------------------------------------------------------------------------------------
// The other backends and processes
// ---------------------------------------------------------------------------------------------

/** Whether native TensorFlow starts here; leaves whichever backend it could start active. */
async function probeTensorflow(): Promise<{ ok: boolean; why: string }> {
  try {
    await initBackend("tensorflow");
    return { ok: true, why: "" };
  } catch (err) {
    return { ok: false, why: (err instanceof Error ? err.message : String(err)).split("\n")[0]! };
  }
}

export interface TorchModelFigures {
  params: number;
  /** The timings are absent with --params-only. */
  batch?: number;
  train_step_ms?: number;
  infer_ms?: number;
}

export interface TorchRun {
  version: string | null;
  threads: number | null;
  models: Partial<Record<ModelKey, TorchModelFigures>>;
  /** Why PyTorch figures are missing, if they are. */
  note?: string;
}

function skippedTorch(note: string): TorchRun {
  return { version: null, threads: null, models: {}, note };
}

/**
 * Runs bench/torch/bench.py for the requested models; never throws (no torch = no figures, said
 * why). `paramsOnly` asks only for the parameter counts (the test's parity check).
 */
export function runTorch(
  options: Pick<BenchOptions, "models" | "steps" | "warmup" | "minTimeS" | "budgetS" | "python" | "torchThreads" | "log">,
  root: string,
  config: Record<string, unknown>,
  paramsOnly = false,
): TorchRun {
  const script = join(root, "bench", "torch", "bench.py");
  const threads = options.torchThreads ?? 2;
  const args = [
    script,
    "--models", options.models.join(","),
    "--steps", String(options.steps),
    "--warmup", String(options.warmup),
    "--min-time-s", String(options.minTimeS ?? 0),
    "--budget-s", String(options.budgetS),
    "--threads", String(threads),
    ...(paramsOnly ? ["--params-only"] : []),
    "--config", JSON.stringify(config),
  ];
  options.log(`pytorch: ${options.python} bench/torch/bench.py ${args.slice(1, -2).join(" ")} --config <sizes from the IR>`);
  const child = spawnSync(options.python, args, {
    cwd: root,
    encoding: "utf8",
    // Two threads for every pool PyTorch might use, not only the one set_num_threads controls.
    env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) },
    maxBuffer: 16 * 2 ** 20,
  });
  if (child.error) return skippedTorch(`skipped: cannot run ${options.python} (${child.error.message})`);
  let parsed: { error?: string; torch?: string; threads?: number; models?: TorchRun["models"] };
  try {
    parsed = JSON.parse(child.stdout.trim().split("\n").pop() ?? "");
  } catch {
    const stderr = child.stderr.trim().split("\n").slice(-3).join(" | ");
    return skippedTorch(`skipped: bench/torch/bench.py exited ${child.status} without results (${stderr})`);
  }
  if (parsed.error) return skippedTorch(`skipped: ${parsed.error}`);
  return { version: parsed.torch ?? null, threads: parsed.threads ?? null, models: parsed.models ?? {} };
}

/**
 * Compile times from bench/compile.ts (issue 2's owner). It runs its benchmark when imported, so it
 * is run as a child process and its two summary lines are read. It exists compiled only: when the
 * harness runs from TypeScript sources (the test), the figures are null.
 */
function measureCompile(root: string, options: BenchOptions, log: (line: string) => void): BenchResults["compile"] {
  const compiled = join(dirname(fileURLToPath(import.meta.url)), "compile.js");
  if (!existsSync(compiled)) {
    log("compile: skipped (bench/compile.js is built by `npm run bench`; running from sources)");
    return { bundled_ms: null, lines10k_ms: null };
  }
  const runs = options.mode === "full" ? 15 : 3;
  try {
    const out = execFileSync(process.execPath, [compiled, "--runs", String(runs)], { cwd: root, encoding: "utf8" });
    const bundled = /all bundled models together\s+([\d.]+) ms/.exec(out);
    const big = /generated spec, \d+ lines\s+([\d.]+) ms/.exec(out);
    if (!bundled || !big) log(`compile: could not read bench/compile.js's summary lines:\n${out}`);
    const figures = { bundled_ms: bundled ? Number(bundled[1]) : null, lines10k_ms: big ? Number(big[1]) : null };
    log(`compile: all bundled specs ${figures.bundled_ms} ms, 10,000 lines ${figures.lines10k_ms} ms`);
    return figures;
  } catch (err) {
    log(`compile: bench/compile.js failed (${(err instanceof Error ? err.message : String(err)).split("\n")[0]})`);
    return { bundled_ms: null, lines10k_ms: null };
  }
}
