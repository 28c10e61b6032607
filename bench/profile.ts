// Per-kernel time of one generated model's wasm training step (forward + loss + backward + optimizer).
//
//   npx tsc -p bench/tsconfig.json && node dist/bench/profile.js --models vit,kosmos,clip [--steps 10] [--top 25]
//
// Every kernel registered for the active backend is wrapped with a timer (wasm kernels run
// synchronously, so the wall time of kernelFunc is the kernel's time). "other JS" is the step time
// minus the kernels: tape, tidy, gradient bookkeeping, tensor allocation.
import * as tf from "@tensorflow/tfjs-core";
import { performance } from "node:perf_hooks";
import os from "node:os";
import { join } from "node:path";
import { initBackend } from "../runtime/backend.js";
import { loadModel } from "../runtime/model.js";
import { createOptimizer, type OptimizerName } from "../runtime/train/optimizers.js";
import { compileBenchModels, repoRoot } from "./harness.js";
import type { ModelKey } from "./models.js";
import { syntheticInputs } from "./synthetic.js";
import { setWasmKernelsEnabled } from "../runtime/wasm-kernels.js";
import { setGroupedAttention } from "../runtime/ops/attention.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const models = arg("models", "vit,kosmos,clip").split(",") as ModelKey[];
const steps = Number(arg("steps", "10"));
const top = Number(arg("top", "25"));
const backend = arg("backend", "wasm");
// --ab kernels|attention: alternate steps with one optimisation off (A) and on (B), print both
// medians, no profile. kernels: runtime/wasm-kernels.ts; attention: the grouped (depthwise) form.
const abWhat = process.argv.includes("--ab") ? arg("ab", "kernels") : undefined;
const ab = abWhat !== undefined;
const setB = (on: boolean) => (abWhat === "attention" ? setGroupedAttention(on) : setWasmKernelsEnabled(on));

await initBackend(backend as "wasm");
const stats = new Map<string, { ms: number; calls: number }>();
let enabled = false;
for (const k of tf.getKernelsForBackend(tf.getBackend())) {
  const original = k.kernelFunc;
  (k as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    if (!enabled) return original(args);
    const t0 = performance.now();
    const out = original(args);
    const dt = performance.now() - t0;
    const shapes = Object.values(args.inputs).map((t) => (t as tf.TensorInfo).shape.join("x")).join(",");
    const key = `${k.kernelName}(${shapes})`;
    const s = stats.get(key) ?? { ms: 0, calls: 0 };
    s.ms += dt; s.calls++;
    stats.set(key, s);
    return out;
  }) as tf.KernelFunc;
}

// Time spent freeing tensor memory (outside kernels).
let disposeMs = 0;
{
  const be = tf.backend() as unknown as { disposeData: (...a: unknown[]) => boolean; write: (...a: unknown[]) => unknown };
  const dispose = be.disposeData.bind(be);
  be.disposeData = (...a: unknown[]) => { if (!enabled) return dispose(...a); const t0 = performance.now(); const r = dispose(...a); disposeMs += performance.now() - t0; return r; };
  const write = be.write.bind(be);
  be.write = (...a: unknown[]) => { if (!enabled) return write(...a); const t0 = performance.now(); const r = write(...a); writeMs += performance.now() - t0; return r; };
}
let writeMs = 0;
const root = repoRoot();
for (const { key, program, batch } of compileBenchModels(root, models)) {
  const inputs = syntheticInputs(program, batch);
  const model = await loadModel(program, { seed: 0, cacheDir: join(root, ".vlmc-cache") });
  const opt = createOptimizer({ name: (program.train.optimizer ?? "adam") as OptimizerName, ...(typeof program.train.weight_decay === "number" ? { weightDecay: program.train.weight_decay } : {}) }, model.trainable);
  const variables = [...model.trainable.values()];
  const nameOf = new Map([...model.trainable].map(([n, v]) => [v.name, n]));
  let optMs = 0;
  const step = () => {
    const value = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(() => model.forward(inputs).loss!, variables);
      const t0 = performance.now();
      opt.apply(new Map(Object.entries(grads).map(([v, g]) => [nameOf.get(v)!, g])), 1e-3);
      optMs += performance.now() - t0;
      return value;
    });
    value.dataSync();
    value.dispose();
  };
  for (let i = 0; i < 3; i++) step();
  if (ab) {
    const t: Record<string, number[]> = { A: [], B: [] };
    for (let i = 0; i < steps; i++) for (const side of ["A", "B"] as const) {
      setB(side === "B");
      const t0 = performance.now(); step(); t[side]!.push(performance.now() - t0);
    }
    setB(true);
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    console.log(`${key} (batch ${batch}): A (${abWhat} off) ${med(t["A"]!).toFixed(1)} ms, B (on) ${med(t["B"]!).toFixed(1)} ms, B/A ${(med(t["B"]!) / med(t["A"]!)).toFixed(3)}; load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
    opt.dispose(); model.dispose(); for (const x of Object.values(inputs)) x.dispose();
    continue;
  }
  const times: number[] = [];
  optMs = 0;
  for (let i = 0; i < steps; i++) { const t0 = performance.now(); step(); times.push(performance.now() - t0); }
  const plainMedian = [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
  const plainOpt = optMs / steps;
  stats.clear();
  disposeMs = 0; writeMs = 0;
  enabled = true;
  let total = 0;
  for (let i = 0; i < steps; i++) { const t0 = performance.now(); step(); total += performance.now() - t0; }
  enabled = false;
  const kernelMs = [...stats.values()].reduce((a, s) => a + s.ms, 0) / steps;
  const calls = [...stats.values()].reduce((a, s) => a + s.calls, 0) / steps;
  console.log(`\n== ${key} (batch ${batch}) load ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  console.log(`step median ${plainMedian.toFixed(1)} ms unprofiled (optimizer.apply ${plainOpt.toFixed(1)} ms); profiled mean ${(total / steps).toFixed(1)} ms: kernels ${kernelMs.toFixed(1)} ms in ${calls} calls, other JS ${(total / steps - kernelMs).toFixed(1)} ms (of which disposeData ${(disposeMs / steps).toFixed(1)} ms, write ${(writeMs / steps).toFixed(1)} ms)`);
  const byKernel = new Map<string, { ms: number; calls: number }>();
  for (const [k, s] of stats) {
    const name = k.slice(0, k.indexOf("("));
    const b = byKernel.get(name) ?? { ms: 0, calls: 0 };
    b.ms += s.ms; b.calls += s.calls; byKernel.set(name, b);
  }
  console.log("by kernel:");
  for (const [k, s] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) console.log(`  ${(s.ms / steps).toFixed(2).padStart(8)} ms ${String(s.calls / steps).padStart(6)}x ${k}`);
  console.log("by kernel and shapes:");
  for (const [k, s] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) console.log(`  ${(s.ms / steps).toFixed(2).padStart(8)} ms ${String(s.calls / steps).padStart(6)}x ${k}`);
  opt.dispose();
  model.dispose();
  for (const t of Object.values(inputs)) t.dispose();
}
