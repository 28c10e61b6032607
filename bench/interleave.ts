// Training steps of one tfjs backend and of PyTorch, alternated step by step, for when the machine
// is shared: `npm run bench` times PyTorch first and tfjs after, so load that comes and goes
// between the two lands on one side only. Here PyTorch runs as a server process
// (bench/torch/bench.py --serve) and the two sides take turns, one step each, the order flipping
// every round, so both see the same load. Medians of each side, their ratio, and the load.
//
//   npx tsc -p bench/tsconfig.json && node dist/bench/interleave.js [--models lenet5,vit,clip,kosmos]
//       [--backend tensorflow] [--rounds 30] [--warmup 3] [--torch-threads 2] [--python python3] [--out FILE]
//
// The same step as `npm run bench` on both sides (bench/harness.ts's trainStep; bench.py's
// make_train_step): forward, loss, backward, the spec's optimizer, the loss read back.
import { spawn } from "node:child_process";
import os from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { writeFileAtomic } from "../runtime/io/atomic.js";
import { initBackend, type BackendRequest } from "../runtime/backend.js";
import { loadModel } from "../runtime/model.js";
import type { OptimizerName } from "../runtime/train/optimizers.js";
import { compileBenchModels, median, repoRoot, torchConfig, trainStep } from "./harness.js";
import { MODEL_KEYS, type ModelKey } from "./models.js";
import { syntheticInputs } from "./synthetic.js";

const { values } = parseArgs({
  options: {
    models: { type: "string", default: MODEL_KEYS.join(",") },
    backend: { type: "string", default: "tensorflow" },
    rounds: { type: "string", default: "30" },
    warmup: { type: "string", default: "3" },
    "torch-threads": { type: "string", default: "2" },
    python: { type: "string", default: process.env["VLMC_BENCH_PYTHON"] ?? "python3" },
    out: { type: "string" },
  },
});
const models = values.models!.split(",") as ModelKey[];
for (const m of models) if (!MODEL_KEYS.includes(m)) throw new Error(`--models: unknown '${m}'; expected some of ${MODEL_KEYS.join(", ")}`);
const rounds = Number(values.rounds);
const warmup = Number(values.warmup);
const threads = Number(values["torch-threads"]);
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

/** A PyTorch process that runs one training step per request and answers with its ms. */
async function startTorch(key: ModelKey, config: Record<string, unknown>) {
  const root = repoRoot();
  const child = spawn(
    values.python!,
    [join(root, "bench", "torch", "bench.py"), "--serve", "--models", key, "--threads", String(threads), "--warmup", String(warmup), "--config", JSON.stringify(config)],
    { cwd: root, stdio: ["pipe", "pipe", "inherit"], env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) } },
  );
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const { value, done } = await lines.next();
    if (done) throw new Error(`bench.py --serve ended early for ${key}`);
    return JSON.parse(value) as Record<string, unknown>;
  };
  const ready = await next();
  return {
    ready,
    step: async (): Promise<number> => {
      child.stdin!.write("step\n");
      return Number((await next())["ms"]);
    },
    stop: () => {
      child.stdin!.end("quit\n");
    },
  };
}

const root = repoRoot();
const choice = await initBackend(values.backend as BackendRequest);
const loadStart = load();
const summary: Record<string, unknown> = {};
let torchVersion: unknown = null;
console.log(`backend: ${choice.name} (${choice.reason}); PyTorch ${threads} thread(s); ${rounds} alternating rounds after ${warmup} warm-up steps; load ${loadStart.join(" ")}`);
for (const compiled of compileBenchModels(root, models)) {
  const { key, program, batch } = compiled;
  const torch = await startTorch(key, torchConfig([compiled]));
  torchVersion = torch.ready["torch"];
  const inputs = syntheticInputs(program, batch);
  const model = await loadModel(program, { seed: 0, cacheDir: join(root, ".vlmc-cache") });
  const weightDecay = typeof program.train.weight_decay === "number" ? program.train.weight_decay : undefined;
  const step = trainStep(
    model.trainable,
    (x) => model.forward(x).loss!,
    inputs,
    { name: (program.train.optimizer ?? "adam") as OptimizerName, ...(weightDecay !== undefined ? { weightDecay } : {}) },
    Number(program.train.lr ?? 1e-3),
  );
  for (let i = 0; i < warmup; i++) step.run();
  const ours: number[] = [];
  const theirs: number[] = [];
  const before = load();
  for (let r = 0; r < rounds; r++) {
    const timeOurs = () => {
      const t0 = performance.now();
      step.run();
      ours.push(performance.now() - t0);
    };
    if (r % 2 === 0) {
      timeOurs();
      theirs.push(await torch.step());
    } else {
      theirs.push(await torch.step());
      timeOurs();
    }
  }
  torch.stop();
  step.dispose();
  model.dispose();
  for (const t of Object.values(inputs)) t.dispose();
  const a = median(ours);
  const b = median(theirs);
  const parity = torch.ready["params"] === program.totals.params;
  summary[key] = {
    batch,
    params: program.totals.params,
    [`${choice.name}_ms`]: Math.round(a * 100) / 100,
    pytorch_ms: Math.round(b * 100) / 100,
    ratio: parity ? Math.round((a / b) * 100) / 100 : null,
    load_before: before,
    load_after: load(),
  };
  console.log(
    `${key} (batch ${batch}): ${choice.name} ${a.toFixed(2)} ms, PyTorch ${b.toFixed(2)} ms, ` +
      `${parity ? `ratio ${(a / b).toFixed(2)}` : `no ratio: PyTorch has ${String(torch.ready["params"])} parameters, the IR ${program.totals.params}`}; load ${before.join(" ")} → ${load().join(" ")}`,
  );
}
const result = { date: new Date().toISOString(), backend: choice.name, tfjs: tf.version_core, torch: torchVersion, torch_threads: threads, rounds, warmup, load_start: loadStart, load_end: load(), models: summary };
if (values.out) writeFileAtomic(values.out, JSON.stringify(result, null, 2) + "\n");
